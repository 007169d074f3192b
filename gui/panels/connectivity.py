"""The Connectivity tab: two networks trained from different seeds, joined by a straight line
and by a trained quadratic Bezier curve; the loss along both and over their plane."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.claims import Numbers
from engine.claims import connectivity as connectivity_claims
from engine.connectivity import (
    ConnectivityConfig,
    ConnectivityPlane,
    ConnectivityProgress,
    Endpoints,
    PathResult,
    mode_connectivity,
)
from engine.device import intra_op_threads

from .. import plots
from ..jobs import PanelJobs
from ..panel_tools import ProgressBar, RowFlow, fields_box, legend_under
from ..spread import SeedBand, SeedCount, caption_label, seed_results, spread_caption
from .base import HeadlessContext, Panel

BIG_MODEL = 50_000
STAGES = {"train A": "training network A", "train B": "training network B",
          "bezier": "bending the curve", "plane": "loss over the plane"}
IDLE_NOTE = "Press Run: two networks train from different seeds, then the path between them is fitted"


@dataclass
class SeedPaths:
    """A further pair's endpoints and final paths (its first seed names it)."""

    seed: int
    ends: Endpoints
    linear: PathResult
    bezier: PathResult


class ConnectivityPanel(Panel):
    slug = "connectivity"
    title = "Connectivity"
    topic = "Loss landscape"

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self._ran_once = False
        self.results: dict[str, PathResult] = {}
        self.endpoints: Endpoints | None = None
        self.plane: ConnectivityPlane | None = None
        self._config_used: ConnectivityConfig | None = None
        self._stale = False
        self._started = 0.0
        self._build()

    def _build(self) -> None:
        self.seed_a = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000)
        self.seed_b = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000, value=1)
        self.train_steps = QtWidgets.QSpinBox(minimum=1, maximum=1_000_000, singleStep=100, value=1500)
        self.train_steps.setToolTip("Steps each network trains (with the experiment's optimiser settings)")
        self.bend_steps = QtWidgets.QSpinBox(minimum=0, maximum=100_000, singleStep=50, value=500)
        self.bend_steps.setToolTip("Adam steps on the bend θ_C, one random t per step")
        self.bend_lr = QtWidgets.QDoubleSpinBox(decimals=4, minimum=0.0001, maximum=1.0, singleStep=0.01,
                                                value=0.05)
        self.samples = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000, singleStep=64)
        self.samples.setSpecialValueText("all")
        self.samples.setToolTip("Evaluate losses (and fit the bend) on this many training samples")
        self.run = QtWidgets.QPushButton("Run")
        self.run.setToolTip("Train both networks, then fit the curve (in the background)")
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.progress = ProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        self.error = QtWidgets.QLabel("")
        self.error.setProperty("role", "error")
        self.error.hide()


        self.controls = QtWidgets.QWidget()
        flow = RowFlow(self.controls)
        flow.setContentsMargins(0, 0, 0, 0)
        self.pairs = SeedCount("Also train the pairs (A + 2, B + 2), (A + 4, B + 4), …: every pair's straight line "
                               "and Bezier curve, with the mean ± s.d. over pairs.")
        for w in (fields_box("Seeds", self.seed_a), self.seed_b, self.pairs,
                  fields_box("Train steps", self.train_steps),
                  fields_box("Bend steps", self.bend_steps), fields_box("Bend lr", self.bend_lr),
                  fields_box("Samples", self.samples), self.run, self.cancel, self.progress):
            flow.addWidget(w)

        self.curve_view = plots.make_view()
        self.path_plot = plots.add_plot(self.curve_view, "Loss along the path", "t  (A at 0, B at 1)", "loss",
                                        row=0, col=0)
        legend_under(self.curve_view, self.path_plot, row=1)
        self.lin_train = plots.curve(self.path_plot, 0, "line, train")
        self.lin_test = plots.curve(self.path_plot, 0, "line, test", width=1.6, dashed=True)
        self.bez_train = plots.curve(self.path_plot, 2, "Bezier, train")
        self.bez_test = plots.curve(self.path_plot, 2, "Bezier, test", width=1.6, dashed=True)

        self.plane_view = plots.make_view()
        self.map = plots.ImagePlot(self.plane_view, "Plane of A, B, bend",
                                   "along B − A  (θ-space distance)", "towards the bend", cmap="viridis",
                                   bar_label="log₁₀ train loss", isolines=8)
        self.map.bar.axis.enableAutoSIPrefix(False)
        self.map_line = pg.PlotDataItem(pen=pg.mkPen((255, 255, 255, 230), width=2.2,
                                                     style=QtCore.Qt.PenStyle.DashLine))
        self.map_bezier = pg.PlotDataItem(pen=pg.mkPen((255, 255, 255, 240), width=3))
        self.map_points = pg.ScatterPlotItem(size=13, pen=pg.mkPen("k", width=1.5))
        self.map_labels = [pg.TextItem(t, color="w", anchor=(0.5, 1.4)) for t in ("A", "B", "bend")]
        for item in (self.map_line, self.map_bezier, self.map_points):
            self.map.plot.addItem(item)
        for item in self.map_labels:
            # A text item's bounds change with every redraw: counted in the range, it redrew forever.
            self.map.plot.addItem(item, ignoreBounds=True)
        self.notes = [plots.note(self.path_plot, IDLE_NOTE),
                      plots.note(self.map.plot, IDLE_NOTE, items=(self.map.image,))]

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.curve_view)
        split.addWidget(self.plane_view)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 5)
        self.caption = plots.caption("Press Run: two networks train from different seeds, then a curve "
                                     "between them is bent to avoid the ridge on the straight line.")
        self.figure_box = QtWidgets.QWidget()
        fig = QtWidgets.QVBoxLayout(self.figure_box)
        fig.setContentsMargins(0, 0, 0, 0)
        fig.addWidget(split, 1)
        fig.addWidget(self.caption)
        self.verdict = caption_label()
        fig.addWidget(self.verdict)
        self.seed_paths: list[SeedPaths] = []
        self.lin_band = SeedBand(self.path_plot, 0)
        self.bez_band = SeedBand(self.path_plot, 2)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls)
        layout.addWidget(self.error)
        layout.addWidget(self.figure_box, 1)

        self.run.clicked.connect(self.start)
        self.cancel.clicked.connect(self.stop)
        self._progress_timer = QtCore.QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.timeout.connect(self.progress.show)

    # -- settings -------------------------------------------------------------------------------
    def config(self) -> ConnectivityConfig:
        big = self.lab.experiment.n_params > BIG_MODEL
        return ConnectivityConfig(seeds=(self.seed_a.value(), self.seed_b.value()),
                                  train_steps=self.train_steps.value(), bezier_steps=self.bend_steps.value(),
                                  bezier_lr=self.bend_lr.value(), points=41 if not big else 21,
                                  plane_resolution=31 if not big else 15, max_samples=self.samples.value() or None)

    def on_rebuilt(self) -> None:
        exp = self.lab.experiment
        self.seed_a.setValue(exp.config.seed)
        self.seed_b.setValue(exp.config.seed + 1)
        if exp.n_params > BIG_MODEL and self.samples.value() == 0:
            self.samples.setValue(128)
        if self.results:
            self._stale = True
            self._update_caption()

    def set_active(self, active: bool) -> None:
        self.active = active
        self.lab.set_probes(self.slug, {})
        small = self.lab.experiment.n_params <= BIG_MODEL
        if active and not self._ran_once and not self.lab.sync and small:
            self.start()  # a small network: show the picture without asking

    # -- running --------------------------------------------------------------------------------
    def run_preset(self, preset) -> None:
        self.start()  # its two networks train here; the shared experiment is not needed

    def start(self) -> None:
        config = self.config()
        problems = config.problems()
        if problems:
            self._show_error("; ".join(problems.values()))
            return
        self._show_error("")
        self._ran_once = True
        self._stale = False
        self.results, self.endpoints, self.plane = {}, None, None
        self.seed_paths = []
        self.verdict.hide()
        for band in (self.lin_band, self.bez_band):
            band.clear()
        for c in (self.lin_train, self.lin_test, self.bez_train, self.bez_test, self.map_line, self.map_bezier):
            c.setData([], [])
        self.map_points.setData([], [])
        exp = self.lab.experiment
        dataset, exp_config = exp.dataset, replace(exp.config)
        # One thread beside a training run, and for small networks (their ops are too small to share).
        threads = 1 if self.lab.running or exp.n_params <= BIG_MODEL else None
        self._config_used = config

        a, b = config.seeds
        more = [replace(config, seeds=(a + 2 * k, b + 2 * k), plane_resolution=0)
                for k in range(1, int(self.pairs.value()))]

        def work():
            with intra_op_threads(threads):
                yield from mode_connectivity(dataset, exp_config, config)
                for cfg in more:  # further pairs: only their final paths are drawn
                    found: dict[str, Any] = {}
                    for item in mode_connectivity(dataset, exp_config, cfg):
                        if isinstance(item, ConnectivityProgress):
                            yield ConnectivityProgress(f"pair {cfg.seeds}: {item.stage}", item.done, item.total)
                        elif isinstance(item, Endpoints):
                            found["ends"] = item
                        elif isinstance(item, PathResult) and item.final:
                            found[item.kind] = item
                    yield SeedPaths(cfg.seeds[0], found["ends"], found["linear"], found["bezier"])

        self._started = time.perf_counter()
        self.run.setEnabled(False)
        self.cancel.setEnabled(True)
        self.progress.setValue(0)
        self._progress_timer.start(300)
        self.caption.setText("Training network A …")
        self.jobs.start("paths", work, self._items, self._done, self._failed)

    def stop(self) -> None:
        if self.jobs.running("paths"):
            self.jobs.stop("paths")
            self.lab.message.emit("Connectivity: stopped", 4000)

    def shutdown(self) -> None:
        self._progress_timer.stop()
        self.jobs.stop("paths")

    @property
    def busy(self) -> bool:
        return self.jobs.running("paths")

    def _items(self, items: list) -> None:
        redraw = False
        for it in items:
            if isinstance(it, ConnectivityProgress):
                self.progress.setMaximum(max(1, it.total))
                self.progress.setValue(it.done)
                loss = f", loss {it.loss:.3g}" if np.isfinite(it.loss) else ""
                self.progress.setFormat(f"{STAGES.get(it.stage, it.stage)}: %p %")
                self.progress.setToolTip(f"{it.done:,} / {it.total:,}{loss}")
                for n in self.notes:
                    n.set_text(plots.progress_text(STAGES.get(it.stage, it.stage), it.done / max(1, it.total)))
            elif isinstance(it, Endpoints):
                self.endpoints = it
                redraw = True
            elif isinstance(it, PathResult):
                self.results[it.kind] = it
                redraw = True
            elif isinstance(it, ConnectivityPlane):
                self.plane = it
                self._draw_plane()
            elif isinstance(it, SeedPaths):
                self.seed_paths.append(it)
                redraw = True
        if redraw:
            self._draw_paths()
            self._update_caption()

    def _done(self) -> None:
        self._finish()
        self._update_caption()

    def _failed(self, text: str) -> None:
        self._finish()
        self._show_error(text)

    def _finish(self) -> None:
        for n in self.notes:
            n.set_text(IDLE_NOTE)
        self._progress_timer.stop()
        self.progress.hide()
        self.run.setEnabled(True)
        self.cancel.setEnabled(False)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        if text:
            self.lab.message.emit(f"Connectivity: {text}", 8000)

    # -- drawing --------------------------------------------------------------------------------
    def paths_by_seed(self) -> list[SeedPaths]:
        """Every pair with final paths: the Seeds fields' pair first, then the further pairs."""
        lin, bez, ends = self.results.get("linear"), self.results.get("bezier"), self.endpoints
        first = [SeedPaths(self._config_used.seeds[0], ends, lin, bez)] \
            if lin is not None and bez is not None and bez.final and ends is not None else []
        return first + self.seed_paths

    def seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """Each pair's numbers, judged by the claim record's `holds`."""
        return seed_results(connectivity_claims.BEZIER,
                            [(p.seed, connectivity_claims.path_numbers(p.ends, p.linear, p.bezier))
                             for p in self.paths_by_seed()])

    def _draw_seed_bands(self) -> None:
        pairs = self.paths_by_seed()
        for band, kind in ((self.lin_band, "linear"), (self.bez_band, "bezier")):
            if len(pairs) >= 2:
                band.set_data(pairs[0].linear.t, np.stack([getattr(p, kind).train for p in pairs]))
        results = self.seed_results()
        if results:
            text = spread_caption(connectivity_claims.BEZIER, results)
            if len(results) < int(self.pairs.value()) and self.busy:
                text = f"{len(results)} pairs done so far. " + text
            self.verdict.setText(text)
            self.verdict.show()

    def _draw_paths(self) -> None:
        self._draw_seed_bands()
        for kind, train, test in (("linear", self.lin_train, self.lin_test), ("bezier", self.bez_train, self.bez_test)):
            r = self.results.get(kind)
            if r is None:
                continue
            train.setData(r.t, r.train)
            if r.test is not None:
                test.setData(r.t, r.test)

    def _draw_plane(self) -> None:
        p = self.plane
        z = np.log10(np.clip(p.Z, 1e-12, None)).T
        extent = (float(p.xs[0]), float(p.xs[-1]), float(p.ys[0]), float(p.ys[-1]))
        finite = z[np.isfinite(z)]
        levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.map.set_image(z, extent, levels if levels[1] > levels[0] else (levels[0] - 0.5, levels[0] + 0.5))
        self.map_line.setData(p.linear[:, 0], p.linear[:, 1])
        self.map_bezier.setData(p.bezier[:, 0], p.bezier[:, 1])
        self.map_points.setData(p.points[:, 0], p.points[:, 1], symbol=["o", "o", "s"],
                                brush=[pg.mkBrush(255, 255, 255), pg.mkBrush(255, 255, 255), pg.mkBrush(230, 30, 30)])
        for label, (x, y) in zip(self.map_labels, p.points):
            label.setPos(float(x), float(y))

    def _update_caption(self) -> None:
        lines = []
        e = self.endpoints
        if e is not None:
            lines.append(f"Network A: train loss {e.train_loss[0]:.4f}, test acc {100 * e.test_acc[0]:.1f} %.  "
                         f"Network B: train loss {e.train_loss[1]:.4f}, test acc {100 * e.test_acc[1]:.1f} %.  "
                         f"‖θ_B − θ_A‖ = {e.distance:.3g}.")
        lin, bez = self.results.get("linear"), self.results.get("bezier")
        if lin is not None:
            text = f"Barrier (train / test): straight line {lin.barrier_train:.4f} / {_fmt(lin.barrier_test)}"
            if bez is not None:
                state = "" if bez.final else f" (bending: step {bez.bezier_step:,})"
                text += f";  Bezier curve {bez.barrier_train:.4f} / {_fmt(bez.barrier_test)}{state}"
            lines.append(text + ".")
            if bez is not None and bez.final and self._config_used is not None:
                if lin.barrier_train < 0.01:
                    lines.append("Even the straight line shows no ridge here: these two minima lie in one basin.")
                elif bez.barrier_train < 0.5 * lin.barrier_train:
                    lines.append("The two minima are connected by a curve of low loss; the straight line "
                                 "between them crosses a ridge.")
                else:
                    lines.append("The curve did not get far below the straight line: try more bend steps.")
        used = self._config_used
        if used is not None and used.max_samples:
            lines.append(f"Losses on a fixed subset of {used.max_samples:,} training samples.")
        if self._stale:
            lines.append("The experiment changed since this run: press Run for the new setting.")
        if lines:
            self.caption.setText("\n".join(lines))

    # -- presets and export ----------------------------------------------------------------------
    OPTIONS = ("seeds", "train_steps", "bezier_steps", "bezier_lr", "samples")

    def apply_options(self, options: dict[str, Any]) -> None:
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"the Connectivity tab has no options {sorted(unknown)}; it knows {list(self.OPTIONS)}")
        if "seeds" in options:
            a, b = options["seeds"]
            self.seed_a.setValue(int(a))
            self.seed_b.setValue(int(b))
        if "train_steps" in options:
            self.train_steps.setValue(int(options["train_steps"]))
        if "bezier_steps" in options:
            self.bend_steps.setValue(int(options["bezier_steps"]))
        if "bezier_lr" in options:
            self.bend_lr.setValue(float(options["bezier_lr"]))
        if "samples" in options:
            self.samples.setValue(int(options["samples"]))

    def options(self) -> dict[str, Any]:
        return {"seeds": [self.seed_a.value(), self.seed_b.value()], "train_steps": self.train_steps.value(),
                "bezier_steps": self.bend_steps.value(), "bezier_lr": self.bend_lr.value(),
                "samples": self.samples.value()}

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {"connectivity": self.figure_box}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._config_used is not None:
            out["config"] = self._config_used
        for kind, r in self.results.items():
            out[f"{kind}_t"] = r.t
            out[f"{kind}_train"] = r.train
            if r.test is not None:
                out[f"{kind}_test"] = r.test
            out[f"{kind}_barrier_train"] = r.barrier_train
            out[f"{kind}_barrier_test"] = r.barrier_test
        if self.endpoints is not None:
            out["endpoints"] = self.endpoints
        if self.plane is not None:
            out.update(plane_x=self.plane.xs, plane_y=self.plane.ys, plane_loss=self.plane.Z,
                       plane_points=self.plane.points, plane_linear=self.plane.linear,
                       plane_bezier=self.plane.bezier)
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        if ctx.quick and not ctx.options.get("train_steps"):
            # A CNN step costs a hundred MLP steps: a quick pass trains it just long enough to
            # leave its start, so the picture exists and the run stays within a minute or so.
            images = not self.lab.experiment.dataset.is_points
            self.train_steps.setValue(min(self.train_steps.value(), 60 if images else 500))
            self.bend_steps.setValue(min(self.bend_steps.value(), 20 if images else 200))
        self.start()


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"
