"""Sharp and flat minima: ε-sharpness, the batch-size experiment and the edge of stability.

- `epsilon_sharpness`: max_{‖ε‖≤ρ} L(θ+ε) − L(θ) over an L2 ball, by projected gradient ascent;
  `keskar_sharpness`: Keskar et al.'s box-constrained, loss-normalised variant.
- `batch_size_sweep`: trains the same network with SGD at one learning rate for several batch
  sizes, stops each run at the same training loss, and measures λmax, ε-sharpness, the Hessian
  trace and the train/test gap at each minimum (Keskar et al. 2017), plus 1-D loss slices.
- `edge_of_stability`: full-batch GD at a fixed η with λmax tracked every few steps: it rises
  until it reaches about 2/η and then hovers there (Cohen et al. 2021).

Each experiment is a generator of progress and result events, cancellable at every yield.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch.func import grad

from .hessian import HessianOperator, eigenpairs, hessian_trace
from .specs import DataSpec, ModelSpec, batch_size_problem, lr_problem, momentum_problem, raise_problems

LossFn = Callable[[torch.Tensor], torch.Tensor]


def epsilon_sharpness(loss_fn: LossFn, theta: torch.Tensor, rho: float = 0.05, steps: int = 20, seed: int = 0,
                      device: str | torch.device | None = None) -> float:
    """max_{‖ε‖≤ρ} L(θ+ε) − L(θ), by projected gradient ascent from a random point of the sphere
    ‖ε‖ = ρ: steps of length ρ along the normalised gradient, each projected back onto the ball
    (on a quadratic this is power iteration towards the top eigenvector). Returns the largest
    increase seen (≥ 0, since ε = 0 is allowed)."""
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a positive radius, got {rho}")
    theta = torch.as_tensor(theta).detach()
    if device is not None:
        from .device import pick_device

        theta = theta.to(pick_device(device))
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    eps = torch.randn(theta.numel(), generator=g, dtype=torch.float64).to(theta.device, theta.dtype)
    eps = eps * (rho / eps.norm())

    def move(eps: torch.Tensor, gvec: torch.Tensor) -> torch.Tensor | None:
        gnorm = float(gvec.norm())
        if not math.isfinite(gnorm) or gnorm == 0:
            return None
        eps = eps + rho * gvec / gnorm
        norm = float(eps.norm())
        return eps * (rho / norm) if norm > rho else eps

    best, _ = _ascend(loss_fn, theta, eps, steps, move)
    return best


def _ascend(loss_fn: LossFn, theta: torch.Tensor, eps: torch.Tensor, steps: int,
            move: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | None]) -> tuple[float, float]:
    """Projected ascent of L(θ+ε) from `eps`: `move(ε, ∇L(θ+ε))` takes a step and projects it
    back (None stops). Returns the largest increase seen over L(θ) (≥ 0) and L(θ)."""
    base = float(loss_fn(theta))
    best = 0.0
    grad_fn = grad(loss_fn)
    for t in range(steps + 1):
        value = float(loss_fn(theta + eps))
        if math.isfinite(value):
            best = max(best, value - base)
        if t == steps:
            break
        eps = move(eps, grad_fn(theta + eps))
        if eps is None:
            break
    return best, base


def keskar_sharpness(loss_fn: LossFn, theta: torch.Tensor, rho: float = 5e-4, steps: int = 20, seed: int = 0,
                     device: str | torch.device | None = None) -> float:
    """Keskar et al. (2017)'s sharpness: 100 · (max_{ε∈C} L(θ+ε) − L(θ)) / (1 + L(θ)) over the box
    C = {ε : |εᵢ| ≤ ρ(|θᵢ| + 1)}, so each weight may move in proportion to its size. Found by
    projected ascent from a random point of the box: steps of half the box along sign(∇L) (the
    box's steepest direction), clipped back into it. Returns the largest value seen (≥ 0)."""
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a positive box size, got {rho}")
    theta = torch.as_tensor(theta).detach()
    if device is not None:
        from .device import pick_device

        theta = theta.to(pick_device(device))
    box = rho * (theta.abs() + 1)
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    u = torch.rand(theta.numel(), generator=g, dtype=torch.float64).to(theta.device, theta.dtype)
    eps = box * (2 * u - 1)

    def move(eps: torch.Tensor, gvec: torch.Tensor) -> torch.Tensor | None:
        if not bool(torch.isfinite(gvec).all()):
            return None
        return torch.minimum(torch.maximum(eps + 0.5 * box * torch.sign(gvec), -box), box)

    best, base = _ascend(loss_fn, theta, eps, steps, move)
    return 100.0 * best / (1.0 + base)


# The sharpness measures the batch-size experiment offers: (label, function).
SHARPNESS_MEASURES: dict[str, tuple[str, Callable[..., float]]] = {
    "ball": ("ball ‖ε‖ ≤ ρ: max L(θ+ε) − L(θ)", epsilon_sharpness),
    "keskar": ("Keskar et al.: box, ×100/(1+L)", keskar_sharpness),
}


def loss_slice(loss_fn: LossFn, theta: torch.Tensor, direction: torch.Tensor, alphas: np.ndarray) -> np.ndarray:
    """L(θ + α·d) for each α, with d scaled to unit length; batched over α with `vmap`."""
    d = torch.as_tensor(direction).to(theta)
    d = d / d.norm()
    a = torch.as_tensor(np.asarray(alphas), dtype=theta.dtype, device=theta.device)
    with torch.no_grad():
        values = torch.func.vmap(lambda s: loss_fn(theta + s * d))(a)
    return values.detach().cpu().numpy()


# -- batch size and sharpness -------------------------------------------------------------------


@dataclass
class SharpnessConfig(ModelSpec, DataSpec):
    """The batch-size experiment: one network, one learning rate, several batch sizes.

    Every run starts from the same θ₀, trains with plain SGD at `lr` and stops when the full
    training loss first falls to `target_loss` (checked every `check_every` steps), or after
    `max_epochs`. Batch size 0 means full batch.
    """

    dataset: str = "digits"
    n: int = 1797
    noise: float = 0.0
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    lr: float = 0.1
    batch_sizes: tuple[int, ...] = (16, 32, 64, 128, 256, 0)
    target_loss: float = 0.05
    max_epochs: float = 400.0
    check_every: int = 10
    rho: float = 0.05
    measure: str = "ball"  # a key of SHARPNESS_MEASURES: "ball" (the lecture's) or "keskar"
    sharpness_steps: int = 20
    trace_probes: int = 32
    lanczos_iters: int = 60
    slice_radius: float = 1.0
    slice_points: int = 41
    seed: int = 0
    device: str = "cpu"

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        out = super().problems(n_train)
        bad = lr_problem(self.lr)
        if bad:
            out["lr"] = bad
        if not self.batch_sizes:
            out["batch_sizes"] = "give at least one batch size (0 = full batch)"
        else:
            bad = next(filter(None, (batch_size_problem(b) for b in self.batch_sizes)), None)
            if bad:
                out["batch_sizes"] = f"in the batch sizes {list(self.batch_sizes)}: {bad}"
        if not self.target_loss > 0:
            out["target_loss"] = f"the target training loss must be positive, got {self.target_loss}"
        if not self.rho > 0:
            out["rho"] = f"ρ must be positive, got {self.rho}"
        if self.measure not in SHARPNESS_MEASURES:
            out["measure"] = f"the sharpness measure is one of {', '.join(SHARPNESS_MEASURES)}, got {self.measure!r}"
        return out


@dataclass
class SweepProgress:
    batch_size: int
    step: int
    epoch: float
    train_loss: float
    text: str
    fraction: float  # of the whole sweep, 0..1


@dataclass
class MinimumReport:
    """One run of the sweep, measured at the point where it stopped."""

    batch_size: int  # as trained (the full training-set size for full batch)
    label: str
    steps: int
    epochs: float
    reached_target: bool
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float
    lambda_max: float
    lambda_residual: float
    eps_sharpness: float  # by the config's measure (SHARPNESS_MEASURES)
    trace: float
    slice_alphas: np.ndarray
    slice_losses: np.ndarray
    seconds: float

    @property
    def gap(self) -> float:
        """Test loss minus train loss."""
        return self.test_loss - self.train_loss

    @property
    def acc_gap(self) -> float:
        """Train accuracy minus test accuracy."""
        return self.train_acc - self.test_acc


@dataclass
class SweepResult:
    config: SharpnessConfig
    reports: list[MinimumReport] = field(default_factory=list)
    n_params: int = 0
    n_train: int = 0


def batch_size_sweep(config: SharpnessConfig | None = None) -> Iterator[SweepProgress | MinimumReport | SweepResult]:
    """Train one run per batch size and measure each minimum; yields progress, a MinimumReport
    per run as soon as it is measured, and the SweepResult last."""
    from .data import toy_dataset
    from .models import mlp
    from .params import flat_params, loss_function, set_flat_params
    from .training import TrainConfig, Trainer, evaluate

    cfg = config or SharpnessConfig()
    problems = cfg.problems()
    if problems:
        raise ValueError("; ".join(problems.values()))
    ds = toy_dataset(cfg.dataset, n=cfg.n, noise=cfg.noise, seed=cfg.seed)
    n_train = len(ds.y_train)
    torch.manual_seed(cfg.seed)
    model = mlp(ds.in_features, cfg.hidden, ds.n_classes, cfg.activation)
    theta0 = flat_params(model)
    result = SweepResult(cfg, n_params=int(theta0.numel()), n_train=n_train)
    sizes = [n_train if b in (0, None) or b >= n_train else int(b) for b in cfg.batch_sizes]
    # Progress is counted in samples seen, so every run weighs by its share of the work.
    budget = max(1, int(cfg.max_epochs * n_train))
    for r, bs in enumerate(sizes):
        t0 = time.perf_counter()
        set_flat_params(model, theta0)
        trainer = Trainer(model, ds, TrainConfig(lr=cfg.lr, batch_size=bs, seed=cfg.seed, device=cfg.device,
                                                 eval_every=10**9))
        label = "full batch" if bs >= n_train else f"batch {bs}"
        reached, train_loss = False, float("nan")
        # The loss at θ₀ first: a viewer sees each run's curve start before its first steps.
        start_loss = evaluate(model, trainer.X_train, trainer.y_train)[0]
        yield SweepProgress(bs, 0, 0.0, start_loss, f"{label}: train loss {start_loss:.4f} → {cfg.target_loss}",
                            r / len(sizes))
        last_report = time.perf_counter()
        while trainer.samples_seen < budget:
            ev = trainer.step()
            if ev.diverged:
                raise ValueError(f"{label} diverged at η = {cfg.lr}: {ev.message}")
            if trainer.step_count % cfg.check_every == 0:
                train_loss = evaluate(model, trainer.X_train, trainer.y_train)[0]
                if train_loss <= cfg.target_loss:
                    reached = True
                    break
                now = time.perf_counter()
                if now - last_report > 0.1:
                    last_report = now
                    yield SweepProgress(bs, trainer.step_count, trainer.epoch, train_loss,
                                        f"{label}: step {trainer.step_count:,}, epoch {trainer.epoch:.1f}, "
                                        f"train loss {train_loss:.4f} → {cfg.target_loss}",
                                        (r + min(1.0, trainer.samples_seen / budget)) / len(sizes))
        tl, ta, vl, va = trainer.evaluate()
        yield SweepProgress(bs, trainer.step_count, trainer.epoch, tl, f"{label}: measuring the curvature",
                            (r + 1) / len(sizes))
        theta = flat_params(model)
        measure = model_for_analysis(model)
        L = loss_function(measure, trainer.X_train, trainer.y_train)
        top = eigenpairs(L, theta, k=1, which="top", iters=cfg.lanczos_iters, tol=1e-3, seed=cfg.seed)
        sharp = SHARPNESS_MEASURES[cfg.measure][1](L, theta, cfg.rho, cfg.sharpness_steps, cfg.seed)
        trace = hessian_trace(L, theta, cfg.trace_probes, cfg.seed)
        alphas = np.linspace(-cfg.slice_radius, cfg.slice_radius, cfg.slice_points)
        losses = loss_slice(L, theta, top.vectors[0], alphas)
        report = MinimumReport(bs, label, trainer.step_count, trainer.epoch, reached, tl, vl, ta, va,
                               float(top.values[0]), float(top.residuals[0]), sharp, trace, alphas, losses,
                               time.perf_counter() - t0)
        result.reports.append(report)
        yield report
    yield result


@dataclass
class SeedSweep:
    """One seed's whole batch-size sweep (data split and θ₀ drawn by the seed)."""

    seed: int
    reports: list[MinimumReport]


def seed_sweeps(config: SharpnessConfig, seeds: Sequence[int]) -> Iterator[SweepProgress | SeedSweep]:
    """The batch-size sweep once per seed: progress over all of them, and a SeedSweep as each
    seed's sweep ends (for a spread of the comparison over seeds)."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("give at least one seed")
    for i, seed in enumerate(seeds):
        reports: list[MinimumReport] = []
        for item in batch_size_sweep(replace(config, seed=seed)):
            if isinstance(item, SweepProgress):
                yield replace(item, text=f"seed {seed} ({i + 1} of {len(seeds)}): {item.text}",
                              fraction=(i + item.fraction) / len(seeds))
            elif isinstance(item, MinimumReport):
                reports.append(item)
        yield SeedSweep(seed, reports)


def model_for_analysis(model: torch.nn.Module) -> torch.nn.Module:
    """An independent copy without gradients, for functional_call-based analyses."""
    import copy

    m = copy.deepcopy(model)
    for p in m.parameters():
        p.requires_grad_(False)
    return m.eval()


# -- edge of stability --------------------------------------------------------------------------


@dataclass
class EdgeOfStabilityConfig(ModelSpec, DataSpec):
    """Full-batch gradient descent at one learning rate η, λmax measured every `track_every` steps.

    The defaults (noisy two moons, the default 2-16-16-2 tanh network, cross-entropy, η = 0.5)
    show λmax rising from about 1.8 to 2/η = 4 within a few hundred steps and staying there.
    Always full batch with plain or heavy-ball GD, so of the optimiser only lr and momentum.
    """

    noise: float = 0.3
    loss: str = "cross_entropy"
    lr: float = 0.5
    momentum: float = 0.0
    steps: int = 600
    track_every: int = 10
    lanczos_iters: int = 40
    seed: int = 0
    device: str = "cpu"

    @property
    def threshold(self) -> float:
        """The stability limit of GD on a quadratic: 2/η, or (2 + 2β)/η with heavy-ball momentum β."""
        return stability_threshold(self.lr, self.momentum)

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        out = super().problems(n_train)
        for name, bad in (("lr", lr_problem(self.lr)), ("momentum", momentum_problem(self.momentum))):
            if bad:
                out[name] = bad
        if self.track_every < 1:
            out["track_every"] = f"track λmax every ≥ 1 steps, got {self.track_every}"
        return out


def stability_threshold(lr: float, momentum: float = 0.0) -> float:
    """2/η (plain GD) or (2 + 2β)/η (heavy-ball momentum β): GD on a quadratic with curvature
    above this diverges along that direction."""
    return (2.0 + 2.0 * momentum) / lr


@dataclass
class StabilityPoint:
    step: int
    train_loss: float
    lambda_max: float
    residual: float
    threshold: float


def edge_of_stability(config: EdgeOfStabilityConfig | None = None) -> Iterator[StabilityPoint]:
    """Full-batch GD at fixed η; yields λmax (with its Lanczos residual) every `track_every`
    steps, from step 0. Each Lanczos run starts from the previous top eigenvector, so tracking
    costs a few Hessian-vector products per point."""
    from .data import toy_dataset
    from .models import mlp
    from .params import flat_params, loss_function
    from .training import TrainConfig, Trainer

    cfg = config or EdgeOfStabilityConfig()
    raise_problems(cfg.problems())
    ds = toy_dataset(cfg.dataset, n=cfg.n, noise=cfg.noise, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    model = mlp(ds.in_features, cfg.hidden, ds.n_classes, cfg.activation)
    trainer = Trainer(model, ds, TrainConfig(lr=cfg.lr, momentum=cfg.momentum, batch_size=0, seed=cfg.seed,
                                             device=cfg.device, loss=cfg.loss, eval_every=10**9))
    measure = model_for_analysis(model)
    L = loss_function(measure, trainer.X_train, trainer.y_train, cfg.loss)
    tracker = SharpnessTracker(lanczos_iters=cfg.lanczos_iters, seed=cfg.seed)
    threshold = cfg.threshold
    for step in range(cfg.steps + 1):
        if step % cfg.track_every == 0 or step == cfg.steps:
            theta = flat_params(model)
            lam, res = tracker.measure(L, theta)
            yield StabilityPoint(step, float(L(theta)), lam, res, threshold)
        if step == cfg.steps:
            break
        ev = trainer.step()
        if ev.diverged:
            return


class SharpnessTracker:
    """λmax along a training run, each Lanczos run warm-started from the last top eigenvector."""

    def __init__(self, lanczos_iters: int = 40, tol: float = 1e-3, seed: int = 0):
        self.lanczos_iters = lanczos_iters
        self.tol = tol
        self.seed = seed
        self.vector: torch.Tensor | None = None

    def measure(self, loss_fn: LossFn, theta: torch.Tensor) -> tuple[float, float]:
        """(λmax, residual ‖Hv − λv‖) at θ."""
        op = HessianOperator(loss_fn, theta)
        r = eigenpairs(loss_fn, theta, k=1, which="top", iters=self.lanczos_iters, tol=self.tol, seed=self.seed,
                       start=self.vector, operator=op)
        self.vector = r.vectors[0].detach().clone()
        return float(r.values[0]), float(r.residuals[0])


def summarize_sweep(reports: Sequence[MinimumReport]) -> list[dict]:
    """The sweep as rows of plain numbers (for tables and JSON)."""
    return [{"batch_size": r.batch_size, "label": r.label, "steps": r.steps, "epochs": round(r.epochs, 3),
             "reached_target": r.reached_target, "train_loss": r.train_loss, "test_loss": r.test_loss,
             "train_acc": r.train_acc, "test_acc": r.test_acc, "loss_gap": r.gap, "acc_gap": r.acc_gap,
             "lambda_max": r.lambda_max, "lambda_residual": r.lambda_residual,
             "eps_sharpness": r.eps_sharpness, "trace": r.trace, "seconds": r.seconds} for r in reports]


__all__ = ["epsilon_sharpness", "keskar_sharpness", "SHARPNESS_MEASURES",
           "loss_slice", "SharpnessConfig", "MinimumReport", "SweepResult", "SweepProgress",
           "batch_size_sweep", "SeedSweep", "seed_sweeps", "EdgeOfStabilityConfig", "StabilityPoint",
           "edge_of_stability",
           "stability_threshold", "SharpnessTracker", "summarize_sweep"]
