"""The Double descent tab's Random features page: random-features regression swept over the
number of features, with sliders for label noise, ridge and samples, and the spread over seeds."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from engine.double_descent import SweepResult

from .. import plots
from ..panel_tools import ValueSlider
from ..spread import SeedBand, SeedCount, caption_label
from .double_descent_common import FLOOR, NOISE_VALUES, DescentPlot, positive

RIDGE_VALUES = np.concatenate([[0.0], np.geomspace(1e-4, 10.0, 41)])
SAMPLE_VALUES = np.arange(20, 301, 10)
TRAIN_FLOOR = 1e-4  # where the (zero) training error of an interpolant is drawn


def ridge_text(v: float) -> str:
    return "0 (min-norm)" if v == 0 else f"{v:.2g}"


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 100 else f"{ratio:.1f}×"


class RandomFeaturesPage(QtWidgets.QWidget):
    settings_changed = QtCore.Signal()  # a slider, the features or the seed count moved: sweep again

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.noise = ValueSlider("Label noise σ", NOISE_VALUES, 0.1, lambda v: f"{v:.2f}",
                                 "standard deviation of the Gaussian noise added to the targets")
        self.ridge = ValueSlider("Ridge λ", RIDGE_VALUES, 0.0, ridge_text,
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
        self.rf_view = plots.make_view()
        self.rf_plot = DescentPlot(self.rf_view, "Random-features regression (median of 5 draws)",
                                   "number of features p (= parameters)", "mean squared error",
                                   "weight norm ‖a‖", ("p = n (interpolation threshold)",))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls)
        layout.addWidget(self.rf_summary)
        layout.addWidget(self.rf_verdict)
        layout.addWidget(self.rf_view, 1)
        self.rf_band = SeedBand(self.rf_plot.plot, 1, "test error, each seed", floor=FLOOR)
        for s in (self.noise, self.ridge, self.samples):
            s.value_changed.connect(lambda _v: self.settings_changed.emit())
        self.features.currentIndexChanged.connect(lambda _i: self.settings_changed.emit())
        self.rf_seeds.valueChanged.connect(lambda _v: self.settings_changed.emit())

    def settings(self) -> dict[str, Any]:
        """The sweep's settings, as `random_features_sweep` takes them."""
        return {"n_train": int(self.samples.value()), "noise": self.noise.value(), "ridge": self.ridge.value(),
                "features": "relu" if self.features.currentIndex() == 0 else "fourier"}

    def draw(self, result: SweepResult) -> None:
        """The sweep's errors and weight norm against p, and what they say in a line."""
        p = result.counts.astype(np.float64)
        self.rf_plot.test.setData(p, positive(result.test_error))
        self.rf_plot.train.setData(p, positive(result.train_error, TRAIN_FLOOR))
        self.rf_plot.norm.setData(p, positive(result.weight_norm))
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
            f" Ridge λ = {ridge_text(result.ridge)}."
            + (" The training error is 0 from p = n on (drawn at the bottom)." if result.ridge == 0 else ""))

    def show_verdict(self, text: str) -> None:
        self.rf_verdict.setText(text)
        self.rf_verdict.setVisible(True)
