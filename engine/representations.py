"""Representations: what each layer of a network makes of its inputs.

A network is read as a chain of feature spaces, input → hidden layers → logits. This module
collects the activations of every layer with forward hooks and measures their geometry:

- principal components, with bases kept steady from one training frame to the next;
- linear probes (Alain & Bengio 2016): logistic regression on frozen features;
- intrinsic dimension: a PCA count for a variance threshold, and TwoNN (Facco et al. 2017);
- neural collapse NC1 = Tr(Σ_W Σ_B⁺)/C (Papyan et al. 2020);
- linear CKA between layers (Kornblith et al. 2019).

Functions accept torch tensors or numpy arrays of shape (N, features); the geometry is
computed in float64 with numpy, which is exact enough for the small, fixed subsets of inputs
that the live views follow.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from .data import Dataset
from .device import intra_op_threads, pick_device
from .experiment import ExperimentConfig, build_model
from .params import model_device, set_flat_params
from .progress import Progress
from .training import Trainer

# A new "layer" starts at every module of these kinds; whatever follows it up to the next one
# (activation, pooling, dropout, normalisation) belongs to it, so a hidden layer is read after
# its activation.
LAYER_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                                            nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


# -- threads ----------------------------------------------------------------------------------------------
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
_controller = None


@contextmanager
def single_threaded_blas():
    """Run numpy / scikit-learn work of this module on one BLAS and one OpenMP thread.

    The matrices here are small (a few hundred rows): a multi-threaded OpenBLAS spends longer
    waking its threads than computing (often 10× longer on a busy 2-core laptop) and takes
    the core the training thread needs. The BLAS limit is process-wide, so it is counted: the
    original setting comes back when the last user leaves. The OpenMP limit is per thread.
    """
    global _blas_users, _blas_limiter, _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, run as is
        yield
        return
    import sys

    with _blas_lock:
        # The controller sees the libraries loaded when it is made: make it again once
        # scikit-learn (and its OpenMP runtime) has been imported by a probe.
        loaded = ("sklearn" in sys.modules, "scipy.linalg" in sys.modules)
        if _controller is None or _controller[0] != loaded:
            _controller = (loaded, ThreadpoolController())
        controller = _controller[1]
        if _blas_users == 0:
            _blas_limiter = controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    omp = controller.limit(limits=1, user_api="openmp")
    try:
        yield
    finally:
        omp.restore_original_limits()
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


# -- layers and their activations ---------------------------------------------------------------
@dataclass(frozen=True)
class LayerPoint:
    """Where one representation is read.

    name: the layer's name, from the module that starts it ("fc1", "conv2", "out"), or "input".
    module: qualified name of the module whose output is read ("act1", "features.pool2"); ""
        for the input and for the output, which is what the model returns.
    call: which call of that module (a module such as a shared ReLU can run several times).
    kind: "input" | "hidden" | "output".
    description: the modules of the layer, e.g. "Linear → Tanh".
    """

    name: str
    module: str
    call: int
    kind: str
    description: str


def _leaf_calls(model: nn.Module, example: torch.Tensor) -> list[tuple[str, nn.Module, int]]:
    """(qualified name, module, n-th call) of every leaf module, in the order the forward runs them."""
    calls: list[tuple[str, nn.Module, int]] = []
    counts: dict[str, int] = {}
    handles = []

    def make_hook(name: str):
        def hook(module, _inputs, _output):
            k = counts.get(name, 0)
            counts[name] = k + 1
            calls.append((name, module, k))

        return hook

    for name, module in model.named_modules():
        if name and next(module.children(), None) is None:
            handles.append(module.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return calls


def layer_points(model: nn.Module, example: torch.Tensor) -> list[LayerPoint]:
    """The representations of `model`, input → output, found by running it once on `example`.

    A layer starts at each Linear / Conv module and ends just before the next one starts: for
    `mlp` that gives input, fc1 (read after act1), fc2, …, out; for `SmallCNN` input, conv1,
    conv2, conv3 (each read after its pooling), fc1, fc2, out.
    """
    calls = _leaf_calls(model, example)
    starts = [i for i, (_, m, _) in enumerate(calls) if isinstance(m, LAYER_TYPES)]
    short = [name.rsplit(".", 1)[-1] for name, _, _ in calls]
    points = [LayerPoint("input", "", 0, "input", "the data")]
    used = {"input"}
    for j, s in enumerate(starts):
        name = short[s] if short[s] not in used else calls[s][0]
        if name in used:
            name = f"{calls[s][0]}#{calls[s][2]}"
        used.add(name)
        end = starts[j + 1] - 1 if j + 1 < len(starts) else len(calls) - 1
        desc = " → ".join(type(calls[i][1]).__name__ for i in range(s, end + 1))
        if j + 1 < len(starts):
            module_name, _, call = calls[end]
            points.append(LayerPoint(name, module_name, call, "hidden", desc))
        else:
            points.append(LayerPoint(name, "", 0, "output", desc))
    if not starts:
        points.append(LayerPoint("output", "", 0, "output", type(model).__name__))
    return points


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


@torch.no_grad()
def layer_activations(model: nn.Module, X, chunk: int = 512,
                      device: str | torch.device | None = None) -> dict[str, torch.Tensor]:
    """Activations of every layer for the inputs X, ordered input → output.

    Each entry is a float32 CPU tensor of shape (N, features): the input flattened, each hidden
    layer after its activation (see `layer_points` for the names), the logits last. Runs in
    eval mode, `chunk` inputs at a time, on `device` (default: where the model is).
    """
    X = _as_tensor(X).float()
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X must be a non-empty batch of inputs, got shape {tuple(X.shape)}")
    dev = pick_device(device) if device is not None else model_device(model)
    was_training = model.training
    model.eval()
    try:
        points = layer_points(model, X[:1].to(dev))
        hidden = [p for p in points if p.kind == "hidden"]
        modules = dict(model.named_modules())
        wanted: dict[str, dict[int, str]] = {}
        for p in hidden:
            wanted.setdefault(p.module, {})[p.call] = p.name
        out: dict[str, list[torch.Tensor]] = {p.name: [] for p in points}
        captured: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}

        def make_hook(module_name: str):
            calls = wanted[module_name]

            def hook(_module, _inputs, output):
                k = counts.get(module_name, 0)
                counts[module_name] = k + 1
                if k in calls:
                    t = output[0] if isinstance(output, (tuple, list)) else output
                    captured[calls[k]] = t.detach().flatten(1).float().cpu()

            return hook

        handles = [modules[name].register_forward_hook(make_hook(name)) for name in wanted]
        try:
            for i in range(0, len(X), max(1, int(chunk))):
                xb = X[i : i + chunk]
                captured.clear()
                counts.clear()
                logits = model(xb.to(dev))
                out["input"].append(xb.flatten(1).float().cpu())
                for p in hidden:
                    out[p.name].append(captured[p.name])
                out[points[-1].name].append(logits.detach().flatten(1).float().cpu())
        finally:
            for h in handles:
                h.remove()
    finally:
        model.train(was_training)
    return {name: torch.cat(parts) for name, parts in out.items()}


# -- principal components --------------------------------------------------------------------------
def _features(features, name: str = "features") -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    F = np.asarray(features, dtype=np.float64)
    if F.ndim == 1:
        F = F[:, None]
    if F.ndim != 2:
        F = F.reshape(len(F), -1)
    if len(F) < 2:
        raise ValueError(f"{name} need at least 2 samples, got {len(F)}")
    if not np.isfinite(F).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return F


def _centre(F: np.ndarray) -> np.ndarray:
    return F - F.mean(0, keepdims=True)


def _eig_desc(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, V = np.linalg.eigh(S)
    return np.clip(w[::-1], 0.0, None), V[:, ::-1]


@dataclass
class PCABasis:
    """Principal axes of centred features H (N × D).

    components: (k, D) orthonormal rows; variances: every eigenvalue of HᵀH/N, descending
    (at most min(N, D) of them); total: their sum.
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray

    @property
    def total(self) -> float:
        return float(self.variances.sum())

    @property
    def ratios(self) -> np.ndarray:
        t = self.total
        return self.variances / t if t > 0 else np.zeros_like(self.variances)


def pca_basis(features, k: int = 2, gram: np.ndarray | None = None) -> PCABasis:
    """Principal axes of `features` by eigen-decomposition of the smaller of HᵀH and HHᵀ.

    Missing axes (k larger than the rank) are zero rows. Signs are made deterministic: the
    largest loading of each axis is positive. `gram` may pass a precomputed HHᵀ of the
    centred features.
    """
    F = _features(features)
    mean = F.mean(0)
    H = F - mean
    N, D = H.shape
    comps = np.zeros((k, D))
    if D <= N:
        w, V = _eig_desc(H.T @ H)
        m = min(k, D)
        comps[:m] = V[:, :m].T
    else:
        w, U = _eig_desc(gram if gram is not None else H @ H.T)
        tol = max(w[0], 1e-300) * N * np.finfo(np.float64).eps * 10
        m = int(min(k, np.sum(w > tol)))
        if m:
            comps[:m] = (H.T @ U[:, :m] / np.sqrt(w[:m])).T
        w = w[: min(N, D)]
    for i in range(k):
        j = np.argmax(np.abs(comps[i]))
        if comps[i, j] < 0:
            comps[i] = -comps[i]
    return PCABasis(mean, comps, w / N)


def pca(features, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Projection of the centred features onto their top k principal axes, (N, k), and the
    share of the total variance along each axis, (k,). Axes beyond the rank are zero."""
    F = _features(features)
    basis = pca_basis(F, k)
    ratios = np.zeros(k)
    m = min(k, len(basis.ratios))
    ratios[:m] = basis.ratios[:m]
    return (F - basis.mean) @ basis.components.T, ratios


def explained_variance(features) -> np.ndarray:
    """Share of the total variance along every principal axis, descending."""
    return pca_basis(features, 1).ratios


def components_for_variance(ratios: Sequence[float], variance: float = 0.95) -> int:
    """How many leading components explain at least `variance` of the total (0 < variance ≤ 1).

    A float tolerance keeps variance=1.0 equal to the rank rather than one more.
    """
    if not 0.0 < variance <= 1.0:
        raise ValueError(f"variance must lie in (0, 1], got {variance}")
    r = np.asarray(ratios, dtype=np.float64)
    if r.size == 0 or r.sum() <= 0:
        return 0
    cum = np.cumsum(r) / r.sum()
    return int(min(np.searchsorted(cum, variance - 1e-9) + 1, np.count_nonzero(r > 1e-12 * r[0])))


def intrinsic_dimension_pca(features, variance: float = 0.95) -> int:
    """The number of principal components needed for `variance` of the total variance."""
    return components_for_variance(explained_variance(features), variance)


def align_basis(components: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Rotate (or reflect) the rows of `components` within their span to match `previous`.

    The orthogonal Procrustes solution Q = argmax tr(Q C Pᵀ) over orthogonal k×k Q: with
    C Pᵀ = U S Wᵀ, Q = W Uᵀ, and the aligned basis QC has (QC)Pᵀ = W S Wᵀ, which is symmetric
    positive semi-definite, so no axis ever points against its predecessor. Frames that follow
    each other keep their axes, even when two principal components swap order.
    """
    if previous is None or previous.shape != components.shape:
        return components
    U, _S, Wt = np.linalg.svd(components @ previous.T)
    return (Wt.T @ U.T) @ components


# -- intrinsic dimension ---------------------------------------------------------------------------
def _squared_distances(F: np.ndarray, gram: np.ndarray | None = None) -> np.ndarray:
    if gram is None:
        H = _centre(F)
        gram = H @ H.T
    d = np.diag(gram)
    return np.maximum(d[:, None] + d[None, :] - 2.0 * gram, 0.0)


def twonn_from_squared_distances(d2: np.ndarray, discard: float = 0.1) -> float:
    """TwoNN on a matrix of squared pairwise distances (see `intrinsic_dimension_twonn`)."""
    d2 = np.array(d2, dtype=np.float64, copy=True)
    np.fill_diagonal(d2, np.inf)
    two = np.partition(d2, 1, axis=1)[:, :2]
    r1, r2 = np.sqrt(two[:, 0]), np.sqrt(two[:, 1])
    ok = r1 > 1e-12 * max(float(np.median(r2)), 1e-300)  # duplicates have no ratio
    mu = np.sort(r2[ok] / r1[ok])
    n = len(mu)
    if n < 10:
        return float("nan")
    keep = int(math.floor((1.0 - discard) * n))
    x = np.log(mu[:keep])
    y = -np.log(1.0 - np.arange(1, keep + 1) / n)
    sxx = float(x @ x)
    return float(x @ y / sxx) if sxx > 0 else float("nan")


def intrinsic_dimension_twonn(features, discard: float = 0.1) -> float:
    """The TwoNN estimate of intrinsic dimension (Facco et al. 2017).

    For each point, μ = r₂/r₁ (distances to its second and first nearest neighbours) follows
    the Pareto law F(μ) = 1 − μ^(−d) on a d-dimensional manifold, so −log(1 − F(μ)) = d·log μ.
    The slope d is fitted through the origin over the empirical distribution of μ, discarding
    the largest `discard` share of μ (they are the most noise-sensitive). Duplicate points are
    left out. NaN when fewer than 10 points remain.
    """
    F = _features(features)
    return twonn_from_squared_distances(_squared_distances(F), discard)


# -- similarity and class geometry -------------------------------------------------------------------
def linear_cka(a, b) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) between two representations of
    the same N inputs: ‖BᵀA‖²_F / (‖AᵀA‖_F ‖BᵀB‖_F) on column-centred A, B.

    1 when B is an orthogonal transform and scaling of A; near 0 for unrelated features.
    NaN when either representation is constant.
    """
    A, B = _centre(_features(a, "a")), _centre(_features(b, "b"))
    if len(A) != len(B):
        raise ValueError(f"a and b must describe the same inputs: {len(A)} vs {len(B)} rows")
    N = len(A)
    if A.shape[1] * B.shape[1] <= N * N:
        num = np.sum((B.T @ A) ** 2)
        den = np.linalg.norm(A.T @ A) * np.linalg.norm(B.T @ B)
    else:  # wide features: the same quantity through N × N Gram matrices
        Ka, Kb = A @ A.T, B @ B.T
        num = np.sum(Ka * Kb)
        den = np.linalg.norm(Ka) * np.linalg.norm(Kb)
    return float(num / den) if den > 0 else float("nan")


def cka_from_grams(grams: Sequence[np.ndarray]) -> np.ndarray:
    """Linear CKA between every pair of representations, from their centred Gram matrices
    (HHᵀ of centred features): one matrix product for all pairs."""
    flat = np.stack([np.asarray(g, dtype=np.float64).ravel() for g in grams])
    inner = flat @ flat.T
    norms = np.sqrt(np.diag(inner))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = inner / np.outer(norms, norms)
    return np.where(np.outer(norms, norms) > 0, out, np.nan)


def cka_matrix(features: dict[str, object] | Sequence) -> np.ndarray:
    """Linear CKA between every pair of layers (dict of name → features, same inputs)."""
    items = list(features.values()) if isinstance(features, dict) else list(features)
    grams = []
    for f in items:
        H = _centre(_features(f))
        grams.append(H @ H.T)
    return cka_from_grams(grams)


def neural_collapse_nc1(features, labels) -> float:
    """NC1 = Tr(Σ_W Σ_B⁺) / C (Papyan, Han & Donoho 2020).

    Σ_W: the covariance of features around their class mean; Σ_B: the covariance of the class
    means around the global mean; C: the number of classes present. Small when every class
    has shrunk to a point relative to the distances between classes. Invariant to scaling.
    NaN when fewer than two classes are present or their means coincide.
    """
    F = _features(features)
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
    if len(y) != len(F):
        raise ValueError(f"{len(F)} feature rows but {len(y)} labels")
    classes, inverse = np.unique(y, return_inverse=True)
    C = len(classes)
    if C < 2:
        return float("nan")
    mu_g = F.mean(0)
    means = np.stack([F[inverse == c].mean(0) for c in range(C)])
    M = (means - mu_g) / np.sqrt(C)  # Σ_B = MᵀM
    R = F - means[inverse]  # Σ_W = RᵀR / N
    _U, S, Vt = np.linalg.svd(M, full_matrices=False)
    keep = S > S.max() * max(M.shape) * np.finfo(np.float64).eps if S.size else S > 0
    if not keep.any() or S.max() == 0:
        return float("nan")
    Z = (R @ Vt[keep].T) / S[keep]  # R Σ_B^(+1/2)
    return float(np.sum(Z**2) / len(F) / C)


# -- linear probes ------------------------------------------------------------------------------------
def linear_probe(train_features, y_train, test_features, y_test, C: float = 1.0,
                 max_iter: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Fit a logistic-regression probe (scikit-learn, L2, inverse strength C) on standardised
    train features; return (train accuracy, test accuracy).

    Features wider than the number of training samples are first projected onto the span of
    the (standardised, centred) training features. The L2-optimal weights lie in that span, so
    the predictions are unchanged and wide layers (conv blocks) fit in a fraction of the time.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    Xtr, Xte = _features(train_features, "train features"), _features(test_features, "test features")
    ytr = np.asarray(y_train.cpu() if isinstance(y_train, torch.Tensor) else y_train).reshape(-1)
    yte = np.asarray(y_test.cpu() if isinstance(y_test, torch.Tensor) else y_test).reshape(-1)
    if len(ytr) != len(Xtr) or len(yte) != len(Xte):
        raise ValueError("each feature row needs one label")
    if Xtr.shape[1] != Xte.shape[1]:
        raise ValueError(f"train and test features differ in width: {Xtr.shape[1]} vs {Xte.shape[1]}")
    if len(np.unique(ytr)) < 2:
        raise ValueError("a probe needs at least two classes among the training labels")
    mean, std = Xtr.mean(0), Xtr.std(0)
    std[std < 1e-12] = 1.0
    Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    if Xtr.shape[1] > len(Xtr):
        w, U = _eig_desc(Xtr @ Xtr.T)
        m = int(np.sum(w > max(w[0], 1e-300) * 1e-10))
        basis = Xtr.T @ U[:, :m] / np.sqrt(w[:m])  # (D, m), orthonormal columns
        Xtr, Xte = Xtr @ basis, Xte @ basis
    clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, ytr)
    return float(clf.score(Xtr, ytr)), float(clf.score(Xte, yte))


# -- subsets ------------------------------------------------------------------------------------------
def fixed_subset(labels, n: int, seed: int = 0) -> np.ndarray:
    """Indices of at most n samples, every class keeping its share (and at least one sample)."""
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = n * counts / len(y)
    take = np.minimum(np.maximum(np.floor(quota).astype(int), 1), counts)
    for i in np.argsort(-(quota - np.floor(quota))):  # largest remainders fill up to n
        if take.sum() >= n:
            break
        if take[i] < counts[i]:
            take[i] += 1
    picks = [rng.permutation(np.flatnonzero(y == c))[:t] for c, t in zip(classes, take)]
    return np.sort(np.concatenate(picks))


# -- following a network through training -----------------------------------------------------------
@dataclass
class LayerInfo:
    name: str
    dim: int
    kind: str
    description: str


@dataclass
class GeometryFrame:
    """The geometry of every layer of one network state, on a fixed subset of inputs."""

    step: int
    layers: list[LayerInfo]
    projections: dict[str, np.ndarray]  # name -> (N, 2) float32, axes aligned to the last frame
    axis_explained: dict[str, np.ndarray]  # name -> (2,) share of variance along each shown axis
    spectra: dict[str, np.ndarray]  # name -> explained variance ratio of every principal axis
    twonn: dict[str, float]
    nc1: dict[str, float]
    cka: np.ndarray  # (L, L) linear CKA between layers
    cka_to_start: np.ndarray  # (L,) CKA of each layer between θ₀ and this state
    labels: np.ndarray
    problems: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [lay.name for lay in self.layers]


class RepresentationWatcher:
    """Follows the layers of one network through training, on a fixed subset of inputs.

    It owns `model` (an independent copy: it writes each θ into it) and remembers, per layer,
    the last PCA basis (to align the next one) and the centred Gram matrix at θ₀ (for the CKA
    between start and now). Use one watcher per run and from one thread at a time.
    """

    def __init__(self, model: nn.Module, X, y, theta0=None, k: int = 2, chunk: int = 256):
        self.model = model
        self.X = _as_tensor(X).float()
        self.y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).reshape(-1)
        self.theta0 = None if theta0 is None else np.asarray(theta0, dtype=np.float32)
        self.k = k
        self.chunk = chunk
        self._previous: dict[str, np.ndarray] = {}
        self._start_grams: dict[str, np.ndarray] | None = None
        self._points: list[LayerPoint] | None = None

    def _activations(self, theta) -> dict[str, torch.Tensor]:
        set_flat_params(self.model, torch.as_tensor(np.asarray(theta, dtype=np.float32)))
        return layer_activations(self.model, self.X, chunk=self.chunk)

    def layer_points(self) -> list[LayerPoint]:
        if self._points is None:
            self._points = layer_points(self.model, self.X[:1].to(model_device(self.model)))
        return self._points

    def frame(self, theta, step: int = 0) -> GeometryFrame:
        """Measure every layer at parameters θ (flat numpy vector)."""
        if self._start_grams is None and self.theta0 is not None:
            acts0 = self._activations(self.theta0)
            self._start_grams = {}
            for name, f in acts0.items():
                H = f.double().numpy()
                if np.isfinite(H).all():
                    H = _centre(H)
                    self._start_grams[name] = H @ H.T
        acts = self._activations(theta)
        points = {p.name: p for p in self.layer_points()}
        layers, projections, explained, spectra = [], {}, {}, {}
        twonn, nc1, grams, problems = {}, {}, [], []
        for name, f in acts.items():
            p = points.get(name)
            layers.append(LayerInfo(name, int(f.shape[1]), p.kind if p else "hidden",
                                    p.description if p else ""))
            F = f.double().numpy()
            if not np.isfinite(F).all():
                problems.append(f"{name}: activations are not finite")
                projections[name] = np.full((len(F), self.k), np.nan, np.float32)
                explained[name] = np.zeros(self.k)
                spectra[name] = np.zeros(1)
                twonn[name] = nc1[name] = float("nan")
                grams.append(np.zeros((len(F), len(F))))
                continue
            H = _centre(F)
            G = H @ H.T
            grams.append(G)
            basis = pca_basis(F, self.k, gram=G if H.shape[1] > H.shape[0] else None)
            comps = align_basis(basis.components, self._previous.get(name))
            self._previous[name] = comps
            proj = H @ comps.T
            total = float(np.sum(H**2))
            projections[name] = proj.astype(np.float32)
            explained[name] = np.sum(proj**2, 0) / total if total > 0 else np.zeros(self.k)
            spectra[name] = basis.ratios
            twonn[name] = twonn_from_squared_distances(_squared_distances(H, G))
            nc1[name] = neural_collapse_nc1(F, self.y)
        cka = cka_from_grams(grams)
        to_start = np.full(len(layers), np.nan)
        if self._start_grams is not None:
            for i, lay in enumerate(layers):
                g0 = self._start_grams.get(lay.name)
                if g0 is not None and g0.shape == grams[i].shape:
                    to_start[i] = cka_from_grams([g0, grams[i]])[0, 1]
        return GeometryFrame(step, layers, projections, explained, spectra, twonn, nc1, cka, to_start,
                             self.y.copy(), problems)

    def frames(self, theta, step: int = 0) -> Iterator[GeometryFrame]:
        """A one-frame generator, for running `frame` as a cancellable job (on one BLAS thread)."""
        with single_threaded_blas():
            frame = self.frame(theta, step)
        yield frame


@dataclass
class ProbeResult:
    """The probe of one layer: where it sits, how wide it is, its train and test accuracy."""

    layer: str
    index: int
    n_layers: int
    dim: int
    train_acc: float
    test_acc: float


def probe_layers(model: nn.Module, X_train, y_train, X_test, y_test, theta=None, C: float = 1.0,
                 max_iter: int = 1000, chunk: int = 256) -> Iterator[ProbeResult]:
    """A linear probe on every layer, input → output, one result per layer as it is fitted.

    `model` is written to (θ, when given); pass an independent copy when training goes on.
    Close the generator to stop between layers.
    """
    import sklearn.linear_model  # noqa: F401  (loaded first, so its threads are limited too)

    if theta is not None:
        set_flat_params(model, torch.as_tensor(np.asarray(theta, dtype=np.float32)))
    train = layer_activations(model, X_train, chunk=chunk)
    test = layer_activations(model, X_test, chunk=chunk)
    names = list(train)
    for i, name in enumerate(names):
        tr, te = train[name], test[name]
        if not (torch.isfinite(tr).all() and torch.isfinite(te).all()):
            yield ProbeResult(name, i, len(names), int(tr.shape[1]), float("nan"), float("nan"))
            continue
        with single_threaded_blas():
            acc_tr, acc_te = linear_probe(tr, y_train, te, y_test, C=C, max_iter=max_iter)
        yield ProbeResult(name, i, len(names), int(tr.shape[1]), acc_tr, acc_te)


@dataclass
class SeedProbes:
    """The probes of one seed's network: the run's settings trained for `steps` from that seed."""

    seed: int
    steps: int
    results: list[ProbeResult]
    diverged: bool = False


def probes_over_seeds(config: ExperimentConfig, dataset: Dataset, seeds: Sequence[int], steps: int,
                      X_train, y_train, X_test, y_test) -> Iterator[Progress | SeedProbes]:
    """For each seed: build the network of `config` with that seed, train it `steps` steps on
    `dataset` with the config's optimiser (and the seed's batch order), and probe every layer on
    the given inputs. Yields `Progress` while training and one `SeedProbes` per seed, in order.

    The seeds run one after another, not batched: each is the engine's `Trainer` with its own
    optimiser state and batch order, and a probe is a logistic regression fitted per layer.
    """
    every = max(1, steps // 20)
    total = len(seeds) * steps
    # Toy-data networks are a few thousand weights: one thread is as fast as two, and leaves the
    # other core to the window.
    threads = 1 if len(dataset.input_shape) == 1 else None
    for k, seed in enumerate(seeds):
        cfg = replace(config, seed=int(seed), device="cpu")  # the probes read activations on the CPU
        with intra_op_threads(threads):
            trainer = Trainer(build_model(cfg, dataset), dataset, cfg.train_config())
            for step in range(steps):
                event = trainer.step()
                if event.diverged:
                    break
                if (step + 1) % every == 0 and step + 1 < steps:
                    yield Progress(k * steps + step + 1, total, f"seed {seed}: training, step {step + 1:,}")
        yield Progress(k * steps + steps, total, f"seed {seed}: fitting the probes")
        model = trainer.model.eval()
        yield SeedProbes(int(seed), trainer.step_count,
                         list(probe_layers(model, X_train, y_train, X_test, y_test)), trainer.diverged)


__all__ = [
    "single_threaded_blas", "LAYER_TYPES", "LayerPoint", "layer_points", "layer_activations",
    "PCABasis", "pca_basis", "pca", "explained_variance", "components_for_variance", "align_basis",
    "intrinsic_dimension_pca", "intrinsic_dimension_twonn", "twonn_from_squared_distances",
    "linear_cka", "cka_from_grams", "cka_matrix", "neural_collapse_nc1", "linear_probe", "fixed_subset",
    "LayerInfo", "GeometryFrame", "RepresentationWatcher", "ProbeResult", "probe_layers",
    "SeedProbes", "probes_over_seeds",
]
