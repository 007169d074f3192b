"""What the NTK tab's pages share: legends under a plot, log ticks, spectra and plot ranges."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

SPECTRUM_FLOOR = 1e-7  # relative eigenvalues below this are rounding error of a float32 kernel
IDLE_NOTE = "Press Train at this width (or Sweep widths)"


def legend_below(view: pg.GraphicsLayoutWidget, entries: list, cols: int = 2,
                 span: int = 1) -> tuple[pg.GraphicsLayoutWidget, pg.LegendItem]:
    """A frameless legend in the row under the plot (the panel may move it beside the plot);
    `span` > 1: under that many plots side by side, where it stays."""
    legend = pg.LegendItem(colCount=cols, frame=False, horSpacing=14)
    view.addItem(legend, row=1, col=0, colspan=span)
    legend.cell = (1, 0)
    legend.span = span
    legend.widths = {1: 0.0, 2: 0.0}
    legend.heights = {1: 0.0, 2: 0.0}
    legend.measured_at = None
    for item, name in entries:
        legend.addItem(item, name)
    return view, legend  # no reference from the legend back to its view: no cycle to collect


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks for a log axis: decades, with 2 and 5 between them when the range is short."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mantissas = (1, 2, 5) if k1 - k0 <= 3 else (1,)
    out = []
    for k in range(k0, k1 + 1):
        for m in mantissas:
            v = m * 10.0**k
            if lo / 1.5 <= v <= hi * 1.5:
                out.append((math.log10(v), f"{v:g}"))
    return out


def superscript(k: int) -> str:
    return str(k).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def spectrum_axes(plot: pg.PlotItem, top: float) -> None:
    """A log axis of relative eigenvalues, in even decades down to SPECTRUM_FLOOR."""
    decades = [(float(k), "1" if k == 0 else f"10{superscript(k)}") for k in range(-8, 1, 2)]
    plot.setLogMode(y=True)
    plot.getAxis("left").setTicks([decades, []])
    plot.setYRange(math.log10(SPECTRUM_FLOOR), top, padding=0)


def set_spectrum(item: pg.PlotDataItem, ev: np.ndarray) -> None:
    """Eigenvalues relative to the largest, without those below the floor."""
    if np.isfinite(ev).all() and ev[0] > 0:
        rel = ev / ev[0]
        keep = rel > SPECTRUM_FLOOR  # below it, float32 rounding of the NTK, not the kernel
        item.setData(np.arange(1, len(ev) + 1)[keep], rel[keep])
    else:
        item.setData([], [])


def fit_range(plot: pg.PlotItem, x: np.ndarray, ys: list[np.ndarray]) -> None:
    """Show every curve, but never let a wild fit squash the data to a line."""
    data = np.concatenate([np.asarray(y, dtype=float).ravel() for y in ys])
    data = data[np.isfinite(data)]
    if data.size == 0:
        return
    lo, hi = float(data.min()), float(data.max())
    ref = np.asarray(ys[0], dtype=float)
    span_ref = float(ref.max() - ref.min()) if ref.size else 1.0
    lo, hi = max(lo, float(ref.min()) - 2 * span_ref), min(hi, float(ref.max()) + 2 * span_ref)
    pad = 0.08 * max(hi - lo, 1e-6)
    plot.setXRange(float(x.min()), float(x.max()), padding=0.02)
    plot.setYRange(lo - pad, hi + pad, padding=0)


def splitter(orientation: QtCore.Qt.Orientation, *widgets, stretch=None,
             into: QtWidgets.QSplitter | None = None) -> QtWidgets.QSplitter:
    """Widgets side by side (or stacked) that never collapse; `into`: fill that splitter."""
    sp = into if into is not None else QtWidgets.QSplitter(orientation)
    for i, w in enumerate(widgets):
        sp.addWidget(w)
        sp.setStretchFactor(i, (stretch or [1] * len(widgets))[i])
    sp.setChildrenCollapsible(False)
    return sp
