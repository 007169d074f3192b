"""The NTK tab's first page, width and linearisation: the fit of one width (network, its
linearisation at θ₀, NTK regression), the kernel's change against width, the kernel before and
after training, and its spectrum."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.ntk import WidthResult

from .. import plots
from ..spread import SeedBand
from ..style import manager
from .ntk_common import IDLE_NOTE, fit_range, legend_below, log_ticks, set_spectrum, spectrum_axes, splitter


class WidthPage(QtWidgets.QSplitter):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(QtCore.Qt.Orientation.Vertical, parent)
        # The fit: network, linearised model, NTK regression.
        self.fit_view = plots.make_view()
        self.fit_plot = plots.add_plot(self.fit_view, "Fit after training", "x", "f(x)", row=0, col=0)
        self.kernel_curve = plots.curve(self.fit_plot, 2, "NTK regression (K₀)", width=7.0)
        self.kernel_curve.setOpacity(0.45)
        self.truth_curve = plots.curve(self.fit_plot, "plot_fg", "target", width=1.0, dashed=True)
        self.truth_curve.setOpacity(0.5)
        self.net_curve = plots.curve(self.fit_plot, 0, "network")
        self.lin_curve = plots.curve(self.fit_plot, 1, "linearised at θ₀", dashed=True)
        self.fit_points = pg.ScatterPlotItem(size=9)
        self.fit_plot.addItem(self.fit_points)

        # Kernel change against width, log-log.
        self.drift_view = plots.make_view()
        self.drift_plot = plots.add_plot(self.drift_view, "Kernel change vs width", "width",
                                         "relative change", row=0, col=0)
        self.drift_plot.setLogMode(x=True, y=True)
        self.drift_curve = plots.curve(self.drift_plot, 0, "‖K_T − K₀‖_F / ‖K₀‖_F", symbol="o", symbolSize=8)
        self.gap_curve = plots.curve(self.drift_plot, 1, "RMS(net − linearised)", symbol="s", symbolSize=7)
        self.sqrt_guide = plots.curve(self.drift_plot, "plot_fg", "∝ 1/√width (bound)", width=1.2, dashed=True)
        self.inv_guide = plots.curve(self.drift_plot, 4, "∝ 1/width (typical)", width=1.2, dashed=True)
        self.current_marker = self.drift_plot.plot([], [], pen=None, symbol="o", symbolSize=16, symbolBrush=None)
        self.drift_band = SeedBand(self.drift_plot, 0, floor=1e-12)  # every seed's change, mean ± s.d.
        self.drift_hint = pg.TextItem("Sweep widths to compare widths", anchor=(0.5, 1.0))
        self.drift_hint.setZValue(10)
        self.drift_plot.addItem(self.drift_hint, ignoreBounds=True)
        manager().register_text(self.drift_hint, 0.9)

        # The kernel as a picture, before and after training, on one colour scale.
        self.kernels_view = plots.make_view()
        self.k0_image = plots.ImagePlot(self.kernels_view, "K₀ (initial)", "x", "x′",
                                        cmap="viridis", bar_label="K(x, x′)", row=0, col=0)
        self.kt_image = plots.ImagePlot(self.kernels_view, "K_T (trained)", "x", "x′",
                                        cmap="viridis", bar_label="K(x, x′)", row=0, col=1)
        for image in (self.k0_image, self.kt_image):
            image.plot.setAspectLocked(True)

        # Spectra: the NTK before and after training.
        self.spectrum_view = plots.make_view()
        self.spectrum_plot = plots.add_plot(self.spectrum_view, "NTK spectrum", "eigenvalue index i", "λᵢ / λ₁",
                                            row=0, col=0)
        self.eig0_curve = plots.curve(self.spectrum_plot, 0, "at θ₀", symbol="o", symbolSize=5)
        self.eigT_curve = plots.curve(self.spectrum_plot, 1, "after training", dashed=True, symbol="x",
                                      symbolSize=6)
        spectrum_axes(self.spectrum_plot, top=0.2)  # the short plots need room for the label "1"

        # Legends sit under their plots, so they never hide a curve.
        self.fit_legend = legend_below(self.fit_view, [(self.net_curve, "network"), (self.lin_curve, "linearised"),
                                                       (self.kernel_curve, "NTK regression"),
                                                       (self.truth_curve, "target")])
        self.drift_legend = legend_below(self.drift_view, [(self.drift_curve, "‖K_T − K₀‖ / ‖K₀‖"),
                                                           (self.sqrt_guide, "∝ 1/√width"),
                                                           (self.gap_curve, "RMS(net − lin.)"),
                                                           (self.inv_guide, "∝ 1/width")])
        self.spectrum_legend = legend_below(self.spectrum_view, [(self.eig0_curve, "at θ₀"),
                                                                 (self.eigT_curve, "after training")])
        self.drift_hint.setVisible(False)  # placed under the first point once there is one
        # Notes that show progress while a fit runs (the drift plot waits for a sweep instead).
        self.notes = [plots.note(p, IDLE_NOTE, items=items) for p, items in (
            (self.fit_plot, None), (self.k0_image.plot, None), (self.kt_image.plot, None),
            (self.spectrum_plot, (self.eig0_curve, self.eigT_curve)))]
        plots.note(self.drift_plot, "Press Sweep widths: one point per width, to compare widths",
                   items=(self.drift_curve, self.gap_curve))

        horizontal = QtCore.Qt.Orientation.Horizontal
        splitter(self.orientation(), splitter(horizontal, self.fit_view, self.drift_view, stretch=[5, 4]),
                 splitter(horizontal, self.kernels_view, self.spectrum_view, stretch=[2, 1]), into=self)

    def show_result(self, r: WidthResult) -> None:
        """The fit, the kernels and the spectrum of one width's result."""
        manager().set_title(self.fit_plot, f"Fit at width {r.width:,}")
        self.kernel_curve.setData(r.x_plot, r.f_kernel)
        self.truth_curve.setData(r.x_plot, r.y_true)
        self.net_curve.setData(r.x_plot, r.f_network)
        self.lin_curve.setData(r.x_plot, r.f_linearized)
        self.fit_points.setData(r.x_train, r.y_train)
        fit_range(self.fit_plot, r.x_plot, [r.y_train, r.f_network, r.f_kernel])

        x0, x1 = float(r.x_kernel[0]), float(r.x_kernel[-1])
        finite = [k for k in (r.kernel_0, r.kernel_T) if np.isfinite(k).all()]
        lo = min(float(k.min()) for k in finite)
        hi = max(float(k.max()) for k in finite)
        self.k0_image.set_image(r.kernel_0, (x0, x1, x0, x1), levels=(lo, hi))
        self.kt_image.set_image(r.kernel_T, (x0, x1, x0, x1), levels=(lo, hi))
        set_spectrum(self.eig0_curve, r.eig_0)
        set_spectrum(self.eigT_curve, r.eig_T)

    def draw_drift(self, results: dict[int, WidthResult]) -> None:
        """The kernel's change (and the linearisation gap) against width, with 1/√w and 1/w guides."""
        widths = sorted(w for w, r in results.items() if not r.diverged)
        if not widths:
            for c in (self.drift_curve, self.gap_curve, self.sqrt_guide, self.inv_guide, self.current_marker):
                c.setData([], [])
            self.drift_band.clear()
            return
        w = np.asarray(widths, dtype=float)
        rel = np.array([results[int(v)].relative_change for v in w])
        gap = np.array([results[int(v)].linearized_gap for v in w])
        self.drift_curve.setData(w, np.maximum(rel, 1e-12))
        self.gap_curve.setData(w, np.maximum(gap, 1e-12))
        # Guides anchored at the narrowest measured width.
        span = np.geomspace(w[0], w[-1], 32) if len(w) > 1 else w
        self.sqrt_guide.setData(span, rel[0] * np.sqrt(w[0] / span))
        self.inv_guide.setData(span, rel[0] * (w[0] / span))
        # Explicit ticks: pyqtgraph's automatic log-axis labels crowd at small sizes.
        self.drift_plot.getAxis("bottom").setTicks([[(math.log10(v), f"{int(v):,}") for v in w], []])
        values = np.concatenate([rel, gap, rel[0] * (w[0] / span)])
        values = values[np.isfinite(values) & (values > 0)]
        lo, hi = float(values.min()), float(values.max())
        self.drift_plot.getAxis("left").setTicks([log_ticks(lo, hi), []])
        self.drift_plot.setXRange(math.log10(w[0] / 2.2), math.log10(w[-1] * 2.2), padding=0)  # room for labels
        self.drift_plot.setYRange(math.log10(lo / 1.6), math.log10(hi * 1.6), padding=0)
        self.drift_hint.setVisible(len(w) < 2)
        self.drift_hint.setPos(math.log10(w[0]), math.log10(lo / 1.6))  # under the lowest point

    def draw_seed_band(self, widths: list[int], values: np.ndarray | None) -> None:
        """Every seed's change at each width (rows: seeds); None: fewer than two seeds, no band."""
        if values is None:
            self.drift_band.clear()
        else:
            self.drift_band.set_data(np.asarray(widths, dtype=float), values)

    def mark_current(self, r: WidthResult | None, results: dict[int, WidthResult]) -> None:
        """Ring the shown width on the drift plot."""
        if r is not None and r.width in results and not r.diverged:
            self.current_marker.setData([r.width], [max(r.relative_change, 1e-12)])
        else:
            self.current_marker.setData([], [])

    def restyle(self) -> None:
        fg = manager().color("plot_fg")
        self.fit_points.setPen(pg.mkPen(manager().color("plot_bg"), width=1.2))
        self.fit_points.setBrush(pg.mkBrush(fg))
        self.current_marker.setSymbolPen(pg.mkPen(manager().color("accent"), width=2.5))
