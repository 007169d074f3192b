"""Critical points (∇f = 0) and what the Hessian says about them.

Two scales. On 2-D test surfaces (`SURFACES`) every critical point in a box is found by
Levenberg–Marquardt on ∇f = 0 from many starts at once, classified by the Hessian's eigenvalues,
and gradient descent with and without momentum can be run from any point, to watch it linger
near a saddle and then escape. For a tiny network, `network_critical_points` finds critical
points of the training loss by minimising ‖∇L‖² (Dauphin et al. 2014) and reports each one's
index (fraction of negative Hessian eigenvalues) against its loss.

All batched: the starts (or the runs) are one `vmap` over points, not a Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import grad, hessian, vmap

from .hessian import classify_critical_point, last, symmetric_eigh
from .progress import Progress
from .specs import DataSpec, ModelSpec, lr_problem, raise_problems

Bounds = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax


# -- the test surfaces ---------------------------------------------------------------------


@dataclass(frozen=True)
class Surface:
    """A 2-D test function f(x, y) on tensors, with where to look and what is known about it.

    `known`: its critical points, ((x, y), kind), for checking and for the lesson.
    `log_colors`: its values span decades, so the map colours log(1 + f − min f).
    `start`: a good place to start gradient descent (near a saddle where there is one).
    """

    name: str
    title: str
    formula: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    bounds: Bounds
    known: tuple[tuple[tuple[float, float], str], ...] = ()
    log_colors: bool = False
    start: tuple[float, float] = (0.0, 0.0)
    lr: float = 0.05

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.fn(x, y)


def _bowl(x, y):
    return x**2 + x * y + 2 * y**2


def _saddle(x, y):
    return x**2 - y**2


def _monkey(x, y):
    return x**3 - 3 * x * y**2


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


# Two wells and a hill on a shallow bowl (the bowl keeps every critical point inside the box).
_GAUSSIANS = ((-1.2, -0.3, -1.5, 0.55), (1.1, -0.4, -1.0, 0.5), (0.0, 1.0, 1.2, 0.5))


def _gaussians(x, y):
    f = 0.08 * (x**2 + y**2)
    for cx, cy, a, s in _GAUSSIANS:
        f = f + a * torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    return f


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface("bowl", "Quadratic bowl", "f = x² + xy + 2y²", _bowl, (-2.0, 2.0, -2.0, 2.0),
                (((0.0, 0.0), "minimum"),), start=(-1.6, 1.4), lr=0.1),
        Surface("saddle", "Saddle", "f = x² − y²", _saddle, (-2.0, 2.0, -2.0, 2.0),
                (((0.0, 0.0), "saddle"),), start=(1.8, 0.001), lr=0.05),
        Surface("monkey", "Monkey saddle", "f = x³ − 3xy²", _monkey, (-1.5, 1.5, -1.5, 1.5),
                (((0.0, 0.0), "degenerate"),), start=(0.9, 0.001), lr=0.02),
        Surface("rosenbrock", "Rosenbrock valley", "f = (1 − x)² + 100 (y − x²)²", _rosenbrock,
                (-2.0, 2.0, -1.0, 3.0), (((1.0, 1.0), "minimum"),), log_colors=True, start=(-1.5, 2.5),
                lr=0.001),
        Surface("himmelblau", "Himmelblau", "f = (x² + y − 11)² + (x + y² − 7)²", _himmelblau,
                (-5.0, 5.0, -5.0, 5.0),
                (((3.0, 2.0), "minimum"), ((-2.805118, 3.131312), "minimum"),
                 ((-3.779310, -3.283186), "minimum"), ((3.584428, -1.848126), "minimum"),
                 ((-0.270845, -0.923039), "maximum"), ((0.086678, 2.884255), "saddle"),
                 ((3.385154, 0.073852), "saddle"), ((-3.073026, -0.081353), "saddle"),
                 ((-0.127961, -1.953715), "saddle")),
                log_colors=True, start=(0.3, 2.6), lr=0.005),
        Surface("gaussians", "Sum of Gaussians", "f = 0.08‖p‖² − 1.5 G₁ − G₂ + 1.2 G₃ (Gaussian bumps)",
                _gaussians, (-3.0, 3.0, -3.0, 3.0),
                (((-1.164908, -0.293443), "minimum"), ((1.059724, -0.388146), "minimum"),
                 ((0.004619, 1.043017), "maximum"), ((0.049486, -0.420143), "saddle"),
                 ((0.000151, 2.180567), "saddle")),
                start=(0.3, -0.3), lr=0.05),
    )
}


# -- critical points of a 2-D function --------------------------------------------------------


@dataclass
class CriticalPoint:
    """A point where the gradient vanishes, and what the Hessian says there.

    point: (2,) on a surface, (P,) for a network; value: f or the loss; kind: "minimum" |
    "maximum" | "saddle" | "degenerate"; eigenvalues: of the Hessian, ascending; index: the
    fraction of negative eigenvalues; grad_norm: ‖∇f‖ reached; shape: for degenerate points, what
    a small circle around the point shows (e.g. "saddle with 3 descending valleys").
    """

    point: np.ndarray
    value: float
    kind: str
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None = None
    index: float = 0.0
    grad_norm: float = 0.0
    shape: str = ""


def _as_xy(f: Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda p: f(p[0], p[1])


def _batched_derivatives(f: Callable):
    """(grad_fn, hess_fn) for many points at once, (n, 2) -> (n, 2) and (n, 2, 2).

    A surface acts elementwise on its tensors, so the gradient of Σᵢ f(pᵢ) holds every point's own
    gradient, and the gradients of Σᵢ ∂f/∂x and Σᵢ ∂f/∂y hold every point's Hessian rows: a few
    batched calls, with no loop over points.
    """
    g_sum = grad(lambda x, y: f(x, y).sum(), argnums=(0, 1))

    def grad_fn(P: torch.Tensor) -> torch.Tensor:
        gx, gy = g_sum(P[:, 0], P[:, 1])
        return torch.stack([gx, gy], 1)

    # Reverse over reverse: row i of every point's Hessian is the gradient of Σ ∂f/∂pᵢ.
    hx_sum = grad(lambda x, y: g_sum(x, y)[0].sum(), argnums=(0, 1))
    hy_sum = grad(lambda x, y: g_sum(x, y)[1].sum(), argnums=(0, 1))

    def hess_fn(P: torch.Tensor) -> torch.Tensor:
        x, y = P[:, 0], P[:, 1]
        hxx, hxy = hx_sum(x, y)
        hyx, hyy = hy_sum(x, y)
        return torch.stack([torch.stack([hxx, hxy], 1), torch.stack([hyx, hyy], 1)], 1)

    return grad_fn, hess_fn


def _eig_tol(eigenvalues: np.ndarray, rel: float = 1e-6) -> float:
    return rel * max(1.0, float(np.abs(eigenvalues).max(initial=0.0)))


def _higher_order_shape(f: Callable, point: np.ndarray, span: float) -> str:
    """For a degenerate point: the sign pattern of f − f(p) on a small circle around p."""
    r = 1e-3 * span
    phi = torch.linspace(0, 2 * math.pi, 721, dtype=torch.float64)[:-1]
    x = float(point[0]) + r * torch.cos(phi)
    y = float(point[1]) + r * torch.sin(phi)
    p0 = torch.tensor(point, dtype=torch.float64)
    d = (f(x, y) - f(p0[0], p0[1])).numpy()
    scale = np.abs(d).max()
    if scale == 0:
        return "flat: f is constant around it"
    sign = np.sign(np.where(np.abs(d) < 1e-9 * scale, 0.0, d))
    sign = sign[sign != 0]
    changes = int((sign != np.roll(sign, 1)).sum()) if len(sign) else 0
    if changes == 0:
        return "a flat minimum (higher order)" if sign[0] > 0 else "a flat maximum (higher order)"
    return f"a saddle with {changes // 2} descending valleys"


def sobol_starts(bounds: Bounds, n: int, seed: int = 0) -> torch.Tensor:
    """n well-spread points in the box (scrambled Sobol sequence), float64 (n, 2)."""
    xmin, xmax, ymin, ymax = bounds
    u = torch.quasirandom.SobolEngine(2, scramble=True, seed=int(seed)).draw(n, dtype=torch.float64)
    return torch.stack([xmin + u[:, 0] * (xmax - xmin), ymin + u[:, 1] * (ymax - ymin)], 1)


def _levenberg_marquardt(grad_fn, hess_fn, P: torch.Tensor, iters: int, max_step: float,
                         done_below: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve ∇f(p) = 0 from every row of P at once: p ← p − (H² + μI)⁻¹ H g, with μ adapted per
    point (smaller after a step that lowers ‖g‖, larger after one that does not). Newton's method
    when μ → 0, so it converges to minima, maxima and saddles alike."""
    n, d = P.shape
    eye = torch.eye(d, dtype=P.dtype, device=P.device)
    mu = torch.full((n,), 1e-3, dtype=P.dtype, device=P.device)
    g = grad_fn(P)
    gn = g.norm(dim=1)
    for _ in range(iters):
        H = hess_fn(P)
        A = H @ H + mu[:, None, None] * eye
        step = -torch.linalg.solve(A, (H @ g[:, :, None]))[:, :, 0]
        length = step.norm(dim=1, keepdim=True)
        step = step * torch.clamp(max_step / length.clamp_min(1e-300), max=1.0)
        trial = P + step
        g_trial = grad_fn(trial)
        gn_trial = g_trial.norm(dim=1)
        ok = torch.isfinite(gn_trial) & (gn_trial < gn)
        P = torch.where(ok[:, None], trial, P)
        g = torch.where(ok[:, None], g_trial, g)
        gn = torch.where(ok, gn_trial, gn)
        mu = torch.where(ok, mu / 3, mu * 4).clamp(1e-12, 1e12)
        if _ % 10 == 9 and bool(((gn <= done_below) | (mu >= 1e12)).all()):
            break  # every start has converged or stalled
    return P, gn


def find_critical_points(f: Callable, bounds: Bounds, n_starts: int = 64, seed: int = 0, iters: int = 150,
                         tol: float = 1e-7, device: str | torch.device | None = None) -> list[CriticalPoint]:
    """Every critical point of f(x, y) inside `bounds` that the starts reach, classified.

    Levenberg–Marquardt on ∇f = 0 from `n_starts` well-spread starts (all at once); a point
    counts when ‖∇f‖ ≤ tol·max(1, typical ‖∇f‖ over the box), duplicates are merged. Sorted by
    value. Degenerate points get a `shape` from the sign pattern of f around them. The search
    runs in float64 on `device` (default the CPU; a device without float64, such as MPS, cannot).
    """
    xmin, xmax, ymin, ymax = bounds
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax) with min < max, got {bounds}")
    if n_starts < 1:
        raise ValueError("give at least one start")
    grad_fn, hess_fn = _batched_derivatives(f)
    span = max(xmax - xmin, ymax - ymin)
    starts = sobol_starts(bounds, n_starts, seed)
    if device is not None:
        starts = starts.to(torch.device(device))
    g_scale = float(grad_fn(starts).norm(dim=1).median())
    # Curvature counts as zero below 1e-5 of the surface's typical curvature in the box (a point
    # found at distance r from a degenerate critical point has eigenvalues of order r).
    h_scale = float(torch.linalg.matrix_norm(hess_fn(starts), ord=2).median())
    eig_tol = 1e-5 * max(1.0, h_scale)
    pts, gn = _levenberg_marquardt(grad_fn, hess_fn, starts, iters, 0.25 * span,
                                   done_below=1e-3 * tol * max(1.0, g_scale))
    margin = 1e-6 * span
    inside = ((pts[:, 0] >= xmin - margin) & (pts[:, 0] <= xmax + margin) & (pts[:, 1] >= ymin - margin)
              & (pts[:, 1] <= ymax + margin))
    ok = inside & torch.isfinite(gn) & (gn <= tol * max(1.0, g_scale))
    order = torch.argsort(gn)
    kept: list[torch.Tensor] = []
    for i in order.tolist():
        if not bool(ok[i]):
            continue
        p = pts[i]
        if any(float((p - q).norm()) < 1e-4 * span for q in kept):
            continue
        kept.append(p)
    out: list[CriticalPoint] = []
    for p in kept:
        out.append(inspect_point(f, p.cpu(), span=span, eig_tol=eig_tol))
    out.sort(key=lambda c: c.value)
    return out


def inspect_point(f: Callable, point, span: float = 1.0, eig_tol: float | None = None) -> CriticalPoint:
    """Gradient, Hessian eigenvalues/eigenvectors and class of f at one point (critical or not:
    `grad_norm` says how far from critical it is). Eigenvalues within `eig_tol` of zero count as
    zero (default: 1e-6 of the largest |λ| there, at least 1e-6)."""
    p = torch.as_tensor(np.asarray(point, dtype=np.float64))
    fp = _as_xy(f)
    g = grad(fp)(p)
    H = hessian(fp)(p)
    evals, evecs = symmetric_eigh((H + H.T) / 2)
    lam = evals.numpy()
    tol = _eig_tol(lam) if eig_tol is None else eig_tol
    kind = classify_critical_point(lam, tol=tol)
    shape = _higher_order_shape(f, p.numpy(), span) if kind == "degenerate" else ""
    return CriticalPoint(point=p.numpy().copy(), value=float(fp(p)), kind=kind, eigenvalues=lam,
                         eigenvectors=evecs.numpy().T.copy(), index=float((lam < -tol).mean()),
                         grad_norm=float(g.norm()), shape=shape)


@dataclass
class PointInfo:
    """What a click on the surface shows: f, ∇f and the Hessian's eigenpairs at a point."""

    point: np.ndarray
    value: float
    gradient: np.ndarray
    eigenvalues: np.ndarray  # ascending
    eigenvectors: np.ndarray  # rows, matching eigenvalues
    kind: str  # what the point would be if it were critical


def point_info(f: Callable, x: float, y: float) -> PointInfo:
    p = torch.tensor([float(x), float(y)], dtype=torch.float64)
    fp = _as_xy(f)
    g = grad(fp)(p)
    H = hessian(fp)(p)
    evals, evecs = symmetric_eigh((H + H.T) / 2)
    lam = evals.numpy()
    return PointInfo(p.numpy(), float(fp(p)), g.numpy(), lam, evecs.numpy().T.copy(),
                     classify_critical_point(lam, tol=_eig_tol(lam)))


def surface_grid(f: Callable, bounds: Bounds, res: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f on a res×res grid: xs (res,), ys (res,), Z (res, res) with rows along y."""
    xmin, xmax, ymin, ymax = bounds
    xs = torch.linspace(xmin, xmax, res, dtype=torch.float64)
    ys = torch.linspace(ymin, ymax, res, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    with torch.no_grad():
        Z = f(gx, gy)
    return xs.numpy(), ys.numpy(), Z.numpy()


# -- gradient descent on a surface ----------------------------------------------------------


@dataclass
class DescentRun:
    """Paths of plain GD and of GD with momentum from the same start, step by step.

    paths (runs, steps+1, 2), values (runs, steps+1); labels name the runs. A run that
    diverges holds NaN from then on.
    """

    labels: list[str]
    lrs: list[float]
    momenta: list[float]
    paths: np.ndarray
    values: np.ndarray

    def escape_steps(self, point: Sequence[float], direction: Sequence[float], threshold: float) -> list[int | None]:
        """For each run, the first step at which its distance from `point` along `direction` (the
        saddle's unstable eigenvector), |⟨p − point, u⟩| with u = direction/‖direction‖, exceeds
        `threshold` (None if it never does). Measured along the unstable axis only, so a run that
        overshoots along the stable axis (momentum does) has not escaped yet."""
        u = np.asarray(direction, dtype=np.float64)
        if not np.linalg.norm(u) > 0:
            raise ValueError("the escape direction must be a non-zero vector")
        u = u / np.linalg.norm(u)
        along = np.abs((self.paths - np.asarray(point, dtype=np.float64)[None, None, :]) @ u)
        out: list[int | None] = []
        for row in along:
            beyond = np.flatnonzero(row > threshold)  # NaN (a run that left the map) compares False
            out.append(int(beyond[0]) if len(beyond) else None)
        return out


def descent_paths(f: Callable, start: Sequence[float], lr: float, momenta: Sequence[float] = (0.0, 0.9),
                  steps: int = 300, blowup: float = 1e6, bounds: Bounds | None = None) -> DescentRun:
    """Heavy-ball GD, v ← βv − η∇f, p ← p + v, for each β in `momenta`, all runs at once.

    A run stops (NaN from then on) when it blows up, or when it leaves `bounds` widened by half
    their size on each side (surfaces like x² − y² fall forever once a run has escaped)."""
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive number, got {lr}")
    if any(not 0.0 <= b < 1.0 for b in momenta):
        raise ValueError(f"momentum must lie in [0, 1), got {list(momenta)}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    grad_fn, _ = _batched_derivatives(f)
    beta = torch.tensor(list(momenta), dtype=torch.float64)[:, None]
    p = torch.tensor([list(start)] * len(momenta), dtype=torch.float64)
    v = torch.zeros_like(p)
    paths = torch.full((len(momenta), steps + 1, 2), float("nan"), dtype=torch.float64)
    paths[:, 0] = p
    alive = torch.ones(len(momenta), dtype=torch.bool)
    if bounds is not None:
        xmin, xmax, ymin, ymax = bounds
        wx, wy = 0.5 * (xmax - xmin), 0.5 * (ymax - ymin)
        lo, hi = (xmin - wx, ymin - wy), (xmax + wx, ymax + wy)
    for t in range(1, steps + 1):
        g = grad_fn(torch.where(alive[:, None], p, torch.zeros_like(p)))
        v = beta * v - lr * g
        p = p + v
        alive = alive & torch.isfinite(p).all(1) & (p.abs() < blowup).all(1)
        if bounds is not None:
            alive = alive & (p[:, 0] >= lo[0]) & (p[:, 0] <= hi[0]) & (p[:, 1] >= lo[1]) & (p[:, 1] <= hi[1])
        paths[:, t] = torch.where(alive[:, None], p, torch.full_like(p, float("nan")))
    with torch.no_grad():
        values = f(paths[..., 0], paths[..., 1])
    labels = ["GD" if b == 0 else f"GD + momentum {b:g}" for b in momenta]
    return DescentRun(labels, [lr] * len(momenta), list(momenta), paths.numpy(), values.numpy())


@dataclass
class SurfaceMap:
    """A surface sampled for drawing: f on a res×res grid over its bounds (rows along y)."""

    xs: np.ndarray
    ys: np.ndarray
    Z: np.ndarray


@dataclass
class SurfaceCriticalPoints:
    """Every critical point of a surface inside its bounds."""

    points: list[CriticalPoint]


def surface_overview(surface: Surface, res: int = 200, n_starts: int = 64,
                     seed: int = 0) -> Iterator[SurfaceMap | SurfaceCriticalPoints]:
    """The map of `surface` first (cheap, drawn at once), then its critical points (the search)."""
    yield SurfaceMap(*surface_grid(surface, surface.bounds, res))
    yield SurfaceCriticalPoints(find_critical_points(surface, surface.bounds, n_starts=n_starts, seed=seed))


def _span(bounds: Bounds) -> float:
    return max(bounds[1] - bounds[0], bounds[3] - bounds[2])


def start_beside_saddle(saddle: CriticalPoint, bounds: Bounds) -> np.ndarray:
    """A start from which GD first slides into `saddle` and then out: out along its most stable
    axis, plus a hair along the escape axis (exactly on the stable axis GD would never leave)."""
    span = _span(bounds)
    v_up, v_down = saddle.eigenvectors[-1], saddle.eigenvectors[0]
    return saddle.point + 0.3 * span * v_up / 2 + 1e-4 * span * v_down


@dataclass
class SaddleEscape:
    """GD with and without momentum from one start, timed out of the saddle nearest the start.

    escapes: per run, the step at which it is `threshold` away from that saddle along its
    unstable axis (None: never, or no saddle to escape)."""

    run: DescentRun
    escapes: list[int | None]
    threshold: float
    saddle: np.ndarray | None = None


def saddle_escape(f: Surface, start: Sequence[float], lr: float, momenta: Sequence[float],
                  steps: int, critical: Sequence[CriticalPoint], escape_fraction: float = 0.1) -> SaddleEscape:
    """`descent_paths` from `start` within the surface's bounds, with the escape from the
    nearest of the `critical` points that is a saddle (a degenerate point has no unstable axis):
    measured along that axis only, so overshooting along the stable axis is not escaping."""
    threshold = escape_fraction * _span(f.bounds)
    run = descent_paths(f, start, lr, momenta, steps, bounds=f.bounds)
    saddles = [c for c in critical if c.kind == "saddle"]
    if not saddles:
        return SaddleEscape(run, [None] * len(run.labels), threshold)
    d = [float(np.linalg.norm(np.asarray(start) - c.point)) for c in saddles]
    near = saddles[int(np.argmin(d))]
    return SaddleEscape(run, run.escape_steps(near.point, near.eigenvectors[0], threshold), threshold,
                        np.asarray(near.point))


# -- critical points of a tiny network ---------------------------------------------------------


@dataclass
class NetworkCriticalConfig(ModelSpec, DataSpec):
    """A tiny network on a small 2-D set, and how its critical points are searched for.

    Starts are snapshots along short GD runs from several random initialisations (so they sit at
    many loss levels); from each, Levenberg–Marquardt minimises ‖∇L‖². A little weight decay makes
    the critical points isolated (no minima at infinity). `tol`: ‖∇L‖ needed to count.
    """

    n: int = 80
    noise: float = 0.3
    hidden: tuple[int, ...] = (6,)
    weight_decay: float = 1e-3
    inits: int = 6
    snapshots: int = 8
    gd_steps: int = 1500
    gd_lr: float = 1.0
    init_scale: float = 1.5
    newton_iters: int = 60
    tol: float = 1e-6
    seed: int = 0

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        out = super().problems(n_train)
        bad = lr_problem(self.gd_lr, "the GD learning rate")
        if bad:
            out["gd_lr"] = bad
        if not self.weight_decay >= 0:
            out["weight_decay"] = f"weight decay must be ≥ 0, got {self.weight_decay}"
        return out


@dataclass
class NetworkCriticalResult:
    points: list[CriticalPoint]
    n_params: int
    n_starts: int
    config: NetworkCriticalConfig = field(default_factory=NetworkCriticalConfig)

    def index_loss_correlation(self) -> float:
        """Spearman rank correlation of index against loss over the points found."""
        if len(self.points) < 3:
            return float("nan")
        from scipy.stats import spearmanr

        r = spearmanr([p.value for p in self.points], [p.index for p in self.points])
        return float(r.statistic if hasattr(r, "statistic") else r[0])


def batched_mlp_loss(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                     weight_decay: float = 0.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """Σₛ Lₛ for a batch of flat parameter vectors Θ (S, P) of one `engine.models.mlp`.

    Each row is a whole network; the rows never interact, so the gradient of the sum holds each
    network's own gradient and its Hessian is block diagonal with each network's Hessian. The
    layers run as batched matrix products over all S networks at once (no loop over networks).
    Lₛ is the mean cross-entropy plus (weight_decay/2)‖θₛ‖².
    """
    from .params import param_slices

    slices = param_slices(model)
    layers = [(name, module) for name, module in model.named_children()]
    shapes = {name: p.shape for name, p in model.named_parameters()}

    def total(theta: torch.Tensor) -> torch.Tensor:
        S = theta.shape[0]
        h = X.expand(S, *X.shape)
        for name, module in layers:
            if isinstance(module, torch.nn.Linear):
                W = theta[:, slices[f"{name}.weight"]].reshape(S, *shapes[f"{name}.weight"])
                b = theta[:, slices[f"{name}.bias"]].reshape(S, 1, -1)
                h = torch.baddbmm(b, h, W.transpose(1, 2))
            else:
                h = module(h)
        logp = torch.log_softmax(h, dim=-1)
        ce = -logp.gather(2, y.expand(S, -1)[..., None]).mean(dim=(1, 2))
        return (ce + 0.5 * weight_decay * (theta * theta).sum(1)).sum()

    return total


def network_critical_points_iter(config: NetworkCriticalConfig | None = None
                                 ) -> Iterator[Progress | NetworkCriticalResult]:
    """`network_critical_points` as a generator: progress first, the result last."""
    from .data import toy_dataset
    from .models import mlp
    from .params import flat_params

    cfg = config or NetworkCriticalConfig()
    raise_problems(cfg.problems())
    ds = toy_dataset(cfg.dataset, n=cfg.n, noise=cfg.noise, seed=cfg.seed)
    X = ds.X_train.double()
    y = ds.y_train
    torch.manual_seed(cfg.seed)
    model = mlp(ds.in_features, cfg.hidden, ds.n_classes, cfg.activation).double()
    total_loss = batched_mlp_loss(model, X, y, cfg.weight_decay)
    P = int(flat_params(model).numel())
    # Per-network gradients and Hessians, all networks in one call each.
    grad_fn = grad(total_loss)
    eye = torch.eye(P, dtype=torch.float64)

    def hess_fn(theta: torch.Tensor) -> torch.Tensor:
        # Row j of every network's Hessian is the vector-Jacobian product of the gradient with
        # e_j: one backward graph, then a vmap over the P basis directions.
        _, pullback = torch.func.vjp(grad_fn, theta)
        rows = vmap(lambda e: pullback(e.expand_as(theta).contiguous())[0])(eye)  # (P, S, P)
        H = rows.transpose(0, 1)
        return (H + H.transpose(1, 2)) / 2

    def losses_of(theta: torch.Tensor) -> torch.Tensor:
        return torch.stack([total_loss(t[None]) for t in theta]) if len(theta) < 2 else \
            vmap(lambda t: total_loss(t[None]))(theta)

    g = torch.Generator().manual_seed(cfg.seed)
    # Initial weights at scales around the default initialisation, one row per run.
    inits = []
    for i in range(cfg.inits):
        torch.manual_seed(cfg.seed * 1000 + i)
        m = mlp(ds.in_features, cfg.hidden, ds.n_classes, cfg.activation).double()
        scale = cfg.init_scale * (0.3 + 0.7 * float(torch.rand((), generator=g, dtype=torch.float64)))
        inits.append(flat_params(m) * scale)
    theta = torch.stack(inits)
    total = cfg.gd_steps + cfg.newton_iters
    # Snapshot steps spread on a log scale, so early (high-loss) points are well represented.
    snap_at = sorted({int(round(s)) for s in np.geomspace(1, cfg.gd_steps, cfg.snapshots)} | {0})
    starts = []
    for t in range(cfg.gd_steps + 1):
        if t in snap_at:
            starts.append(theta.clone())
        if t == cfg.gd_steps:
            break
        theta = theta - cfg.gd_lr * grad_fn(theta)
        if t % 100 == 0:
            yield Progress(t, total, f"gradient descent to collect starts: step {t}/{cfg.gd_steps}")
    S = torch.cat(starts)
    n_starts = len(S)
    eye_p = torch.eye(P, dtype=S.dtype)
    mu = torch.full((n_starts,), 1e-2, dtype=S.dtype)
    gS = grad_fn(S)
    gn = gS.norm(dim=1)
    for it in range(cfg.newton_iters):
        H = hess_fn(S)
        A = H @ H + mu[:, None, None] * eye_p
        step = -torch.linalg.solve(A, H @ gS[:, :, None])[:, :, 0]
        step = step * torch.clamp(1.0 / step.norm(dim=1, keepdim=True).clamp_min(1e-300), max=1.0)
        trial = S + step
        g_trial = grad_fn(trial)
        gn_trial = g_trial.norm(dim=1)
        ok = torch.isfinite(gn_trial) & (gn_trial < gn)
        S = torch.where(ok[:, None], trial, S)
        gS = torch.where(ok[:, None], g_trial, gS)
        gn = torch.where(ok, gn_trial, gn)
        mu = torch.where(ok, mu / 3, mu * 4).clamp(1e-12, 1e12)
        if it % 5 == 0 or it == cfg.newton_iters - 1:
            found = int((gn <= cfg.tol).sum())
            yield Progress(cfg.gd_steps + it + 1, total,
                                 f"minimising ‖∇L‖²: iteration {it + 1}/{cfg.newton_iters}, {found} of "
                                 f"{n_starts} starts at a critical point")
            if bool(((gn <= 1e-3 * cfg.tol) | (mu >= 1e12)).all()):
                break
    H = hess_fn(S)
    evals = symmetric_eigh(H)[0]
    losses = losses_of(S)
    points: list[CriticalPoint] = []
    for i in torch.argsort(gn).tolist():
        if not float(gn[i]) <= cfg.tol:
            continue
        if any(float((S[i] - torch.as_tensor(q.point)).norm()) < 1e-4 * (1 + float(S[i].norm())) for q in points):
            continue
        lam = evals[i].numpy()
        tol = _eig_tol(lam, 1e-6)
        points.append(CriticalPoint(point=S[i].numpy().copy(), value=float(losses[i]),
                                    kind=classify_critical_point(lam, tol), eigenvalues=lam,
                                    index=float((lam < -tol).mean()), grad_norm=float(gn[i])))
    points.sort(key=lambda c: c.value)
    yield NetworkCriticalResult(points, P, n_starts, cfg)


def network_critical_points(config: NetworkCriticalConfig | None = None, **overrides) -> list[CriticalPoint]:
    """Critical points of a tiny network's training loss, each with its loss (`value`) and its
    index (fraction of negative Hessian eigenvalues): Dauphin et al.'s picture, where high-loss
    critical points are saddles of high index and the low ones are minima."""
    from dataclasses import replace

    cfg = replace(config or NetworkCriticalConfig(), **overrides)
    return last(network_critical_points_iter(cfg)).points
