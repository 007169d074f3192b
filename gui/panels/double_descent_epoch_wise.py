"""The Double descent tab's Epoch-wise page: test error against training time for a model with
fast and slow features, exact gradient descent, with its two minima and the peak between."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.double_descent import EpochPoint, EpochWiseConfig, epoch_wise_shape

from .. import plots
from ..panel_tools import ValueSlider, log_axes, place_legend
from ..spread import SeedBand, SeedCount, caption_label
from ..style import manager
from .double_descent_common import FLOOR, NOISE_VALUES, positive

SLOW_SCALE_VALUES = (0.01, 0.012, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3)


class EpochWisePage(QtWidgets.QWidget):
    settings_changed = QtCore.Signal()  # a slider moved: compute the curve again

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.slow_scale = ValueSlider("Slow-feature scale", SLOW_SCALE_VALUES, 0.03, lambda v: f"{v:g}",
                                      "input scale of the slow features: they are learned ~1/scale² times later")
        self.epoch_noise = ValueSlider("Label noise σ", NOISE_VALUES, 0.1, lambda v: f"{v:.2f}")
        self.fast_count = ValueSlider("Fast features", np.arange(10, 91, 5), 60, lambda v: f"{int(v)}",
                                      "number of fast features (n = 100 samples, 10 slow features)")
        controls = QtWidgets.QGridLayout()
        controls.addWidget(self.slow_scale, 0, 0)
        controls.addWidget(self.epoch_noise, 0, 1)
        controls.addWidget(self.fast_count, 1, 0)
        self.epoch_seeds = SeedCount("Draw the data, teacher and label noise again for seeds 1, 2, … and run the "
                                     "same gradient descent on each; the band is the mean ± s.d. of their test "
                                     "errors.")
        seeds_row = QtWidgets.QHBoxLayout()
        seeds_row.addStretch(1)
        seeds_row.addWidget(self.epoch_seeds)
        controls.addLayout(seeds_row, 1, 1)
        self.epoch_summary = plots.caption("")
        self.epoch_verdict = caption_label()
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
        self.epoch_band = SeedBand(self.epoch_plot, 1, "test, each seed", floor=FLOOR)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls)
        layout.addWidget(self.epoch_summary)
        layout.addWidget(self.epoch_verdict)
        layout.addWidget(self.epoch_view, 1)
        for s in (self.slow_scale, self.epoch_noise, self.fast_count):
            s.value_changed.connect(lambda _v: self.settings_changed.emit())
        self.epoch_seeds.valueChanged.connect(lambda _v: self.settings_changed.emit())

    def config(self) -> EpochWiseConfig:
        return replace(EpochWiseConfig(), slow_scale=self.slow_scale.value(), noise=self.epoch_noise.value(),
                       fast_features=int(self.fast_count.value()))

    def draw_seeds(self, steps: np.ndarray, test_error: np.ndarray) -> None:
        """Each seed's test error at the curve's steps (step 0 left out: the log axis has no 0) as
        points, with their mean ± s.d. band; `test_error` is (seeds, steps)."""
        steps = np.asarray(steps, dtype=np.float64)
        later = steps > 0
        self.epoch_band.set_data(steps[later], np.asarray(test_error)[:, later])

    def show_verdict(self, text: str) -> None:
        self.epoch_verdict.setText(text)
        self.epoch_verdict.setVisible(bool(text))

    def draw(self, points: list[EpochPoint]) -> None:
        """The curves so far, and the minima and peak once the test error has them."""
        pts = [p for p in points if p.step > 0]
        if not pts:
            return
        t = np.array([p.step for p in pts], dtype=np.float64)
        self.epoch_test.setData(t, positive([p.test_error for p in pts]))
        self.epoch_train.setData(t, positive([p.train_error for p in pts]))
        self.epoch_fast.setData(t, positive([p.fast_error for p in pts]))
        self.epoch_slow.setData(t, positive([p.slow_error for p in pts]))
        shape = epoch_wise_shape(points)
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
