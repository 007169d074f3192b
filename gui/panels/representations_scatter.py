"""The Representations tab's live scatter: the PCA scatter of one layer with the variance of
its principal axes, and under it a strip of small scatters of every layer, input → output."""

from __future__ import annotations

import functools
import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.representations import GeometryFrame

from .. import plots
from ..panel_tools import set_title
from ..style import manager

SCREE_AXES = 10
STRIP_READY = 4  # a dense network's input, two hidden layers and output


def _class_tip(name: str, x: float, y: float, data) -> str:
    return f"class {name}\n({x:.3g}, {y:.3g})"


class ClassScatter:
    """Points coloured by class, one scatter item per class.

    With one brush per item a live update only moves points; per-point brushes would cost
    more than the drawing itself. `points()` gives the last positions in the subset's order.
    """

    def __init__(self, plot: pg.PlotItem, size: float, outline: bool = True, hover: bool = False):
        self.plot, self.size, self.outline, self.hover = plot, size, outline, hover
        self.items: list[pg.ScatterPlotItem] = []
        self.index: list[np.ndarray] = []
        self.x = self.y = np.zeros(0)
        self._classes: tuple[np.ndarray, list[str]] | None = None

    def has_classes(self, labels: np.ndarray, class_names: list[str]) -> bool:
        return self._classes is not None and self._classes[1] == list(class_names) \
            and np.array_equal(self._classes[0], labels)

    def set_classes(self, labels: np.ndarray, class_names: list[str]) -> None:
        for item in self.items:
            self.plot.removeItem(item)
        n = len(class_names)
        cols = plots.class_colors(n).astype(int)
        pen = pg.mkPen(255, 255, 255, 160, width=0.8) if self.outline else pg.mkPen(None)
        self.items = []
        for c in range(n):
            extra = dict(hoverable=True, hoverSize=self.size + 4, tip=functools.partial(_class_tip, class_names[c])) \
                if self.hover else {}
            item = pg.ScatterPlotItem(size=self.size, pen=pen, brush=pg.mkBrush(*cols[c]), **extra)
            self.plot.addItem(item)
            self.items.append(item)
        self.index = [np.flatnonzero(labels == c) for c in range(n)]
        self.x = self.y = np.zeros(0)
        self._classes = (np.array(labels, copy=True), list(class_names))

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y
        ok = np.isfinite(x) & np.isfinite(y)
        for item, idx in zip(self.items, self.index):
            idx = idx[ok[idx]]
            item.setData(x[idx], y[idx])

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x, self.y

    def count(self) -> int:
        return sum(len(item.data) for item in self.items)


class RangeFollower:
    """Keeps a scatter's view steady: grows at once when points leave it, shrinks only when the
    points fill less than `shrink_below` of it, so a live cloud does not jitter."""

    def __init__(self, pad: float = 0.08, shrink_below: float = 0.45):
        self.pad = pad
        self.shrink_below = shrink_below
        self.range: list[tuple[float, float]] | None = None

    def reset(self) -> None:
        self.range = None

    def update(self, x: np.ndarray, y: np.ndarray) -> bool:
        """True when the range changed."""
        out, changed = [], self.range is None
        for axis, v in enumerate((x, y)):
            v = v[np.isfinite(v)]
            if v.size == 0:
                return False
            lo, hi = float(v.min()), float(v.max())
            span = max(hi - lo, 1e-6 * max(abs(lo), abs(hi), 1.0))
            want = (lo - self.pad * span, hi + self.pad * span)
            if self.range is None:
                out.append(want)
                continue
            cur = self.range[axis]
            if want[0] < cur[0] or want[1] > cur[1] or span < self.shrink_below * (cur[1] - cur[0]):
                out.append(want)
                changed = True
            else:
                out.append(cur)
        self.range = out
        return changed


class LiveScatter(QtCore.QObject):
    """Two widgets the tab places apart: `main_box` (the large scatter and its scree plot) and
    `strip_box` (every layer, small)."""

    layer_clicked = QtCore.Signal(str)  # a small scatter was clicked: show that layer above

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.main_view = plots.make_view()
        self.scatter_plot = plots.add_plot(self.main_view, "PCA of a layer", "axis 1", "axis 2", row=0, col=0)
        self.scatter_plot.setAspectLocked(True)
        # The class key is a wrapped line of text under the plot: it never covers points and
        # reflows for 2 or 17 classes and at any font size.
        self.class_key = QtWidgets.QLabel("")
        self.class_key.setWordWrap(True)
        self.class_key.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.main_box = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(self.main_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.main_view, 1)
        box.addWidget(self.class_key)
        self.main_view.setToolTip("Each layer's features projected on two principal axes; the axis labels give "
                                  "the share of the layer's variance along each. Hover a point for its class.")
        self.scatter = ClassScatter(self.scatter_plot, size=7, hover=True)
        plots.note(self.scatter_plot, "Computing each layer's features for these points…")
        self.scree_plot = plots.add_plot(self.main_view, "", "principal axis", "variance", row=1, col=0)
        self.scree_bars = pg.BarGraphItem(x=[0], height=[0], width=0.7, brush=manager().color(0),
                                          pen=pg.mkPen(None))
        self.scree_plot.addItem(self.scree_bars)
        self.scree_cum = plots.curve(self.scree_plot, 1, None, width=1.5, symbol="o", symbolSize=5)
        self.scree_plot.setYRange(0, 1.02)
        self.scree_plot.setMouseEnabled(x=False, y=False)
        self.main_view.ci.layout.setRowStretchFactor(0, 3)
        self.main_view.ci.layout.setRowStretchFactor(1, 1)
        self.follow = RangeFollower()

        self.strip_view = plots.make_view()
        self.strip_view.setMinimumHeight(110)
        self.strip_plots: list[tuple[pg.PlotItem, ClassScatter, RangeFollower]] = []
        # Small plots kept in a view that is never shown, for the next list of layers (Qt owns them
        # there, as in the strip). A few are made with the tab (in its slices), so that the first
        # measurement only moves and titles them.
        self._parking = pg.GraphicsLayoutWidget()
        self._parking.hide()
        self._spare_strip = [self._strip_plot() for _ in range(STRIP_READY)]
        self.strip_view.scene().sigMouseClicked.connect(self._strip_clicked)
        self.strip_note = plots.caption("All layers, input → output (click one to show it above)")
        self.strip_box = QtWidgets.QWidget()
        self._parking.setParent(self.strip_box)  # hidden, outside its layout
        self._parking.hide()
        lay = QtWidgets.QVBoxLayout(self.strip_box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.strip_note)
        lay.addWidget(self.strip_view, 1)
        self.layer_names: list[str] = []

    def set_classes(self, labels: np.ndarray, class_names: list[str]) -> None:
        for scatter in [self.scatter] + [s for _, s, _ in self.strip_plots]:
            scatter.set_classes(labels, class_names)

    def class_legend(self, class_names: list[str]) -> None:
        cols = plots.class_colors(len(class_names)).astype(int)
        parts = [f'<span style="color:#{r:02x}{g:02x}{b:02x}; font-size:large">●</span>&nbsp;{html.escape(name)}'
                 for (r, g, b), name in zip(cols, class_names)]
        self.class_key.setText("classes: " + " &nbsp; ".join(parts))

    def reset_ranges(self) -> None:
        self.follow.reset()
        for _, _, f in self.strip_plots:
            f.reset()

    def set_layers(self, g: GeometryFrame, labels: np.ndarray, class_names: list[str]) -> None:
        """A new list of layers: one small scatter each. Small plots already made (for the last
        list, or with the tab) are placed and retitled: making one costs ~25 ms of the GUI thread,
        and a dense network's four were made in one turn when the first measurement arrived."""
        self.layer_names = g.names
        self.follow.reset()
        n = len(g.layers)
        for item in self.strip_plots[n:]:
            self.strip_view.removeItem(item[0])
            self._parking.addItem(item[0])
            self._spare_strip.append(item)
        self.strip_plots = self.strip_plots[:n]
        while len(self.strip_plots) < n:
            item = self._spare_strip.pop(0) if self._spare_strip else self._strip_plot()
            self._parking.removeItem(item[0])
            self.strip_view.addItem(item[0], row=0, col=len(self.strip_plots))
            self.strip_plots.append(item)
        for (p, s, f), lay in zip(self.strip_plots, g.layers):
            f.reset()
            if not s.has_classes(labels, class_names):
                s.set_classes(labels, class_names)
            set_title(p, f"{lay.name} · {lay.dim:,}")

    def _strip_plot(self) -> tuple[pg.PlotItem, ClassScatter, RangeFollower]:
        """A small scatter, made in the view that keeps it until it is placed."""
        p = plots.add_plot(self._parking, "")
        p.hideAxis("left")
        p.hideAxis("bottom")
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        return p, ClassScatter(p, size=3.5, outline=False), RangeFollower(pad=0.05)

    def _strip_clicked(self, ev) -> None:
        pos = ev.scenePos()
        for (p, _s, _f), name in zip(self.strip_plots, self.layer_names):
            if p.sceneBoundingRect().contains(pos):
                self.layer_clicked.emit(name)
                return

    def mark_selected(self, name: str | None) -> None:
        for (p, _s, _f), n in zip(self.strip_plots, self.layer_names):
            p.getViewBox().setBorder(manager().pen("accent", 2.0) if n == name else None)

    def draw_scatter(self, g: GeometryFrame, name: str) -> None:
        """The large scatter and scree plot of layer `name` (one of `g`'s projections)."""
        P = g.projections[name]
        x, y = P[:, 0], P[:, 1]
        self.scatter.set_points(x, y)
        if self.follow.update(x, y):
            (x0, x1), (y0, y1) = self.follow.range
            self.scatter_plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        ev = g.axis_explained[name]
        lay = g.layers[g.names.index(name)]
        self.scatter_plot.setTitle(f"{name} · {lay.dim:,} features · step {g.step:,}",
                                   color=manager().style.colors.plot_fg,
                                   size=f"{manager().style.point_size * 1.15:.1f}pt", bold=True)
        self.scatter_plot._lab_title = self.scatter_plot.titleLabel.text
        self.scatter_plot.setLabel("bottom", f"axis 1 · {100 * ev[0]:.0f}% of variance")
        self.scatter_plot.setLabel("left", f"axis 2 · {100 * ev[1]:.0f}%")
        spec = g.spectra[name][:SCREE_AXES]
        xs = np.arange(1, len(spec) + 1)
        self.scree_bars.setOpts(x=xs, height=spec, width=0.7)
        self.scree_cum.setData(xs, np.cumsum(spec))
        self.scree_plot.setXRange(0.4, SCREE_AXES + 0.6, padding=0)

    def draw_strip(self, g: GeometryFrame) -> None:
        for (p, s, follow), name in zip(self.strip_plots, self.layer_names):
            P = g.projections.get(name)
            if P is None:
                continue
            s.set_points(P[:, 0], P[:, 1])
            if follow.update(P[:, 0], P[:, 1]):
                (x0, x1), (y0, y1) = follow.range
                p.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def restyle(self) -> None:
        m = manager()
        self.scree_bars.setOpts(brush=m.color(0))
        self.scree_cum.setSymbolBrush(m.color(1))
        self.scree_cum.setSymbolPen(m.color(1))
