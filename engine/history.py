"""What a training run records from its first step, whichever view is open.

A few analyses are cheap enough to run beside training all the time: the extreme Hessian
eigenvalues and the trace (Curvature), and the neural-collapse measure NC1 of every layer
(Representations). A `HistoryRecorder` runs them in the training thread every k steps, with k
chosen per analysis from its measured cost against the measured cost of a step, so that
together they take at most a set share (default 7%) of the training time. A view opened late
reads the whole run from the `RunHistory` the points are collected in.

The curvature tracker keeps its Lanczos vectors from one measurement to the next: θ moves
little in k steps, so a few steps started from the last extreme Ritz vectors are enough.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .experiment import Experiment
from .hessian import rademacher
from .layerwise_hessian import layerwise_hessian
from .params import loss_function, set_flat_params
from .representations import fixed_subset, layer_activations, neural_collapse_nc1
from .spectrum import SpectrumSettings, analysis_subset

DEFAULT_BUDGET = 0.07  # share of training time all recorded analyses may take together
NICE_STRIDES = (1, 2, 3, 5)  # strides are 1, 2, 3, 5, 10, 20, … steps: round numbers on the axis
POINTS_PER_DOUBLING = 200  # long runs: at most about this many points between step s and 2s
FIRST_STRIDE = 20  # at most this many steps between the first and second measurement of a run
COLD_LANCZOS_STEPS = 12  # the first measurement of a run, from random start vectors
COLD_LIMIT = 20_000  # parameters up to which that first measurement takes the long Lanczos run
COLLAPSE_POINTS = 400  # the Representations tab's default subset, so both measure the same points


@dataclass
class HistoryPoint:
    """One measurement of one analysis at one step (`values`: name -> number)."""

    name: str
    step: int
    values: dict[str, float]
    seconds: float = 0.0


def nice_stride(k: float) -> int:
    """The smallest of 1, 2, 3, 5, 10, 20, 30, 50, … that is ≥ k."""
    if not math.isfinite(k) or k <= 1:
        return 1
    scale = 10 ** math.floor(math.log10(k))
    for m in NICE_STRIDES + (10,):
        if m * scale >= k - 1e-9:
            return int(m * scale)
    return int(10 * scale)


@dataclass
class HistoryProbe:
    """An analysis run beside training: fn(experiment) -> {name: value}; `share`: its part of
    the time budget. `reset` (optional) drops state kept between measurements."""

    fn: Callable[[Experiment], dict[str, float]]
    share: float = 0.5
    reset: Callable[[], None] | None = None


class _Schedule:
    """When one probe runs next: every `stride` steps, the stride from measured costs."""

    def __init__(self) -> None:
        self.cost = 0.0  # seconds per measurement, smoothed
        self.stride = 1
        self.last_step = -1
        self.untuned = False  # measured before any step was timed: tune at the first timed step
        self.count = 0  # measurements in this run

    def due(self, step: int) -> bool:
        # At multiples of the stride; a stride that changes (the step cost moves with the load)
        # can delay a point, never skip it for good.
        if self.last_step < 0:
            return True
        return step > self.last_step and (step % self.stride == 0 or step >= self.last_step + 2 * self.stride)

    def update(self, seconds: float, step_cost: float, share: float, step: int) -> None:
        self.count += 1
        # The first measurement of a run pays one-off costs (copies, first calls): the second
        # replaces it and comes soon, so that one slow start cannot space the points far apart.
        self.cost = seconds if self.count <= 2 else 0.7 * self.cost + 0.3 * seconds
        self.retune(step_cost, share, step)

    def retune(self, step_cost: float, share: float, step: int) -> None:
        if step_cost <= 0 or self.cost <= 0:
            self.untuned = self.cost > 0
            return
        self.untuned = False
        by_cost = self.cost / (share * step_cost)
        by_length = step / POINTS_PER_DOUBLING
        self.stride = nice_stride(max(by_cost, by_length))
        if self.count == 1:
            self.stride = min(self.stride, FIRST_STRIDE)


class HistoryRecorder:
    """Runs the always-on probes in the training thread; `measure` after every step.

    The caller times each training step and passes its seconds to `measure`; each probe runs
    when the step count is a multiple of its stride (step 0 always), and its stride is the
    smallest round number that keeps the probe within its share of the budget.
    """

    def __init__(self, probes: Mapping[str, HistoryProbe], budget: float = DEFAULT_BUDGET,
                 clock: Callable[[], float] = time.perf_counter):
        if not 0 < budget < 1:
            raise ValueError(f"the history budget is a share of training time in (0, 1), got {budget}")
        self.probes = dict(probes)
        self.budget = budget
        self.step_cost = 0.0  # seconds per training step, smoothed
        self.probe_seconds = 0.0  # totals, for the cost report
        self.train_seconds = 0.0
        self.enabled = True
        self.clock = clock
        self._schedules = {name: _Schedule() for name in self.probes}

    def clear(self) -> None:
        """A new run (reset or rebuild): start again at step 0, forget warm starts; the
        measured costs are kept (the same machine, usually the same network)."""
        for name, probe in self.probes.items():
            self._schedules[name].last_step = -1
            self._schedules[name].count = 0
            if probe.reset is not None:
                probe.reset()

    def strides(self) -> dict[str, int]:
        return {name: s.stride for name, s in self._schedules.items()}

    def measure(self, experiment: Experiment, step_seconds: float | None = None) -> list[HistoryPoint]:
        """The points due at the experiment's current step (none, usually)."""
        if step_seconds is not None and step_seconds > 0:
            self.train_seconds += step_seconds
            self.step_cost = step_seconds if self.step_cost == 0.0 else 0.98 * self.step_cost + 0.02 * step_seconds
        if not self.enabled or experiment.diverged:
            return []
        step = experiment.step_count
        out: list[HistoryPoint] = []
        for name, probe in self.probes.items():
            sched = self._schedules[name]
            if sched.untuned or (step_seconds is not None and step % 50 == 0):
                # The step cost moves too (evaluation steps, the machine's load): retune first.
                sched.retune(self.step_cost, probe.share * self.budget, step)
            if not sched.due(step):
                continue
            t0 = self.clock()
            values = probe.fn(experiment)
            dt = self.clock() - t0
            self.probe_seconds += dt
            sched.last_step = step
            sched.update(dt, self.step_cost, probe.share * self.budget, step)
            if values:
                out.append(HistoryPoint(name, step, values, dt))
        return out


@dataclass
class RunHistory:
    """The points of one run, per analysis, in step order; thinned evenly past `max_points`."""

    max_points: int = 4000
    points: dict[str, list[HistoryPoint]] = field(default_factory=dict)

    def clear(self) -> None:
        self.points = {}

    def add(self, point: HistoryPoint) -> None:
        pts = self.points.setdefault(point.name, [])
        if pts and point.step <= pts[-1].step:
            if point.step == pts[-1].step:
                pts[-1] = point
                return
            pts.clear()  # time went backwards: a new run
        pts.append(point)
        if len(pts) > self.max_points:
            self.points[point.name] = pts[:-1:2] + [pts[-1]]

    def extend(self, points) -> None:
        for p in points or ():
            self.add(p)

    def __len__(self) -> int:
        return sum(len(v) for v in self.points.values())

    def series(self, name: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(steps, {value name: values}) of one analysis; a value missing at a step is NaN."""
        pts = self.points.get(name, [])
        steps = np.array([p.step for p in pts], dtype=np.int64)
        keys: list[str] = []
        for p in pts:
            for k in p.values:
                if k not in keys:
                    keys.append(k)
        return steps, {k: np.array([p.values.get(k, np.nan) for p in pts], dtype=float) for k in keys}


# -- the always-on analyses ---------------------------------------------------------------------
class CurvatureTracker:
    """λmax, λmin (extreme Ritz values) and tr H (Hutchinson) of the Hessian of the loss on the
    Curvature tab's fixed training subset.

    λmax and λmin each come from a short Lanczos run started at the top (bottom) Ritz vector of
    the last measurement (a random vector the first time); tr H from `trace_probes` fixed
    Rademacher vectors, so the curve is smooth in θ. The Hessian-vector products are the
    layer-wise ones (`engine.layerwise_hessian`) where the network allows, else they reuse one
    gradient graph (double backward). `residual_max` / `residual_min` are the Ritz residuals
    ‖Hv − λv‖ that Lanczos yields for free, so each point's precision is on record.
    """

    def __init__(self, lanczos_steps: int = 3, trace_probes: int = 2, seed: int = 0):
        self.lanczos_steps = lanczos_steps
        self.trace_probes = trace_probes
        self.seed = seed
        self._key: tuple | None = None
        self._top: torch.Tensor | None = None
        self._bottom: torch.Tensor | None = None
        self._warm = False

    def reset(self) -> None:
        self._key = self._top = self._bottom = None  # a new run or network: copy it, start afresh

    def _prepare(self, experiment: Experiment) -> None:
        key = (id(experiment.model), id(experiment.trainer.X_train), experiment.n_params)
        if key == self._key:
            return
        tr = experiment.trainer
        images = len(tuple(experiment.dataset.input_shape)) == 3
        X, y = analysis_subset(tr.X_train, tr.y_train, images, SpectrumSettings())
        self._model = experiment.model_copy()
        self._loss = loss_function(self._model, X, y, tr.config.loss)
        P = experiment.n_params
        self._probes = rademacher(self.trace_probes, P, self.seed + 1, torch.float32, experiment.device)
        start = rademacher(2, P, self.seed, torch.float32, experiment.device)
        self._top, self._bottom = start[0], start[1]
        self._warm = False
        self._key = key

    def __call__(self, experiment: Experiment) -> dict[str, float]:
        self._prepare(experiment)
        theta = experiment.theta().detach().clone()
        if not torch.isfinite(theta).all():
            return {}
        layerwise = layerwise_hessian(self._loss, theta)
        if layerwise is not None:
            hvp = layerwise.hvp  # the network is a chain of known layers: no autograd graph at all
        else:
            theta.requires_grad_(True)
            with torch.enable_grad():
                g = torch.autograd.grad(self._loss(theta), theta, create_graph=True)[0]

            def hvp(v: torch.Tensor) -> torch.Tensor:
                # One vector at a time: on small networks a batched double backward costs more per
                # vector than separate ones. The gradient of gᵀv, not grad_outputs=v: the latter
                # imports sympy (seconds) on its first use.
                return torch.autograd.grad(g @ v, theta, retain_graph=True)[0]

        # From random vectors (a new run) a few steps would land far inside the spectrum; on a
        # big network (a CNN) a long first run would hold training up for seconds.
        cold = COLD_LANCZOS_STEPS if experiment.n_params <= COLD_LIMIT else self.lanczos_steps + 2
        m = self.lanczos_steps if self._warm else max(self.lanczos_steps, cold)
        lmax, rmax, self._top, Q1, HQ1 = _lanczos_extreme(hvp, self._top, m, top=True)
        lmin, rmin, self._bottom, Q2, HQ2 = _lanczos_extreme(hvp, self._bottom, m, top=False)
        self._warm = True
        trace = _deflated_trace(hvp, torch.cat([Q1, Q2]), torch.cat([HQ1, HQ2]), self._probes)
        return {"lambda_max": lmax, "lambda_min": lmin, "trace": trace, "residual_max": rmax,
                "residual_min": rmin}


def _deflated_trace(hvp: Callable[[torch.Tensor], torch.Tensor], Q: torch.Tensor, HQ: torch.Tensor,
                    probes: torch.Tensor) -> float:
    """tr H = tr(UᵀHU) + tr of H on the rest, U an orthonormal basis of the Lanczos vectors
    (their products are already known), the rest by Hutchinson on probes projected off U.
    The few large eigenvalues that make plain Hutchinson noisy live in span(U) (Hutch++)."""
    Qd, HQd = Q.double(), HQ.double()
    U, R = torch.linalg.qr(Qd.T)  # Qᵀ = U R, so H U = (H Q)ᵀ R⁻¹
    d = R.diagonal().abs()
    if bool((d > 1e-6 * d.max()).all()):
        HU = torch.linalg.solve_triangular(R, HQd.T, upper=True, left=False)
    else:  # the two Krylov spaces overlap: keep the first block (orthonormal already)
        k = len(Q) // 2
        U, HU = Qd[:k].T, HQd[:k].T
    inside = float((U * HU).sum())
    rest = []
    for r in probes:
        r = r.double() - U @ (U.T @ r.double())
        rest.append(float(r @ hvp(r.to(probes.dtype)).double()))
    return inside + float(np.mean(rest))


def _lanczos_extreme(hvp: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, steps: int,
                     top: bool) -> tuple[float, float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A few Lanczos steps from `start` (full re-orthogonalisation): the largest (or smallest)
    Ritz value, its residual norm |β·s_m|, its Ritz vector, the Lanczos vectors (rows) and
    their Hessian products."""
    q = start / start.norm()
    basis, products, alphas, betas = [], [], [], []
    for _ in range(min(steps, start.numel())):
        basis.append(q)
        w = hvp(q).detach()
        products.append(w)
        alphas.append(float(w @ q))
        for u in basis:  # twice is enough
            w = w - (w @ u) * u
        for u in basis:
            w = w - (w @ u) * u
        beta = float(w.norm())
        betas.append(beta)
        if beta <= 1e-10 * max(abs(a) for a in alphas):
            break
        q = w / beta
    m = len(alphas)
    T = np.diag(alphas) + np.diag(betas[: m - 1], 1) + np.diag(betas[: m - 1], -1)
    vals, vecs = np.linalg.eigh(T)
    i = m - 1 if top else 0
    ritz = sum(float(vecs[j, i]) * basis[j] for j in range(m))
    return (float(vals[i]), abs(betas[m - 1] * float(vecs[m - 1, i])), ritz / ritz.norm(), torch.stack(basis),
            torch.stack(products))


class CollapseTracker:
    """NC1 of every layer on a fixed, class-balanced subset of training inputs (the same subset
    the Representations tab follows by default), keyed by layer name."""

    def __init__(self, points: int = COLLAPSE_POINTS):
        self.points = points
        self._key: tuple | None = None

    def reset(self) -> None:
        self._key = None

    def __call__(self, experiment: Experiment) -> dict[str, float]:
        ds = experiment.dataset
        key = (id(experiment.model), id(ds), experiment.n_params)
        if key != self._key:
            idx = fixed_subset(ds.y_train, self.points, seed=0)
            self._X, self._y = ds.X_train[idx], ds.y_train[idx].numpy()
            self._model = experiment.model_copy()
            self._key = key
        set_flat_params(self._model, experiment.theta().detach())
        out: dict[str, float] = {}
        for name, F in layer_activations(self._model, self._X).items():
            if torch.isfinite(F).all():
                out[name] = neural_collapse_nc1(F, self._y)
        return out


def default_probes() -> dict[str, HistoryProbe]:
    """The analyses every run records: curvature (most of the budget) and NC1."""
    curvature, collapse = CurvatureTracker(), CollapseTracker()
    return {"curvature": HistoryProbe(curvature, share=0.75, reset=curvature.reset),
            "nc1": HistoryProbe(collapse, share=0.25, reset=collapse.reset)}


__all__ = ["HistoryPoint", "HistoryProbe", "HistoryRecorder", "RunHistory", "CurvatureTracker",
           "CollapseTracker", "default_probes", "nice_stride", "DEFAULT_BUDGET"]
