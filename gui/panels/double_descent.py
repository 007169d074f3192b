"""The Double descent tab: test error against model size (random features, networks) and
against training time (epoch-wise).

Everything here is the panel's own computation (no shared experiment): the random-features
sweep re-runs on every slider change (it is batched and takes a fraction of a second), the
network sweep runs on request with progress and Cancel, the epoch-wise curve is exact and cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.claims import Claim, Numbers, verdict
from engine.claims import double_descent as dd_claims
from engine.data import TOY_NAMES, toy_dataset
from engine.double_descent import (
    EpochPoint,
    EpochWiseConfig,
    SweepPoint,
    SweepProgress,
    SweepResult,
    epoch_wise_curve,
    epoch_wise_shape,
    one_hidden_layer_params,
    random_features_sweep,
    width_sweep,
)
from engine.training import TrainConfig

from .. import plots
from ..jobs import PanelJobs
from ..panel_tools import (
    JobProgress,
    ValueSlider,
    lay_out_pages,
    legend_below,
    log_axes,
    place_legend,
    right_axis,
)
from ..run_log import RunLog
from ..spread import SeedBand, SeedCount, caption_label, seed_results, spread_caption
from ..style import manager
from .base import HeadlessContext, Panel

NOISE_VALUES = np.round(np.arange(0.0, 1.0001, 0.02), 2)
RIDGE_VALUES = np.concatenate([[0.0], np.geomspace(1e-4, 10.0, 41)])
SAMPLE_VALUES = np.arange(20, 301, 10)
SLOW_SCALE_VALUES = (0.01, 0.012, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3)
DEFAULT_WIDTHS = (2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64, 128, 256)
QUICK_WIDTHS = (4, 12, 64)
FLOOR = 1e-6  # log axes cannot show zero
TRAIN_FLOOR = 1e-4  # where the (zero) training error of an interpolant is drawn


def _ridge_text(v: float) -> str:
    return "0 (min-norm)" if v == 0 else f"{v:.2g}"


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 100 else f"{ratio:.1f}×"


def _interpolates_from(points: list[SweepPoint]) -> str:
    """' Train error 0 … from width w' for the narrowest width from which every wider one fits
    its training labels, else ''."""
    first = None
    for q in reversed(points):
        if q.train_error > 0:
            break
        first = q
    if first is None:
        return ""
    return f" Train error 0 (drawn at 10⁻³) from width {first.width} (p = {first.n_params:,})."


def _positive(a, floor: float = FLOOR) -> np.ndarray:
    return np.maximum(np.asarray(a, dtype=np.float64), floor)


@dataclass
class SeedSweep:
    """One seed's random-features sweep (and, for the label-noise claim, the same seed at σ = 0.1)."""

    seed: int
    result: SweepResult
    low_noise: SweepResult | None = None


NETWORKS_NOTE = "Press Run sweep: each width trains in turn and appears as it finishes"

class DescentPlot:
    """Errors against parameter count on log–log axes, weight norm on a right axis, and the
    interpolation threshold(s) as vertical lines."""

    def __init__(self, view: pg.GraphicsLayoutWidget, title: str, xlabel: str, ylabel: str,
                 norm_label: str, thresholds: tuple[str, ...], names: tuple[str, str] = ("test", "train"),
                 legend_corner: str = "top-right"):
        below = legend_corner == "below"
        self.plot = plots.add_plot(view, title, xlabel, ylabel, row=0, col=0, legend=not below,
                                   axisItems=log_axes())
        self.plot.setLogMode(x=True, y=True)
        if below:  # curves cross every corner: the legend gets its own row under the plot
            self.plot.legend = legend_below(view, row=1, col=0, columns=3)
        else:
            place_legend(self.plot, legend_corner)
        self.test = plots.curve(self.plot, 1, names[0], width=2.5, symbol="o", symbolSize=4)
        self.train = plots.curve(self.plot, 0, names[1])
        self.extra: dict[str, pg.PlotDataItem] = {}
        self.norm_box = right_axis(self.plot, norm_label)
        self.norm = pg.PlotDataItem([], [])
        self.norm.setLogMode(True, True)
        self.norm_box.addItem(self.norm)
        manager().register_curve(self.norm, 2, 1.8, QtCore.Qt.PenStyle.DashLine)
        self.plot.legend.addItem(self.norm, "weight norm (right axis)")
        self.lines = []
        for i, label in enumerate(thresholds):
            key = "accent" if i == 0 else "plot_fg"
            line = plots.guide_line(self.plot, 0.0, angle=90, key=key)
            line.setVisible(False)
            self.lines.append(line)
            plots.curve(self.plot, key, label, width=1.5, dashed=True)  # its legend entry; draws nothing
        manager().register_plot(self.plot)
        self.note = plots.note(self.plot, "Computing the sweep…", boxes=(self.norm_box,))

    def add_curve(self, key: str, colour, name: str, dashed: bool = True) -> pg.PlotDataItem:
        item = plots.curve(self.plot, colour, name, width=1.8, dashed=dashed)
        self.extra[key] = item
        return item

    def set_thresholds(self, *values: float) -> None:
        for line, v in zip(self.lines, values):
            line.setValue(float(np.log10(v)))
            line.setVisible(True)

    def clear(self) -> None:
        for c in (self.test, self.train, self.norm, *self.extra.values()):
            c.setData([], [])


class DoubleDescentPanel(Panel):
    slug = "double-descent"
    title = "Double descent"
    topic = "Double descent"
    uses_experiment = False

    VIEWS = ("random-features", "networks", "epoch-wise")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self.run_log = RunLog()  # what the three computations delivered, for recordings
        self.sweep: SweepResult | None = None
        self.net_points: list[SweepPoint] = []
        self.net_threshold: tuple[int, int] = (0, 0)
        self.epoch_points: list[EpochPoint] = []
        self.sweeps_drawn = 0
        self._started = False
        self.pages = QtWidgets.QTabWidget()
        self.pages.addTab(self._build_random_features(), "Random features")
        self.pages.addTab(self._build_networks(), "Networks")
        self.pages.addTab(self._build_epoch_wise(), "Epoch-wise")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)
        self._rerun = QtCore.QTimer(self)
        self._rerun.setSingleShot(True)
        self._rerun.setInterval(30)  # coalesce a dragged slider into one sweep per ~frame
        self._rerun.timeout.connect(self.run_sweep)
        self._rerun_epoch = QtCore.QTimer(self)
        self._rerun_epoch.setSingleShot(True)
        self._rerun_epoch.setInterval(30)
        self._rerun_epoch.timeout.connect(self.run_epoch_wise)

    # -- random features ---------------------------------------------------------------------
    def _build_random_features(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.noise = ValueSlider("Label noise σ", NOISE_VALUES, 0.1, lambda v: f"{v:.2f}",
                                 "standard deviation of the Gaussian noise added to the targets")
        self.ridge = ValueSlider("Ridge λ", RIDGE_VALUES, 0.0, _ridge_text,
                                 "λ in ‖Φa − y‖² + λ‖a‖²; 0 is the pseudo-inverse (minimum-norm) fit")
        self.samples = ValueSlider("Samples n", SAMPLE_VALUES, 100, lambda v: f"{int(v)}",
                                   "number of training samples: the peak follows p = n")
        self.features = QtWidgets.QComboBox()
        self.features.addItems(["ReLU features", "Fourier features"])
        self.features.setToolTip("φ(x) = max(0, wᵀx) or √2·cos(wᵀx + b), w random")
        self.rf_seeds = SeedCount("Repeat the sweep with fresh data and features for seeds 0, 1, …; the band is "
                                  "the mean ± s.d. of their test errors.")
        controls = QtWidgets.QGridLayout()
        controls.addWidget(self.noise, 0, 0)
        controls.addWidget(self.ridge, 0, 1)
        controls.addWidget(self.samples, 1, 0)
        features_row = QtWidgets.QHBoxLayout()
        features_row.addWidget(self.features, 1)
        features_row.addWidget(self.rf_seeds)
        controls.addLayout(features_row, 1, 1)
        self.rf_summary = plots.caption("")
        self.rf_verdict = caption_label()
        self.rf_seed_sweeps: list[SeedSweep] = []
        self.rf_view = plots.make_view()
        self.rf_plot = DescentPlot(self.rf_view, "Random-features regression (median of 5 draws)",
                                   "number of features p (= parameters)", "mean squared error",
                                   "weight norm ‖a‖", ("p = n (interpolation threshold)",))
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls)
        layout.addWidget(self.rf_summary)
        layout.addWidget(self.rf_verdict)
        layout.addWidget(self.rf_view, 1)
        self.rf_band = SeedBand(self.rf_plot.plot, 1, "test error, each seed", floor=FLOOR)
        for s in (self.noise, self.ridge, self.samples):
            s.value_changed.connect(lambda _v: self._rerun.start())
        self.features.currentIndexChanged.connect(lambda _i: self._rerun.start())
        self.rf_seeds.valueChanged.connect(lambda _v: self._rerun.start())
        return page

    def sweep_settings(self) -> dict[str, Any]:
        return {"n_train": int(self.samples.value()), "noise": self.noise.value(), "ridge": self.ridge.value(),
                "features": "relu" if self.features.currentIndex() == 0 else "fourier"}

    def run_sweep(self) -> None:
        """Re-run the random-features sweep for the current sliders (newest request wins)."""
        settings = self.sweep_settings()
        self.rf_summary.setText(f"computing the sweep for n = {settings['n_train']} …")
        self.run_log.begin("sweep", settings)
        self.jobs.start("sweep", lambda: iter([random_features_sweep(**settings)]), self._sweep_items,
                        on_error=lambda text: self.rf_summary.setText(text))
        self.run_seed_sweeps(settings)

    # -- the claim over seeds ----------------------------------------------------------------
    def rf_claim(self, settings: dict[str, Any] | None = None) -> Claim | None:
        """The claim record these settings test: the peak at p = n (min-norm), no peak (ridge 1),
        or a taller peak with σ = 0.5 (against σ = 0.1); none for other settings."""
        settings = settings or self.sweep_settings()
        if settings["features"] != "relu":
            return None
        if settings["ridge"] == 0:
            return dd_claims.LABEL_NOISE if settings["noise"] == 0.5 else dd_claims.PEAK
        return dd_claims.RIDGE if settings["ridge"] == 1.0 else None

    def run_seed_sweeps(self, settings: dict[str, Any]) -> None:
        """The sweep on seeds 0 … N−1 (and, for the label-noise claim, each seed at σ = 0.1 too)."""
        self.rf_seed_sweeps = []
        self.rf_band.clear()
        n_seeds = int(self.rf_seeds.value())
        claim = self.rf_claim(settings)
        if n_seeds == 1 and claim is not dd_claims.LABEL_NOISE:
            self.jobs.cancel("seeds")
            self.rf_verdict.setVisible(False)  # judged from the sweep itself once it is drawn
            return
        self.rf_verdict.setText(f"computing the sweep on {n_seeds} seed{'s' if n_seeds > 1 else ''} …")
        self.rf_verdict.setVisible(True)

        def work():
            for seed in range(n_seeds):
                low = (random_features_sweep(**{**settings, "noise": 0.1}, seed=seed)
                       if claim is dd_claims.LABEL_NOISE else None)
                yield SeedSweep(seed, random_features_sweep(**settings, seed=seed), low)

        self.jobs.start("seeds", work, self._seed_sweep_items,
                        on_error=lambda text: self.rf_verdict.setText(text))

    def _seed_sweep_items(self, items: list) -> None:
        self.rf_seed_sweeps.extend(items)
        runs = self.rf_seed_sweeps
        if len(runs) > 1:
            self.rf_band.set_data(runs[0].result.counts, np.stack([r.result.test_error for r in runs]))
        self._update_rf_verdict()

    def rf_seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """Each seed's numbers for the settings' claim, judged by the claim record's `holds`."""
        claim = self.rf_claim()
        if claim is None:
            return []
        if self.rf_seed_sweeps:
            if claim is dd_claims.LABEL_NOISE:
                numbers = [(r.seed, dd_claims.label_noise_numbers(r.low_noise, r.result)) for r in self.rf_seed_sweeps
                           if r.low_noise is not None]
            else:
                numbers = [(r.seed, dd_claims.sweep_numbers(r.result)) for r in self.rf_seed_sweeps]
        elif self.sweep is not None and claim is not dd_claims.LABEL_NOISE:
            numbers = [(0, dd_claims.sweep_numbers(self.sweep))]
        else:
            numbers = []
        return seed_results(claim, numbers)

    def _update_rf_verdict(self) -> None:
        claim, results = self.rf_claim(), self.rf_seed_results()
        if claim is None:
            self.rf_verdict.setText("No claim is stated for these settings (the presets use ReLU features "
                                    "with ridge 0 or 1).")
            self.rf_verdict.setVisible(True)
            return
        if not results:
            return
        wanted = int(self.rf_seeds.value()) if self.rf_seed_sweeps else 1
        text = spread_caption(claim, results)
        if len(results) < wanted:
            text = f"{len(results)} of {wanted} seeds done so far. " + text
        self.rf_verdict.setText(text)
        self.rf_verdict.setVisible(True)

    def _sweep_items(self, items: list) -> None:
        self.run_log.add("sweep", items)
        self.run_log.end("sweep")
        self._draw_sweep(items[-1])

    def _draw_sweep(self, result: SweepResult) -> None:
        self.sweep = result
        p = result.counts.astype(np.float64)
        self.rf_plot.test.setData(p, _positive(result.test_error))
        self.rf_plot.train.setData(p, _positive(result.train_error, TRAIN_FLOOR))
        self.rf_plot.norm.setData(p, _positive(result.weight_norm))
        self.rf_plot.set_thresholds(result.n_train)
        n = result.n_train
        peak = result.peak_count
        worst = float(result.test_error.max())
        best_i = int(np.argmin(result.test_error))
        self.rf_summary.setText(
            f"n = {n}: worst test error {worst:.3g} at p = {peak}"
            f" ({peak / n:.2f}·n); {_times(worst / result.test_error_at(n // 2))} the error at p = n/2,"
            f" {_times(worst / result.test_error_at(10 * n))} the error at p = 10n;"
            f" best {result.test_error[best_i]:.3g} at p = {int(result.counts[best_i])}."
            f" Ridge λ = {_ridge_text(result.ridge)}."
            + (" The training error is 0 from p = n on (drawn at the bottom)." if result.ridge == 0 else ""))
        self.sweeps_drawn += 1
        if not self.rf_seed_sweeps and int(self.rf_seeds.value()) == 1:
            self._update_rf_verdict()

    # -- networks ----------------------------------------------------------------------------
    def _build_networks(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.net_dataset = QtWidgets.QComboBox()
        self.net_dataset.addItems(list(TOY_NAMES))
        self.net_dataset.setCurrentText("digits")
        self.net_n = QtWidgets.QSpinBox()
        self.net_n.setRange(20, 1000)
        self.net_n.setSingleStep(10)
        self.net_n.setValue(100)
        self.net_noise = QtWidgets.QSpinBox()
        self.net_noise.setRange(0, 80)
        self.net_noise.setSuffix(" %")
        self.net_noise.setValue(20)
        self.net_noise.setToolTip("share of training labels replaced by a wrong class (test labels stay clean)")
        self.net_steps = QtWidgets.QSpinBox()
        self.net_steps.setRange(10, 100_000)
        self.net_steps.setSingleStep(100)
        self.net_steps.setValue(1500)
        self.net_steps.setToolTip("full-batch Adam steps per width (squared loss on one-hot labels)")
        self.net_widths = QtWidgets.QLineEdit(", ".join(str(w) for w in DEFAULT_WIDTHS))
        self.net_widths.setToolTip("hidden widths to train, comma separated")
        self.net_error = QtWidgets.QLabel("")
        self.net_error.setProperty("role", "error")
        self.net_error.setVisible(False)
        self.net_run = QtWidgets.QPushButton("Run sweep")
        self.net_progress = JobProgress()
        form = QtWidgets.QGridLayout()
        for i, (label, w) in enumerate((("Data", self.net_dataset), ("Train samples", self.net_n),
                                        ("Label noise", self.net_noise), ("Steps per width", self.net_steps))):
            form.addWidget(QtWidgets.QLabel(label), i // 2, 2 * (i % 2))
            form.addWidget(w, i // 2, 2 * (i % 2) + 1)
        form.addWidget(QtWidgets.QLabel("Widths"), 2, 0)
        form.addWidget(self.net_widths, 2, 1, 1, 2)
        form.addWidget(self.net_run, 2, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        self.net_summary = plots.caption("One hidden layer (ReLU), full-batch Adam on the squared loss, one network "
                                         "per width. Press Run sweep: each width trains in turn and appears as it "
                                         "finishes.")
        self.net_view = plots.make_view()
        self.net_plot = DescentPlot(self.net_view, "One-hidden-layer networks", "parameters p",
                                    "loss / error", "weight norm ‖θ‖", ("p = n·k (threshold: n samples, k outputs)",),
                                    names=("test loss", "train loss"), legend_corner="below")
        self.net_test_err = self.net_plot.add_curve("test_error", 3, "test error (0–1)")
        self.net_train_err = self.net_plot.add_curve("train_error", 4, "train error (0–1)")
        self.net_plot.plot.setRange(xRange=(2, 4.3), yRange=(-4, 0.2), padding=0)  # until the first width
        self.net_plot.note.set_text(NETWORKS_NOTE)
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(form)
        layout.addWidget(self.net_error)
        layout.addWidget(self.net_progress)
        layout.addWidget(self.net_summary)
        layout.addWidget(self.net_view, 1)
        self.net_run.clicked.connect(self.run_networks)
        self.net_progress.cancel_requested.connect(self.cancel_networks)
        return page

    def network_settings(self) -> dict[str, Any] | None:
        """The sweep's settings, or None (with the reason shown) when the widths do not parse."""
        try:
            widths = [int(w) for w in self.net_widths.text().replace(";", ",").split(",") if w.strip()]
        except ValueError:
            widths = []
        if not widths or min(widths) < 1 or max(widths) > 4096:
            self.net_error.setText("Widths: give whole numbers from 1 to 4096, separated by commas (e.g. 2, 8, 32).")
            self.net_error.setVisible(True)
            return None
        self.net_error.setVisible(False)
        return {"dataset": self.net_dataset.currentText(), "n_train": self.net_n.value(),
                "label_noise": self.net_noise.value() / 100.0, "steps": self.net_steps.value(),
                "widths": sorted(set(widths))}

    def run_networks(self, settings: dict[str, Any] | None = None) -> None:
        settings = settings or self.network_settings()
        if settings is None:
            return
        name = settings["dataset"]
        n = settings["n_train"]
        ds = toy_dataset(name, n=2 * n, noise=0.0 if name == "digits" else 0.1, test_fraction=0.5, seed=0)
        n_train, k = len(ds.y_train), ds.n_classes
        config = TrainConfig(optimizer="adam", lr=3e-3, batch_size=0, steps=settings["steps"], loss="mse",
                             device="cpu")
        widths = settings["widths"]
        self.net_points = []
        self.net_threshold = (n_train, k)
        self.net_plot.clear()
        self.net_plot.set_thresholds(n_train * k)
        # Fix the x range to every width to come (and the threshold); y follows the data.
        counts = [one_hidden_layer_params(ds.in_features, w, k) for w in widths] + [n_train * k]
        self.net_plot.plot.setXRange(np.log10(min(counts) / 1.3), np.log10(max(counts) * 1.3), padding=0)
        self.net_plot.plot.enableAutoRange(axis="y")
        total = len(widths) * settings["steps"]
        self.net_progress.start(f"training width {widths[0]} …", total)
        self.net_run.setEnabled(False)
        noise = settings["label_noise"]
        every = max(10, settings["steps"] // 20)
        self.net_summary.setText(f"{name}: n = {n_train} training samples, k = {k} classes, "
                                 f"{100 * noise:.0f}% of training labels wrong; the threshold "
                                 f"p = n·k = {n_train * k:,}.")
        self.run_log.begin("networks", {"settings": settings, "n_train": n_train, "k": k, "counts": counts,
                                        "summary": self.net_summary.text()})
        self.jobs.start("networks", lambda: width_sweep(ds, widths, config, seed=0, label_noise=noise,
                                                        progress_every=every),
                        self._network_items, on_end=self._networks_ended,
                        on_error=lambda text: self.net_summary.setText(text))

    def _network_items(self, items: list) -> None:
        self.run_log.add("networks", items)
        steps = self.net_steps.value()
        for item in items:
            if isinstance(item, SweepProgress):
                self.net_progress.set_value(item.index * item.steps + item.step,
                                            f"training width {item.width} ({item.index + 1}/{item.total}): "
                                            f"step {item.step:,}, loss {item.batch_loss:.3g}")
                self.net_plot.note.set_text(plots.progress_text(
                    f"Training width {item.width}, the first of {item.total}: it appears when it is trained",
                    item.step / max(1, item.steps)))
            else:
                self.net_points.append(item)
                self.net_progress.set_value((item.index + 1) * steps,
                                            f"width {item.width} done ({item.index + 1}/{item.total})")
        self._draw_networks()

    def _draw_networks(self) -> None:
        pts = [p for p in self.net_points if not p.diverged]
        if not pts:
            return
        p = np.array([q.n_params for q in pts], dtype=np.float64)
        self.net_plot.test.setData(p, _positive([q.test_loss for q in pts]))
        self.net_plot.train.setData(p, _positive([q.train_loss for q in pts]))
        self.net_test_err.setData(p, _positive([q.test_error for q in pts], 1e-3))
        self.net_train_err.setData(p, _positive([q.train_error for q in pts], 1e-3))  # 0 (interpolant) at the floor
        self.net_plot.norm.setData(p, _positive([q.weight_norm for q in pts]))
        worst = max(pts, key=lambda q: q.test_loss)
        n, k = self.net_threshold
        self.net_summary.setText(f"n = {n}, k = {k}: threshold p = n·k = {n * k:,}. Worst test loss "
                                 f"{worst.test_loss:.3g} at width {worst.width} (p = {worst.n_params:,}); "
                                 f"widest so far: test loss {pts[-1].test_loss:.3g}, test error "
                                 f"{100 * pts[-1].test_error:.0f}%." + _interpolates_from(pts))

    def _networks_ended(self) -> None:
        self.run_log.end("networks")
        self.net_plot.note.set_text(NETWORKS_NOTE)
        self.net_progress.finish()
        self.net_run.setEnabled(True)
        diverged = [p.width for p in self.net_points if p.diverged]
        if diverged:
            self.lab.message.emit(f"Widths {diverged} diverged and are not drawn.", 6000)

    def cancel_networks(self) -> None:
        self.jobs.cancel("networks")
        self._networks_ended()
        self.lab.message.emit(f"Network sweep cancelled after {len(self.net_points)} widths.", 4000)

    # -- epoch-wise --------------------------------------------------------------------------
    def _build_epoch_wise(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.slow_scale = ValueSlider("Slow-feature scale", SLOW_SCALE_VALUES, 0.03, lambda v: f"{v:g}",
                                      "input scale of the slow features: they are learned ~1/scale² times later")
        self.epoch_noise = ValueSlider("Label noise σ", NOISE_VALUES, 0.1, lambda v: f"{v:.2f}")
        self.fast_count = ValueSlider("Fast features", np.arange(10, 91, 5), 60, lambda v: f"{int(v)}",
                                      "number of fast features (n = 100 samples, 10 slow features)")
        controls = QtWidgets.QGridLayout()
        controls.addWidget(self.slow_scale, 0, 0)
        controls.addWidget(self.epoch_noise, 0, 1)
        controls.addWidget(self.fast_count, 1, 0)
        self.epoch_summary = plots.caption("")
        self.epoch_view = plots.make_view()
        self.epoch_plot = plots.add_plot(self.epoch_view, "Gradient descent on fast and slow features",
                                         "step (= epoch, full batch)", "mean squared error", legend=True,
                                         axisItems=log_axes("left", "bottom"))
        self.epoch_plot.setLogMode(x=True, y=True)
        place_legend(self.epoch_plot, "bottom-left")
        self.epoch_test = plots.curve(self.epoch_plot, 1, "test", width=2.5)
        self.epoch_train = plots.curve(self.epoch_plot, 0, "train")
        self.epoch_fast = plots.curve(self.epoch_plot, 2, "test error in fast features", width=1.6, dashed=True)
        self.epoch_slow = plots.curve(self.epoch_plot, 3, "test error in slow features", width=1.6, dashed=True)
        self.epoch_marks = pg.ScatterPlotItem(size=11, symbol="d", pen=pg.mkPen("k", width=1))
        self.epoch_plot.addItem(self.epoch_marks)
        plots.note(self.epoch_plot, "Computing gradient descent on fast and slow features…")
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls)
        layout.addWidget(self.epoch_summary)
        layout.addWidget(self.epoch_view, 1)
        for s in (self.slow_scale, self.epoch_noise, self.fast_count):
            s.value_changed.connect(lambda _v: self._rerun_epoch.start())
        return page

    def epoch_config(self) -> EpochWiseConfig:
        return replace(EpochWiseConfig(), slow_scale=self.slow_scale.value(), noise=self.epoch_noise.value(),
                       fast_features=int(self.fast_count.value()))

    def run_epoch_wise(self) -> None:
        config = self.epoch_config()
        self.epoch_points = []
        self.run_log.begin("epoch", config)
        self.jobs.start("epoch", lambda: epoch_wise_curve(config), self._epoch_items,
                        on_error=lambda text: self.epoch_summary.setText(text))

    def _epoch_items(self, items: list[EpochPoint]) -> None:
        self.run_log.add("epoch", items)
        self.epoch_points.extend(items)
        pts = [p for p in self.epoch_points if p.step > 0]
        if not pts:
            return
        t = np.array([p.step for p in pts], dtype=np.float64)
        self.epoch_test.setData(t, _positive([p.test_error for p in pts]))
        self.epoch_train.setData(t, _positive([p.train_error for p in pts]))
        self.epoch_fast.setData(t, _positive([p.fast_error for p in pts]))
        self.epoch_slow.setData(t, _positive([p.slow_error for p in pts]))
        shape = epoch_wise_shape(self.epoch_points)
        if np.isfinite(shape["peak"]):
            xs = [shape["first_min_step"], shape["peak_step"], shape["second_min_step"]]
            ys = [shape["first_min"], shape["peak"], shape["second_min"]]
            self.epoch_marks.setData(np.log10(xs), np.log10(ys), brush=pg.mkBrush(manager().color(1)))
            self.epoch_summary.setText(
                f"Test error: first minimum {shape['first_min']:.3g} at step {shape['first_min_step']:,.0f}, "
                f"peak {shape['peak']:.3g} at step {shape['peak_step']:,.0f}, then down to "
                f"{shape['second_min']:.3g} at step {shape['second_min_step']:,.0f}.")
        else:
            self.epoch_marks.setData([], [])
            self.epoch_summary.setText("No epoch-wise peak with these settings: the test error only falls "
                                       "(move the slow scale towards 1 or lower the number of fast features "
                                       "to see why).")

    # -- panel protocol ----------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active and not self._started and not self.lab.sync:  # headless computes in headless()
            self._started = True  # first visit: compute the fast pictures
            self.run_sweep()
            self.run_epoch_wise()

    def run_preset(self, preset) -> None:
        """Compute the picture the preset names (all of them when it names none)."""
        self._started = True
        view = preset.options().get("view")
        if view in (None, "random-features"):
            self.run_sweep()
        if view in (None, "epoch-wise"):
            self.run_epoch_wise()
        if view in (None, "networks"):
            settings = self.network_settings()
            if settings is not None:
                self.run_networks(settings)
        self._rerun.stop()  # the option setters queued re-runs of what starts here
        self._rerun_epoch.stop()

    def show_view(self, view: str) -> None:
        if view not in self.VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {', '.join(self.VIEWS)}")
        self.pages.setCurrentIndex(self.VIEWS.index(view))

    def apply_options(self, options: dict[str, Any]) -> None:
        known = {"view", "noise", "ridge", "n_train", "features", "label_noise", "steps", "widths", "dataset",
                 "network_samples", "slow_scale", "epoch_noise", "fast_features"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"the {self.title} tab has no options {sorted(unknown)}")
        if "view" in options:
            self.show_view(options["view"])
        for key, slider in (("noise", self.noise), ("ridge", self.ridge), ("n_train", self.samples),
                            ("slow_scale", self.slow_scale), ("epoch_noise", self.epoch_noise),
                            ("fast_features", self.fast_count)):
            if key in options:
                slider.set_value(float(options[key]))
        if "features" in options:
            if options["features"] not in ("relu", "fourier"):
                raise ValueError("features must be 'relu' or 'fourier'")
            self.features.setCurrentIndex(0 if options["features"] == "relu" else 1)
        if "label_noise" in options:
            self.net_noise.setValue(int(round(100 * float(options["label_noise"]))))
        if "steps" in options:
            self.net_steps.setValue(int(options["steps"]))
        if "widths" in options:
            self.net_widths.setText(", ".join(str(int(w)) for w in options["widths"]))
        if "dataset" in options:
            if options["dataset"] not in TOY_NAMES:
                raise ValueError(f"dataset must be one of {', '.join(TOY_NAMES)}")
            self.net_dataset.setCurrentText(options["dataset"])
        if "network_samples" in options:
            self.net_n.setValue(int(options["network_samples"]))

    def options(self) -> dict[str, Any]:
        try:
            widths = sorted({int(w) for w in self.net_widths.text().replace(";", ",").split(",") if w.strip()})
        except ValueError:
            widths = []
        if not widths or min(widths) < 1 or max(widths) > 4096:
            widths = list(DEFAULT_WIDTHS)  # what the field holds cannot be run: save the default
        return {"view": self.VIEWS[self.pages.currentIndex()], "noise": self.noise.value(),
                "ridge": self.ridge.value(), "n_train": int(self.samples.value()),
                "features": "relu" if self.features.currentIndex() == 0 else "fourier",
                "slow_scale": self.slow_scale.value(), "epoch_noise": self.epoch_noise.value(),
                "fast_features": int(self.fast_count.value()), "label_noise": self.net_noise.value() / 100,
                "steps": self.net_steps.value(), "widths": widths, "dataset": self.net_dataset.currentText(),
                "network_samples": self.net_n.value()}

    def shutdown(self) -> None:
        self._rerun.stop()
        self._rerun_epoch.stop()
        self.jobs.stop_all(wait=1.5)

    def replay_runs(self, runs: dict) -> None:
        """The recorded sweeps as they stood: random features, networks by width, epoch-wise."""
        self.jobs.stop_all(wait=1.5)
        sweep = runs.get("sweep")
        if sweep is not None and sweep.items:
            self._draw_sweep(sweep.items[-1])
        net = runs.get("networks")
        self.net_points = []
        self.net_plot.clear()
        if net is not None:
            s = net.settings
            n_train, k, counts = int(s["n_train"]), int(s["k"]), list(s["counts"])
            self.net_threshold = (n_train, k)
            self.net_plot.set_thresholds(n_train * k)
            self.net_plot.plot.setXRange(np.log10(min(counts) / 1.3), np.log10(max(counts) * 1.3), padding=0)
            self.net_plot.plot.enableAutoRange(axis="y")
            self.net_summary.setText(str(s.get("summary", "")))
            with self.run_log.muted():
                if net.items:
                    self._network_items(net.items)
                if net.ended:
                    self._networks_ended()
        epoch = runs.get("epoch")
        self.epoch_points = []
        if epoch is not None and epoch.items:
            with self.run_log.muted():
                self._epoch_items(epoch.items)

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        lay_out_pages(self.pages)
        out: dict[str, QtWidgets.QWidget] = {}
        if self.sweep is not None:
            out["double-descent-random-features"] = self.rf_view
        if self.net_points:
            out["double-descent-networks"] = self.net_view
        if self.epoch_points:
            out["double-descent-epoch-wise"] = self.epoch_view
        return out or {self.slug: self}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        results = self.rf_seed_results()
        if results:
            claim = self.rf_claim()
            out["rf_claim"] = {"name": claim.name, "verdict": verdict(claim, results),
                               "seeds": [{"seed": sd, **n, "holds": ok} for sd, n, ok in results]}
        if self.sweep is not None:
            out["random_features"] = self.sweep.as_dict()
            out["rf_counts"] = self.sweep.counts
            out["rf_test_error"] = self.sweep.test_error
            out["rf_train_error"] = self.sweep.train_error
            out["rf_weight_norm"] = self.sweep.weight_norm
        if self.net_points:
            out["networks"] = [vars(p) for p in self.net_points]
            out["network_threshold"] = {"n": self.net_threshold[0], "k": self.net_threshold[1]}
            for name in ("n_params", "train_error", "test_error", "train_loss", "test_loss", "weight_norm"):
                out[f"net_{name}"] = np.array([getattr(p, name) for p in self.net_points])
        if self.epoch_points:
            out["epoch_wise"] = epoch_wise_shape(self.epoch_points)
            out["epoch_steps"] = np.array([p.step for p in self.epoch_points])
            out["epoch_test_error"] = np.array([p.test_error for p in self.epoch_points])
            out["epoch_train_error"] = np.array([p.train_error for p in self.epoch_points])
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        """Compute the pictures inline: all three for a plain --tab run, only the preset's view
        when a preset names one."""
        self._started = True
        view = ctx.options.get("view")
        if view in (None, "random-features"):
            self.run_sweep()
        if view in (None, "epoch-wise"):
            self.run_epoch_wise()
        if view in (None, "networks"):
            settings = self.network_settings()
            if settings is not None:
                if ctx.quick and "widths" not in ctx.options:
                    settings["widths"] = list(QUICK_WIDTHS)
                if ctx.quick and "steps" not in ctx.options:
                    settings["steps"] = 150
                self.run_networks(settings)
        if view is not None:
            self.show_view(view)
        self._rerun.stop()  # the option setters queued re-runs; everything is computed already
        self._rerun_epoch.stop()
