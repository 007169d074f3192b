"""The NTK tab's second page, kernel machines: RBF and NTK (K₀) kernel ridge on the same points
with the trained network over both, and each kernel's spectrum under its fit."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.ntk import WidthResult

from .. import plots
from ..style import manager
from .ntk_common import IDLE_NOTE, fit_range, legend_below, set_spectrum, spectrum_axes, splitter


class KernelsPage(QtWidgets.QSplitter):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(QtCore.Qt.Orientation.Vertical, parent)
        # RBF and NTK kernel ridge on the same points, side by side on linked axes, the trained
        # network dashed on both (it follows the NTK machine when wide).
        self.methods_view = plots.make_view()
        self.rbf_plot = plots.add_plot(self.methods_view, "RBF kernel ridge", "x", "f(x)", row=0, col=0)
        self.ntk_ridge_plot = plots.add_plot(self.methods_view, "NTK (K₀) kernel ridge", "x", "f(x)", row=0, col=1)
        self.ntk_ridge_plot.setXLink(self.rbf_plot)
        self.ntk_ridge_plot.setYLink(self.rbf_plot)
        self.rbf_curve = plots.curve(self.rbf_plot, 3, "RBF kernel ridge", width=3.0)
        self.ntk_ridge_curve = plots.curve(self.ntk_ridge_plot, 2, "NTK (K₀) kernel ridge", width=3.0)
        self.rbf_net_curve = plots.curve(self.rbf_plot, 0, "trained network", width=1.5, dashed=True)
        self.methods_net_curve = plots.curve(self.ntk_ridge_plot, 0, "trained network", width=1.5, dashed=True)
        self.rbf_points = pg.ScatterPlotItem(size=9)
        self.rbf_plot.addItem(self.rbf_points)
        self.methods_points = pg.ScatterPlotItem(size=9)
        self.ntk_ridge_plot.addItem(self.methods_points)

        # Each kernel machine's spectrum under its fit, on the same axes.
        self.compare_view = plots.make_view()
        self.rbf_spectrum_plot = plots.add_plot(self.compare_view, "RBF kernel spectrum", "eigenvalue index i",
                                                "λᵢ / λ₁", row=0, col=0)
        self.ntk_spectrum_plot = plots.add_plot(self.compare_view, "NTK K₀ spectrum", "eigenvalue index i", "λᵢ / λ₁",
                                           row=0, col=1)
        self.ntk_spectrum_plot.setXLink(self.rbf_spectrum_plot)  # y: both fixed to the same decades below
        self.compare_ntk_curve = plots.curve(self.ntk_spectrum_plot, 2, "NTK K₀", symbol="o", symbolSize=5)
        self.eig_rbf_curve = plots.curve(self.rbf_spectrum_plot, 3, "RBF", symbol="t", symbolSize=5)
        for plot in (self.rbf_spectrum_plot, self.ntk_spectrum_plot):
            spectrum_axes(plot, top=0.5)

        self.methods_legend = legend_below(self.methods_view, [(self.rbf_curve, "RBF kernel ridge"),
                                                               (self.ntk_ridge_curve, "NTK (K₀) kernel ridge"),
                                                               (self.methods_net_curve, "trained network")],
                                           cols=3, span=2)
        # Notes that show progress while a fit runs.
        self.notes = [plots.note(p, IDLE_NOTE) for p in (self.rbf_plot, self.ntk_ridge_plot,
                                                         self.rbf_spectrum_plot, self.ntk_spectrum_plot)]
        splitter(self.orientation(), self.methods_view, self.compare_view, stretch=[3, 2], into=self)

    def show_result(self, r: WidthResult, rbf_length: float | None) -> None:
        """Both kernel machines' fits and spectra for one width's result; `rbf_length`: the RBF
        length ℓ it was computed with (None: not known, left out of the title)."""
        self.rbf_plot._lab_title = "RBF kernel ridge" + (f" (ℓ = {rbf_length:g})" if rbf_length is not None else "")
        manager().register_plot(self.rbf_plot)
        self.ntk_ridge_plot._lab_title = f"NTK kernel ridge (K₀ at width {r.width:,})"
        manager().register_plot(self.ntk_ridge_plot)
        self.rbf_curve.setData(r.x_plot, r.f_rbf_ridge)
        self.ntk_ridge_curve.setData(r.x_plot, r.f_ntk_ridge)
        self.methods_net_curve.setData(r.x_plot, r.f_network)
        self.rbf_net_curve.setData(r.x_plot, r.f_network)
        self.methods_points.setData(r.x_train, r.y_train)
        self.rbf_points.setData(r.x_train, r.y_train)
        fit_range(self.rbf_plot, r.x_plot, [r.y_train, r.f_rbf_ridge, r.f_ntk_ridge])  # linked: both plots
        set_spectrum(self.compare_ntk_curve, r.eig_0)
        set_spectrum(self.eig_rbf_curve, r.eig_rbf)

    def restyle(self) -> None:
        fg = manager().color("plot_fg")
        for item in (self.rbf_points, self.methods_points):
            item.setPen(pg.mkPen(manager().color("plot_bg"), width=1.2))
            item.setBrush(pg.mkBrush(fg))
