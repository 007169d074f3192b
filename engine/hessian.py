"""Curvature of a loss L(θ): Hessian-vector products, the full Hessian of small models, extreme
eigenpairs by Lanczos, the spectral density by stochastic Lanczos quadrature (SLQ) and the trace
by Hutchinson's estimator.

Everything is matrix-free through `torch.func`. H·v is reverse-over-reverse by default (`vjp` of
`grad`): it works for every loss and needs no warm-up; forward-over-reverse (`jvp` of `grad`) is
there on request, falling back to reverse where an operation has no forward-mode rule (PyTorch's
MSE loss, for one). Blocks of vectors (the columns of the identity, the
probe vectors of SLQ and Hutchinson) go through one `vmap`'d product instead of a Python loop.

The Lanczos routines are generators underneath (`lanczos_iter`), so a view can show progress and
stop a long computation (a CNN's spectrum) at the next step.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, vjp, vmap

from .forward_ad import jvp
from .layerwise_hessian import LayerwiseHessian, layerwise_hessian
from .progress import Progress

LossFn = Callable[[torch.Tensor], torch.Tensor]


def symmetric_eigh(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices, in float64.

    Through NumPy's LAPACK on one BLAS thread: right after torch work, torch's OpenMP threads
    still spin for a while, and a threaded eigh competing with them took 0.5–1 s for a 354×354
    matrix instead of 10 ms. Works on batches (…, n, n).
    """
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    with threadpool_limits(limits=1, user_api="blas"):
        w, v = np.linalg.eigh(A.detach().to("cpu", torch.float64).numpy())
    return torch.from_numpy(w).to(A.device), torch.from_numpy(v).to(A.device)

HVP_MODES = ("auto", "forward", "reverse")


def last(items):
    """The last item of an iterator (the result of a progress-yielding generator)."""
    tail = deque(items, maxlen=1)
    if not tail:
        raise ValueError("the computation produced nothing")
    return tail[0]


def _on_device(theta: torch.Tensor, device: str | torch.device | None) -> torch.Tensor:
    theta = torch.as_tensor(theta).detach()
    if device is not None:
        from .device import pick_device

        theta = theta.to(pick_device(device))
    return theta


def _transformed(t: torch.Tensor) -> bool:
    """Whether t is seen through an outer torch.func transform (vmap, grad, …): the layer-wise
    products are written for plain tensors and would not carry the outer transform's derivative."""
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))


class HessianOperator:
    """v ↦ H(θ)·v for a fixed θ, on one vector (P,) or a block of vectors (n, P).

    `mode`: "reverse" (vjp of grad), "forward" (jvp of grad) or "auto": the layer-wise products of
    `engine.layerwise_hessian` when the loss comes from `engine.params.loss_function` on a chain of
    known layers (no autograd graph; several times cheaper per vector), else reverse (on this CPU
    build the faster of the two autograd ways, with no first-call cost; "forward" falls back to
    reverse the first time an operation lacks a forward-mode rule). `chunk` bounds how many
    vectors one `vmap` call pushes through at once (memory grows with it).
    `matvecs` counts the Hessian-vector products computed so far.
    """

    def __init__(self, loss_fn: LossFn, theta: torch.Tensor, mode: str = "auto", chunk: int | None = None):
        if mode not in HVP_MODES:
            raise ValueError(f"unknown Hessian-vector mode {mode!r}; choose one of {', '.join(HVP_MODES)}")
        self.loss_fn = loss_fn
        self.theta = torch.as_tensor(theta).detach()
        if self.theta.ndim != 1:
            raise ValueError(f"θ must be a flat vector, got shape {tuple(self.theta.shape)}")
        self.mode = mode
        self.chunk = chunk
        self.matvecs = 0
        self._grad = grad(loss_fn)
        self._graph: tuple[torch.Tensor, torch.Tensor] | None = None  # (θ leaf, ∇L built with create_graph)
        self._graph_failed = False
        self._layerwise: LayerwiseHessian | None = None
        self._layerwise_tried = mode != "auto"

    @property
    def layerwise(self) -> LayerwiseHessian | None:
        """The layer-wise products for this loss and θ, built on first use; None where the model
        or the loss does not allow them (or they failed once, e.g. inside another transform)."""
        if not self._layerwise_tried:
            self._layerwise_tried = True
            if not _transformed(self.theta):
                self._layerwise = layerwise_hessian(self.loss_fn, self.theta, self.chunk)
        return self._layerwise

    def quadratic_forms(self, V: torch.Tensor) -> torch.Tensor:
        """vᵀHv for each row of V (n, P): layer-wise where possible (a forward pass per vector, no
        backward), else from the products H·v."""
        V = V.to(self.theta.dtype).reshape(-1, self.size)
        lw = self.layerwise if not _transformed(V) else None
        if lw is not None:
            try:
                out = lw.quadratic_forms(V)
                self.matvecs += len(V)
                return out
            except (RuntimeError, NotImplementedError):
                self._layerwise = None
        return (self(V) * V).sum(1)

    @property
    def size(self) -> int:
        return int(self.theta.numel())

    @property
    def dtype(self) -> torch.dtype:
        return self.theta.dtype

    @property
    def device(self) -> torch.device:
        return self.theta.device

    def _forward(self, v: torch.Tensor) -> torch.Tensor:
        return jvp(self._grad, (self.theta,), (v,))[1]

    def _reverse(self, v: torch.Tensor) -> torch.Tensor:
        return vjp(self._grad, self.theta)[1](v)[0]

    def _gradient_graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        """∇L(θ) with its graph kept: built once, so each product is one backward pass through
        it instead of a forward and a backward pass and then the product."""
        if self._graph is None:
            leaf = self.theta.clone().requires_grad_(True)
            with torch.enable_grad():
                g = torch.autograd.grad(self.loss_fn(leaf), leaf, create_graph=True)[0]
            self._graph = (leaf, g)
        return self._graph

    def _reverse_cached(self, V: torch.Tensor) -> torch.Tensor:
        leaf, g = self._gradient_graph()
        if not g.requires_grad:  # L is linear (or constant) in θ
            return torch.zeros_like(V)
        if V.ndim == 1:
            return torch.autograd.grad(g, leaf, V, retain_graph=True, allow_unused=True)[0]
        step = self.chunk or len(V)
        if step == 1:
            return torch.stack([torch.autograd.grad(g, leaf, v, retain_graph=True)[0] for v in V])
        return torch.cat([torch.autograd.grad(g, leaf, V[i : i + step], retain_graph=True, is_grads_batched=True)[0]
                          for i in range(0, len(V), step)])

    def release(self) -> None:
        """Drop the kept gradient graph (it holds the activations of the whole batch)."""
        self._graph = None

    def _apply(self, V: torch.Tensor, fn) -> torch.Tensor:
        if V.ndim == 1:
            return fn(V)
        return vmap(fn, chunk_size=self.chunk)(V)

    def _reverse_any(self, V: torch.Tensor) -> torch.Tensor:
        # The kept graph needs plain autograd; inside an outer torch.func transform (or for an
        # operation without a double-backward batching rule) the per-call vjp of grad still works.
        if not self._graph_failed:
            try:
                return self._reverse_cached(V)
            except (RuntimeError, NotImplementedError):
                self._graph_failed = True
                self._graph = None
        return self._apply(V, self._reverse)

    def __call__(self, V: torch.Tensor) -> torch.Tensor:
        V = V.to(self.theta.dtype)
        if V.shape[-1] != self.size or V.ndim not in (1, 2):
            raise ValueError(f"expected vectors of length {self.size}, got shape {tuple(V.shape)}")
        n = 1 if V.ndim == 1 else V.shape[0]
        lw = self.layerwise if not _transformed(V) else None
        if lw is not None:
            try:
                out = lw.hvp(V)
                self.matvecs += n
                return out
            except (RuntimeError, NotImplementedError):
                self._layerwise = None  # e.g. inside an outer torch.func transform: autograd still works
        if self.mode in ("reverse", "auto"):
            out = self._reverse_any(V)
        else:
            try:
                out = self._apply(V, self._forward)
            except (RuntimeError, NotImplementedError):
                self.mode = "reverse"  # e.g. mse_loss has no usable forward-over-reverse rule
                out = self._reverse_any(V)
        self.matvecs += n
        return out.detach()


def hvp(loss_fn: LossFn, theta: torch.Tensor, v: torch.Tensor, mode: str = "auto",
        device: str | torch.device | None = None) -> torch.Tensor:
    """H(θ)·v, the Hessian of `loss_fn` at θ times v, without forming H.

    `v` may be one vector (P,) or a block (n, P): the block goes through one `vmap`.
    """
    theta = _on_device(theta, device)
    return HessianOperator(loss_fn, theta, mode)(torch.as_tensor(v).to(theta.device))


def _check_size(P: int, max_params: int, element_size: int) -> None:
    if P > max_params:
        gb = P * P * element_size / 1e9
        raise ValueError(
            f"the full Hessian of {P:,} parameters would hold {P * P:,} numbers ({gb:.1f} GB) and cost "
            f"{P:,} Hessian-vector products; above max_params={max_params:,} use the iterative methods: "
            "top_eigenvalues / bottom_eigenvalues (Lanczos), spectral_density (stochastic Lanczos "
            "quadrature) or hessian_trace (Hutchinson)")


def full_hessian(loss_fn: LossFn, theta: torch.Tensor, max_params: int = 5000, chunk: int | None = None,
                 mode: str = "auto", device: str | torch.device | None = None) -> torch.Tensor:
    """The P×P Hessian, as H·I through batched (`vmap`) products of `chunk` columns, symmetrised.

    Refused above `max_params` parameters, since it needs P² numbers and P products.
    """
    theta = _on_device(theta, device)
    _check_size(int(theta.numel()), max_params, theta.element_size())
    return last(full_hessian_iter(loss_fn, theta, max_params, chunk or 2048, mode)).matrix


@dataclass
class FullHessian:
    """The result of `full_hessian_iter`: the symmetrised P×P Hessian, where θ was."""

    matrix: torch.Tensor


def full_hessian_iter(loss_fn: LossFn, theta: torch.Tensor, max_params: int = 5000, chunk: int = 256,
                      mode: str = "auto") -> Iterator[Progress | FullHessian]:
    """`full_hessian` as a generator: the Hessian is built `chunk` columns at a time (each block
    one batched product); yields a `Progress` (columns done of P) after each block, then the
    `FullHessian`."""
    theta = torch.as_tensor(theta).detach()
    P = int(theta.numel())
    _check_size(P, max_params, theta.element_size())
    op = HessianOperator(loss_fn, theta, mode, chunk)
    H = torch.empty(P, P, dtype=theta.dtype, device=theta.device)
    eye = torch.eye(P, dtype=theta.dtype, device=theta.device)
    for i in range(0, P, chunk):
        H[i : i + chunk] = op(eye[i : i + chunk])  # rows of H are columns too (H is symmetric)
        yield Progress(min(P, i + chunk), P, "Hessian columns")
    yield FullHessian((H + H.T) / 2)


# -- Lanczos -----------------------------------------------------------------------------------


@dataclass
class LanczosState:
    """After `steps` Lanczos steps on a block of n independent start vectors.

    alphas (n, steps), betas (n, steps): T's diagonal and off-diagonal (betas[:, j] couples
    step j and j+1; the last one is the residual norm). basis (steps, n, P): the orthonormal
    Lanczos vectors, kept for full re-orthogonalisation and Ritz vectors.
    """

    steps: int
    alphas: torch.Tensor
    betas: torch.Tensor
    basis: torch.Tensor
    exhausted: torch.Tensor  # (n,) bool: an invariant subspace was found (T is then exact)

    def tridiagonal(self) -> torch.Tensor:
        """T for each start vector, (n, steps, steps), in float64."""
        a = self.alphas.double()
        b = self.betas[:, : self.steps - 1].double()
        return torch.diag_embed(a) + torch.diag_embed(b, 1) + torch.diag_embed(b, -1)


def lanczos_iter(matvec: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor,
                 steps: int) -> Iterator[LanczosState]:
    """Lanczos with full re-orthogonalisation, run on the rows of `start` (n, P) at once.

    Yields the state after each step, so callers can test convergence, report progress or stop.
    One `matvec` call per step serves all n start vectors. A start vector whose Krylov space is
    exhausted (β ≈ 0) keeps zero vectors from then on, which leaves its T block-diagonal with the
    exact part first, so its Ritz values and SLQ weights stay right.
    """
    if start.ndim == 1:
        start = start[None]
    n, P = start.shape
    steps = int(min(steps, P))
    if steps < 1:
        raise ValueError("Lanczos needs at least one step")
    dtype, device = start.dtype, start.device
    q = start / start.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
    basis = torch.zeros(steps, n, P, dtype=dtype, device=device)
    alphas = torch.zeros(n, steps, dtype=dtype, device=device)
    betas = torch.zeros(n, steps, dtype=dtype, device=device)
    exhausted = torch.zeros(n, dtype=torch.bool, device=device)
    scale = torch.zeros(n, dtype=dtype, device=device)
    for j in range(steps):
        basis[j] = q
        w = matvec(q)
        alpha = (w * q).sum(1)
        alphas[:, j] = alpha
        w = w - alpha[:, None] * q
        if j > 0:
            w = w - betas[:, j - 1, None] * basis[j - 1]
        # Full re-orthogonalisation against every earlier vector, twice ("twice is enough").
        Qj = basis[: j + 1]  # (j+1, n, P)
        for _ in range(2):
            w = w - torch.einsum("jn,jnp->np", torch.einsum("jnp,np->jn", Qj, w), Qj)
        beta = w.norm(dim=1)
        scale = torch.maximum(scale, alpha.abs() + beta)
        eps = 50 * torch.finfo(dtype).eps * scale.clamp_min(torch.finfo(dtype).tiny)
        done = exhausted | (beta <= eps)
        beta = torch.where(done, torch.zeros_like(beta), beta)
        betas[:, j] = beta
        exhausted = done
        q = torch.where(done[:, None], torch.zeros_like(w), w / beta.clamp_min(torch.finfo(dtype).tiny)[:, None])
        yield LanczosState(j + 1, alphas[:, : j + 1], betas[:, : j + 1], basis[: j + 1], exhausted.clone())


@dataclass
class EigenResult:
    """Extreme eigenpairs of the Hessian.

    values (k,), vectors (k, P) unit rows; residuals (k,) = ‖H v − λ v‖ measured with fresh
    Hessian-vector products (not the Lanczos estimate); iterations: Lanczos steps taken;
    matvecs: Hessian-vector products in all; converged: every true residual met the tolerance.
    """

    values: torch.Tensor
    vectors: torch.Tensor
    residuals: torch.Tensor
    iterations: int
    matvecs: int
    converged: bool

    @property
    def relative_residuals(self) -> torch.Tensor:
        return self.residuals / self.values.abs().clamp_min(torch.finfo(self.values.dtype).tiny)


def _tridiagonal_eigenvalues(state: LanczosState) -> np.ndarray:
    """T's eigenvalues, ascending, by LAPACK's tridiagonal solver (microseconds; no thread pool)."""
    from scipy.linalg import eigvalsh_tridiagonal

    a = state.alphas[0].detach().to("cpu", torch.float64).numpy()
    b = state.betas[0, : state.steps - 1].detach().to("cpu", torch.float64).numpy()
    return eigvalsh_tridiagonal(a, b)


def _wanted_order(values: torch.Tensor, which: str) -> torch.Tensor:
    """Indices of ascending eigenvalues in the order `which` wants them."""
    if which == "top":
        return torch.arange(len(values) - 1, -1, -1)
    if which == "magnitude":
        return torch.argsort(values.abs(), descending=True, stable=True)
    return torch.arange(len(values))


def _ritz(state: LanczosState, which: str, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ritz values, their coefficient vectors in the Lanczos basis, and residual estimates
    |β_m · s_m| for the k wanted ones (single start vector)."""
    T = state.tridiagonal()[0]
    theta, S = symmetric_eigh(T)
    idx = _wanted_order(theta, which)
    idx = idx[:k]
    est = (state.betas[0, -1].double() * S[-1, idx]).abs()
    return theta[idx], S[:, idx], est


def eigenpairs(loss_fn: LossFn, theta: torch.Tensor, k: int = 1, which: str = "top", iters: int = 100,
               tol: float = 1e-4, seed: int = 0, start: torch.Tensor | None = None, mode: str = "auto",
               device: str | torch.device | None = None,
               operator: HessianOperator | None = None, criterion: str = "residual") -> EigenResult:
    """The k largest ("top", descending), most negative ("bottom", ascending) or largest in
    absolute value ("magnitude", by |λ| descending: what power iteration finds) eigenpairs by
    Lanczos with full re-orthogonalisation, with their measured residuals ‖Hv − λv‖.

    Stops when each wanted Ritz pair's residual estimate |β·s| is below `tol`·|λ| (so the
    eigenvalue is right to about `tol` relative), or after `iters` steps. `start` warm-starts the Krylov space
    (e.g. the previous top eigenvector while training runs).

    `criterion="value"` stops instead once every wanted Ritz value moves by less than `tol`
    relative from one step to the next (the rule power-iteration tools such as PyHessian use for
    their eigenvalue); the residuals are then Lanczos's estimates |β·s| (equal to ‖Hv − λv‖ in
    exact arithmetic, close to it with full re-orthogonalisation), which cost no product.
    """
    return last(eigenpairs_iter(loss_fn, theta, k, which, iters, tol, seed, start, mode, device, operator,
                                criterion))


def eigenpairs_iter(loss_fn: LossFn, theta: torch.Tensor, k: int = 1, which: str = "top", iters: int = 100,
                    tol: float = 1e-4, seed: int = 0, start: torch.Tensor | None = None, mode: str = "auto",
                    device: str | torch.device | None = None,
                    operator: HessianOperator | None = None,
                    criterion: str = "residual") -> Iterator[Progress | EigenResult]:
    """`eigenpairs` as a generator: yields a `Progress` (Lanczos steps of at most `iters`)
    after each step, then the EigenResult last."""
    if which not in ("top", "bottom", "magnitude"):
        raise ValueError(f"which must be 'top', 'bottom' or 'magnitude', got {which!r}")
    if criterion not in ("residual", "value"):
        raise ValueError(f"criterion must be 'residual' or 'value', got {criterion!r}")
    theta = _on_device(theta, device)
    op = operator or HessianOperator(loss_fn, theta, mode)
    P = op.size
    if not 1 <= k <= P:
        raise ValueError(f"k must lie between 1 and the {P} parameters, got {k}")
    if start is None:
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        start = torch.randn(P, generator=g, dtype=torch.float64).to(theta.device, theta.dtype)
    else:
        start = torch.as_tensor(start).to(theta.device, theta.dtype).reshape(-1)
        if start.numel() != P or not torch.isfinite(start).all() or float(start.norm()) == 0:
            g = torch.Generator(device="cpu").manual_seed(int(seed))
            start = torch.randn(P, generator=g, dtype=torch.float64).to(theta.device, theta.dtype)
    min_steps = min(P, max(k + 1, 3))
    converged = False
    state = None
    estimate_margin = 1.0  # how far below the tolerance the estimate must fall before a check
    previous = None
    max_steps = max(iters, min_steps)
    for state in lanczos_iter(op, start[None], max_steps):
        yield Progress(state.steps, max_steps, "Lanczos steps")
        if state.steps < min_steps and not bool(state.exhausted[0]):
            continue
        if bool(state.exhausted[0]) or state.steps >= P:
            converged = True
            break
        if criterion == "value":
            values = torch.from_numpy(_tridiagonal_eigenvalues(state))
            values = values[_wanted_order(values, which)][:k]
            if previous is not None and bool(((values - previous).abs() < tol * (values.abs() + 1e-6)).all()):
                converged = True
                break
            previous = values
            continue
        if state.steps % 2 == 0 or state.steps == iters:
            values, _, est = _ritz(state, which, min(k, state.steps))
            if len(values) == k:
                # Relative to each |λ| (so small eigenvalues are accurate too), with a floor at
                # what the arithmetic can resolve relative to the spectrum's scale.
                scale = float(symmetric_eigh(state.tridiagonal()[0])[0].abs().max())
                floor = 100 * torch.finfo(theta.dtype).eps * max(scale, 1e-30)
                wanted = torch.clamp(tol * values.abs(), min=floor)
                # The Ritz estimate |β·s| is cheap but in finite precision can undershoot the true
                # residual: when it says "done", confirm with ‖Hv − λv‖ itself (one batched product).
                if bool((est <= estimate_margin * wanted).all()):
                    pairs = _ritz_pairs(state, which, k, op, theta.dtype)
                    if bool((pairs[2] <= wanted.to(pairs[2])).all()):
                        converged = True
                        yield EigenResult(*pairs, state.steps, op.matvecs, converged)
                        return
                    # The estimate ran ahead of the truth: check again only once it has fallen as
                    # far again, so an unreachable tolerance costs a few checks, not one per step.
                    gap = float((wanted.to(pairs[2]) / pairs[2].clamp_min(1e-300)).min())
                    estimate_margin *= min(0.5, max(gap, 1e-3))
    yield EigenResult(*_ritz_pairs(state, which, min(k, state.steps), op, theta.dtype, criterion == "residual"),
                      state.steps, op.matvecs, converged)


def _ritz_pairs(state: LanczosState, which: str, k: int, op: HessianOperator, dtype: torch.dtype,
                measure: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ritz values, unit Ritz vectors and their true residuals ‖Hv − λv‖ (with `measure=False`,
    Lanczos's own estimates |β·s| instead, which cost no product)."""
    values, S, est = _ritz(state, which, k)
    basis = state.basis[:, 0, :]  # (m, P)
    vectors = (S.T.to(basis.dtype) @ basis)
    vectors = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(torch.finfo(vectors.dtype).tiny)
    values = values.to(dtype)
    if not measure:
        return values, vectors, est.to(dtype)
    residuals = (op(vectors) - values[:, None] * vectors).norm(dim=1)
    return values, vectors, residuals


def top_eigenvalues(loss_fn: LossFn, theta: torch.Tensor, k: int = 1, iters: int = 100, tol: float = 1e-4,
                    seed: int = 0, device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest (algebraic) Hessian eigenvalues, descending, and their unit eigenvectors:
    (k,), (k, P). Lanczos with full re-orthogonalisation; use `eigenpairs` for the residuals
    ‖Hv − λv‖ too."""
    r = eigenpairs(loss_fn, theta, k, "top", iters, tol, seed, device=device)
    return r.values, r.vectors


def bottom_eigenvalues(loss_fn: LossFn, theta: torch.Tensor, k: int = 1, iters: int = 100, tol: float = 1e-4,
                       seed: int = 0, device: str | torch.device | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest (most negative first) Hessian eigenvalues and unit eigenvectors."""
    r = eigenpairs(loss_fn, theta, k, "bottom", iters, tol, seed, device=device)
    return r.values, r.vectors


def eigen_residuals(loss_fn: LossFn, theta: torch.Tensor, values: torch.Tensor, vectors: torch.Tensor,
                    mode: str = "auto") -> torch.Tensor:
    """‖H v − λ v‖ for each pair (values (k,), vectors (k, P)), with one batched product."""
    vectors = torch.as_tensor(vectors).reshape(len(values), -1)
    HV = HessianOperator(loss_fn, torch.as_tensor(theta).detach(), mode)(vectors)
    return (HV - torch.as_tensor(values).to(HV)[:, None] * vectors.to(HV)).norm(dim=1)


def power_iteration(loss_fn: LossFn, theta: torch.Tensor, iters: int = 1000, tol: float = 1e-4, seed: int = 0,
                    mode: str = "auto") -> EigenResult:
    """The dominant eigenpair (largest |λ|) by plain power iteration, stopped when the residual
    ‖Hv − λv‖ falls below `tol`·|λ|. The baseline Lanczos is compared with."""
    theta = torch.as_tensor(theta).detach()
    op = HessianOperator(loss_fn, theta, mode)
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    v = torch.randn(op.size, generator=g, dtype=torch.float64).to(theta.device, theta.dtype)
    v = v / v.norm()
    lam = torch.zeros((), dtype=theta.dtype, device=theta.device)
    Hv = op(v)
    converged, it = False, 0
    while it < iters:
        it += 1
        lam = v @ Hv
        res = (Hv - lam * v).norm()
        if float(res) <= tol * float(lam.abs()):
            converged = True
            break
        v = Hv / Hv.norm()
        Hv = op(v)
    res = (Hv - lam * v).norm()
    return EigenResult(lam[None], v[None], res[None], it, op.matvecs, converged)


# -- spectral density (stochastic Lanczos quadrature) -----------------------------------------


def rademacher(n: int, P: int, seed: int = 0, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """n random ±1 vectors of length P, reproducible from `seed`."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    return (torch.randint(0, 2, (n, P), generator=g) * 2 - 1).to(device=device, dtype=dtype)


@dataclass
class QuadratureNodes:
    """SLQ's Gauss quadrature of the spectral measure, one row per probe vector.

    nodes (n, m): Ritz values; weights (n, m): squared first components of T's eigenvectors
    (each row sums to 1). top/bottom: the extreme Ritz pairs over all probes (value, vector).
    """

    nodes: np.ndarray
    weights: np.ndarray
    top_value: float
    top_vector: torch.Tensor
    bottom_value: float
    bottom_vector: torch.Tensor
    trace: float  # P · mean over probes of qᵀHq (Hutchinson with the same probes)
    n_params: int
    matvecs: int

    def negative_fraction(self, tol: float = 0.0) -> float:
        """Estimated fraction of eigenvalues below −tol (mass of the negative nodes)."""
        return float((self.weights * (self.nodes < -tol)).sum(1).mean())


def slq_iter(loss_fn: LossFn, theta: torch.Tensor, n_probes: int = 4, lanczos_steps: int = 80, seed: int = 0,
             mode: str = "auto", device: str | torch.device | None = None,
             operator: HessianOperator | None = None) -> Iterator[Progress | QuadratureNodes]:
    """Stochastic Lanczos quadrature, all probes at once: yields a `Progress` (Lanczos steps of
    `lanczos_steps`) after each step, then the QuadratureNodes."""
    theta = _on_device(theta, device)
    op = operator or HessianOperator(loss_fn, theta, mode)
    P = op.size
    if n_probes < 1:
        raise ValueError(f"SLQ needs at least one probe vector, got {n_probes}")
    V = rademacher(n_probes, P, seed, theta.dtype, theta.device)
    state = None
    for state in lanczos_iter(op, V, lanczos_steps):
        yield Progress(state.steps, lanczos_steps, "Lanczos steps")
    T = state.tridiagonal()
    evals, evecs = symmetric_eigh(T)  # (n, m), (n, m, m)
    weights = evecs[:, 0, :] ** 2
    nodes = evals
    # The extreme Ritz pairs: take the probe whose extreme node is most extreme.
    top_probe = int(nodes[:, -1].argmax())
    bottom_probe = int(nodes[:, 0].argmin())
    basis = state.basis  # (m, n, P)
    top_vec = evecs[top_probe, :, -1].to(basis.dtype) @ basis[:, top_probe, :]
    bottom_vec = evecs[bottom_probe, :, 0].to(basis.dtype) @ basis[:, bottom_probe, :]
    trace = float(P * state.alphas[:, 0].double().mean())
    yield QuadratureNodes(nodes.cpu().numpy(), weights.cpu().numpy(), float(nodes[top_probe, -1]),
                          top_vec / top_vec.norm(), float(nodes[bottom_probe, 0]),
                          bottom_vec / bottom_vec.norm(), trace, P, op.matvecs)


def slq_nodes(loss_fn: LossFn, theta: torch.Tensor, n_probes: int = 4, lanczos_steps: int = 80, seed: int = 0,
              mode: str = "auto", device: str | torch.device | None = None) -> QuadratureNodes:
    return last(slq_iter(loss_fn, theta, n_probes, lanczos_steps, seed, mode, device))


def default_sigma(nodes: np.ndarray) -> float:
    """Smoothing width: 1% of the spread of the Ritz values (a tiny floor for a flat spectrum)."""
    spread = float(np.max(nodes) - np.min(nodes))
    return max(0.01 * spread, 1e-6 * max(1.0, float(np.abs(nodes).max())))


def density_from_nodes(nodes: np.ndarray, weights: np.ndarray, grid_size: int = 512,
                       sigma: float | None = None, grid: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-smoothed spectral density on a grid; normalised so it integrates to 1."""
    nodes = np.asarray(nodes, dtype=np.float64).reshape(-1, np.shape(nodes)[-1])
    weights = np.asarray(weights, dtype=np.float64).reshape(nodes.shape)
    sigma = default_sigma(nodes) if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if grid is None:
        lo, hi = nodes.min() - 5 * sigma, nodes.max() + 5 * sigma
        grid = np.linspace(lo, hi, int(grid_size))
    flat_n, flat_w = nodes.reshape(-1), weights.reshape(-1) / nodes.shape[0]
    keep = flat_w > 0
    flat_n, flat_w = flat_n[keep], flat_w[keep]
    # (grid, nodes) in blocks so a fine grid with many nodes stays small in memory.
    density = np.zeros(len(grid))
    for i in range(0, len(flat_n), 4096):
        d = (grid[:, None] - flat_n[None, i : i + 4096]) / sigma
        density += (np.exp(-0.5 * d * d) * flat_w[None, i : i + 4096]).sum(1)
    density /= sigma * math.sqrt(2 * math.pi)
    area = float(np.sum((density[1:] + density[:-1]) * np.diff(grid)) / 2)  # trapezoid rule
    if area > 0:
        density /= area
    return grid, density


def spectral_density(loss_fn: LossFn, theta: torch.Tensor, n_probes: int = 4, lanczos_steps: int = 80,
                     grid_size: int = 512, sigma: float | None = None, seed: int = 0,
                     device: str | torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The Hessian's eigenvalue density by stochastic Lanczos quadrature: Rademacher probes,
    Lanczos with full re-orthogonalisation, Gaussian smoothing of width `sigma` (default 1% of
    the spectrum's spread). Returns (grid, density); the density integrates to 1 over the grid."""
    q = slq_nodes(loss_fn, theta, n_probes, lanczos_steps, seed, device=device)
    return density_from_nodes(q.nodes, q.weights, grid_size, sigma)


def hessian_trace(loss_fn: LossFn, theta: torch.Tensor, n_probes: int = 64, seed: int = 0, chunk: int | None = None,
                  mode: str = "auto", device: str | torch.device | None = None,
                  probes: torch.Tensor | None = None) -> float:
    """tr H ≈ mean of vᵀHv over Rademacher vectors v (Hutchinson), the probes batched by `vmap`
    `chunk` at a time (default: 32 on a GPU; one by one on the CPU, where a batched product costs
    more per vector than a single one). Each vᵀHv is a layer-wise second-order forward pass where
    the model allows it (`HessianOperator.quadratic_forms`). `probes` (n, P) replaces the random ones."""
    theta = _on_device(theta, device)
    if probes is not None:
        probes = torch.as_tensor(probes).to(theta.device, theta.dtype).reshape(-1, theta.numel())
        n_probes = len(probes)
    if n_probes < 1:
        raise ValueError(f"Hutchinson needs at least one probe vector, got {n_probes}")
    if chunk is None:
        chunk = 1 if theta.device.type == "cpu" else 32
    op = HessianOperator(loss_fn, theta, mode, chunk)
    V = rademacher(n_probes, op.size, seed, theta.dtype, theta.device) if probes is None else probes
    total = 0.0
    for i in range(0, n_probes, chunk):
        total += float(op.quadratic_forms(V[i : i + chunk]).double().sum())
    return total / n_probes


# -- classification ------------------------------------------------------------------------


def classify_critical_point(eigenvalues, tol: float = 1e-6) -> str:
    """"minimum" (all λ > tol), "maximum" (all λ < −tol), "saddle" (some of each sign), else
    "degenerate" (some |λ| ≤ tol and no mixed signs: the second-order test cannot decide)."""
    lam = np.asarray(eigenvalues.detach().cpu() if isinstance(eigenvalues, torch.Tensor) else eigenvalues,
                     dtype=np.float64).reshape(-1)
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError("eigenvalues must be a non-empty list of finite numbers")
    pos, neg = bool((lam > tol).any()), bool((lam < -tol).any())
    if pos and neg:
        return "saddle"
    if pos and (lam > tol).all():
        return "minimum"
    if neg and (lam < -tol).all():
        return "maximum"
    return "degenerate"


def negative_count(eigenvalues, tol: float = 0.0) -> int:
    """How many eigenvalues lie below −tol."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    return int((lam < -tol).sum())
