"""Implicit regularisation: which solution gradient descent picks when many fit the data.

- `min_norm_gd`: GD from zero on underdetermined least squares stays in the row space of X and
  so converges to the pseudo-inverse (minimum-ℓ²-norm) solution; from a random start it keeps
  the start's null-space part and lands on a different interpolant.
- `max_margin_direction` (Soudry et al. 2018): GD on the logistic loss of separable data lets
  ‖w‖ grow like log t while w/‖w‖ turns towards the hard-margin SVM direction.
- `factorization_gd` (Gunasekar et al. 2017): matrix sensing with X = UUᵀ from U₀ = αI; the
  smaller α, the closer GD comes to the interpolant of least nuclear norm.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .device import pick_device

F64 = torch.float64


def _device(device: str | torch.device) -> torch.device:
    dev = pick_device(device)
    return torch.device("cpu") if dev.type == "mps" else dev  # float64 throughout; MPS has none


def _as64(a, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).to(device, F64)


def log_steps(steps: int, points: int) -> np.ndarray:
    """Distinct integer steps 1 … steps, log-spaced (about `points` of them), every power of
    ten among them."""
    if steps < 1:
        return np.zeros(0, dtype=np.int64)
    decades = 10 ** np.arange(int(math.log10(steps)) + 1)
    grid = np.round(np.geomspace(1, steps, max(2, points))).astype(np.int64)
    return np.unique(np.concatenate([grid, decades, [steps]]))


def logistic_smoothness(X) -> float:
    """β = λmax(XᵀX/n)/4, the Lipschitz constant of the mean logistic loss's gradient; GD with
    a step below 2/β decreases the loss at every step."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.linalg.eigvalsh(X.T @ X / len(X)).max()) / 4


# ---------------------------------------------------------------------------------------------
# (a) least squares: GD from zero finds the minimum-norm interpolant
# ---------------------------------------------------------------------------------------------
@dataclass
class GDPoint:
    step: int
    loss: float  # ‖Xw − y‖² / (2n)
    distance_to_min_norm: float  # ‖w − X⁺y‖
    distance_to_limit: float  # ‖w − w∞‖, w∞ = X⁺y + (I − X⁺X)w₀ (where GD from w₀ converges)
    norm: float
    w: np.ndarray | None = None


def underdetermined_problem(n: int = 20, d: int = 100, noise: float = 0.0,
                            seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """X ~ N(0, 1)^(n×d) with n < d and y = Xβ + noise: infinitely many exact fits."""
    if not 1 <= n < d:
        raise ValueError(f"an underdetermined problem needs 1 ≤ n < d, got n={n}, d={d}")
    g = torch.Generator().manual_seed(int(seed))
    X = torch.randn(n, d, generator=g, dtype=F64)
    beta = torch.randn(d, generator=g, dtype=F64) / math.sqrt(d)
    return X, X @ beta + noise * torch.randn(n, generator=g, dtype=F64)


def min_norm_solution(X, y) -> torch.Tensor:
    """X⁺y: among all least-squares solutions, the one of least Euclidean norm."""
    X, y = _as64(X, torch.device("cpu")), _as64(y, torch.device("cpu"))
    return torch.linalg.pinv(X) @ y


def min_norm_gd(X, y, steps: int = 1000, lr: float | None = None, *, w0=None, every: int = 1,
                keep_w: bool = False, device: str | torch.device = "cpu") -> Iterator[GDPoint]:
    """Full-batch GD on L(w) = ‖Xw − y‖²/(2n) from w₀ (default zero); yields step 0 and every
    `every`-th step. `lr` defaults to 1/λmax(XᵀX/n), safely below the 2/λmax limit.

    From zero, every gradient Xᵀ(Xw − y)/n lies in the row space of X, so w never leaves it
    and converges to the only interpolant there: X⁺y, the minimum-norm one.
    """
    dev = _device(device)
    X, y = _as64(X, dev), _as64(y, dev).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (n, d) and y (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    n, d = X.shape
    if steps < 0 or every < 1:
        raise ValueError("steps must be ≥ 0 and every ≥ 1")
    H = X.T @ X / n
    lam_max = float(torch.linalg.eigvalsh(H).max()) if d <= 2000 else float(torch.linalg.matrix_norm(X, 2)) ** 2 / n
    if lr is None:
        lr = 1.0 / max(lam_max, 1e-300)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be positive, got {lr}")
    pinv = torch.linalg.pinv(X)
    w_min = pinv @ y
    w = torch.zeros(d, dtype=F64, device=dev) if w0 is None else _as64(w0, dev).reshape(-1).clone()
    if w.shape[0] != d:
        raise ValueError(f"w0 has {w.shape[0]} entries, the problem {d} unknowns")
    limit = w_min + w - pinv @ (X @ w)  # the start's null-space part survives

    def point(t: int) -> GDPoint:
        r = X @ w - y
        return GDPoint(t, float(r @ r) / (2 * n), float((w - w_min).norm()), float((w - limit).norm()),
                       float(w.norm()), w.cpu().numpy().copy() if keep_w else None)

    yield point(0)
    Xt_n = X.T / n
    for t in range(1, steps + 1):
        w = w - lr * (Xt_n @ (X @ w - y))
        if not bool(torch.isfinite(w).all()):
            raise FloatingPointError(f"gradient descent diverged at step {t}: lower the learning rate "
                                     f"(it must stay below 2/λmax = {2 / lam_max:.3g})")
        if t % every == 0 or t == steps:
            yield point(t)


@dataclass
class LeastSquaresDemo:
    """GD from zero and from a random start, twice: on one equation in two unknowns (to draw the
    paths, w kept at every step) and on n equations in d unknowns (to measure the distances)."""

    x2: np.ndarray  # (1, 2): the one equation ⟨x, w⟩ = y of the picture
    y2: np.ndarray  # (1,)
    w_min2: np.ndarray  # (2,): its minimum-norm fit X⁺y
    picture_zero: list[GDPoint]
    picture_random: list[GDPoint]
    zero: list[GDPoint]
    random: list[GDPoint]
    d: int


def least_squares_demo(seed: int = 0, d: int = 100, n: int = 20, steps: int = 300,
                       picture_steps: int = 30) -> LeastSquaresDemo:
    """The least-squares page: `seed` draws the random starts, the problem itself is fixed."""
    x2 = np.array([[1.0, 1.0]])
    y2 = np.array([1.5])
    w0_2 = np.random.default_rng(seed + 101).normal(0, 1.3, 2)
    # The picture's random start lies on the origin's side of the line of fits (mirrored if not),
    # so both paths are seen to cross no line.
    if float(x2[0] @ w0_2) > y2[0]:
        w0_2 = -w0_2
    pic0 = list(min_norm_gd(x2, y2, steps=picture_steps, lr=0.25, keep_w=True))
    picr = list(min_norm_gd(x2, y2, steps=picture_steps, lr=0.25, w0=w0_2, keep_w=True))
    X, y = underdetermined_problem(n=n, d=d, seed=0)
    w0 = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    zero = list(min_norm_gd(X, y, steps=steps))
    rand = list(min_norm_gd(X, y, steps=steps, w0=w0))
    return LeastSquaresDemo(x2, y2, (np.linalg.pinv(x2) @ y2).ravel(), pic0, picr, zero, rand, d)


# ---------------------------------------------------------------------------------------------
# (b) separable logistic regression: GD turns towards the max-margin direction
# ---------------------------------------------------------------------------------------------
@dataclass
class MarginPoint:
    step: int
    norm: float  # ‖w‖, grows like log t
    angle_to_svm: float  # degrees between w and the normal of the hard-margin SVM without intercept
    loss: float  # mean logistic loss
    margin: float  # min_i yᵢ⟨w, xᵢ⟩ / ‖w‖ (the SVM's is the largest possible)
    w: np.ndarray


def margin_data(n_per_class: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable 2-D points whose max-margin direction differs clearly from the mean one.

    Most positive points form a cloud up and to the right; a few sit close to the vertical
    line x₁ = 0, and they alone fix the SVM normal, (1, 0), while the class means point along
    the diagonal, about 40° away. The negatives are the positives mirrored through the origin, so the
    SVM needs no intercept and a linear model without bias can reach it.
    """
    if n_per_class < 4:
        raise ValueError(f"use at least 4 points per class, got {n_per_class}")
    rng = np.random.default_rng(seed)
    # Two support vectors on the line x₁ = 0.5 fix the SVM normal at (1, 0). They sit at
    # unequal heights, so their SVM weights differ and GD's leftover tilt decays only like
    # 1/log t, as in the generic case of the theory.
    support = np.array([[0.5, 1.4], [0.5, -0.6]])
    n_near = max(0, n_per_class // 5 - 2)
    near = np.stack([0.9 + 0.3 * rng.random(n_near), rng.uniform(-0.2, 1.6, n_near)], 1)
    edge = np.concatenate([support, near])
    cloud = rng.normal([2.4, 2.2], 0.45, (n_per_class - len(edge), 2))
    cloud[:, 0] = np.maximum(cloud[:, 0], 1.1)  # keep the cloud well behind the edge points
    pos = np.concatenate([edge, cloud])
    return np.concatenate([pos, -pos]), np.concatenate([np.ones(n_per_class), -np.ones(n_per_class)])


def svm_direction(X, y, C: float = 1e6) -> tuple[np.ndarray, float]:
    """Unit normal and intercept of scikit-learn's hard-margin (large C) linear SVM."""
    from sklearn.svm import SVC

    X, y = np.asarray(X, dtype=np.float64), _signs(y)
    svc = SVC(kernel="linear", C=C, tol=1e-8).fit(X, y)
    w = svc.coef_[0].astype(np.float64)
    b = float(svc.intercept_[0])
    if np.min(y * (X @ w + b)) < 1 - 1e-3:
        raise ValueError("the data are not linearly separable: no hard-margin separator exists")
    norm = float(np.linalg.norm(w))
    return w / norm, b / norm


def svm_direction_through_origin(X, y) -> np.ndarray:
    """Unit normal of the hard-margin linear SVM without intercept: argmin ‖w‖ s.t. yᵢ⟨w, xᵢ⟩ ≥ 1.

    This is the direction logistic regression without bias turns to (Soudry et al. 2018). Its
    direction is that of the point of least norm in the convex hull of the zᵢ = yᵢxᵢ (the dual),
    found exactly by non-negative least squares: min ‖Zᵀλ‖² + (Σλ − 1)² over λ ≥ 0 (for every
    scale of λ the best shape is the hull's least-norm point, so the penalty's weight does not
    bias the direction)."""
    from scipy.optimize import nnls

    X, ys = np.asarray(X, dtype=np.float64), _signs(y)
    if X.ndim != 2 or len(X) != len(ys):
        raise ValueError("X must be (n, d) with one label per row")
    Z = X * ys[:, None]
    scale = float(np.abs(Z).max()) or 1.0
    A = np.vstack([Z.T / scale, np.ones((1, len(Z)))])
    b = np.concatenate([np.zeros(Z.shape[1]), [1.0]])
    lam, _ = nnls(A, b, maxiter=50 * len(Z))
    w = Z.T @ lam
    norm = float(np.linalg.norm(w))
    if norm <= 1e-9 * scale * max(float(lam.sum()), 1e-300) or np.min(Z @ w) <= 0:
        raise ValueError("the data are not linearly separable by a line through the origin: "
                         "no hard-margin separator without intercept exists")
    return w / norm


def _signs(y) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    values = set(np.unique(y).tolist())
    if values <= {0.0, 1.0}:
        return 2 * y - 1
    if values <= {-1.0, 1.0}:
        return y
    raise ValueError("labels must be two classes, coded 0/1 or −1/+1")


def angle_degrees(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))))


def max_margin_direction(X, y, steps: int = 10000, lr: float = 0.1, *, points: int = 200, max_gap: int = 2000,
                         svm_C: float = 1e6, device: str | torch.device = "cpu") -> Iterator[MarginPoint]:
    """GD from zero on the mean logistic loss of a linear model without bias, w ↦ mean log(1 + e^(−yᵢ⟨w, xᵢ⟩)).

    On separable data the loss has no minimiser: ‖w‖ → ∞ like log t, and w/‖w‖ converges to
    the hard-margin SVM direction, slowly (the angle falls like 1/log t). Yields about
    `points` log-spaced steps. Labels 0/1 or ±1. The model has no bias, so the SVM it is
    compared with has none either (`svm_direction_through_origin`); `svm_C` is kept for
    callers of earlier versions and unused.
    """
    dev = _device(device)
    ys = _signs(y)
    X_np = np.asarray(X.cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    if X_np.ndim != 2 or len(X_np) != len(ys):
        raise ValueError("X must be (n, d) with one label per row")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be positive, got {lr}")
    w_svm = svm_direction_through_origin(X_np, ys)
    Xd = torch.as_tensor(X_np, dtype=F64, device=dev)
    Z = Xd * torch.as_tensor(ys, dtype=F64, device=dev)[:, None]  # rows yᵢxᵢ: margins are Z w
    n = len(ys)
    w = torch.zeros(X_np.shape[1], dtype=F64, device=dev)
    grad_scale = lr / n
    checkpoints = set(log_steps(steps, points).tolist())
    last = 0
    Zt = Z.T.contiguous()
    m = torch.empty(n, dtype=F64, device=dev)
    for t in range(1, steps + 1):
        # ∇ = −Σᵢ σ(−mᵢ) yᵢxᵢ / n, in place: 10⁵ steps of a tiny problem cost their per-call overhead
        torch.mv(Z, w, out=m)
        m.neg_().sigmoid_()
        w.addmv_(Zt, m, alpha=grad_scale)
        if t in checkpoints or t - last >= max_gap:
            last = t
            margins = Z @ w
            if not bool(torch.isfinite(margins).all()):
                raise FloatingPointError(f"logistic regression diverged at step {t}: lower the learning rate")
            w_np = w.cpu().numpy().copy()
            norm = float(np.linalg.norm(w_np))
            yield MarginPoint(t, norm, angle_degrees(w_np, w_svm),
                              float(torch.nn.functional.softplus(-margins).mean()),
                              float(margins.min()) / norm if norm > 0 else float("nan"), w_np)


# ---------------------------------------------------------------------------------------------
# (c) matrix sensing with X = UUᵀ from U₀ = αI
# ---------------------------------------------------------------------------------------------
@dataclass
class SensingProblem:
    """Find a symmetric PSD X with ⟨Aᵢ, X⟩ = bᵢ, i = 1 … m, where m < d(d+1)/2."""

    A: torch.Tensor  # (m, d, d), symmetric
    b: torch.Tensor  # (m,)
    X_star: torch.Tensor  # the low-rank matrix that produced b
    rank: int

    @property
    def d(self) -> int:
        return int(self.A.shape[-1])

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    def measure(self, X: torch.Tensor) -> torch.Tensor:
        """⟨Aᵢ, X⟩ for one X (d, d) or a batch (B, d, d)."""
        return torch.einsum("mij,...ij->...m", self.A, X)


def sensing_problem(d: int = 12, rank: int = 1, measurements: int | None = None, seed: int = 0) -> SensingProblem:
    """Random symmetric Gaussian measurements of a random rank-`rank` PSD matrix X* (‖X*‖_F = 1).

    `measurements` defaults to 2·d·rank (capped below d(d+1)/2, so the system stays
    underdetermined and has many PSD solutions).
    """
    free = d * (d + 1) // 2
    m = min(2 * d * rank, free - 1) if measurements is None else int(measurements)
    if not 1 <= rank <= d:
        raise ValueError(f"rank must lie in [1, d], got {rank}")
    if not 1 <= m < free:
        raise ValueError(f"use 1 … {free - 1} measurements for d = {d} (fewer than the {free} unknowns), got {m}")
    g = torch.Generator().manual_seed(int(seed))
    V = torch.randn(d, rank, generator=g, dtype=F64)
    X_star = V @ V.T
    X_star = X_star / torch.linalg.matrix_norm(X_star)
    G = torch.randn(m, d, d, generator=g, dtype=F64)
    A = (G + G.transpose(1, 2)) / 2
    b = torch.einsum("mij,ij->m", A, X_star)
    return SensingProblem(A, b, X_star, rank)


def min_nuclear_norm_psd(problem: SensingProblem, rho: float = 1.0, iters: int = 20000,
                         tol: float = 1e-10) -> torch.Tensor:
    """The PSD solution of least nuclear norm (= trace for PSD matrices), by ADMM on

        min tr(X)  subject to  ⟨Aᵢ, X⟩ = bᵢ,  X = Z,  Z ⪰ 0.

    X-step: projection onto the affine set (a fixed m×m solve); Z-step: projection onto the
    PSD cone (eigenvalues clipped at zero). Stops when both residuals fall below tol.
    """
    A, b, d = problem.A, problem.b, problem.d
    M = A.reshape(problem.m, -1)  # measurement operator on vec(X)
    MMt_inv = torch.linalg.inv(M @ M.T)
    eye = torch.eye(d, dtype=F64)
    Z = torch.zeros(d, d, dtype=F64)
    U = torch.zeros(d, d, dtype=F64)

    def affine(V: torch.Tensor) -> torch.Tensor:
        v = V.reshape(-1)
        return (v - M.T @ (MMt_inv @ (M @ v - b))).reshape(d, d)

    for _ in range(iters):
        X = affine(Z - U - eye / rho)
        evals, evecs = torch.linalg.eigh((X + U + (X + U).T) / 2)
        Z_new = (evecs * evals.clamp_min(0)) @ evecs.T
        U = U + X - Z_new
        primal = float(torch.linalg.matrix_norm(X - Z_new))
        dual = rho * float(torch.linalg.matrix_norm(Z_new - Z))
        Z = Z_new
        if primal < tol and dual < tol:
            break
    return affine(Z)  # feasible to machine precision, PSD up to the final residual


def min_frobenius_solution(problem: SensingProblem) -> torch.Tensor:
    """The interpolant of least Frobenius norm (the pseudo-inverse solution, not PSD in general)."""
    M = problem.A.reshape(problem.m, -1)
    return (torch.linalg.pinv(M) @ problem.b).reshape(problem.d, problem.d)


def nuclear_norm(X: torch.Tensor) -> torch.Tensor:
    """Σ singular values, for one matrix or a batch."""
    return torch.linalg.matrix_norm(X, "nuc")


@dataclass
class SensingDemo:
    """A sensing problem with the two interpolants GD's answers are measured against."""

    problem: SensingProblem
    reference: torch.Tensor  # the PSD interpolant of least nuclear norm
    min_nuclear_norm: float  # its nuclear norm (= trace)
    frobenius_nuclear_norm: float  # the nuclear norm of the least-Frobenius interpolant


def sensing_demo(d: int = 12, rank: int = 1, seed: int = 0) -> SensingDemo:
    problem = sensing_problem(d=d, rank=rank, seed=seed)
    reference = min_nuclear_norm_psd(problem)
    return SensingDemo(problem, reference, float(torch.trace(reference)),
                       float(nuclear_norm(min_frobenius_solution(problem))))


@dataclass
class FactorPoint:
    """GD on U for every α at once; arrays are indexed like `alphas`."""

    step: int
    alphas: np.ndarray
    loss: np.ndarray  # mean of (⟨Aᵢ, UUᵀ⟩ − bᵢ)² / 2
    error: np.ndarray  # ‖UUᵀ − X_ref‖_F / ‖X_ref‖_F, X_ref the least-nuclear-norm solution
    nuclear_norm: np.ndarray  # ‖UUᵀ‖_* (= trace, UUᵀ being PSD)
    X: np.ndarray | None = None  # (len(alphas), d, d) at the last step


def factorization_gd(problem: SensingProblem, alphas: Sequence[float], steps: int = 4000,
                     lr: float | None = None, *, reference: torch.Tensor | None = None, every: int = 50,
                     device: str | torch.device = "cpu") -> Iterator[FactorPoint]:
    """GD on f(U) = Σᵢ (⟨Aᵢ, UUᵀ⟩ − bᵢ)² / (2m) from U₀ = αI, for all α together (a batch).

    U is d×d (no rank limit), so every PSD solution is reachable; which one GD reaches depends
    on α. `lr` defaults to a step per α that is stable for it. Yields every `every` steps and at
    the end (the last point carries the matrices UUᵀ).
    """
    dev = _device(device)
    alphas_np = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if len(alphas_np) == 0 or np.any(~np.isfinite(alphas_np)) or np.any(alphas_np <= 0):
        raise ValueError("every α must be a positive number")
    if steps < 1 or every < 1:
        raise ValueError("steps and every must be ≥ 1")
    A, b = problem.A.to(dev), problem.b.to(dev)
    m, d = problem.m, problem.d
    ref = (reference if reference is not None else min_nuclear_norm_psd(problem)).to(dev, F64)
    ref_norm = float(torch.linalg.matrix_norm(ref))
    if lr is None:
        # The Hessian of f at X = UUᵀ scales like λmax(MᵀM/m)·(‖X‖ + ‖UUᵀ‖): each α gets a step
        # stable for the larger of the target's size and its own start's (the runs are independent).
        M = A.reshape(m, -1)
        curvature = float(torch.linalg.matrix_norm(M, 2)) ** 2 / m
        size = np.maximum(float(torch.linalg.matrix_norm(ref, 2)), alphas_np ** 2)
        lrs = 0.25 / (curvature * size)
    else:
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be positive, got {lr}")
        lrs = np.full(len(alphas_np), float(lr))
    step_size = torch.as_tensor(lrs, dtype=F64, device=dev)[:, None, None]
    U = torch.eye(d, dtype=F64, device=dev)[None] * torch.as_tensor(alphas_np, device=dev)[:, None, None]

    M = A.reshape(m, -1)  # the measurements as one matrix on vec(X): plain matmuls per step
    b_row = b[None, :]

    def point(t: int, final: bool) -> FactorPoint:
        X = U @ U.transpose(1, 2)
        r = X.reshape(len(alphas_np), -1) @ M.T - b_row
        err = torch.linalg.matrix_norm(X - ref) / ref_norm
        return FactorPoint(t, alphas_np, (0.5 * (r ** 2).mean(1)).cpu().numpy(), err.cpu().numpy(),
                           torch.diagonal(X, dim1=1, dim2=2).sum(1).cpu().numpy(),
                           X.cpu().numpy() if final else None)

    yield point(0, False)
    scale = 2.0 * step_size / m  # ∇_U f = 2 (Σᵢ rᵢAᵢ / m) U
    for t in range(1, steps + 1):
        r = (U @ U.transpose(1, 2)).reshape(len(alphas_np), -1) @ M.T - b_row
        U = U - scale * ((r @ M).reshape(-1, d, d) @ U)
        if t % every == 0 or t == steps:
            if not bool(torch.isfinite(U).all()):
                raise FloatingPointError(f"gradient descent diverged at step {t}: lower the learning rate")
            yield point(t, t == steps)


__all__ = ["GDPoint", "MarginPoint", "FactorPoint", "SensingProblem", "min_norm_gd", "min_norm_solution",
           "LeastSquaresDemo", "least_squares_demo", "SensingDemo", "sensing_demo",
           "underdetermined_problem", "max_margin_direction", "margin_data", "svm_direction",
           "svm_direction_through_origin", "angle_degrees",
           "sensing_problem", "min_nuclear_norm_psd", "min_frobenius_solution", "nuclear_norm",
           "factorization_gd", "log_steps", "logistic_smoothness"]
