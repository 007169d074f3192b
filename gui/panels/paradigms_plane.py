"""The Paradigms tab's Shared plane page: every rule's path on one loss surface (the plane
through θ₀ spanned by the principal directions of all paths together), and λmax of the Hessian
where each rule ended."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.paradigms import RULE_SHORT, RULES, Curvature, SharedPlane

from .. import plots
from ..panel_tools import legend_below
from ..style import manager
from ..worker import event_loop_turn
from .paradigms_common import COLOR

SYMBOL = {"backprop": "o", "feedback_alignment": "t", "evolution": "s", "forward_forward": "d", "hebbian": "star"}


class PlanePage(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._legend_rules: tuple[str, ...] | None = None
        self.plane_view = plots.make_view()
        self.plane_map = plots.ImagePlot(self.plane_view, "Every path on one loss surface", "α  (along d₁)",
                                         "β  (along d₂)", cmap="viridis", bar_label="log₁₀ training loss",
                                         row=0, col=0)
        self.contours = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((255, 255, 255, 120), width=1))
        self.plane_map.plot.addItem(self.contours)
        self.plane_map.bar.axis.enableAutoSIPrefix(False)
        self.plane_map.plot.legend = legend_below(self.plane_view, row=1, col=0, columns=len(RULES))
        self.path_curves: dict[str, pg.PlotDataItem] = {}
        self.path_ends: dict[str, pg.ScatterPlotItem] = {}
        for rule in RULES:
            c = plots.curve(self.plane_map.plot, COLOR[rule], RULE_SHORT[rule], width=2.5)
            c.setShadowPen(pg.mkPen((255, 255, 255, 200), width=5))
            self.path_curves[rule] = c
            end = pg.ScatterPlotItem(size=13, symbol=SYMBOL[rule], pen=pg.mkPen("w", width=1.5))
            end.setZValue(5)
            self.plane_map.plot.addItem(end)
            self.path_ends[rule] = end
        self.start_marker = pg.ScatterPlotItem(size=14, symbol="o", pen=pg.mkPen("k", width=2),
                                               brush=pg.mkBrush(255, 255, 255))
        self.start_marker.setZValue(6)
        self.plane_map.plot.addItem(self.start_marker)
        # Black on a pale box: legible on every colour of the surface, in every theme.
        self.start_label = pg.TextItem("θ₀", color=(0, 0, 0), fill=pg.mkBrush(255, 255, 255, 190),
                                       anchor=(-0.35, 1.15))
        self.start_label.setZValue(6)
        self.plane_map.plot.addItem(self.start_label, ignoreBounds=True)  # a label never moves the range

        self.curv_view = plots.make_view()
        # λmax: the largest eigenvalue of the Hessian of the training loss.
        self.curv_plot = plots.add_plot(self.curv_view, "λmax at the end", "", "λmax (dashed: θ₀)", row=0, col=0)
        self.curv_plot.setMouseEnabled(x=False, y=False)
        self.curv_bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.6)
        self.curv_plot.addItem(self.curv_bars)
        self.curv_start = plots.guide_line(self.curv_plot, 0.0, key="plot_fg")
        self.curv_start.setVisible(False)
        self.plane_caption = plots.caption("", scale=0.9)
        plots.note(self.plane_map.plot, "The plane through θ₀ and the rules' end points: computed after training",
                   items=(self.plane_map.image,))
        plots.note(self.curv_plot, "Each rule's λmax: measured after training")

        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        right.addWidget(self.plane_view)
        right.addWidget(self.curv_view)
        right.setStretchFactor(0, 5)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)
        self.plane_view.setMinimumSize(200, 160)
        self.curv_view.setMinimumSize(140, 120)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(right, 1)
        lay.addWidget(self.plane_caption)
        self.plane_split = right

    def clear(self, rules: tuple[str, ...]) -> None:
        """Empty plots for a new run of `rules`; the legend lists these rules only."""
        for c in list(self.path_curves.values()) + [self.contours]:
            c.setData([], [])
        for s in self.path_ends.values():
            s.setData([], [])
        self.start_marker.setData([], [])
        self.start_label.setVisible(False)
        self.plane_map.image.clear()
        self.plane_caption.setText("The shared plane is fitted once every rule has finished.")
        self.curv_bars.setOpts(x=np.zeros(0), height=np.zeros(0))
        self.curv_start.setVisible(False)
        event_loop_turn()
        plot = self.plane_map.plot
        if tuple(rules) != self._legend_rules:  # restyling a plot relays it out: only on a change
            plot.legend.clear()
            for rule in rules:
                plot.legend.addItem(self.path_curves[rule], RULE_SHORT[rule])
            manager().register_plot(plot)
            self._legend_rules = tuple(rules)
        for rule in RULES:
            self.path_curves[rule].setVisible(rule in rules)

    def draw_plane(self, p: SharedPlane) -> None:
        for rule, coords in p.paths.items():
            self.path_curves[rule].setData(coords[:, 0], coords[:, 1])
            self.path_ends[rule].setData([coords[-1, 0]], [coords[-1, 1]])
        self.start_marker.setData([0.0], [0.0])
        self.start_label.setPos(0.0, 0.0)
        self.start_label.setVisible(True)
        if p.Z is not None and p.alphas is not None:
            z = np.log10(np.clip(p.Z, 1e-12, None))
            finite = z[np.isfinite(z)]
            levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            # Z[i, j] is at (αᵢ, βⱼ): rows of the picture run along β.
            extent = (float(p.alphas[0]), float(p.alphas[-1]), float(p.betas[0]), float(p.betas[-1]))
            self.plane_map.set_image(z.T, extent, levels=levels)
            if p.contours is not None and len(p.contours.segments):
                self.contours.setData(p.contours.segments[:, 0], p.contours.segments[:, 1])
        else:
            pts = np.concatenate([c for c in p.paths.values()] + [np.zeros((1, 2))])
            lo, hi = pts.min(0), pts.max(0)
            self.plane_map.plot.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0.1)
        share = " · ".join(f"{RULE_SHORT[r]} {100 * v:.0f}%" for r, v in p.in_plane.items())
        samples = f" Loss on {p.surface_samples:,} training samples." if p.surface_samples else ""
        self.plane_caption.setText(
            f"Plane through θ₀ (white circle) along the two principal directions of all paths, each path weighted "
            f"equally: d₁ holds {100 * p.explained[0]:.0f}%, d₂ {100 * p.explained[1]:.0f}% of their squared "
            f"displacement. Share of each path inside the plane: {share}.{samples}")

    def draw_curvature(self, c: Curvature) -> None:
        rules = [r for r in RULES if r in c.lambda_max]
        x = np.arange(len(rules), dtype=float)
        heights = np.array([c.lambda_max[r] for r in rules])
        brushes = [pg.mkBrush(manager().color(COLOR[r])) for r in rules]
        self.curv_bars.setOpts(x=x, height=heights, width=0.6, brushes=brushes, pen=None)
        self.curv_plot.getAxis("bottom").setTicks([[(i, RULE_SHORT[r]) for i, r in enumerate(rules)]])
        self.curv_start.setValue(c.lambda_max_start)
        self.curv_start.setVisible(True)
        top = max([c.lambda_max_start, *heights.tolist()]) if len(heights) else 1.0
        self.curv_plot.setXRange(-0.6, len(rules) - 0.4, padding=0)
        self.curv_plot.setYRange(0, 1.12 * top, padding=0)

    def restyle(self) -> None:
        self.start_label.setFont(manager().font(1.0, bold=True))
        for rule in RULES:
            self.path_ends[rule].setBrush(pg.mkBrush(manager().color(COLOR[rule])))
