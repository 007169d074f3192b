"""The Sharpness tab: does the batch size decide how sharp a minimum SGD finds?

One network (digits, 64-128-128-10, ReLU) is trained from the same initial weights with plain SGD
at one learning rate for several batch sizes; every run stops when its training loss first reaches
the same target. At each stopping point the tab measures λmax (Lanczos, with its residual),
ε-sharpness, the Hessian trace, and the train/test gap, and draws 1-D slices of the loss along each
minimum's top eigenvector on one plot. The whole experiment runs in a worker with progress and
Cancel; rows appear as each run is measured.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.claims import verdict
from engine.claims.sharpness import SHARP_VS_FLAT, numbers_from_reports
from engine.sharpness import (
    SHARPNESS_MEASURES,
    MinimumReport,
    SeedSweep,
    SharpnessConfig,
    SweepProgress,
    SweepResult,
    batch_size_sweep,
    seed_sweeps,
    summarize_sweep,
)

from .. import plots
from ..jobs import PanelJobs
from ..panel_tools import RowFlow, TaskBar, fmt, labelled, set_title
from .base import HeadlessContext, Panel

COLUMNS = ("batch", "steps", "epochs", "train loss", "test loss", "loss gap", "train acc", "test acc",
           "acc gap", "λmax", "‖Hv−λv‖", "ε-sharpness", "tr H")

# The smallest sweep that still shows the trend (tests and quick previews).
QUICK = {"batch_sizes": (16, 64, 0), "target_loss": 0.1}


IDLE_NOTE = "Press Run the experiment: one run per batch size, each trained to the same loss"
MEASURED_NOTE = "Measured at each run's minimum"


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """'16, 64, full' -> (16, 64, 0). Raises ValueError with a message for the user."""
    parts = [p.strip().lower() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ValueError("give at least one batch size, e.g. 16, 64, full")
    out = []
    for p in parts:
        if p in ("full", "0", "full batch"):
            out.append(0)
            continue
        try:
            b = int(p)
        except ValueError:
            raise ValueError(f"batch sizes are whole numbers or 'full', got {p!r}") from None
        if b < 1:
            raise ValueError(f"a batch size must be at least 1 (or 'full'), got {b}")
        out.append(b)
    if len(out) > 10:
        raise ValueError("at most 10 batch sizes")
    return tuple(out)


class SharpnessPanel(Panel):
    slug = "sharpness"
    title = "Sharpness"
    topic = "Curvature"
    uses_experiment = False

    OPTIONS = ("batch_sizes", "lr", "target_loss", "rho", "measure", "seeds", "hidden", "max_epochs", "seed")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.config = SharpnessConfig(lr=0.2, target_loss=0.1, rho=0.5, max_epochs=1000)

        self.batches = QtWidgets.QLineEdit()
        self.lr = QtWidgets.QLineEdit()
        self.target = QtWidgets.QLineEdit()
        self.rho = QtWidgets.QLineEdit()
        for w in (self.lr, self.target, self.rho):
            w.setMaximumWidth(70)
        self.run_button = QtWidgets.QPushButton("Run the experiment")
        # Qt's own play icon: a ▶ glyph is missing from many Linux fonts and shows as a box.
        self.run_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay))
        self.error = QtWidgets.QLabel("")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.task = TaskBar()
        self.setup = plots.caption("")

        # The controls flow onto more rows when the window is narrow or the text large (a row
        # of them set the whole window's least width past a 1280-pixel projector).
        controls = QtWidgets.QWidget()
        row = RowFlow(controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(labelled("Batch sizes", self.batches, "comma-separated; 'full' is full-batch gradient descent"))
        row.addWidget(labelled("η", self.lr, "the one learning rate every run uses"))
        row.addWidget(labelled("stop at train loss", self.target, "every run stops when its training loss "
                                                                  "first reaches this value"))
        row.addWidget(labelled("ρ", self.rho, "the ball's radius ‖ε‖ ≤ ρ, or (Keskar et al.) the box's "
                                               "relative size |εᵢ| ≤ ρ(|θᵢ|+1)"))
        self.measure_box = QtWidgets.QComboBox()
        for key, (label, _fn) in SHARPNESS_MEASURES.items():
            self.measure_box.addItem(label, key)
        row.addWidget(labelled("sharpness", self.measure_box, "how ε-sharpness is measured at each minimum"))
        self.seeds_box = QtWidgets.QSpinBox()
        self.seeds_box.setRange(1, 5)
        self.seeds_box.setPrefix("× ")
        self.seeds_box.setSuffix(" seeds")
        row.addWidget(labelled("spread", self.seeds_box, "rerun the whole comparison with this many seeds "
                                                         "(data split and θ₀); each seed is one dot"))
        row.addWidget(self.run_button)

        self.view = plots.make_view()
        self.slice_plot = plots.add_plot(self.view, "Loss along each minimum's top eigenvector",
                                         "α (distance along v_max)", "L(θ* + α v_max)", row=0, col=0, legend=True)
        self.slice_plot.legend.anchor((0.5, 0), (0.5, 0), offset=(0, 8))  # top centre, above the minimum
        self.lambda_plot = plots.add_plot(self.view, "λmax at the minimum", "batch size", "λmax", row=0, col=1)
        self.sharp_plot = plots.add_plot(self.view, "ε-sharpness", "batch size", "max L(θ*+ε) − L(θ*)",
                                         row=1, col=0)
        self.gap_plot = plots.add_plot(self.view, "Generalisation gap", "batch size", "test − train loss",
                                       row=1, col=1)
        self.lambda_curve = plots.curve(self.lambda_plot, 0, None, symbol="o", symbolSize=8)
        self.sharp_curve = plots.curve(self.sharp_plot, 1, None, symbol="o", symbolSize=8)
        # One dot per seed under the × N seeds spread (the curves then join the seeds' means).
        self.seed_dots = {}
        for plot, key in ((self.lambda_plot, 0), (self.sharp_plot, 1), (self.gap_plot, 3)):
            dots = pg.ScatterPlotItem(size=7, symbol="x", pen=plots.manager().pen(key, 1.5))
            plot.addItem(dots)
            self.seed_dots[key] = dots
        self.spread: list[SeedSweep] = []
        self.loss_gap_curve = plots.curve(self.gap_plot, 3, None, symbol="o", symbolSize=8)
        self.batch_plots = (self.lambda_plot, self.sharp_plot, self.gap_plot)
        self.slice_curves: list = []
        # Each run's training loss as it trains: the sweep's first picture, long before the
        # first minimum is reached and measured.
        self.train_plot = plots.add_plot(self.view, "Training to the target", "epoch", "train loss",
                                         row=0, col=2, rowspan=2, legend="top-right")
        self.train_plot.setLogMode(y=True)
        self.target_line = plots.guide_line(self.train_plot, math.log10(self.config.target_loss))
        self.train_curves: dict[int, Any] = {}
        self.train_points: dict[int, tuple[list[float], list[float]]] = {}
        self._train_span = (math.inf, 0.0)  # the lowest and highest training loss drawn
        self.notes = [plots.note(p, MEASURED_NOTE) for p in (self.slice_plot, *self.batch_plots)]
        self.notes.append(plots.note(self.train_plot, IDLE_NOTE))

        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.note = plots.caption("")

        lower = QtWidgets.QWidget()
        low = QtWidgets.QVBoxLayout(lower)
        low.setContentsMargins(0, 0, 0, 0)
        low.addWidget(self.table, 1)
        low.addWidget(self.note)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(controls)
        layout.addWidget(self.error)
        layout.addWidget(self.setup)
        layout.addWidget(self.task)
        layout.addWidget(split, 1)

        self.reports: list[MinimumReport] = []
        self.result: SweepResult | None = None
        self.jobs = PanelJobs(self)
        self._show_config()
        self.run_button.clicked.connect(self.run)
        self.task.cancelled.connect(self.cancel)

    # -- settings --------------------------------------------------------------------------------
    def _show_config(self) -> None:
        c = self.config
        self.batches.setText(", ".join("full" if b == 0 else str(b) for b in c.batch_sizes))
        self.lr.setText(f"{c.lr:g}")
        self.target.setText(f"{c.target_loss:g}")
        self.rho.setText(f"{c.rho:g}")
        arch = "-".join(str(h) for h in (64, *c.hidden, 10))
        self.setup.setText(f"{c.dataset} ({c.n:,} images, 70% for training), a {arch} {c.activation} network, "
                           f"plain SGD at η = {c.lr:g} from the same θ₀; each run stops at train loss "
                           f"{c.target_loss:g} (or after {c.max_epochs:g} epochs).")
        self.measure_box.setCurrentIndex(max(0, self.measure_box.findData(c.measure)))
        if c.measure == "keskar":
            set_title(self.sharp_plot, f"Keskar sharpness (box |εᵢ| ≤ {c.rho:g}(|θᵢ|+1))")
            self.sharp_plot.setLabel("left", "100·ΔL/(1 + L)")
        else:
            set_title(self.sharp_plot, f"ε-sharpness (ball ‖ε‖ ≤ {c.rho:g})")
            self.sharp_plot.setLabel("left", "max L(θ*+ε) − L(θ*)")

    def read_config(self) -> SharpnessConfig:
        """The fields as a config; raises ValueError naming the bad field."""
        def number(edit: QtWidgets.QLineEdit, what: str) -> float:
            try:
                v = float(edit.text().strip().replace(",", "."))
            except ValueError:
                raise ValueError(f"{what} must be a number, got {edit.text()!r}") from None
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{what} must be a positive number, got {edit.text().strip()}")
            return v

        cfg = replace(self.config, batch_sizes=parse_batch_sizes(self.batches.text()),
                      lr=number(self.lr, "η"), target_loss=number(self.target, "the target training loss"),
                      rho=number(self.rho, "ρ"), measure=str(self.measure_box.currentData()))
        problems = cfg.problems()
        if problems:
            raise ValueError("; ".join(problems.values()))
        if cfg.lr > 2.0:
            raise ValueError(f"η = {cfg.lr:g} makes SGD on this network diverge; use at most 2")
        return cfg

    # -- running -----------------------------------------------------------------------------------
    def run_preset(self, preset) -> None:
        self.run()

    def run(self) -> None:
        if self.jobs.running("sweep"):
            return
        try:
            self.config = self.read_config()
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        self._show_config()
        self._clear()
        self._set_notes(True)
        cfg = self.config
        self.spread = []
        for dots in self.seed_dots.values():
            dots.setData([], [])
        self.run_button.setEnabled(False)
        self.task.show_progress(0.0, "loading the data")
        n_seeds = self.seeds_box.value()
        if n_seeds > 1:
            seeds = [cfg.seed + i for i in range(n_seeds)]
            self.jobs.start("sweep", lambda: seed_sweeps(cfg, seeds), self._spread_items, self._done, self._failed)
            return
        self.jobs.start("sweep", lambda: batch_size_sweep(cfg), self._items, self._done, self._failed)

    def _spread_items(self, items) -> None:
        for item in items:
            if isinstance(item, SweepProgress):
                self.task.show_progress(item.fraction, item.text)
            elif isinstance(item, SeedSweep):
                self.spread.append(item)
                if len(self.spread) == 1:  # the first seed's minima fill the slices and the table
                    self.reports = list(item.reports)
                    self._draw()
                self._draw_spread()

    def spread_results(self) -> list[tuple[int, dict[str, float], bool]]:
        """Each finished seed's comparison (smallest batch against full batch) and whether the
        claim held on it."""
        out = []
        for sweep in self.spread:
            if len(sweep.reports) >= 2:
                n = numbers_from_reports(sweep.reports)
                out.append((sweep.seed, n, bool(SHARP_VS_FLAT.holds(n))))
        return out

    def _draw_spread(self) -> None:
        """Every seed as a dot, the curves through the seeds' means, and the verdict as caption."""
        sizes = sorted({r.batch_size for s in self.spread for r in s.reports})
        x_of = {b: float(np.log2(b)) for b in sizes}
        for key, metric, curve in ((0, "lambda_max", self.lambda_curve), (1, "eps_sharpness", self.sharp_curve),
                                   (3, "gap", self.loss_gap_curve)):
            xs = [x_of[r.batch_size] for s in self.spread for r in s.reports]
            ys = [float(getattr(r, metric)) for s in self.spread for r in s.reports]
            self.seed_dots[key].setData(xs, ys)
            means = [float(np.mean([getattr(r, metric) for s in self.spread for r in s.reports if r.batch_size == b]))
                     for b in sizes]
            curve.setData([x_of[b] for b in sizes], means)
        results = self.spread_results()
        lam = np.array([[n["lambda_small"], n["lambda_large"]] for _, n, _ in results])
        stats = ""
        if len(lam):
            sd = lam.std(0, ddof=1) if len(lam) > 1 else np.zeros(2)
            stats = (f"  λmax, smallest batch {lam[:, 0].mean():.2f} ± {sd[0]:.2f}, full batch "
                     f"{lam[:, 1].mean():.2f} ± {sd[1]:.2f} (mean ± s.d. over {len(lam)} seeds; dots: seeds).")
        self.note.setText(verdict(SHARP_VS_FLAT, results) + stats)

    def cancel(self) -> None:
        self.jobs.stop("sweep")
        self._set_notes(False)
        self.task.finish()
        self.run_button.setEnabled(True)
        self.note.setText(f"Cancelled after {len(self.reports)} of {len(self.config.batch_sizes)} runs.")

    def _items(self, items) -> None:
        for item in items:
            if isinstance(item, SweepProgress):
                self.task.show_progress(item.fraction, item.text)
                self._add_training_point(item)
            elif isinstance(item, MinimumReport):
                self.reports.append(item)
                self._draw()
            elif isinstance(item, SweepResult):
                self.result = item
                self._draw()

    def _add_training_point(self, p: SweepProgress) -> None:
        if not (math.isfinite(p.train_loss) and p.train_loss > 0):
            return
        if p.batch_size not in self.train_curves:
            # The engine runs "full" (0) and any size past the training set as full batch.
            label = f"batch {p.batch_size}" if p.batch_size in self.config.batch_sizes else "full batch"
            self.train_curves[p.batch_size] = plots.curve(self.train_plot, len(self.train_curves), label,
                                                          symbol="o", symbolSize=4)
            self.train_points[p.batch_size] = ([], [])
        epochs, losses = self.train_points[p.batch_size]
        if epochs and p.epoch <= epochs[-1]:
            return
        epochs.append(p.epoch)
        losses.append(p.train_loss)
        self.train_curves[p.batch_size].setData(epochs, losses)
        self._fit_train_range(p.train_loss)

    def _fit_train_range(self, loss: float) -> None:
        """Room above the highest loss for the legend (every run starts there, at epoch 0, so a
        legend along the top covered the starts), and the target line always in view."""
        bottom = min(self._train_span[0], loss, self.config.target_loss)
        top = max(self._train_span[1], loss)
        if (bottom, top) != self._train_span:
            self._train_span = (bottom, top)
            self.train_plot.setYRange(math.log10(bottom / 1.3), math.log10(top * 3.0), padding=0)

    def _set_notes(self, running: bool) -> None:
        target = self.config.target_loss
        for n in self.notes[:-1]:
            n.set_text(f"Measured as each run reaches train loss {target:g}…" if running else MEASURED_NOTE)
        self.notes[-1].set_text("Training the first run…" if running else IDLE_NOTE)

    def _done(self) -> None:
        self._set_notes(False)
        self.task.finish()
        self.run_button.setEnabled(True)

    def _failed(self, text: str) -> None:
        self._done()
        self.error.setText(f"The experiment stopped: {text}")
        self.error.show()

    def shutdown(self) -> None:
        self.jobs.stop("sweep")

    def _clear(self) -> None:
        self.reports = []
        self.result = None
        self.table.setRowCount(0)
        for c in self.slice_curves:
            self.slice_plot.removeItem(c)
            if self.slice_plot.legend is not None:
                self.slice_plot.legend.removeItem(c)
        self.slice_curves = []
        for c in self.train_curves.values():
            self.train_plot.removeItem(c)
            self.train_plot.legend.removeItem(c)
        self.train_curves = {}
        self.train_points = {}
        self._train_span = (math.inf, 0.0)  # the lowest and highest training loss drawn
        self.target_line.setValue(math.log10(self.config.target_loss))
        for c in (self.lambda_curve, self.sharp_curve, self.loss_gap_curve):
            c.setData([], [])
        self.note.setText("")

    # -- drawing ------------------------------------------------------------------------------------
    def _draw(self) -> None:
        reps = self.reports
        if not reps:
            return
        # Batch sizes on a log₂ axis, labelled with the sizes themselves ("full" for full batch).
        x = np.log2([r.batch_size for r in reps])
        ticks = [[(float(xi), r.label.replace("batch ", "")) for xi, r in zip(x, reps)]]
        for p in self.batch_plots:
            p.getAxis("bottom").setTicks(ticks)
            p.setXRange(float(x.min()) - 0.6, float(x.max()) + 0.6, padding=0)  # room for the end labels
        self.lambda_curve.setData(x, [r.lambda_max for r in reps])
        self.sharp_curve.setData(x, [r.eps_sharpness for r in reps])
        self.loss_gap_curve.setData(x, [r.gap for r in reps])
        while len(self.slice_curves) < len(reps):
            i = len(self.slice_curves)
            r = reps[i]
            c = plots.curve(self.slice_plot, i, r.label, width=2.0)
            self.slice_curves.append(c)
        for c, r in zip(self.slice_curves, reps):
            c.setData(r.slice_alphas, r.slice_losses)
        self.table.setRowCount(len(reps))
        for i, r in enumerate(reps):
            mark = "" if r.reached_target else " (missed)"
            values = (r.label, f"{r.steps:,}", f"{r.epochs:.1f}", f"{r.train_loss:.4f}{mark}",
                      f"{r.test_loss:.4f}", f"{r.gap:+.4f}", f"{100 * r.train_acc:.1f}%", f"{100 * r.test_acc:.1f}%",
                      f"{100 * r.acc_gap:+.1f}%", fmt(r.lambda_max, 4), fmt(r.lambda_residual, 2),
                      fmt(r.eps_sharpness, 4), fmt(r.trace, 4))
            for j, v in enumerate(values):
                item = QtWidgets.QTableWidgetItem(v)
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self.note.setText(self._verdict())

    def _verdict(self) -> str:
        """What the numbers say, measured, not assumed."""
        reps = sorted(self.reports, key=lambda r: r.batch_size)
        missed = [r.label for r in self.reports if not r.reached_target]
        text = ""
        if missed:
            text += (f"{', '.join(missed)} did not reach the target loss within {self.config.max_epochs:g} epochs, "
                     "so its row is not at the same loss as the others.  ")
        if len(reps) < 2:
            return text
        small, large = reps[0], reps[-1]
        ratio = large.lambda_max / small.lambda_max if small.lambda_max > 0 else float("nan")
        text += (f"λmax at {large.label} is {ratio:.1f}× that at {small.label}. ")
        gap_small, gap_large = small.gap, large.gap
        if gap_large > gap_small:
            text += (f"Here the sharper minimum also has the larger test−train loss gap ({gap_large:+.3f} vs "
                     f"{gap_small:+.3f}).")
        else:
            text += (f"Here the sharper minimum does not have the larger gap ({gap_large:+.3f} vs "
                     f"{gap_small:+.3f}): at this scale sharpness does not predict generalisation.")
        return text

    # -- presets and export ------------------------------------------------------------------------
    def apply_options(self, options: dict[str, Any]) -> None:
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"the Sharpness tab has no options {sorted(unknown)}; it has {list(self.OPTIONS)}")
        changes = dict(options)
        if "seeds" in changes:
            self.seeds_box.setValue(int(changes.pop("seeds")))
        if "measure" in changes:
            self.measure_box.setCurrentIndex(max(0, self.measure_box.findData(changes["measure"])))
        if "batch_sizes" in changes:
            changes["batch_sizes"] = tuple(int(b) for b in changes["batch_sizes"])
        if "hidden" in changes:
            changes["hidden"] = tuple(int(h) for h in changes["hidden"])
        new = replace(self.config, **changes)
        problems = new.problems()
        if problems:
            raise ValueError("; ".join(problems.values()))
        self.config = new
        self._show_config()

    def options(self) -> dict[str, Any]:
        try:
            c = self.read_config()
        except ValueError:
            c = self.config  # a field that does not parse: the settings it last showed
        return {"batch_sizes": list(c.batch_sizes), "lr": c.lr, "target_loss": c.target_loss, "rho": c.rho,
                "measure": c.measure, "seeds": self.seeds_box.value(), "hidden": list(c.hidden),
                "max_epochs": c.max_epochs, "seed": c.seed}

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {"sharpness-plots": self.view, "sharpness-table": self.table}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"config": {k: getattr(self.config, k) for k in self.config.__dataclass_fields__},
                               "runs": summarize_sweep(self.reports)}
        if self.spread:
            out["spread"] = [{"seed": s, **n, "holds": ok} for s, n, ok in self.spread_results()]
            out["spread_verdict"] = verdict(SHARP_VS_FLAT, self.spread_results())
        out["training"] = {f"batch {b}": np.asarray(pts) for b, pts in self.train_points.items()}
        if self.reports:
            out["slice_alphas"] = np.asarray(self.reports[0].slice_alphas)
            out["slice_losses"] = np.stack([r.slice_losses for r in self.reports])
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        if ctx.quick and "batch_sizes" not in ctx.options:
            self.config = replace(self.config, **QUICK)
            self._show_config()
        self.run()
