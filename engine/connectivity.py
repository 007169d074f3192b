"""Mode connectivity: is there a low-loss path between two independently trained networks?

The straight line between two minima usually crosses a ridge. A quadratic Bezier curve
φ(t) = (1−t)²·θ_A + 2t(1−t)·θ_C + t²·θ_B with one trained bend θ_C usually does not
(Garipov et al. 2018). θ_C is trained on E_{t~U(0,1)} L(φ(t)), a fresh t each step, starting
from the midpoint (where the curve is the straight line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.func import grad, vmap

from .landscape import Device, LandscapeData, SurfaceGrid, orthogonalise, points_per_chunk, surface_levels
from .optim import Adam
from .params import flat_params
from .progress import Progress
from .specs import lr_problem
from .training import Trainer

LossFn = Callable[[torch.Tensor], torch.Tensor]


def _ts(n: int, device) -> torch.Tensor:
    if n < 2:
        raise ValueError(f"a path needs at least 2 points, got n={n}")
    return torch.linspace(0.0, 1.0, n, device=device)


@torch.no_grad()
def _path_losses(loss_fn: LossFn, thetas: torch.Tensor, chunk: int) -> np.ndarray:
    out = [vmap(loss_fn)(thetas[i : i + chunk]) for i in range(0, len(thetas), chunk)]
    return torch.cat(out).cpu().double().numpy()


def _chunk(theta: torch.Tensor, chunk: int | None) -> int:
    return chunk or max(1, min(256, (1 << 22) // max(1, theta.numel())))


def _to(device: Device, *thetas: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return thetas if device is None else tuple(t.to(torch.device(device)) for t in thetas)


def line_points(theta_a: torch.Tensor, theta_b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1−t)·θ_A + t·θ_B for each t: (n, P)."""
    return (1 - t)[:, None] * theta_a + t[:, None] * theta_b


def bezier_points(theta_a: torch.Tensor, theta_c: torch.Tensor, theta_b: torch.Tensor,
                  t: torch.Tensor) -> torch.Tensor:
    """φ(t) = (1−t)²·θ_A + 2t(1−t)·θ_C + t²·θ_B for each t: (n, P)."""
    t = t[:, None]
    return (1 - t) ** 2 * theta_a + 2 * t * (1 - t) * theta_c + t**2 * theta_b


def linear_path(loss_fn: LossFn, theta_a: torch.Tensor, theta_b: torch.Tensor, n: int = 41,
                chunk: int | None = None, device: Device = None) -> tuple[np.ndarray, np.ndarray]:
    """Loss along the straight segment from θ_A (t = 0) to θ_B (t = 1): (t, loss), batched.
    `device`: where the points are evaluated (default θ_A's; the loss function's data must be there)."""
    theta_a, theta_b = _to(device, theta_a, theta_b)
    t = _ts(n, theta_a.device)
    return t.cpu().numpy().astype(np.float64), _path_losses(loss_fn, line_points(theta_a, theta_b, t),
                                                            _chunk(theta_a, chunk))


def bezier_path(loss_fn: LossFn, theta_a: torch.Tensor, theta_c: torch.Tensor, theta_b: torch.Tensor,
                n: int = 41, chunk: int | None = None, device: Device = None) -> tuple[np.ndarray, np.ndarray]:
    """Loss along the quadratic Bezier curve with bend θ_C: (t, loss), batched (on `device`, as
    in `linear_path`)."""
    theta_a, theta_c, theta_b = _to(device, theta_a, theta_c, theta_b)
    t = _ts(n, theta_a.device)
    return t.cpu().numpy().astype(np.float64), _path_losses(
        loss_fn, bezier_points(theta_a, theta_c, theta_b, t), _chunk(theta_a, chunk))


def barrier(losses) -> float:
    """max_t [L(t) − ((1−t)·L(0) + t·L(1))] over evenly spaced t in [0, 1]: how far the path
    rises above the straight interpolation of its end losses (0 when it never does)."""
    L = np.asarray(losses, dtype=np.float64).reshape(-1)
    if L.size < 2:
        raise ValueError("a barrier needs the losses of at least 2 points along the path")
    t = np.linspace(0.0, 1.0, L.size)
    return float(np.max(L - ((1 - t) * L[0] + t * L[-1])))


@dataclass
class BezierStep:
    step: int
    loss: float  # L(φ(t)) at this step's t
    t: float
    theta_c: torch.Tensor  # the live bend (clone it to keep it)


def bezier_fitting(loss_fn: LossFn, theta_a: torch.Tensor, theta_b: torch.Tensor, steps: int = 500,
                   lr: float = 0.05, seed: int = 0,
                   theta_c: torch.Tensor | None = None, device: Device = None) -> Iterator[BezierStep]:
    """Train the bend θ_C with Adam, one fresh t ~ U(0, 1) per step; yields after every step.
    `device`: where the bend is trained (default θ_A's; the loss function's data must be there)."""
    theta_a, theta_b = _to(device, theta_a, theta_b)
    if theta_c is not None:
        (theta_c,) = _to(theta_a.device, theta_c)
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0, got {steps}")
    if not lr > 0:
        raise ValueError(f"the learning rate must be > 0, got {lr}")
    theta_a, theta_b = theta_a.detach(), theta_b.detach()
    start = (theta_a + theta_b) / 2 if theta_c is None else theta_c.detach()
    bend = start.clone().requires_grad_(True)
    opt = Adam([bend], lr=lr)
    gen = torch.Generator().manual_seed(int(seed))

    def curve_loss(c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss_fn((1 - t) ** 2 * theta_a + 2 * t * (1 - t) * c + t**2 * theta_b)

    g_fn = grad(curve_loss, has_aux=False)
    for k in range(steps):
        t = torch.rand((), generator=gen).to(theta_a.device, theta_a.dtype)
        with torch.no_grad():
            loss = float(curve_loss(bend.detach(), t))
        if not np.isfinite(loss):
            raise FloatingPointError(f"the Bezier bend diverged at step {k} (loss {loss}); "
                                     "lower its learning rate")
        bend.grad = g_fn(bend.detach(), t)
        opt.step()
        yield BezierStep(k + 1, loss, float(t), bend.detach())


def fit_bezier(loss_fn: LossFn, theta_a: torch.Tensor, theta_b: torch.Tensor, steps: int = 500,
               lr: float = 0.05, seed: int = 0, device: Device = None) -> torch.Tensor:
    """The bend θ_C of a quadratic Bezier curve from θ_A to θ_B trained to minimise
    E_{t~U(0,1)} L(φ(t)) (Adam, a fresh t per step, started at the midpoint), on `device`."""
    theta_a, theta_b = _to(device, theta_a, theta_b)
    bend = ((theta_a + theta_b) / 2).detach()
    for item in bezier_fitting(loss_fn, theta_a, theta_b, steps, lr, seed, device=device):
        bend = item.theta_c
    return bend.clone()


# -- the whole experiment, as a stream of events ------------------------------------------------
@dataclass
class ConnectivityConfig:
    seeds: tuple[int, int] = (0, 1)
    train_steps: int = 1500
    bezier_steps: int = 500
    bezier_lr: float = 0.05
    points: int = 41
    plane_resolution: int = 31
    max_samples: int | None = None  # evaluate (and fit the bend) on this many training samples
    refresh_every: int = 50  # Bezier steps between refreshed loss profiles
    seed: int = 0  # the t draws

    def problems(self) -> dict[str, str]:
        out = {}
        if self.seeds[0] == self.seeds[1]:
            out["seeds"] = "the two networks need different seeds"
        if self.train_steps < 1:
            out["train_steps"] = "train each network at least one step"
        if self.bezier_steps < 0:
            out["bezier_steps"] = "Bezier steps must be ≥ 0"
        bad = lr_problem(self.bezier_lr, "the Bezier learning rate")
        if bad:
            out["bezier_lr"] = bad
        if self.points < 3:
            out["points"] = "use at least 3 points along each path"
        if self.plane_resolution < 0 or 0 < self.plane_resolution < 5:
            out["plane_resolution"] = "plane resolution: 0 (off) or at least 5"
        return out


@dataclass
class ConnectivityProgress:
    stage: str  # "train A", "train B", "bezier", "plane"
    done: int
    total: int
    loss: float = float("nan")


@dataclass
class PathResult:
    kind: str  # "linear" | "bezier"
    t: np.ndarray
    train: np.ndarray
    test: np.ndarray | None
    barrier_train: float
    barrier_test: float | None
    bezier_step: int = 0  # for "bezier": after how many steps of fitting
    final: bool = True


@dataclass
class Endpoints:
    """The two trained networks (train loss, test loss, accuracy) and their distance."""

    train_loss: tuple[float, float]
    test_loss: tuple[float, float]
    train_acc: tuple[float, float]
    test_acc: tuple[float, float]
    distance: float  # ‖θ_B − θ_A‖


@dataclass
class ConnectivityPlane:
    """The loss over the plane through θ_A, θ_B, θ_C; θ_A at the origin, θ_B on the x-axis."""

    xs: np.ndarray
    ys: np.ndarray
    Z: np.ndarray  # (len(xs), len(ys))
    points: np.ndarray  # (3, 2): θ_A, θ_B, θ_C
    linear: np.ndarray  # (n, 2)
    bezier: np.ndarray  # (n, 2)


def _path_result(kind: str, L: LossFn, Lt: LossFn | None, thetas: torch.Tensor, chunk: int,
                 step: int = 0, final: bool = True) -> PathResult:
    train = _path_losses(L, thetas, chunk)
    test = None if Lt is None else _path_losses(Lt, thetas, chunk)
    return PathResult(kind, np.linspace(0, 1, len(thetas)), train, test, barrier(train),
                      None if test is None else barrier(test), step, final)


def endpoint_trainer(experiment_config, dataset, seed: int) -> Trainer:
    """A fresh network of the experiment's architecture from `seed`, with its own trainer."""
    from .experiment import build_model

    cfg = replace(experiment_config, seed=int(seed))
    return Trainer(build_model(cfg, dataset), dataset, cfg.train_config())


def train_steps(trainer: Trainer, steps: int) -> Iterator[Progress]:
    """Advance a trainer `steps` steps, yielding a `Progress` (steps done of `steps`) after each."""
    for k in range(steps):
        ev = trainer.step()
        if ev.diverged:
            raise FloatingPointError(ev.message)
        yield Progress(k + 1, steps, "training")


def mode_connectivity(dataset, experiment_config, config: ConnectivityConfig | None = None,
                      ) -> Iterator[ConnectivityProgress | PathResult | Endpoints | ConnectivityPlane]:
    """Train two networks from different seeds, then compare the straight line between them with
    a trained Bezier curve. Yields progress, the endpoints, the linear profile, Bezier profiles
    while the bend trains (`final=False`), the final one, then the plane picture."""
    config = config or ConnectivityConfig()
    problems = config.problems()
    if problems:
        raise ValueError("; ".join(problems.values()))
    models = []
    for label, seed in zip("AB", config.seeds):
        trainer = endpoint_trainer(experiment_config, dataset, seed)
        for p in train_steps(trainer, config.train_steps):
            if p.done % 25 == 0 or p.done == config.train_steps:
                yield ConnectivityProgress(f"train {label}", p.done, config.train_steps)
        model = trainer.model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        models.append(model)
    model = models[0]
    theta_a, theta_b = flat_params(models[0]), flat_params(models[1])
    data = LandscapeData.from_split(model, dataset.X_train, dataset.y_train, dataset.X_test,
                                    dataset.y_test, experiment_config.train_config().loss,
                                    config.max_samples)
    L, Lt = data.train_loss(), data.test_loss()
    chunk = max(1, points_per_chunk(model, data.X))
    with torch.no_grad():
        ends = torch.stack([theta_a, theta_b])
        tr, te = _path_losses(L, ends, chunk), (None if Lt is None else _path_losses(Lt, ends, chunk))
        accs = []
        for X, y in ((data.X, data.y), (data.X_test, data.y_test)):
            if X is None or len(X) == 0:
                accs.append((float("nan"), float("nan")))
                continue
            accs.append(tuple(float((m(X).argmax(1) == y).float().mean()) for m in models))
    yield Endpoints((tr[0], tr[1]), (float("nan"),) * 2 if te is None else (te[0], te[1]), accs[0], accs[1],
                    float((theta_b - theta_a).norm()))
    t = _ts(config.points, theta_a.device)
    yield _path_result("linear", L, Lt, line_points(theta_a, theta_b, t), chunk)
    bend = (theta_a + theta_b) / 2
    yield _path_result("bezier", L, Lt, bezier_points(theta_a, bend, theta_b, t), chunk, 0,
                       final=config.bezier_steps == 0)
    for item in bezier_fitting(L, theta_a, theta_b, config.bezier_steps, config.bezier_lr, config.seed):
        bend = item.theta_c
        last = item.step == config.bezier_steps
        if item.step % 10 == 0 or last:
            yield ConnectivityProgress("bezier", item.step, config.bezier_steps, item.loss)
        if item.step % config.refresh_every == 0 or last:
            yield _path_result("bezier", L, Lt, bezier_points(theta_a, bend, theta_b, t), chunk,
                               item.step, final=last)
    bend = bend.clone()
    if config.plane_resolution:
        yield from _plane(L, theta_a, bend, theta_b, t, config.plane_resolution, chunk)


def _plane(L: LossFn, theta_a, theta_c, theta_b, t, res: int, chunk: int) -> Iterator:
    u = theta_b - theta_a
    length = float(u.norm())
    e1 = u / u.norm()
    v = orthogonalise(e1, theta_c - theta_a)
    e2 = v / v.norm().clamp_min(1e-30)
    to_xy = torch.stack([e1, e2], 1).double()

    def coords(points: torch.Tensor) -> np.ndarray:
        return ((points - theta_a).double() @ to_xy).cpu().numpy()

    lin, bez = coords(line_points(theta_a, theta_b, t)), coords(bezier_points(theta_a, theta_c, theta_b, t))
    pts = coords(torch.stack([theta_a, theta_b, theta_c]))
    ymax = max(float(bez[:, 1].max()), float(pts[2, 1]), 0.1 * length)
    xs = torch.linspace(-0.25 * length, 1.25 * length, res, device=theta_a.device)
    ys = torch.linspace(-0.45 * ymax, 1.35 * ymax, res, device=theta_a.device)
    yield ConnectivityProgress("plane", 0, res * res)
    for item in surface_levels(L, theta_a, e1, e2, xs, ys, chunk, min_points=res):
        if isinstance(item, SurfaceGrid):
            yield ConnectivityPlane(item.alphas, item.betas, item.Z, pts, lin, bez)
        else:
            yield ConnectivityProgress("plane", item.done, item.total)


__all__ = ["linear_path", "fit_bezier", "bezier_path", "barrier", "bezier_fitting", "ConnectivityConfig",
           "mode_connectivity", "PathResult", "ConnectivityProgress", "ConnectivityPlane", "Endpoints"]
