"""The Representations tab's Dimension page: each layer's intrinsic dimension (PCA count for a
chosen share of variance, and TwoNN) against its width."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from engine.representations import GeometryFrame, components_for_variance

from .. import plots
from ..style import manager
from .representations_common import fill_page, layer_ticks, legend_outside, log_axis


class DimensionPage(QtWidgets.QWidget):
    threshold_changed = QtCore.Signal()  # the variance slider moved: the tab redraws its newest geometry

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.variance_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.variance_slider.setRange(50, 99)
        self.variance_slider.setValue(95)
        self.variance_slider.setToolTip("Variance threshold of the PCA count")
        self.variance_label = QtWidgets.QLabel("")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("PCA count for"))
        row.addWidget(self.variance_slider, 1)
        row.addWidget(self.variance_label)
        self.id_view = plots.make_view()
        self.id_plot = plots.add_plot(self.id_view, "Intrinsic dimension by depth", "layer (input → output)",
                                      "dimension (log scale)", row=0, col=0)
        log_axis(self.id_plot)
        legend_outside(self.id_view, self.id_plot, row=1, col=0, columns=3)
        self.id_ambient = plots.curve(self.id_plot, "plot_fg", "layer width (ambient)", width=1.5, dashed=True,
                                      symbol="t", symbolSize=8)
        self.id_pca = plots.curve(self.id_plot, 0, "PCA count", symbol="o", symbolSize=9)
        self.id_twonn = plots.curve(self.id_plot, 1, "TwoNN", symbol="s", symbolSize=9)
        self.id_plot.setLogMode(y=True)
        self.id_plot.setMouseEnabled(x=False, y=False)
        plots.note(self.id_plot, "Computing the intrinsic dimension of each layer…")
        self.id_caption = plots.caption(
            "PCA count: principal axes needed for the chosen share of variance. TwoNN: from the ratio of "
            "each point's second- to first-nearest-neighbour distance (Facco et al. 2017).")
        fill_page(self, row, self.id_view, self.id_caption)
        self.variance_slider.valueChanged.connect(self._variance_changed)
        self._variance_changed()

    def threshold(self) -> float:
        """The share of variance the PCA count is for."""
        return self.variance_slider.value() / 100

    def _variance_changed(self) -> None:
        v = self.variance_slider.value()
        self.variance_label.setText(f"{v}% of variance")
        for _sample, label in self.id_plot.legend.items:
            if label.text.startswith("PCA count"):
                label.setText(f"PCA count ({v}%)")
        self.threshold_changed.emit()

    def set_layers(self, names: list[str]) -> None:
        self.id_plot.getAxis("bottom").setTicks(layer_ticks(names))
        self.id_plot.setXRange(-0.6, len(names) - 0.4, padding=0)

    def draw(self, g: GeometryFrame) -> None:
        v = self.threshold()
        xs = np.arange(len(g.names))
        dims = np.array([lay.dim for lay in g.layers], dtype=float)
        counts = np.array([max(components_for_variance(g.spectra[n], v), 0) for n in g.names], dtype=float)
        twonn = np.array([g.twonn[n] for n in g.names], dtype=float)
        self.id_ambient.setData(xs, dims)
        ok = counts > 0
        self.id_pca.setData(xs[ok], counts[ok])
        ok = np.isfinite(twonn) & (twonn > 0)
        self.id_twonn.setData(xs[ok], twonn[ok])
        finite = np.concatenate([dims, counts[counts > 0], twonn[np.isfinite(twonn) & (twonn > 0)]])
        self.id_plot.setYRange(np.log10(max(finite.min(), 0.5)) - 0.15, np.log10(finite.max()) + 0.2, padding=0)

    def restyle(self) -> None:
        m = manager()
        for item, key in ((self.id_pca, 0), (self.id_twonn, 1), (self.id_ambient, "plot_fg")):
            item.setSymbolBrush(m.color(key))
            item.setSymbolPen(m.color(key))
