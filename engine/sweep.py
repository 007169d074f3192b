"""Sweeps past one machine: fine loss surfaces and multi-seed experiments sharded over Ray.

A sweep is a list of independent tasks — the tiles of a loss-surface grid, or one seed of the
lottery, sharpness or double-descent experiment — run on a Ray cluster (a local one by default,
or an existing one by its address). Results stream back as tasks finish (`ray.wait`), so the
figure fills in tile by tile. A task whose worker dies (a killed process, a lost node) is
retried by Ray (`max_retries`) and, should those retries run out, submitted again here.

Every sweep is a generator of typed events (`SweepStarted`, `TileDone`, `SeedDone`,
`TaskRetried`, `SweepFinished`), like the rest of the engine: the command line prints them and
updates a PNG, the GUI or a test could consume them the same way. Closing the generator cancels
the tasks still pending. `backend="serial"` runs the same tasks one by one in this process,
without Ray.

Ray is an optional dependency (`pip install -e ".[cluster]"`); without it a Ray sweep raises
`RayMissing`, whose message says how to install it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from .device import set_thread_count

if TYPE_CHECKING:  # sweep builds on landscape, which it imports only when used
    from .landscape import Contours, SurfaceGrid

INSTALL_HINT = ('sweeps run on Ray, which is not installed here. Install it with\n'
                '    pip install -e ".[cluster]"\n'
                'from the project folder (or: pip install "ray>=2.9"), then run the sweep again.')
BACKENDS = ("ray", "serial")
SEED_KINDS = ("lottery", "sharpness", "double-descent")
SURFACE_AXES = ("filter", "layer", "none", "hessian")


class RayMissing(RuntimeError):
    """Ray is not installed; the message says how to install it."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


class SweepError(RuntimeError):
    """A task failed for a reason other than a lost worker (or kept losing its worker)."""


# -- events ----------------------------------------------------------------------------------
@dataclass
class SweepStarted:
    kind: str  # "surface", "lottery", "sharpness", "double-descent"
    n_tasks: int
    workers: int  # tasks in flight at once
    backend: str
    text: str  # what is being computed, for a progress line


@dataclass
class TileDone:
    """One tile of the surface grid is in: Z[i0:i1, j0:j1]; `grid` is the whole grid so far
    (NaN where tiles are still out)."""

    index: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    Z: np.ndarray
    grid: np.ndarray
    done: int  # tasks finished
    total: int
    points_done: int
    points_total: int


@dataclass
class SeedDone:
    """One seed of a multi-seed sweep is in."""

    seed: int
    numbers: dict[str, np.ndarray]
    done: int
    total: int


@dataclass
class TaskRetried:
    """A task's worker was lost; the task was submitted again."""

    key: Any
    attempt: int  # 1 for the first resubmission
    reason: str


@dataclass
class TaskDone:
    """What `run_tasks` yields for a finished task."""

    key: Any
    value: Any
    done: int
    total: int


@dataclass
class SweepFinished:
    result: SurfaceResult | SeedSweepResult
    seconds: float
    retried: int


# -- running tasks ---------------------------------------------------------------------------
@dataclass
class Task:
    """`fn(shared, *args)`: `shared` is the sweep's common payload (sent to each node once)."""

    key: Any
    fn: Callable[..., Any]
    args: tuple = ()


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _ray():
    try:
        import ray
    except ImportError:
        raise RayMissing() from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None,
            object_store_mb: int | None = None) -> dict[str, float]:
    """Join the Ray cluster at `address` (shipping the engine package to its nodes), or start a
    local one (num_cpus: its size; default all cores), unless this process is already connected.
    Returns the cluster's resources."""
    ray = _ray()
    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
        if address:
            import engine

            kw["address"] = address
            # The cluster's nodes get this engine with the job (they need torch, numpy and scipy
            # installed); a local cluster imports it from here.
            kw["runtime_env"] = {"py_modules": [engine]}
        else:
            if num_cpus is not None:
                kw["num_cpus"] = int(num_cpus)
            if object_store_mb is not None:
                kw["object_store_memory"] = int(object_store_mb) << 20
        try:
            ray.init(**kw)
        except ConnectionError as exc:
            raise SweepError(f"could not reach the Ray cluster at {address!r}: {exc}") from None
    return dict(ray.cluster_resources())


def _call(fn: Callable[..., Any], shared: Any, args: tuple, cpus: float) -> Any:
    # A worker computes with the cores it was given, not with every core of its node.
    set_thread_count(max(1, int(cpus)))
    return fn(shared, *args)


def _lost_worker(exc: BaseException) -> bool:
    """Whether a task failed because its worker or node went away (worth resubmitting)."""
    import ray.exceptions as rex

    lost = tuple(getattr(rex, n) for n in ("WorkerCrashedError", "NodeDiedError", "ObjectLostError",
                                           "OwnerDiedError", "LocalRayletDiedError") if hasattr(rex, n))
    if isinstance(exc, lost):
        return True
    if isinstance(exc, rex.RayTaskError):
        return isinstance(exc.cause, lost + (SystemExit, KeyboardInterrupt))
    return False


def _task_message(exc: BaseException) -> str:
    import ray.exceptions as rex

    cause = exc.cause if isinstance(exc, rex.RayTaskError) and exc.cause is not None else exc
    return f"{type(cause).__name__}: {cause}"


def run_tasks(tasks: Sequence[Task], shared: Any = None, backend: str = "ray", workers: int | None = None,
              cpus_per_task: float = 1, gpus_per_task: float = 0, max_retries: int = 2,
              resubmits: int = 2) -> Iterator[TaskDone | TaskRetried]:
    """Run every task, yielding a `TaskDone` as each finishes (in the order they finish).

    Ray: at most `workers` tasks in flight (default: as many as the cluster's CPUs allow); Ray
    retries a task whose worker dies `max_retries` times, and after that it is submitted again
    here, up to `resubmits` times, with a `TaskRetried` event. A task that raises an error of its
    own is not retried: the sweep stops with a `SweepError` that names the task and the error.
    Closing the generator cancels the tasks still pending.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    total = len(tasks)
    if backend == "serial":
        for done, t in enumerate(tasks, start=1):
            yield TaskDone(t.key, t.fn(shared, *t.args), done, total)
        return
    ray = _ray()
    if not ray.is_initialized():
        connect()
    if workers is None:
        cpus = float(ray.cluster_resources().get("CPU", 1))
        workers = max(1, int(cpus // max(cpus_per_task, 1e-9)))
    workers = max(1, int(workers))
    remote = ray.remote(_call).options(num_cpus=cpus_per_task, num_gpus=gpus_per_task,
                                       max_retries=max_retries, retry_exceptions=False)
    shared_ref = ray.put(shared)
    queue = list(range(total))
    queue.reverse()  # pop() takes the first task first
    attempts = [0] * total
    pending: dict[Any, int] = {}

    def submit(i: int) -> None:
        t = tasks[i]
        pending[remote.remote(t.fn, shared_ref, t.args, cpus_per_task)] = i

    done = 0
    try:
        while queue or pending:
            while queue and len(pending) < workers:
                submit(queue.pop())
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except Exception as exc:
                    if not _lost_worker(exc):
                        raise SweepError(f"task {tasks[i].key!r} failed: {_task_message(exc)}") from None
                    attempts[i] += 1
                    if attempts[i] > resubmits:
                        raise SweepError(f"task {tasks[i].key!r} lost its worker {attempts[i]} times; "
                                         f"last: {_task_message(exc)}") from None
                    queue.append(i)  # next to go
                    yield TaskRetried(tasks[i].key, attempts[i], _task_message(exc))
                    continue
                done += 1
                yield TaskDone(tasks[i].key, value, done, total)
    finally:
        for ref in pending:
            ray.cancel(ref, force=False)


# -- surfaces --------------------------------------------------------------------------------
def _tensor(a: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    # Arrays from Ray's object store are read-only views: copy before handing them to torch.
    return torch.from_numpy(np.array(a, copy=True)).to(device)


@dataclass
class SurfaceProblem:
    """Everything a tile needs: the network (its structure), the data, θ and the plane.

    Arrays are numpy on the CPU; a worker rebuilds the loss function from them.
    """

    model: nn.Module
    X: np.ndarray
    y: np.ndarray
    loss: str
    theta: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    alphas: np.ndarray
    betas: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)  # settings and provenance, for the JSON

    def loss_fn(self, device: str | torch.device = "cpu"):
        from .params import loss_function

        model = self.model.to(device)
        X, y = _tensor(self.X, device), _tensor(self.y, device)
        return loss_function(model, X, y, self.loss)


@dataclass
class SurfaceResult:
    """A finished surface: Z[i, j] = L(θ + αᵢ·d₁ + βⱼ·d₂)."""

    alphas: np.ndarray
    betas: np.ndarray
    Z: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def tiles(n_a: int, n_b: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Row-major tiles (i0, i1, j0, j1) of at most tile×tile points covering an n_a×n_b grid."""
    if tile < 1:
        raise ValueError(f"a tile holds at least 1×1 points, got {tile}")
    return [(i, min(i + tile, n_a), j, min(j + tile, n_b))
            for i in range(0, n_a, tile) for j in range(0, n_b, tile)]


def surface_tile(problem: SurfaceProblem, i0: int, i1: int, j0: int, j1: int,
                 device: str = "cpu") -> np.ndarray:
    """Z on the tile rows i0:i1, columns j0:j1, evaluated batched (engine.landscape.loss_surface)."""
    from .device import pick_device
    from .landscape import loss_surface

    dev = pick_device(device)
    L = problem.loss_fn(dev)
    Z = loss_surface(L, _tensor(problem.theta, dev), _tensor(problem.d1, dev), _tensor(problem.d2, dev),
                     _tensor(problem.alphas[i0:i1], dev), _tensor(problem.betas[j0:j1], dev))
    return Z.detach().cpu().numpy()


def single_process_surface(problem: SurfaceProblem, device: str = "cpu") -> np.ndarray:
    """The whole grid in one call, in this process: what a sweep's merged tiles must equal."""
    return surface_tile(problem, 0, len(problem.alphas), 0, len(problem.betas), device)


def surface_sweep(problem: SurfaceProblem, tile: int = 17, backend: str = "ray", workers: int | None = None,
                  device: str = "cpu", gpus_per_task: float = 0, max_retries: int = 2, resubmits: int = 2,
                  tile_fn: Callable[..., np.ndarray] = surface_tile
                  ) -> Iterator[SweepStarted | TileDone | TaskRetried | SweepFinished]:
    """The surface of `problem`, one tile per task; yields each tile as it lands, then the result.

    `tile_fn(problem, i0, i1, j0, j1, device)` evaluates one tile (default `surface_tile`).
    """
    t0 = time.perf_counter()
    na, nb = len(problem.alphas), len(problem.betas)
    parts = tiles(na, nb, tile)
    grid = np.full((na, nb), np.nan, dtype=np.float64)
    n_workers = workers if backend == "ray" else 1
    yield SweepStarted("surface", len(parts), n_workers or 0, backend,
                       f"{na}×{nb} loss surface in {len(parts)} tiles of up to {tile}×{tile} points")
    tasks = [Task(k, tile_fn, (*p, device)) for k, p in enumerate(parts)]
    retried, points = 0, 0
    for ev in run_tasks(tasks, problem, backend, workers, 1, gpus_per_task, max_retries, resubmits):
        if isinstance(ev, TaskRetried):
            retried += 1
            yield ev
            continue
        i0, i1, j0, j1 = parts[ev.key]
        z = np.asarray(ev.value)
        if z.shape != (i1 - i0, j1 - j0):
            raise SweepError(f"tile {ev.key} came back with shape {z.shape}, expected {(i1 - i0, j1 - j0)}")
        grid[i0:i1, j0:j1] = z
        points += z.size
        yield TileDone(ev.key, (i0, i1), (j0, j1), z, grid.copy(), ev.done, ev.total, points, na * nb)
    info = {**problem.info, "tile": tile, "tiles": len(parts), "backend": backend, "workers": n_workers,
            "retried_tasks": retried, "seconds": round(time.perf_counter() - t0, 3)}
    yield SweepFinished(SurfaceResult(problem.alphas.copy(), problem.betas.copy(), grid, info),
                        time.perf_counter() - t0, retried)


def prepare_surface(config, steps: int = 300, resolution: int = 101, span: float = 1.0, axes: str = "filter",
                    seed: int = 0, max_samples: int | None = None,
                    progress: Callable[[int, float], None] | None = None) -> SurfaceProblem:
    """Train the experiment of `config` (an ExperimentConfig) for `steps` steps here, then set the
    plane through its weights. `progress(step, train_loss)` is called every few steps."""
    from .experiment import Experiment
    from .landscape import LandscapeSettings, data_from_experiment, make_plane

    if axes not in SURFACE_AXES:
        raise ValueError(f"a sweep's axes are one of {', '.join(SURFACE_AXES)} (the PCA plane needs the "
                         f"live path: use the Landscape tab), got {axes!r}")
    if resolution < 3 or resolution > 1001:
        raise ValueError(f"the grid's resolution must lie between 3 and 1001, got {resolution}")
    if not (math.isfinite(span) and span > 0):
        raise ValueError(f"the range must be a positive number, got {span}")
    if steps < 0:
        raise ValueError(f"train at least 0 steps, got {steps}")
    exp = Experiment(config)
    last = None
    for k in range(steps):
        last = exp.step()
        if last.diverged:
            raise ValueError(f"training diverged at step {exp.step_count}: no surface to sweep")
        if progress is not None and (k + 1) % max(1, steps // 20) == 0:
            progress(exp.step_count, float(last.train_loss))
    model = exp.model_copy().to("cpu")
    data = data_from_experiment(exp, model=model, max_samples=max_samples)
    theta = exp.theta().detach().to("cpu", torch.float32)
    settings = LandscapeSettings(axes=axes, span=span, resolution=resolution | 1, seed=seed,
                                 max_samples=max_samples)
    plane = make_plane(data, theta, settings, step=exp.step_count)
    grid = np.linspace(-span, span, resolution, dtype=np.float32)
    cfg = exp.config
    info = {"experiment": cfg.to_dict(), "steps": exp.step_count, "axes": axes, "seed": seed, "span": span,
            "resolution": resolution, "samples": int(len(data.y)), "samples_total": int(data.n_train_total),
            "n_params": int(theta.numel()), "plane": plane.describe(),
            "train_loss": float(last.train_loss) if last is not None else None}
    return SurfaceProblem(model, data.X.cpu().numpy(), data.y.cpu().numpy(), data.loss, theta.numpy(),
                          plane.d1.detach().cpu().to(torch.float32).numpy(),
                          plane.d2.detach().cpu().to(torch.float32).numpy(), grid, grid.copy(), info)


# -- multi-seed sweeps -----------------------------------------------------------------------
@dataclass
class SeedSweepResult:
    """Per-seed arrays of one experiment, stacked: numbers[name] has one row per seed."""

    kind: str
    seeds: np.ndarray
    numbers: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    def mean_sd(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        a = np.asarray(self.numbers[name], dtype=np.float64)
        return np.nanmean(a, 0), (np.nanstd(a, 0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1:]))


def lottery_seed(settings: dict, seed: int) -> dict[str, np.ndarray]:
    """One seed of iterative magnitude pruning with its controls: test accuracy per round."""
    from .pruning import LotteryConfig, lottery_run

    cfg = replace(LotteryConfig.from_dict(settings), seeds=(int(seed),), device="cpu")
    rounds = [r for r in lottery_run(cfg, progress=False) if hasattr(r, "test_acc")]
    out: dict[str, np.ndarray] = {}
    for control in cfg.controls:
        rs = sorted((r for r in rounds if r.control == control), key=lambda r: r.round)
        if control != "ticket" and (not rs or rs[0].round != 0):  # round 0: the dense network, shared
            rs = [r for r in rounds if r.control == "ticket" and r.round == 0] + rs
        out[f"{control}_remaining"] = np.array([r.remaining for r in rs])
        out[f"{control}_test_acc"] = np.array([r.test_acc for r in rs])
    return out


def sharpness_seed(settings: dict, seed: int) -> dict[str, np.ndarray]:
    """One seed of the batch-size experiment: λmax, ε-sharpness and the gap per batch size."""
    from .sharpness import MinimumReport, SharpnessConfig, batch_size_sweep

    d = dict(settings)
    for key in ("hidden", "batch_sizes"):
        if key in d:
            d[key] = tuple(int(v) for v in d[key])
    cfg = replace(SharpnessConfig(**d), seed=int(seed), device="cpu")
    reports = [r for r in batch_size_sweep(cfg) if isinstance(r, MinimumReport)]
    return {"batch_size": np.array([r.batch_size for r in reports], dtype=np.float64),
            "lambda_max": np.array([r.lambda_max for r in reports]),
            "eps_sharpness": np.array([r.eps_sharpness for r in reports]),
            "test_minus_train_loss": np.array([r.gap for r in reports]),
            "test_acc": np.array([r.test_acc for r in reports])}


def double_descent_seed(settings: dict, seed: int) -> dict[str, np.ndarray]:
    """One seed of the random-features sweep: test and train error against the feature count."""
    from .double_descent import random_features_sweep

    d = dict(settings)
    if d.get("feature_counts") is not None:
        d["feature_counts"] = [int(p) for p in d["feature_counts"]]
    r = random_features_sweep(seed=int(seed), device="cpu", **d)
    return {"counts": np.asarray(r.counts, dtype=np.float64), "test_error": np.asarray(r.test_error),
            "train_error": np.asarray(r.train_error), "weight_norm": np.asarray(r.weight_norm)}


SEED_FUNCTIONS: dict[str, Callable[[dict, int], dict[str, np.ndarray]]] = {
    "lottery": lottery_seed, "sharpness": sharpness_seed, "double-descent": double_descent_seed}


def seed_sweep(kind: str, seeds: Sequence[int], settings: dict | None = None, backend: str = "ray",
               workers: int | None = None, max_retries: int = 2, resubmits: int = 2,
               ) -> Iterator[SweepStarted | SeedDone | TaskRetried | SweepFinished]:
    """One task per seed of the `kind` experiment (lottery, sharpness, double-descent), with the
    experiment's settings (its config's fields); yields each seed as it lands, then all stacked
    in seed order."""
    if kind not in SEED_FUNCTIONS:
        raise ValueError(f"unknown sweep {kind!r}; choose surface or one of {', '.join(SEED_FUNCTIONS)}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"give one or more different seeds, got {seeds}")
    t0 = time.perf_counter()
    settings = dict(settings or {})
    yield SweepStarted(kind, len(seeds), (workers or 0) if backend == "ray" else 1, backend,
                       f"{kind} on {len(seeds)} seeds ({', '.join(map(str, seeds))})")
    fn = SEED_FUNCTIONS[kind]
    tasks = [Task(s, fn, (s,)) for s in seeds]
    got: dict[int, dict[str, np.ndarray]] = {}
    retried = 0
    for ev in run_tasks(tasks, settings, backend, workers, 1, 0, max_retries, resubmits):
        if isinstance(ev, TaskRetried):
            retried += 1
            yield ev
            continue
        got[ev.key] = ev.value
        yield SeedDone(ev.key, ev.value, ev.done, ev.total)
    names = list(got[seeds[0]])
    stacked = {}
    for name in names:
        rows = [np.asarray(got[s][name], dtype=np.float64) for s in seeds]
        width = max(len(r) for r in rows)
        stacked[name] = np.stack([np.pad(r, (0, width - len(r)), constant_values=np.nan) for r in rows])
    info = {"kind": kind, "settings": settings, "backend": backend, "retried_tasks": retried,
            "seconds": round(time.perf_counter() - t0, 3)}
    yield SweepFinished(SeedSweepResult(kind, np.array(seeds), stacked, info), time.perf_counter() - t0, retried)


# -- files -----------------------------------------------------------------------------------
def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    return _atomic(path, write)


def _save_json(path: Path, data: dict) -> Path:
    return _atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1, default=float), encoding="utf-8"))


SURFACE_FORMAT = "saddle-lab surface 1"
SEEDS_FORMAT = "saddle-lab seed sweep 1"


def save_surface(stem: str | Path, result: SurfaceResult) -> tuple[Path, Path]:
    """`stem`.npz (alphas, betas, loss) and `stem`.json (settings and provenance)."""
    stem = Path(stem)
    npz = _save_npz(stem.with_suffix(".npz"), {"alphas": np.asarray(result.alphas, np.float64),
                                                "betas": np.asarray(result.betas, np.float64),
                                                "loss": np.asarray(result.Z, np.float64)})
    meta = _save_json(stem.with_suffix(".json"), {"format": SURFACE_FORMAT, **result.info})
    return npz, meta


def load_surface(path: str | Path) -> SurfaceResult:
    """A surface written by `save_surface` (give the .npz or the .json); read without unpickling.
    Raises ValueError naming what is wrong with a file that is not one."""
    path = Path(path)
    npz, meta_path = path.with_suffix(".npz"), path.with_suffix(".json")
    if not npz.is_file():
        raise ValueError(f"{npz.name}: no such file (a surface is saved as .npz with a .json beside it)")
    try:
        with np.load(npz, allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in f.files}
    except Exception as exc:  # a truncated or foreign file: say so, never a traceback
        raise ValueError(f"{npz.name} could not be read as a surface ({exc.__class__.__name__})") from None
    missing = [k for k in ("alphas", "betas", "loss") if k not in arrays]
    if missing:
        raise ValueError(f"{npz.name} is not a saved surface: it lacks {', '.join(missing)}")
    try:
        alphas, betas, Z = (arrays[k].astype(np.float64) for k in ("alphas", "betas", "loss"))
    except (TypeError, ValueError):
        raise ValueError(f"{npz.name}: the surface's arrays are not numbers") from None
    if alphas.ndim != 1 or betas.ndim != 1 or Z.shape != (len(alphas), len(betas)):
        raise ValueError(f"{npz.name}: the grid is {Z.shape} but the axes have {alphas.shape} and {betas.shape} points")
    if len(alphas) < 2 or len(betas) < 2:
        raise ValueError(f"{npz.name}: a surface needs at least 2×2 points, got {Z.shape}")
    info: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            info = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{meta_path.name}: not valid JSON ({exc})") from None
        if not isinstance(info, dict) or info.get("format") != SURFACE_FORMAT:
            raise ValueError(f"{meta_path.name} does not describe a saved surface")
    return SurfaceResult(alphas, betas, Z, info)


@dataclass
class SavedSurface:
    """A surface read from a sweep's file, made ready to draw."""

    info: dict
    grid: SurfaceGrid
    contours: Contours
    roughness: float


def saved_surface(path, log_scale: bool = True) -> SavedSurface:
    """Read a surface written by `save_surface` (ValueError, with the reason, for a file that is
    not one) and contour it in `log_scale`."""
    from .landscape import SurfaceGrid, grid_contours, roughness

    result = load_surface(path)
    n = result.Z.size
    grid = SurfaceGrid(result.alphas, result.betas, result.Z, 0, 1, n, n)
    return SavedSurface(result.info, grid, grid_contours(grid, log_scale), roughness(result.Z))



def save_seed_sweep(stem: str | Path, result: SeedSweepResult) -> tuple[Path, Path]:
    stem = Path(stem)
    npz = _save_npz(stem.with_suffix(".npz"), {"seeds": result.seeds, **result.numbers})
    meta = _save_json(stem.with_suffix(".json"), {"format": SEEDS_FORMAT, "seeds": result.seeds.tolist(),
                                                  **result.info})
    return npz, meta


__all__ = ["INSTALL_HINT", "RayMissing", "SweepError", "SweepStarted", "TileDone", "SeedDone", "TaskRetried",
           "TaskDone", "SweepFinished", "Task", "ray_available", "connect", "run_tasks", "SurfaceProblem",
           "SurfaceResult", "tiles", "surface_tile", "single_process_surface", "surface_sweep",
           "prepare_surface", "SeedSweepResult", "lottery_seed", "sharpness_seed", "double_descent_seed",
           "SEED_FUNCTIONS", "seed_sweep", "save_surface", "load_surface", "save_seed_sweep",
           "SavedSurface", "saved_surface"]
