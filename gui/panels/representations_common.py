"""What the Representations tab's pages share: depth colours, plain log axes, legends outside
the plot, and the page layout."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from ..style import manager


def depth_colors(n: int) -> list[str]:
    """One colour per layer, light (input) to dark (output), readable on white and dark."""
    cmap = pg.colormap.get("viridis")
    return [cmap.map(0.88 - 0.8 * i / max(n - 1, 1), mode="qcolor").name() for i in range(n)]


class PlainLogAxis(pg.AxisItem):
    """Log-scale ticks written as plain numbers (0.1, 1, 20), easier to read from the back row."""

    def logTickStrings(self, values, scale, spacing):
        out = []
        for v in 10 ** np.asarray(values, dtype=float) * scale:
            lead = v / 10 ** np.floor(np.log10(v)) if v > 0 else 0.0
            out.append(f"{v:g}" if round(lead, 6) in (1.0, 2.0, 5.0) else "")  # 1 2 5 10 20 50 …
        return out


def log_axis(plot: pg.PlotItem, side: str = "left") -> None:
    label = plot.getAxis(side).labelText
    plot.setAxisItems({side: PlainLogAxis(orientation=side)})
    plot.getAxis(side).enableAutoSIPrefix(False)
    plot.setLabel(side, label)
    manager().register_plot(plot)


def legend_outside(view: pg.GraphicsLayoutWidget, plot: pg.PlotItem, row: int, col: int,
                   columns: int) -> pg.LegendItem:
    """A legend in its own row of the layout, so it never hides data."""
    legend = pg.LegendItem(colCount=columns, frame=False)
    view.addItem(legend, row=row, col=col)
    plot.legend = legend
    manager().register_plot(plot)
    return legend


def fill_page(page: QtWidgets.QWidget, *widgets) -> None:
    """Stack a page's rows: layouts as they are, plot views taking the spare height."""
    lay = QtWidgets.QVBoxLayout(page)
    lay.setContentsMargins(2, 4, 2, 2)
    for w in widgets:
        if isinstance(w, QtWidgets.QLayout):
            lay.addLayout(w)
        else:
            lay.addWidget(w, 1 if isinstance(w, pg.GraphicsView) else 0)


def layer_ticks(names: list[str]) -> list[list[tuple[int, str]]]:
    return [[(i, n) for i, n in enumerate(names)]]
