"""What the Double descent tab's pages share: the descent plot (errors against parameter
count, weight norm, interpolation thresholds) and the log-axis floor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from .. import plots
from ..panel_tools import legend_below, log_axes, place_legend, right_axis
from ..style import manager

NOISE_VALUES = np.round(np.arange(0.0, 1.0001, 0.02), 2)
FLOOR = 1e-6  # log axes cannot show zero


def positive(a, floor: float = FLOOR) -> np.ndarray:
    return np.maximum(np.asarray(a, dtype=np.float64), floor)


class DescentPlot:
    """Errors against parameter count on log–log axes, weight norm on a right axis, and the
    interpolation threshold(s) as vertical lines."""

    def __init__(self, view: pg.GraphicsLayoutWidget, title: str, xlabel: str, ylabel: str,
                 norm_label: str, thresholds: tuple[str, ...], names: tuple[str, str] = ("test", "train"),
                 legend_corner: str = "top-right"):
        below = legend_corner == "below"
        self.plot = plots.add_plot(view, title, xlabel, ylabel, row=0, col=0, legend=not below,
                                   axisItems=log_axes())
        self.plot.setLogMode(x=True, y=True)
        if below:  # curves cross every corner: the legend gets its own row under the plot
            self.plot.legend = legend_below(view, row=1, col=0, columns=3)
        else:
            place_legend(self.plot, legend_corner)
        self.test = plots.curve(self.plot, 1, names[0], width=2.5, symbol="o", symbolSize=4)
        self.train = plots.curve(self.plot, 0, names[1])
        self.extra: dict[str, pg.PlotDataItem] = {}
        self.norm_box = right_axis(self.plot, norm_label)
        self.norm = pg.PlotDataItem([], [])
        self.norm.setLogMode(True, True)
        self.norm_box.addItem(self.norm)
        manager().register_curve(self.norm, 2, 1.8, QtCore.Qt.PenStyle.DashLine)
        self.plot.legend.addItem(self.norm, "weight norm (right axis)")
        self.lines = []
        for i, label in enumerate(thresholds):
            key = "accent" if i == 0 else "plot_fg"
            line = plots.guide_line(self.plot, 0.0, angle=90, key=key)
            line.setVisible(False)
            self.lines.append(line)
            plots.curve(self.plot, key, label, width=1.5, dashed=True)  # its legend entry; draws nothing
        manager().register_plot(self.plot)
        self.note = plots.note(self.plot, "Computing the sweep…", boxes=(self.norm_box,))

    def add_curve(self, key: str, colour, name: str, dashed: bool = True) -> pg.PlotDataItem:
        item = plots.curve(self.plot, colour, name, width=1.8, dashed=dashed)
        self.extra[key] = item
        return item

    def set_thresholds(self, *values: float) -> None:
        for line, v in zip(self.lines, values):
            line.setValue(float(np.log10(v)))
            line.setVisible(True)

    def clear(self) -> None:
        for c in (self.test, self.train, self.norm, *self.extra.values()):
            c.setData([], [])
