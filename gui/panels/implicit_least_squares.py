"""The Implicit regularisation tab's page (a): least squares with more unknowns than equations.
GD from zero lands on the minimum-norm solution, from a random start on another interpolant."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.implicit import LeastSquaresDemo

from .. import plots
from ..panel_tools import ValueSlider, legend_below, log_axes, place_legend, set_title
from ..style import manager
from .implicit_common import line_segment


class LeastSquaresPage(QtWidgets.QWidget):
    settings_changed = QtCore.Signal()  # the seed or the number of unknowns changed: compute again

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.ls_seed = QtWidgets.QSpinBox()
        self.ls_seed.setRange(0, 9999)
        self.ls_seed.setToolTip("seed of the random starting point")
        self.ls_unknowns = ValueSlider("Unknowns d", np.arange(30, 401, 10), 100, lambda v: f"{int(v)}",
                                       "number of unknowns of the right-hand problem (20 equations)")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Random start: seed"))
        row.addWidget(self.ls_seed)
        row.addWidget(self.ls_unknowns, 1)
        self.ls_summary = plots.caption("")
        self.ls_view = plots.make_view()
        self.ls_picture = plots.add_plot(self.ls_view, "One equation, two unknowns", "w₁", "w₂", row=0, col=0)
        self.ls_picture.setAspectLocked(True)
        self.ls_picture.legend = legend_below(self.ls_view, row=1, col=0, columns=2, colspan=2)
        self.ls_line = plots.curve(self.ls_picture, "plot_fg", "all exact fits  ⟨x, w⟩ = y", width=2.0)
        self.ls_circle = plots.curve(self.ls_picture, "plot_fg", "‖w‖ = ‖X⁺y‖", width=1.0, dashed=True)
        self.ls_path0 = plots.curve(self.ls_picture, 0, "GD from 0 → X⁺y", width=2.0, symbol="o", symbolSize=5,
                                    symbolBrush=manager().color(0), symbolPen=None)
        self.ls_pathr = plots.curve(self.ls_picture, 1, "GD from a random start", width=2.0, symbol="o",
                                    symbolSize=5, symbolBrush=manager().color(1), symbolPen=None)
        self.ls_points = pg.ScatterPlotItem(size=12, pen=pg.mkPen("k", width=1.2))
        self.ls_picture.addItem(self.ls_points)
        self.ls_dist = plots.add_plot(self.ls_view, "20 equations, 100 unknowns", "step",
                                      "distance", row=0, col=1, legend=True, axisItems=log_axes("left"))
        self.ls_dist.setLogMode(x=False, y=True)
        place_legend(self.ls_dist, "right")
        self.ls_d0 = plots.curve(self.ls_dist, 0, "from 0: ‖w − X⁺y‖")
        self.ls_dr = plots.curve(self.ls_dist, 1, "random start: ‖w − X⁺y‖")
        self.ls_drl = plots.curve(self.ls_dist, 1, "random start: ‖w − w∞‖", dashed=True)
        plots.note(self.ls_picture, "Computing gradient descent on one equation…")
        plots.note(self.ls_dist, "Computing gradient descent on 20 equations…")
        self.ls_view.ci.layout.setColumnStretchFactor(0, 1)
        self.ls_view.ci.layout.setColumnStretchFactor(1, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(self.ls_summary)
        layout.addWidget(self.ls_view, 1)
        self.ls_seed.valueChanged.connect(lambda _v: self.settings_changed.emit())
        self.ls_unknowns.value_changed.connect(lambda _v: self.settings_changed.emit())

    def draw(self, demo: LeastSquaresDemo) -> None:
        x2, y2, pic0, picr = demo.x2, demo.y2, demo.picture_zero, demo.picture_random
        zero, rand = demo.zero, demo.random
        set_title(self.ls_dist, f"20 equations, {demo.d} unknowns")
        w_min = demo.w_min2
        r = float(np.linalg.norm(w_min))
        ends = [p.w for p in picr] + [p.w for p in pic0] + [np.zeros(2)]
        extent = max(2.0, float(np.abs(np.array(ends)).max()) * 1.25)
        lx, ly = line_segment(x2[0], float(y2[0]), extent)
        self.ls_line.setData(lx, ly)
        theta = np.linspace(0, 2 * np.pi, 200)
        self.ls_circle.setData(r * np.cos(theta), r * np.sin(theta))
        p0 = np.array([p.w for p in pic0])
        pr = np.array([p.w for p in picr])
        self.ls_path0.setData(p0[:, 0], p0[:, 1])
        self.ls_pathr.setData(pr[:, 0], pr[:, 1])
        brushes = [pg.mkBrush(manager().color("plot_fg")), pg.mkBrush(manager().color(0)),
                   pg.mkBrush(manager().color(1))]
        self.ls_points.setData([0.0, w_min[0], pr[-1, 0]], [0.0, w_min[1], pr[-1, 1]], brush=brushes,
                               symbol=["+", "star", "o"], size=[14, 18, 12])
        self.ls_picture.setRange(xRange=(-extent, extent), yRange=(-extent, extent), padding=0.02)
        steps = np.array([p.step for p in zero], dtype=np.float64)
        self.ls_d0.setData(steps, np.maximum([p.distance_to_min_norm for p in zero], 1e-17))
        self.ls_dr.setData(steps, np.maximum([p.distance_to_min_norm for p in rand], 1e-17))
        self.ls_drl.setData(steps, np.maximum([p.distance_to_limit for p in rand], 1e-17))
        z, rr = zero[-1], rand[-1]
        self.ls_summary.setText(
            f"After {z.step} steps: from 0, loss {z.loss:.1e} and ‖w − X⁺y‖ = {z.distance_to_min_norm:.1e} "
            f"(the minimum-norm fit, ‖w‖ = {z.norm:.3f}); from a random start, loss {rr.loss:.1e} but "
            f"‖w − X⁺y‖ = {rr.distance_to_min_norm:.3f} (a different fit, ‖w‖ = {rr.norm:.3f}): the start's "
            "part orthogonal to the rows of X never moves.")
