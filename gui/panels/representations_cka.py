"""The Representations tab's CKA page: linear CKA between every pair of layers, and of each
layer with itself at θ₀."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from engine.representations import GeometryFrame

from .. import plots
from ..style import manager
from .representations_common import fill_page, layer_ticks


class CkaPage(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.layer_names: list[str] = []
        self.cka_view = plots.make_view()
        # A short title: on a 1280-pixel projector the page is narrow, and a title's width is
        # the plot's least width (a longer one pushed the colour bar out of sight).
        self.cka_map = plots.ImagePlot(self.cka_view, "CKA between layers", "", "", cmap="viridis",
                                       bar_label="CKA", row=0, col=0)
        self.cka_map.plot.invertY(True)
        self.cka_map.plot.setMouseEnabled(x=False, y=False)
        self.cka_start_view = plots.make_view()
        self.cka_start_plot = plots.add_plot(self.cka_start_view, "CKA(θ₀, now)", "layer", "", row=0, col=0)
        self.cka_start_bars = pg.BarGraphItem(x=[0], height=[0], width=0.6, brush=manager().color(2),
                                              pen=pg.mkPen(None))
        self.cka_start_bars.setOpts(x=[], height=[])
        self.cka_start_plot.addItem(self.cka_start_bars)
        self.cka_start_plot.setYRange(0, 1.05)
        self.cka_start_plot.setMouseEnabled(x=False, y=False)
        plots.note(self.cka_map.plot, "Computing the CKA of every pair of layers…")
        plots.note(self.cka_start_plot, "Computing how far each layer has moved from θ₀…")
        row = plots.SideBySide([self.cka_view, self.cka_start_view], [2, 1])
        self._cka_texts: list[pg.TextItem] = []
        self.cka_caption = plots.caption(
            "CKA is 1 for representations that differ only by a rotation and scale, near 0 for unrelated "
            "ones (Kornblith et al. 2019). Beside or below it: how far each layer has moved from its start.")
        fill_page(self, row, self.cka_caption)
        self.layout().setStretch(0, 1)

    def set_layers(self, names: list[str]) -> None:
        """Layer names on the axes, and (for few layers) a value label in each cell."""
        self.layer_names = list(names)
        ticks = layer_ticks(names)
        self.cka_start_plot.getAxis("bottom").setTicks(ticks)
        self.cka_start_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.cka_map.plot.getAxis("bottom").setTicks(ticks)
        self.cka_map.plot.getAxis("left").setTicks(ticks)
        for t in self._cka_texts:
            self.cka_map.plot.removeItem(t)
        self._cka_texts = []
        if len(names) <= 9:
            for i in range(len(names)):
                for j in range(len(names)):
                    t = pg.TextItem("", anchor=(0.5, 0.5))
                    t.setPos(j, i)
                    self.cka_map.plot.addItem(t)
                    manager().register_text(t, 0.85)
                    self._cka_texts.append(t)

    def draw(self, g: GeometryFrame) -> None:
        L = len(g.names)
        M = np.nan_to_num(g.cka, nan=0.0)
        self.cka_map.set_image(M, (0.0, float(L - 1), 0.0, float(L - 1)), levels=(0.0, 1.0))
        self.cka_map.plot.setRange(xRange=(-0.5, L - 0.5), yRange=(-0.5, L - 0.5), padding=0)
        for t, v in zip(self._cka_texts, g.cka.ravel()):
            text = "–" if not np.isfinite(v) else f"{v:.2f}"
            if text != t.toPlainText():  # re-laying out rich text is the slow part: only on change
                t.setText(text)
                t.setColor((255, 255, 255) if (np.isfinite(v) and v < 0.6) else (20, 20, 20))
        s = g.cka_to_start
        ok = np.isfinite(s)
        self.cka_start_bars.setOpts(x=np.arange(L)[ok], height=s[ok], width=0.6)

    def restyle(self) -> None:
        self.cka_start_bars.setOpts(brush=manager().color(2))
