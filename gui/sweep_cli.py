"""`saddle-lab sweep`: fine surfaces and multi-seed sweeps on Ray, headless.

Prints a progress line per task, redraws a PNG as tasks land (the surface fills in tile by tile)
and writes the result as .npz + .json, which the Landscape tab opens (Open surface…).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

USAGE = """Sweeps over a Ray cluster (local by default; --address for an existing one).

    saddle-lab sweep surface --dataset mri --resolution 101 --out out/     a fine loss surface
    saddle-lab sweep surface --dataset ~/scans --samples 256 --out out/    your image folder
    saddle-lab sweep lottery --seeds 0 1 2 3 --out out/                    IMP, one seed a task
    saddle-lab sweep sharpness --seeds 0 1 2 --out out/
    saddle-lab sweep double-descent --seeds 0 1 2 3 4 --out out/
    (also: main.py --headless --sweep KIND ...)
"""

PNG_INTERVAL = 0.5  # s between redraws of the PNG while tasks land


def parse_sweep_args(argv: list[str]) -> argparse.Namespace:
    from engine.sweep import SEED_KINDS, SURFACE_AXES

    p = argparse.ArgumentParser(prog="saddle-lab sweep", description=USAGE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=("surface", *SEED_KINDS), help="what to sweep")
    p.add_argument("--out", default="out", help="folder for the PNG, .npz and .json (default: out)")
    p.add_argument("--address", default=None, help="an existing Ray cluster (e.g. ray://head:10001 or auto); "
                   "default: start a local one")
    p.add_argument("--workers", type=int, default=None, help="tasks in flight at once (default: every CPU)")
    p.add_argument("--gpus-per-task", type=float, default=0.0, help="GPUs each task asks Ray for (surface)")
    p.add_argument("--device", default="cpu", help="where a surface tile computes: cpu, cuda, auto")
    p.add_argument("--retries", type=int, default=2, help="resubmissions of a task whose worker died")
    g = p.add_argument_group("surface")
    g.add_argument("--dataset", default=None, help="moons, digits, mri, … or a folder with one subfolder per class")
    g.add_argument("--steps", type=int, default=None, help="training steps before the surface (default: 300)")
    g.add_argument("--resolution", type=int, default=101, help="grid points per axis (default: 101)")
    g.add_argument("--range", dest="span", type=float, default=1.0, help="grid half-width (default: 1.0)")
    g.add_argument("--axes", default="filter", choices=SURFACE_AXES, help="the plane's directions")
    g.add_argument("--seed", type=int, default=0, help="seed of the random directions and the network")
    g.add_argument("--samples", type=int, default=None, help="evaluate on this many training samples")
    g.add_argument("--tile", type=int, default=17, help="tile edge in grid points (default: 17)")
    s = p.add_argument_group("seed sweeps")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one task per seed")
    s.add_argument("--settings", default=None,
                   help="JSON of the experiment's settings, e.g. '{\"rounds\": 6, \"steps\": 300}'")
    return p.parse_args(argv)


def sweep_main(argv: list[str]) -> int:
    args = parse_sweep_args(argv)
    from engine.sweep import RayMissing, SweepError, ray_available

    if not ray_available():
        print(f"saddle-lab sweep: {RayMissing()}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except RayMissing as exc:
        print(f"saddle-lab sweep: {exc}", file=sys.stderr)
    except (ValueError, KeyError, OSError, SweepError) as exc:
        print(f"saddle-lab sweep: {exc.args[0] if exc.args else exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("saddle-lab sweep: stopped", file=sys.stderr)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    return 2


def _run(args: argparse.Namespace) -> int:
    from engine import sweep

    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    settings = {}
    if args.settings:
        try:
            settings = json.loads(args.settings)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--settings is not valid JSON ({exc.msg})") from None
        if not isinstance(settings, dict):
            raise ValueError("--settings is a JSON object of the experiment's settings")
    if args.kind == "surface":
        from .headless import config_for

        config = config_for(args.dataset)
        from dataclasses import replace

        config = replace(config, seed=args.seed)
        steps = 300 if args.steps is None else args.steps
        print(f"training {config.dataset} for {steps} steps here, then the {args.resolution}×{args.resolution} "
              f"surface on the cluster", flush=True)
        problem = sweep.prepare_surface(config, steps, args.resolution, args.span, args.axes, args.seed,
                                        args.samples,
                                        progress=lambda s, loss: print(f"  step {s}: train loss {loss:.4f}",
                                                                       flush=True))
        resources = sweep.connect(args.address)
        print(_cluster_line(resources), flush=True)
        events = sweep.surface_sweep(problem, args.tile, "ray", args.workers, args.device, args.gpus_per_task,
                                     resubmits=args.retries)
        stem = out / "surface"
        axes = (problem.alphas, problem.betas)
    else:
        resources = sweep.connect(args.address)
        print(_cluster_line(resources), flush=True)
        events = sweep.seed_sweep(args.kind, args.seeds, settings, "ray", args.workers, resubmits=args.retries)
        stem = out / args.kind.replace("-", "_")
        axes = None
    figure = SweepFigure(args.kind)
    try:
        _stream(events, figure, stem, axes)
    finally:
        events.close()
        figure.close()
    return 0


def _stream(events, figure: SweepFigure, stem: Path, axes) -> None:
    from engine import sweep

    png = stem.with_suffix(".png")
    last_draw = 0.0
    for ev in events:
        now = time.perf_counter()
        if isinstance(ev, sweep.SweepStarted):
            print(f"{ev.text}, on {ev.workers or 'all'} workers", flush=True)
        elif isinstance(ev, sweep.TaskRetried):
            print(f"  task {ev.key}: worker lost ({ev.reason}); submitted again (attempt {ev.attempt + 1})",
                  flush=True)
        elif isinstance(ev, sweep.TileDone):
            print(f"  tile {ev.done}/{ev.total}: {ev.points_done:,} of {ev.points_total:,} points", flush=True)
            figure.surface(ev.grid, axes, progress=f"{ev.done} of {ev.total} tiles in")
            if now - last_draw > PNG_INTERVAL or ev.done == ev.total:
                figure.save(png)
                last_draw = now
        elif isinstance(ev, sweep.SeedDone):
            print(f"  seed {ev.seed} done ({ev.done}/{ev.total})", flush=True)
            figure.seeds_so_far(ev)
            figure.save(png)
        elif isinstance(ev, sweep.SweepFinished):
            r = ev.result
            if isinstance(r, sweep.SurfaceResult):
                files = sweep.save_surface(stem, r)
                figure.surface(r.Z, axes, final=True)
            else:
                files = sweep.save_seed_sweep(stem, r)
                figure.seed_result(r)
            figure.save(png)
            print(f"done in {ev.seconds:.1f} s ({ev.retried} task{'s' if ev.retried != 1 else ''} resubmitted)")
            for f in (*files, png):
                print(f)


def _cluster_line(resources: dict) -> str:
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    return f"Ray cluster: {cpus:g} CPUs" + (f", {gpus:g} GPUs" if gpus else "")


# -- the figure -------------------------------------------------------------------------------
SEED_PLOTS = {
    # kind: (title, x, x label, [(y, label)], y label, log x, log y)
    "lottery": ("Lottery tickets: test accuracy against weights left (mean ± s.d. over seeds)",
                "{c}_remaining", "share of weights left",
                [("ticket", "winning ticket"), ("reinit", "same mask, new weights"), ("random", "random mask")],
                "test accuracy", True, False),
    "sharpness": ("Sharpness against batch size (mean ± s.d. over seeds)", "batch_size", "batch size",
                  [("lambda_max", "λmax")], "λmax of the Hessian", True, True),
    "double-descent": ("Double descent: random features (mean ± s.d. over seeds)", "counts", "features p",
                       [("test_error", "test error")], "test mean squared error",
                       True, True),
}


class SweepFigure:
    """The sweep's picture, drawn offscreen with the app's own plot widgets."""

    def __init__(self, kind: str, size: tuple[int, int] = (900, 640)):
        from . import plots
        from .app import make_app

        make_app(offscreen=True)
        self.kind = kind
        self.view = plots.make_view()
        self.view.resize(*size)
        if kind == "surface":
            self.map = plots.ImagePlot(self.view, "Loss surface (filling in as tiles land)", "α  (along d₁)",
                                       "β  (along d₂)", cmap="viridis", bar_label="log₁₀ train loss")
            import pyqtgraph as pg

            self.map.bar.axis.enableAutoSIPrefix(False)  # a log-loss bar reads in plain numbers
            # Tiles still out are covered in grey, so the picture visibly fills in.
            self.pending = pg.ImageItem(axisOrder="row-major")
            self.map.plot.addItem(self.pending)
            self.contours = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((255, 255, 255, 140), width=1))
            self.map.plot.addItem(self.contours)
        else:
            title, _, xlabel, ys, ylabel, logx, logy = SEED_PLOTS[kind]
            self.plot = plots.add_plot(self.view, title, xlabel, ylabel, legend="bottom-left")
            self.plot.setLogMode(logx, logy)
            self.curves = {}
            for k, (key, label) in enumerate(ys):
                self.curves[key] = plots.curve(self.plot, k, label, symbol="o", symbolSize=6)
                # mean ± s.d. as two thin dashed lines
                self.curves[key + "_hi"] = plots.curve(self.plot, k, None, width=1.0, dashed=True, connect="finite")
                self.curves[key + "_lo"] = plots.curve(self.plot, k, None, width=1.0, dashed=True, connect="finite")
            self._rows: dict[int, dict[str, np.ndarray]] = {}

    def surface(self, Z: np.ndarray, axes: tuple[np.ndarray, np.ndarray], final: bool = False,
                progress: str = "") -> None:
        from engine.landscape import SurfaceGrid, grid_contours

        a, b = axes
        Z = np.asarray(Z, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            z = np.log10(np.clip(Z, 1e-12, None))
        self.map.set_image(z.T, (float(a[0]), float(a[-1]), float(b[0]), float(b[-1])))
        grey = np.zeros(z.T.shape + (4,), dtype=np.uint8)
        grey[np.isnan(Z.T)] = (150, 150, 150, 255)
        self.pending.setImage(grey, autoLevels=False, levels=(0, 255))
        self.pending.setRect(self.map.image.mapRectToParent(self.map.image.boundingRect()))
        if progress:
            self.map.plot.setTitle(f"Loss surface: {progress} (grey: still being computed)")
        if final:
            self.map.plot.setTitle(f"Loss surface, {len(a)}×{len(b)} points")
            c = grid_contours(SurfaceGrid(a, b, np.asarray(Z), 0, 1, Z.size, Z.size))
            if len(c.segments):
                self.contours.setData(c.segments[:, 0], c.segments[:, 1])

    def _xy(self, numbers: dict[str, np.ndarray], key: str) -> tuple[str, str]:
        x = SEED_PLOTS[self.kind][1]
        if "{c}" in x:  # lottery: each control has its own x (share left) and y (accuracy)
            return x.format(c=key), f"{key}_test_acc"
        return x, key

    def _draw(self, numbers: dict[str, np.ndarray]) -> None:
        for key in [k for k in self.curves if not k.endswith(("_hi", "_lo"))]:
            xk, yk = self._xy(numbers, key)
            if xk not in numbers or yk not in numbers:
                continue
            x, y = np.atleast_2d(numbers[xk]), np.atleast_2d(numbers[yk])
            mx, my = np.nanmean(x, 0), np.nanmean(y, 0)
            sd = np.nanstd(y, 0, ddof=1) if len(y) > 1 else np.zeros_like(my)
            self.curves[key].setData(mx, my)
            lo = my - sd
            if self.plot.ctrl.logYCheck.isChecked():
                lo = np.where(lo > 0, lo, np.nan)  # no log of a non-positive bound
            self.curves[key + "_hi"].setData(mx, my + sd)
            self.curves[key + "_lo"].setData(mx, lo)

    def seeds_so_far(self, ev) -> None:
        self._rows[ev.seed] = ev.numbers
        keys = list(ev.numbers)
        stacked = {}
        for k in keys:
            rows = [np.asarray(r[k], dtype=np.float64) for r in self._rows.values()]
            width = max(len(r) for r in rows)
            stacked[k] = np.stack([np.pad(r, (0, width - len(r)), constant_values=np.nan) for r in rows])
        self._draw(stacked)
        self.plot.setTitle(f"{SEED_PLOTS[self.kind][0]} — {len(self._rows)} seeds in")

    def seed_result(self, result) -> None:
        self._draw(result.numbers)
        self.plot.setTitle(f"{SEED_PLOTS[self.kind][0]} — {len(result.seeds)} seeds")

    def close(self) -> None:
        """Delete the widgets now, while Qt and Python are both alive."""
        from .headless import dispose

        dispose(self.view)

    def save(self, path: Path) -> Path:
        from PySide6 import QtWidgets

        QtWidgets.QApplication.processEvents()
        tmp = path.with_name(f".{path.stem}.tmp.png")
        self.view.grab().save(str(tmp))
        tmp.replace(path)
        return path
