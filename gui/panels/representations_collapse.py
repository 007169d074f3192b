"""The Representations tab's Collapse page: neural collapse (NC1) of every layer over training,
with a mark where the training error first reached zero."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from engine.history import COLLAPSE_POINTS

from .. import plots
from .representations_common import depth_colors, fill_page, legend_outside, log_axis


class CollapsePage(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.layer_names: list[str] = []
        self.nc_view = plots.make_view()
        self.nc_plot = plots.add_plot(self.nc_view, "Neural collapse: NC1 over training", "step",
                                      "NC1 = Tr(Σ_W Σ_B⁺)/C  (log)", row=0, col=0)
        log_axis(self.nc_plot)
        self.nc_plot.setLogMode(y=True)
        self.nc_legend = legend_outside(self.nc_view, self.nc_plot, row=1, col=0, columns=6)
        self.nc_curves: list[pg.PlotDataItem] = []
        self.zero_line: pg.PlotDataItem | None = None  # a vertical mark where training error first hit 0
        plots.note(self.nc_plot, "Press Play (Space) to train: NC1 is recorded at each step while this tab is open")
        self.nc_caption = plots.caption(
            "Spread within classes measured against the spread of the class means, per layer, on the "
            f"followed training points: recorded from step 0 whichever tab is open (on {COLLAPSE_POINTS} points), "
            "and at every update while this tab is open. Red dashes: training error first 0.")
        fill_page(self, self.nc_view, self.nc_caption)

    def set_layers(self, names: list[str]) -> None:
        """One curve per layer, coloured by depth."""
        self.layer_names = list(names)
        for c in self.nc_curves:
            self.nc_plot.removeItem(c)
        self.nc_plot.legend.clear()
        self.nc_legend.setColumnCount(min(len(names), 6))
        colors = depth_colors(len(names))
        self.nc_curves = [plots.curve(self.nc_plot, colors[i], n, width=2.0) for i, n in enumerate(names)]
        if self.zero_line is not None:
            self.nc_plot.removeItem(self.zero_line)
        self.zero_line = plots.curve(self.nc_plot, "error", None, width=1.5, dashed=True)

    def draw(self, steps: np.ndarray, vals: np.ndarray, zero: int | None) -> None:
        """NC1 over `steps`, one column of `vals` per layer; `zero`: the step training error hit 0."""
        if not len(steps):
            for c in self.nc_curves:
                c.setData([], [])
            return
        for i, c in enumerate(self.nc_curves):
            col = vals[:, i] if i < vals.shape[1] else np.full(len(steps), np.nan)
            ok = np.isfinite(col) & (col > 0)
            c.setData(steps[ok], col[ok])
        shown = vals[np.isfinite(vals) & (vals > 0)]
        if self.zero_line is None:  # no layers yet
            return
        if zero is not None and shown.size:
            self.zero_line.setData([zero, zero], [shown.min(), shown.max()])
        else:
            self.zero_line.setData([], [])
