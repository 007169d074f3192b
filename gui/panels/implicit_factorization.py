"""The Implicit regularisation tab's page (c): matrix sensing with X = UUᵀ from U₀ = αI. Small α
finds the least nuclear norm."""

from __future__ import annotations

import numpy as np
from PySide6 import QtWidgets

from engine.implicit import FactorPoint

from .. import plots
from ..panel_tools import JobProgress, ValueSlider, legend_below, log_axes
from ..style import manager

# 1, 1.5, 2, 3, 5, 7 per decade, from 0.001 to 3
ALPHA_VALUES = [v for v in np.round([m * 10.0 ** k for k in range(-3, 1) for m in (1, 1.5, 2, 3, 5, 7)], 6) if v <= 3]


class FactorizationPage(QtWidgets.QWidget):
    """The tab connects `alpha` and `factor_progress` to its jobs."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.alpha = ValueSlider("Initial scale α (U₀ = αI)", ALPHA_VALUES, 0.01, lambda v: f"{v:g}",
                                 "gradient descent on X = UUᵀ starts from U₀ = αI")
        self.factor_progress = JobProgress()
        self.factor_summary = plots.caption("")
        self.factor_view = plots.make_view()
        self.factor_plot = plots.add_plot(self.factor_view, "Where GD lands, against α", "initial scale α",
                                          "distance / nuclear norm", row=0, col=0, rowspan=2,
                                          axisItems=log_axes("left", "bottom"))
        self.factor_plot.setLogMode(x=True, y=True)
        self.factor_plot.legend = legend_below(self.factor_view, row=2, col=0, columns=2, colspan=2)
        self.factor_err = plots.curve(self.factor_plot, 1, "relative distance to X_min", symbol="o",
                                      symbolSize=6, symbolBrush=manager().color(1), symbolPen=None)
        self.factor_nuc = plots.curve(self.factor_plot, 0, "‖X_α‖_* (nuclear norm)", symbol="s", symbolSize=6,
                                      symbolBrush=manager().color(0), symbolPen=None)
        self.factor_min_line = plots.curve(self.factor_plot, 0, "least possible ‖X‖_*", width=1.2, dashed=True)
        self.factor_frob_line = plots.curve(self.factor_plot, 3, "‖X‖_* of the least-Frobenius fit",
                                            width=1.2, dashed=True)
        self.factor_marker = plots.guide_line(self.factor_plot, 0.0, angle=90, key="accent")
        plots.curve(self.factor_plot, "accent", "slider's α", width=1.5, dashed=True)  # legend entry
        self.factor_x = plots.ImagePlot(self.factor_view, "X_α found by GD", "", "", cmap="CET-D1",
                                        bar_label="entry", row=0, col=1)
        self.factor_ref = plots.ImagePlot(self.factor_view, "least nuclear norm X_min", "", "", cmap="CET-D1",
                                          bar_label="entry", row=1, col=1)
        for img in (self.factor_x, self.factor_ref):
            img.plot.setAspectLocked(True)
            img.plot.hideAxis("left")
            img.plot.hideAxis("bottom")
            img.plot.invertY(True)
            img.bar.axis.enableAutoSIPrefix(False)
        plots.note(self.factor_plot, "Computing gradient descent from each initial scale α…")
        for img in (self.factor_x, self.factor_ref):
            plots.note(img.plot, "Computing…")
        self.factor_view.ci.layout.setColumnStretchFactor(0, 3)
        self.factor_view.ci.layout.setColumnStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.alpha)
        layout.addWidget(self.factor_progress)
        layout.addWidget(self.factor_summary)
        layout.addWidget(self.factor_view, 1)

    def draw_sweep(self, point: FactorPoint, min_nuc: float, frob: float) -> None:
        """Distance to X_min and nuclear norm against α, with the least and least-Frobenius norms."""
        a = point.alphas
        self.factor_err.setData(a, np.maximum(point.error, 1e-6))
        self.factor_nuc.setData(a, point.nuclear_norm)
        self.factor_min_line.setData(a[[0, -1]], [min_nuc, min_nuc])
        self.factor_frob_line.setData(a[[0, -1]], [frob, frob])

    def draw_single(self, point: FactorPoint, reference: np.ndarray, min_nuc: float, frob: float) -> None:
        """The matrix GD found for the slider's α beside X_min, on one colour scale."""
        lim = float(np.abs(reference).max())
        extent = (1, len(reference), 1, len(reference))  # rows and columns numbered from 1
        for img, z in ((self.factor_x, point.X[0]), (self.factor_ref, reference)):
            img.set_image(z, extent, levels=(-lim, lim))
            img.plot.setRange(xRange=(0.5, len(z) + 0.5), yRange=(0.5, len(z) + 0.5), padding=0)
        self.factor_summary.setText(
            f"α = {point.alphas[0]:.3g}: after {point.step:,} steps loss {point.loss[0]:.1e}, nuclear norm "
            f"‖X_α‖_* = {point.nuclear_norm[0]:.3f} (least possible {min_nuc:.3f}; the least-Frobenius fit "
            f"has {frob:.3f}), distance to X_min {100 * point.error[0]:.1f}%. The smaller α, the closer.")
