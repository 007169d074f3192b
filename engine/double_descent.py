"""Double descent: test error against model size and against training time.

Three experiments, each small enough for a laptop:

- `random_features_sweep` (Belkin et al. 2019): least squares on p random ReLU (or Fourier)
  features of a fixed input set, for many p at once. Below p = n the fit is the ordinary least
  squares one; past it, the minimum-norm interpolant (pseudo-inverse) or a ridge fit. The test
  error peaks at p = n and falls again beyond it.
- `width_sweep` (Nakkiran et al. 2019): one-hidden-layer networks of growing width, trained by
  the engine's `Trainer`, streamed width by width; label noise makes the peak stronger.
- `epoch_wise_curve` (Heckel & Yilmaz 2020): gradient descent on a linear model whose features
  come in a fast (large-scale) and a slow (small-scale) group. The test error falls, rises while
  the fast features overfit, then falls again when the slow ones are learned.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .data import Dataset
from .device import pick_device
from .models import mlp
from .training import TrainConfig, Trainer

FEATURES = ("relu", "fourier")
MAX_FEATURES = 50_000  # the feature matrices of one draw must fit comfortably in memory
MAX_TRAIN = 4_000  # the n×n kernels are eigendecomposed once per feature count


# ---------------------------------------------------------------------------------------------
# Random features
# ---------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """Errors of the random-features fit for each feature count (medians over draws).

    `train_error` and `test_error` are mean squared errors; `weight_norm` is ‖a‖ of the fitted
    feature weights (features scaled by 1/√p, so norms of different p are comparable).
    """

    counts: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    weight_norm: np.ndarray
    n_train: int = 0
    noise: float = 0.0
    ridge: float = 0.0
    draws: int = 1
    features: str = "relu"
    test_error_draws: np.ndarray | None = None  # (draws, len(counts))

    @property
    def threshold(self) -> int:
        """The interpolation threshold p = n (one output)."""
        return self.n_train

    @property
    def peak_count(self) -> int:
        """The feature count with the worst test error."""
        return int(self.counts[int(np.nanargmax(self.test_error))])

    def index_of(self, p: int) -> int:
        """Index of the swept count closest to p (on a log scale)."""
        return int(np.argmin(np.abs(np.log(self.counts) - math.log(max(p, 1)))))

    def test_error_at(self, p: int) -> float:
        return float(self.test_error[self.index_of(p)])

    def as_dict(self) -> dict:
        return {"counts": self.counts.tolist(), "train_error": self.train_error.tolist(),
                "test_error": self.test_error.tolist(), "weight_norm": self.weight_norm.tolist(),
                "n_train": self.n_train, "noise": self.noise, "ridge": self.ridge, "draws": self.draws,
                "features": self.features}


def default_feature_counts(n_train: int, points: int = 60, low: float = 0.05, high: float = 10.0) -> np.ndarray:
    """`points` distinct feature counts, log-spaced from low·n to high·n, always including
    n/2, n and 10n (the comparisons the lesson makes)."""
    lo, hi = max(1.0, low * n_train), max(2.0, high * n_train)
    points = int(min(points, hi - lo + 1))
    k = points
    while True:  # rounding merges neighbours at small p; ask for more until enough are distinct
        counts = np.unique(np.round(np.geomspace(lo, hi, k)).astype(np.int64))
        if len(counts) >= points or k > 50 * points:
            break
        k += 1
    counts = counts[np.round(np.linspace(0, len(counts) - 1, points)).astype(int)]
    for must in (max(1, n_train // 2), n_train, int(round(high * n_train))):
        if must not in counts:
            counts[np.argmin(np.abs(np.log(counts) - math.log(must)))] = must
    return np.unique(counts)


def _float64_device(device: str | torch.device) -> torch.device:
    dev = pick_device(device)
    return torch.device("cpu") if dev.type == "mps" else dev  # MPS has no float64


def _teacher_draw(n_train: int, n_test: int, d: int, noise: float, n_features: int, features: str,
                  seed: int, device: torch.device):
    """One draw: inputs x ~ N(0, I_d), a linear teacher y = xᵀβ (‖β‖ = 1) plus Gaussian noise,
    and the unscaled random features of train and test inputs (n, P), (n_test, P)."""
    g = torch.Generator().manual_seed(int(seed))
    f64 = torch.float64
    X = torch.randn(n_train, d, generator=g, dtype=f64)
    Xt = torch.randn(n_test, d, generator=g, dtype=f64)
    beta = torch.randn(d, generator=g, dtype=f64)
    beta = beta / beta.norm()
    y = X @ beta + noise * torch.randn(n_train, generator=g, dtype=f64)
    yt = Xt @ beta + noise * torch.randn(n_test, generator=g, dtype=f64)
    W = torch.randn(d, n_features, generator=g, dtype=f64) / math.sqrt(d)
    if features == "relu":
        F, Ft = torch.relu(X @ W), torch.relu(Xt @ W)
    else:
        phase = 2 * math.pi * torch.rand(n_features, generator=g, dtype=f64)
        F, Ft = math.sqrt(2) * torch.cos(X @ W + phase), math.sqrt(2) * torch.cos(Xt @ W + phase)
    return F.to(device), Ft.to(device), y.to(device), yt.to(device)


def _psd_solve(mats: torch.Tensor, rhs: torch.Tensor, ridge: float) -> torch.Tensor:
    """Solve (M + λI) x = r for a batch of symmetric PSD matrices.

    One batched Cholesky factorisation handles every matrix that is numerically positive
    definite; the rest (rank-deficient ones, only possible with λ = 0) get the pseudo-inverse
    solution through an eigendecomposition, i.e. the minimum-norm solution.
    """
    eye = torch.eye(mats.shape[-1], dtype=mats.dtype, device=mats.device)
    shifted = mats + ridge * eye if ridge > 0 else mats
    L, info = torch.linalg.cholesky_ex(shifted)
    out = torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)
    bad = torch.nonzero(info != 0).flatten()
    if len(bad):
        out[bad] = _spectral_solve(mats[bad], rhs[bad], ridge)
    return out


def _spectral_solve(mats: torch.Tensor, rhs: torch.Tensor, ridge: float) -> torch.Tensor:
    """Solve (M + λI) x = r for a batch of symmetric PSD matrices through one batched eigh.

    λ = 0 gives the pseudo-inverse (eigenvalues below the usual rcond cut are dropped), so a
    rank-deficient M gets its minimum-norm solution.
    """
    evals, evecs = torch.linalg.eigh(mats)
    if ridge > 0:
        inv = 1.0 / (evals + ridge)
    else:
        cut = evals.amax(-1, keepdim=True) * mats.shape[-1] * torch.finfo(mats.dtype).eps
        inv = torch.where(evals > cut, 1.0 / evals.clamp_min(1e-300), torch.zeros_like(evals))
    coeff = (evecs.transpose(-1, -2) @ rhs.unsqueeze(-1)).squeeze(-1) * inv
    return (evecs @ coeff.unsqueeze(-1)).squeeze(-1)


def random_features_fit(F: torch.Tensor, Ft: torch.Tensor, y: torch.Tensor, yt: torch.Tensor,
                        counts: Sequence[int], ridge: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train MSE, test MSE and ‖a‖ of the fit on the first p columns of F, for every p in counts.

    The features are scaled by 1/√p. All counts are solved together: for p < n through the p×p
    leading blocks of FᵀF (padded to one size, so one batched eigh solves them all), for p ≥ n
    through the n×n kernels K_p = F_p F_pᵀ / p, which are running sums over column blocks.
    """
    counts_t = torch.as_tensor(np.asarray(counts, dtype=np.int64))
    n = F.shape[0]
    dev, f64 = F.device, F.dtype
    m = len(counts_t)
    train_err = torch.empty(m, dtype=f64, device=dev)
    test_err = torch.empty(m, dtype=f64, device=dev)
    norms = torch.empty(m, dtype=f64, device=dev)

    under = torch.nonzero(counts_t < n).flatten()
    if len(under):
        ps = counts_t[under].to(dev)
        q = int(ps.max())
        Fq, Ftq = F[:, :q], Ft[:, :q]
        G = Fq.T @ Fq
        Fy = Fq.T @ y
        mask = (torch.arange(q, device=dev)[None, :] < ps[:, None]).to(f64)  # (k, q)
        scale = ps.to(f64)
        # The padding block is the identity with a zero right-hand side: its solution is zero.
        mats = G[None] * (mask[:, :, None] * mask[:, None, :]) / scale[:, None, None]
        mats = mats + torch.diag_embed(1.0 - mask)
        a = _psd_solve(mats, Fy[None] * mask / scale.sqrt()[:, None], ridge) * mask  # (k, q)
        w = (a / scale.sqrt()[:, None]).T  # weights of the unscaled columns, (q, k)
        train_err[under] = ((Fq @ w - y[:, None]) ** 2).mean(0)
        test_err[under] = ((Ftq @ w - yt[:, None]) ** 2).mean(0)
        norms[under] = a.norm(dim=1)

    over = torch.nonzero(counts_t >= n).flatten()
    if len(over):
        ps = counts_t[over]
        edges = [0] + ps.tolist()
        blocks = torch.stack([F[:, a:b] @ F[:, a:b].T for a, b in zip(edges[:-1], edges[1:])])
        scale = ps.to(dev, f64)
        kernels = blocks.cumsum(0) / scale[:, None, None]  # K_p = F_p F_pᵀ / p
        alpha = _psd_solve(kernels, y.expand(len(ps), n), ridge)  # (k, n)
        q = int(ps.max())
        mask = (torch.arange(q, device=dev)[None, :] < ps.to(dev)[:, None]).to(f64)
        a = (F[:, :q].T @ alpha.T).T * mask / scale.sqrt()[:, None]  # a = F_pᵀα / √p, (k, q)
        w = (a / scale.sqrt()[:, None]).T
        train_err[over] = ((kernels @ alpha.unsqueeze(-1)).squeeze(-1) - y).pow(2).mean(1)
        test_err[over] = ((Ft[:, :q] @ w - yt[:, None]) ** 2).mean(0)
        norms[over] = a.norm(dim=1)
    return train_err.cpu().numpy(), test_err.cpu().numpy(), norms.cpu().numpy()


def random_features_sweep(n_train: int = 100, feature_counts: Sequence[int] | None = None, noise: float = 0.1,
                          ridge: float = 0.0, n_test: int = 1000, seed: int = 0, *, input_dim: int = 20,
                          draws: int = 5, features: str = "relu", device: str | torch.device = "cpu") -> SweepResult:
    """Test error of random-features least squares against the number of features p.

    A linear teacher y = xᵀβ + ε (x ~ N(0, I_d), ‖β‖ = 1, ε ~ N(0, noise²)) gives n_train
    training and n_test test samples. The model is f(x) = Σⱼ aⱼ φⱼ(x)/√p with random features
    φⱼ(x) = max(0, wⱼᵀx) ("relu") or √2·cos(wⱼᵀx + bⱼ) ("fourier"), wⱼ ~ N(0, I/d). The weights
    minimise ‖Φa − y‖² + ridge·‖a‖²; with ridge 0 that is the pseudo-inverse solution, which past
    p = n is the interpolant of least norm. Errors are medians over `draws` independent draws of
    data and features. `feature_counts` defaults to 60 log-spaced counts from n/20 to 10n.
    """
    if n_train < 2 or n_train > MAX_TRAIN:
        raise ValueError(f"n_train must lie in [2, {MAX_TRAIN}], got {n_train}")
    if n_test < 1:
        raise ValueError(f"n_test must be positive, got {n_test}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be ≥ 0, got {noise}")
    if not (math.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be ≥ 0, got {ridge}")
    if features not in FEATURES:
        raise ValueError(f"unknown features {features!r}; choose {' or '.join(FEATURES)}")
    if draws < 1 or input_dim < 1:
        raise ValueError("draws and input_dim must be positive")
    counts = default_feature_counts(n_train) if feature_counts is None else \
        np.unique(np.asarray(feature_counts, dtype=np.int64))
    if len(counts) == 0 or counts[0] < 1:
        raise ValueError("feature counts must be positive integers")
    if counts[-1] > MAX_FEATURES:
        raise ValueError(f"at most {MAX_FEATURES:,} features, got {int(counts[-1]):,}")
    dev = _float64_device(device)
    results = []
    for k in range(draws):
        F, Ft, y, yt = _teacher_draw(n_train, n_test, input_dim, noise, int(counts[-1]), features,
                                     seed * 10_007 + k, dev)
        results.append(random_features_fit(F, Ft, y, yt, counts, ridge))
    tr, te, nr = (np.stack(r) for r in zip(*results))
    return SweepResult(counts=counts, train_error=np.median(tr, 0), test_error=np.median(te, 0),
                       weight_norm=np.median(nr, 0), n_train=n_train, noise=noise, ridge=ridge, draws=draws,
                       features=features, test_error_draws=te)


def random_features_sweep_loop(n_train: int = 100, feature_counts: Sequence[int] | None = None,
                               noise: float = 0.1, ridge: float = 0.0, n_test: int = 1000, seed: int = 0, *,
                               input_dim: int = 20, draws: int = 5, features: str = "relu") -> SweepResult:
    """The obvious reference: one `torch.linalg.pinv` (or ridge solve) per feature count.

    Same data, same features, same numbers as `random_features_sweep`; kept for the benchmark
    and the tests that check the batched solver against it.
    """
    counts = default_feature_counts(n_train) if feature_counts is None else \
        np.unique(np.asarray(feature_counts, dtype=np.int64))
    results = []
    for k in range(draws):
        F, Ft, y, yt = _teacher_draw(n_train, n_test, input_dim, noise, int(counts[-1]), features,
                                     seed * 10_007 + k, torch.device("cpu"))
        row = []
        for p in counts.tolist():
            A, At = F[:, :p] / math.sqrt(p), Ft[:, :p] / math.sqrt(p)
            if ridge > 0:
                a = torch.linalg.solve(A.T @ A + ridge * torch.eye(p, dtype=A.dtype), A.T @ y)
            else:
                a = torch.linalg.pinv(A) @ y
            row.append((float(((A @ a - y) ** 2).mean()), float(((At @ a - yt) ** 2).mean()), float(a.norm())))
        results.append(np.array(row))
    arr = np.stack(results)  # (draws, m, 3)
    return SweepResult(counts=counts, train_error=np.median(arr[..., 0], 0), test_error=np.median(arr[..., 1], 0),
                       weight_norm=np.median(arr[..., 2], 0), n_train=n_train, noise=noise, ridge=ridge,
                       draws=draws, features=features, test_error_draws=arr[..., 1])


# ---------------------------------------------------------------------------------------------
# Networks of growing width
# ---------------------------------------------------------------------------------------------
@dataclass
class SweepPoint:
    """One trained width. Errors are misclassification rates; losses use the run's loss."""

    width: int
    n_params: int
    train_error: float  # on the training labels as trained (noisy ones included)
    test_error: float
    train_loss: float
    test_loss: float
    weight_norm: float  # ‖θ‖ over all parameters
    steps: int
    index: int = 0
    total: int = 1
    diverged: bool = False
    message: str = ""


@dataclass
class SweepProgress:
    """Progress inside one width's training (only with progress_every > 0)."""

    index: int
    total: int
    width: int
    step: int
    steps: int
    batch_loss: float


def one_hidden_layer_params(in_dim: int, width: int, out_dim: int) -> int:
    """Parameter count of in_dim → width → out_dim with biases."""
    return width * (in_dim + 1) + out_dim * (width + 1)


def noisy_labels(dataset: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """A copy whose training labels are, for a `fraction` of samples, replaced by a uniformly
    drawn *different* class (test labels stay clean)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"label noise must lie in [0, 1], got {fraction}")
    y = dataset.y_train.clone()
    if fraction > 0:
        g = torch.Generator().manual_seed(int(seed) + 7919)
        flip = torch.rand(len(y), generator=g) < fraction
        shift = torch.randint(1, dataset.n_classes, (len(y),), generator=g)
        y[flip] = (y[flip] + shift[flip]) % dataset.n_classes
    return replace(dataset, y_train=y)


def _flat(dataset: Dataset) -> Dataset:
    if len(dataset.input_shape) == 1:
        return dataset
    return replace(dataset, X_train=dataset.X_train.flatten(1), X_test=dataset.X_test.flatten(1),
                   input_shape=(dataset.in_features,))


def width_sweep(dataset: Dataset, widths: Sequence[int], config: TrainConfig, seed: int = 0, *,
                label_noise: float = 0.0, activation: str = "relu",
                progress_every: int = 0) -> Iterator[SweepPoint]:
    """Train a one-hidden-layer network per width with the engine's `Trainer`; yield one
    `SweepPoint` per width, in order (stop early by closing the generator).

    Every width starts from `seed` and sees the same (possibly label-noised) data and batch
    order. Train long enough (config.steps) and without weight decay for the wide nets to
    interpolate; the squared loss ("mse" in config.loss) shows the peak most clearly. With
    progress_every > 0, `SweepProgress` items come between the points, so a consumer can show
    progress and stop inside a long width.
    """
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1:
        raise ValueError("give at least one width, each ≥ 1")
    ds = _flat(noisy_labels(dataset, label_noise, seed))
    config.check(len(ds.y_train))
    for index, width in enumerate(widths):
        torch.manual_seed(seed)
        model = mlp(ds.in_features, [width], ds.n_classes, activation)
        trainer = Trainer(model, ds, replace(config, seed=seed, eval_every=max(config.steps, 1)))
        message = ""
        for step in range(config.steps):
            event = trainer.step()
            if event.diverged:
                message = event.message
                break
            if progress_every and (step + 1) % progress_every == 0 and step + 1 < config.steps:
                yield SweepProgress(index, len(widths), width, step + 1, config.steps, event.batch_loss)
        if trainer.diverged:
            nan = float("nan")
            n_params = sum(p.numel() for p in model.parameters())
            yield SweepPoint(width, n_params, nan, nan, nan, nan, nan, trainer.step_count, index, len(widths),
                             True, message)
            continue
        tl, ta, vl, va = trainer.evaluate()
        theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        yield SweepPoint(width=width, n_params=int(theta.numel()), train_error=1.0 - ta, test_error=1.0 - va,
                         train_loss=tl, test_loss=vl, weight_norm=float(theta.norm()), steps=trainer.step_count,
                         index=index, total=len(widths))


# ---------------------------------------------------------------------------------------------
# Epoch-wise double descent
# ---------------------------------------------------------------------------------------------
@dataclass
class EpochWiseConfig:
    """A linear regression whose inputs have a fast and a slow group of features.

    Inputs x = (x_fast, x_slow) with x_fast ~ N(0, I) and x_slow ~ N(0, slow_scale²·I); the
    teacher puts output variance fast_signal² on the fast group and slow_signal² on the slow
    one. Gradient descent on the training MSE learns the fast group about 1/slow_scale² times
    sooner than the slow group.
    """

    n_train: int = 100
    fast_features: int = 60
    slow_features: int = 10
    slow_scale: float = 0.03
    fast_signal: float = 1.5
    slow_signal: float = 1.0
    noise: float = 0.1
    lr: float = 0.1  # in units of 1/λmax of the input covariance XᵀX/n (stable below 2)
    max_steps: int = 10_000_000
    points: int = 240
    seed: int = 0

    def problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.n_train < 2:
            out["n_train"] = f"use at least 2 training samples, got {self.n_train}"
        if self.fast_features < 1 or self.slow_features < 0:
            out["features"] = "need at least one fast feature and a non-negative number of slow ones"
        if not (0 < self.slow_scale <= 1):
            out["slow_scale"] = f"the slow scale must lie in (0, 1], got {self.slow_scale}"
        if self.noise < 0 or self.fast_signal < 0 or self.slow_signal < 0:
            out["noise"] = "noise and signal strengths must be ≥ 0"
        if not (0 < self.lr < 2):
            out["lr"] = f"the step size must lie in (0, 2)/λmax for gradient descent to converge, got {self.lr}"
        if self.max_steps < 1 or self.points < 2:
            out["max_steps"] = "max_steps must be ≥ 1 and points ≥ 2"
        return out


@dataclass
class EpochPoint:
    """Errors after `step` full-batch gradient steps (one step = one epoch here)."""

    step: int
    train_error: float
    test_error: float  # expected squared error on fresh samples (exact: the input law is known)
    fast_error: float  # the part of the test error that lives in the fast features
    slow_error: float  # … and in the slow features (test_error = fast + slow + noise²)


@dataclass
class EpochWiseProblem:
    X: torch.Tensor
    y: torch.Tensor
    theta_star: torch.Tensor
    scales: torch.Tensor  # per-feature input standard deviation
    n_fast: int
    noise: float
    lr: float = field(default=0.0)


def epoch_wise_problem(config: EpochWiseConfig) -> EpochWiseProblem:
    problems = config.problems()
    if problems:
        raise ValueError("; ".join(problems.values()))
    g = torch.Generator().manual_seed(int(config.seed))
    f64 = torch.float64
    d1, d2 = config.fast_features, config.slow_features
    scales = torch.cat([torch.ones(d1, dtype=f64), torch.full((d2,), float(config.slow_scale), dtype=f64)])
    X = torch.randn(config.n_train, d1 + d2, generator=g, dtype=f64) * scales
    # Each group's signal is spread evenly over its features, in units of output variance.
    theta = torch.cat([torch.randn(d1, generator=g, dtype=f64) * config.fast_signal / math.sqrt(d1),
                       torch.randn(d2, generator=g, dtype=f64) * config.slow_signal / math.sqrt(max(d2, 1))])
    theta = theta / scales
    y = X @ theta + config.noise * torch.randn(config.n_train, generator=g, dtype=f64)
    H = X.T @ X / config.n_train
    lr = config.lr / float(torch.linalg.eigvalsh(H).max())
    return EpochWiseProblem(X, y, theta, scales, d1, config.noise, lr)


def epoch_wise_curve(config: EpochWiseConfig | None = None, chunk: int = 24,
                     device: str | torch.device = "cpu") -> Iterator[EpochPoint]:
    """Full-batch gradient descent from zero on the training MSE of an `EpochWiseConfig` problem,
    with step size config.lr/λmax; yields the errors at `config.points` log-spaced steps up to max_steps.

    GD on a quadratic is diagonal in the eigenbasis of XᵀX/n: after t steps each coordinate of
    the least-squares solution is reached to the fraction 1 − (1 − ηλ)ᵗ. That makes every step
    count up to a million exact and cheap; `chunk` checkpoints are evaluated per batch.
    """
    config = config or EpochWiseConfig()
    prob = epoch_wise_problem(config)
    dev = _float64_device(device)
    X, y, theta_star, scales = (t.to(dev) for t in (prob.X, prob.y, prob.theta_star, prob.scales))
    n = config.n_train
    H = X.T @ X / n
    evals, evecs = torch.linalg.eigh(H)
    rhs = evecs.T @ (X.T @ y / n)
    keep = evals > evals.max() * 1e-12  # directions GD never moves in stay at zero
    steps = np.unique(np.round(np.geomspace(1, config.max_steps, config.points)).astype(np.int64))
    steps = np.concatenate([[0], steps])
    cov = scales ** 2
    d1 = prob.n_fast
    for start in range(0, len(steps), chunk):
        t = torch.as_tensor(steps[start:start + chunk], dtype=torch.float64, device=dev)
        # w_t = Σ_i (1 − (1 − ηλ_i)ᵗ)/λ_i · (u_iᵀ Xᵀy/n) u_i
        decay = torch.pow((1 - prob.lr * evals).clamp_min(0)[None, :], t[:, None])
        gain = torch.where(keep, (1 - decay) / evals.clamp_min(1e-300), torch.zeros_like(decay))
        W = (gain * rhs) @ evecs.T  # (k, d)
        err = W - theta_star
        fast = (cov[:d1] * err[:, :d1] ** 2).sum(1)
        slow = (cov[d1:] * err[:, d1:] ** 2).sum(1)
        train = ((W @ X.T - y) ** 2).mean(1)
        for i in range(len(t)):
            yield EpochPoint(int(t[i]), float(train[i]), float(fast[i] + slow[i]) + prob.noise ** 2,
                             float(fast[i]), float(slow[i]))


def epoch_wise_shape(points: Sequence[EpochPoint]) -> dict[str, float]:
    """Where the curve turns: first local minimum, the peak after it, the minimum after the peak.

    Returns steps and test errors of each (NaN when the curve has no such turn).
    """
    steps = np.array([p.step for p in points])
    err = np.array([p.test_error for p in points])
    nan = float("nan")
    out = {"first_min_step": nan, "first_min": nan, "peak_step": nan, "peak": nan,
           "second_min_step": nan, "second_min": nan, "final": float(err[-1]) if len(err) else nan}
    i = 1
    while i < len(err) - 1 and not (err[i] <= err[i - 1] and err[i] < err[i + 1]):
        i += 1
    if i >= len(err) - 1:
        return out
    j = i + int(np.argmax(err[i:]))
    if j == i:
        return out
    k = j + int(np.argmin(err[j:]))
    out.update(first_min_step=float(steps[i]), first_min=float(err[i]), peak_step=float(steps[j]),
               peak=float(err[j]), second_min_step=float(steps[k]), second_min=float(err[k]))
    return out


__all__ = ["SweepResult", "SweepPoint", "SweepProgress", "EpochWiseConfig", "EpochPoint", "FEATURES",
           "random_features_sweep", "random_features_sweep_loop", "random_features_fit", "default_feature_counts",
           "width_sweep", "noisy_labels", "one_hidden_layer_params", "epoch_wise_curve", "epoch_wise_problem",
           "epoch_wise_shape"]
