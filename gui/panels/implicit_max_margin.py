"""The Implicit regularisation tab's page (b): logistic regression on separable points. ‖w‖
grows like log t and the direction turns to the hard-margin SVM, the decision line animated."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from engine.implicit import MarginPoint

from .. import plots
from ..panel_tools import JobProgress, legend_below, log_axes
from ..style import manager
from .implicit_common import line_segment

MARGIN_STEPS = (1_000, 10_000, 100_000, 1_000_000)


class MaxMarginPage(QtWidgets.QWidget):
    """The tab connects `margin_run`, `margin_seed` and `margin_progress` to its job."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.margin_steps = QtWidgets.QComboBox()
        self.margin_steps.addItems([f"{s:,}" for s in MARGIN_STEPS])
        self.margin_steps.setCurrentIndex(2)
        self.margin_seed = QtWidgets.QSpinBox()
        self.margin_seed.setRange(0, 9999)
        self.margin_run = QtWidgets.QPushButton("Run again")
        self.margin_progress = JobProgress()
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Steps"))
        row.addWidget(self.margin_steps)
        row.addWidget(QtWidgets.QLabel("Data seed"))
        row.addWidget(self.margin_seed)
        row.addWidget(self.margin_run)
        row.addStretch(1)
        self.margin_summary = plots.caption("")
        self.margin_view = plots.make_view()
        self.margin_pic = plots.add_plot(self.margin_view, "Separable points", "x₁", "x₂", row=0, col=0,
                                         rowspan=2)
        self.margin_pic.setAspectLocked(True)
        # The lines cross every free corner of the picture: the legend goes below it.
        self.margin_pic.legend = legend_below(self.margin_view, row=2, col=0, columns=3)
        self.margin_pts = pg.ScatterPlotItem(size=9, pen=pg.mkPen((255, 255, 255, 220), width=1.0))
        self.margin_pic.addItem(self.margin_pts)
        self.margin_svm = plots.curve(self.margin_pic, "plot_fg", "hard-margin SVM, no intercept", width=2.0,
                                      dashed=True)
        self.margin_mean = plots.curve(self.margin_pic, 3, "after step 1", width=1.5, dashed=True)
        self.margin_gd = plots.curve(self.margin_pic, 2, "GD now", width=3.0)
        manager().register_plot(self.margin_pic)
        self.margin_norm_plot = plots.add_plot(self.margin_view, "‖w‖ grows like log t", "step t", "‖w‖",
                                               row=0, col=1, axisItems=log_axes("bottom"))
        self.margin_norm_plot.setLogMode(x=True, y=False)
        self.margin_norm = plots.curve(self.margin_norm_plot, 0, "‖w‖")
        self.margin_angle_plot = plots.add_plot(self.margin_view, "Angle to the SVM direction", "step t",
                                                "angle (degrees)", row=1, col=1, axisItems=log_axes("bottom"))
        self.margin_angle_plot.setLogMode(x=True, y=False)
        self.margin_angle = plots.curve(self.margin_angle_plot, 1, "angle")
        for plot in (self.margin_pic, self.margin_norm_plot, self.margin_angle_plot):
            plots.note(plot, "Computing gradient descent on the logistic loss…")
        self.margin_view.ci.layout.setColumnStretchFactor(0, 3)
        self.margin_view.ci.layout.setColumnStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(self.margin_progress)
        layout.addWidget(self.margin_summary)
        layout.addWidget(self.margin_view, 1)
        self._extent = 1.0
        self._steps = MARGIN_STEPS[2]

    def steps(self) -> int:
        return MARGIN_STEPS[self.margin_steps.currentIndex()]

    def begin(self, X: np.ndarray, y: np.ndarray, w_svm: np.ndarray, steps: int) -> None:
        """The points, the SVM's line and step 1's line; GD's line and curves empty until it runs."""
        colours = plots.class_brushes((y > 0).astype(int), 2)
        self.margin_pts.setData(X[:, 0], X[:, 1], brush=colours)
        extent = float(np.abs(X).max()) * 1.1
        self._extent = extent
        self.margin_svm.setData(*line_segment(w_svm, 0.0, extent))
        mean_dir = (y[:, None] * X).mean(0)
        self.margin_mean.setData(*line_segment(mean_dir, 0.0, extent))
        self.margin_gd.setData([], [])
        self.margin_norm.setData([], [])
        self.margin_angle.setData([], [])
        self.margin_pic.setRange(xRange=(-extent, extent), yRange=(-extent, extent), padding=0.02)
        self._steps = steps

    def draw(self, pts: list[MarginPoint]) -> None:
        """The run so far: ‖w‖ and the angle against t, GD's current line, progress on a log scale."""
        t = np.array([p.step for p in pts], dtype=np.float64)
        self.margin_norm.setData(t, [p.norm for p in pts])
        self.margin_angle.setData(t, [p.angle_to_svm for p in pts])
        last = pts[-1]
        self.margin_gd.setData(*line_segment(last.w, 0.0, self._extent))
        self.margin_progress.set_value(int(100 * np.log(last.step) / np.log(max(self._steps, 2))))
        first = pts[0]
        self.margin_summary.setText(
            f"step {last.step:,}: ‖w‖ = {last.norm:.2f}, angle to the SVM normal {last.angle_to_svm:.2f}° "
            f"(after step 1: {first.angle_to_svm:.1f}°), normalised margin {last.margin:.3f}, "
            f"loss {last.loss:.2e}. Each tenfold more steps adds about the same to ‖w‖.")
