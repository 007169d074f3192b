"""Plot building blocks shared by every panel: styled plots, curves, images with colour bars.

Items are made once and updated with setData / setImage; nothing here is rebuilt per frame.
"""

from __future__ import annotations

import weakref

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from .style import manager
from .worker import AFTER_DELIVERY, event_loop_turn

pg.setConfigOptions(antialias=True, imageAxisOrder="row-major", background="w", foreground="k",
                    exitCleanup=False)

# Class colours: the first two match the classic orange/blue two-class picture; the rest are
# well separated hues, enough for the 17 tumour classes.
CLASS_COLORS = np.array([
    (245, 147, 34), (8, 119, 189), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (255, 187, 120), (152, 223, 138), (174, 199, 232), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
], dtype=np.float32)


def class_colors(n: int) -> np.ndarray:
    """(n, 3) RGB in 0..255."""
    reps = int(np.ceil(n / len(CLASS_COLORS)))
    return np.tile(CLASS_COLORS, (reps, 1))[:n]


def class_brushes(y: np.ndarray, n_classes: int, alpha: int = 255) -> list[QtGui.QBrush]:
    cols = class_colors(n_classes).astype(int)
    cache = [pg.mkBrush(int(r), int(g), int(b), alpha) for r, g, b in cols]
    return [cache[int(c)] for c in y]


def binary_colormap() -> pg.ColorMap:
    """P(class 1): orange (class 0) through a pale neutral to blue (class 1)."""
    c0, c1 = CLASS_COLORS[0], CLASS_COLORS[1]
    mid = np.array([245, 245, 240], dtype=np.float32)
    pos = np.array([0.0, 0.5, 1.0])
    return pg.ColorMap(pos, np.stack([c0 * 0.85 + mid * 0.15, mid, c1 * 0.85 + mid * 0.15]).astype(np.ubyte))


def class_band_colormap(n_classes: int) -> pg.ColorMap:
    """One band per class, pale (low confidence) to saturated (high): value = class + confidence."""
    cols = class_colors(n_classes)
    pale = np.array([250, 250, 250], dtype=np.float32)
    pos, colors = [], []
    for k in range(n_classes):
        lo, hi = k / n_classes, (k + 1) / n_classes
        pos += [lo + 1e-6, hi - 1e-6]
        colors += [0.75 * pale + 0.25 * cols[k], cols[k]]
    return pg.ColorMap(np.array(pos), np.array(colors).astype(np.ubyte))


class TidyAxis(pg.AxisItem):
    """An axis whose log mode marks only 1, 2 and 5 × 10ᵏ, so minor ticks do not pile up, and
    that ignores a label set again unchanged."""

    def setLabel(self, text=None, units=None, unitPrefix=None, *args, **kwargs):  # noqa: N802 - pyqtgraph's name
        unchanged = (not args and not kwargs and (text or "") == self.labelText and (units or "") == self.labelUnits
                     and (unitPrefix or "") == self.labelUnitPrefix and self.label.isVisible() == bool(text or units))
        if unchanged:
            return  # setting it again relays the plot out and repaints the whole view
        super().setLabel(text, units, unitPrefix, *args, **kwargs)

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802 - pyqtgraph's name
        # Within each decade only 2× and 5× get a tick and a grid line (pyqtgraph draws all of
        # 2×…9×): the unlabelled ones were most of the lines repainted with every frame.
        levels = super().logTickValues(minVal, maxVal, size, stdTicks)
        out = []
        for spacing, values in levels:
            if spacing is None:
                values = [v for v in values if _mantissa_in(v, (2.0, 5.0))]
            out.append((spacing, values))
        return out

    def tickStrings(self, values, scale, spacing):
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        out = []
        for v in values:
            mant = 10 ** (v - np.floor(v + 1e-9))
            if min(abs(mant - m) for m in (1, 2, 5, 10)) > 0.05:
                out.append("")
                continue
            x = 10 ** v
            out.append(f"{x:.0f}" if 1 <= x < 1e5 else f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")
                       if x < 1e-3 or x >= 1e5 else f"{x:g}")
        return out


def _mantissa_in(log10_value: float, mantissas: tuple[float, ...]) -> bool:
    m = 10 ** (log10_value - np.floor(log10_value + 1e-9))
    return any(abs(m - k) < 0.05 for k in mantissas)


MIN_TITLE_WIDTH = 80  # px: below this a title wraps no further


def make_view(parent: QtWidgets.QWidget | None = None) -> pg.GraphicsLayoutWidget:
    view = pg.GraphicsLayoutWidget(parent=parent)
    view.ci.setContentsMargins(4, 4, 4, 4)
    manager().register_view(view)
    event_loop_turn()  # a tab being built hands the event loop a turn between plots
    return view


def settle_ranges() -> None:
    """Work out the shown plots' pending auto-ranges now, after new data and before Qt paints.
    Left to the paint, a range that moves marks its axes dirty while the view is being painted,
    and Qt paints the whole view a second time in the same turn (measured on the Landscape tab:
    two paints of each view per refresh)."""
    for plot in manager().plots():
        # pyqtgraph's own flag for "data changed since the range was fitted" (a Python attribute:
        # read first, it spares the Qt calls for the plots with nothing new); absent in another
        # version, nothing is settled early and the paint does it as before.
        vb = getattr(plot, "vb", None)
        if getattr(vb, "_autoRangeNeedsUpdate", False) and _alive(plot) and plot.isVisible():
            vb.prepareForPaint()


AFTER_DELIVERY.append(settle_ranges)


def add_plot(view: pg.GraphicsLayoutWidget, title: str = "", xlabel: str = "", ylabel: str = "",
             row: int | None = None, col: int | None = None, legend: bool | str = False,
             **kw) -> pg.PlotItem:
    """A styled plot. `legend`: True (a one-row legend along the top edge), "bottom-right",
    "bottom-left" or "top-right", where the curves leave room."""
    kw.setdefault("axisItems", {name: TidyAxis(name) for name in ("left", "bottom")})
    plot = view.addPlot(row=row, col=col, **kw)
    plot._lab_title = title or None
    wrap_title(plot)
    for name in ("left", "bottom", "right"):
        plot.getAxis(name).enableAutoSIPrefix(False)
    if xlabel:
        plot.setLabel("bottom", xlabel)
    if ylabel:
        plot.setLabel("left", ylabel)
    if legend:
        # One row, translucent, so it hides as little of the curves as possible.
        offset = {"bottom-right": (-4, -4), "bottom-left": (4, -4), "top-right": (-4, 2)}.get(legend, (4, 2))
        plot.addLegend(offset=offset, labelTextSize="10pt", colCount=6, verSpacing=-6, horSpacing=12)
    # A legend, made here or later under the plot, refits when the plot resizes or the font changes.
    plot._lab_fit_legend = fit_legend
    ref = weakref.ref(plot)
    plot.vb.sigResized.connect(lambda *_: (p := ref()) is not None and fit_legend(p))
    plot.setMenuEnabled(True)
    manager().register_plot(plot)
    _widen_flat_ranges(plot)
    event_loop_turn()
    return plot


def wrap_title(plot: pg.PlotItem) -> None:
    """Let the plot's title wrap onto more lines instead of holding the plot at the title's width:
    pyqtgraph makes a title's full width the plot's minimum, so a long title on a 1280-pixel
    projector pushed the plot, its axes and legend past the edge of its view."""
    label = plot.titleLabel
    option = QtGui.QTextOption(QtCore.Qt.AlignmentFlag.AlignHCenter)
    option.setWrapMode(QtGui.QTextOption.WrapMode.WordWrap)
    label.item.document().setDefaultTextOption(option)
    # Weak references: the label holds this function, and a cycle through Qt wrappers would leave
    # the plot to the cycle collector, which may run after Qt has deleted the scene under it.
    label_ref, plot_ref = weakref.ref(label), weakref.ref(plot)

    def update_min() -> None:
        label, plot = label_ref(), plot_ref()
        if label is None or plot is None or not (_alive(label) and _alive(plot) and _alive(plot.layout)):
            return  # torn down: Qt resizes items while it deletes them
        try:
            fit(label, plot)
        except RuntimeError:  # a wrapper whose Qt object went mid-way; raising here would crash Qt
            return

    def fit(label, plot) -> None:
        item = label.item
        item.setTextWidth(-1)
        natural = item.boundingRect().width()
        room = label.rect().width()
        if 0 < room < natural - 1:
            item.setTextWidth(room)
        bounds = label.itemRect()
        label.setMinimumWidth(min(natural, MIN_TITLE_WIDTH))
        label.setMinimumHeight(bounds.height())
        if label.maximumHeight() > 0:  # shown: pyqtgraph fixes its row at 30 px, one line
            height = max(30.0, bounds.height() + 2)
            label.setMaximumHeight(height)
            plot.layout.setRowFixedHeight(0, height)
        label._sizeHint = {
            QtCore.Qt.SizeHint.MinimumSize: (min(natural, MIN_TITLE_WIDTH), bounds.height()),
            QtCore.Qt.SizeHint.PreferredSize: (natural, bounds.height()),
            QtCore.Qt.SizeHint.MaximumSize: (-1, -1),
            QtCore.Qt.SizeHint.MinimumDescent: (0, 0),
        }
        label.updateGeometry()

    label.updateMin = update_min
    update_min()


def fit_legend(plot: pg.PlotItem) -> None:
    """Wrap a legend onto more rows when one row is wider than its room (the data area for a
    legend drawn inside the plot; up to the view's right edge for one in a row under it), so
    that no entry is cut off at the edge (a 1280-pixel projector, large text)."""
    legend = plot.legend
    if legend is None or not _alive(legend) or not legend.items:
        return
    most = getattr(legend, "_lab_columns", None)
    if most is None:
        most = legend._lab_columns = legend.columnCount
    if legend.parentItem() is plot.vb:
        room = plot.vb.width() - 8
    else:
        views = legend.scene().views() if legend.scene() is not None else []
        if not views:
            return
        room = views[0].viewport().width() - legend.scenePos().x() - 8
    if room <= 0:
        return
    for columns in range(max(1, min(most, len(legend.items))), 0, -1):
        legend.setColumnCount(columns)
        # The entries' own width: a legend in a layout cell is stretched to the cell's width.
        if legend.layout.preferredWidth() <= room:
            break


class SideBySide(QtWidgets.QWidget):
    """Plot views side by side, stacked instead when the width is less than all of them need
    (their titles, axes and colour bars): a 1280-pixel projector would otherwise cut them off."""

    def __init__(self, views: list[pg.GraphicsLayoutWidget], stretches: list[int],
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.views = list(views)
        self.box = QtWidgets.QBoxLayout(QtWidgets.QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(0)
        for view, stretch in zip(self.views, stretches):
            self.box.addWidget(view, stretch)

    def needed_width(self) -> float:
        least = QtCore.Qt.SizeHint.MinimumSize
        return sum(v.ci.effectiveSizeHint(least).width() for v in self.views) + 8

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        Direction = QtWidgets.QBoxLayout.Direction
        wanted = Direction.LeftToRight if self.width() >= self.needed_width() else Direction.TopToBottom
        if self.box.direction() != wanted:
            self.box.setDirection(wanted)


def flat_span(lo: float, hi: float, log: bool = False) -> tuple[float, float]:
    """A readable range for data with (next to) no extent: a decade either side of it on a log
    axis; otherwise from zero to twice the value, so one point or a constant series sits mid-axis
    on round ticks instead of on a sliver such as 19.6…20.4 or ticks of 5e-164."""
    v = 0.5 * (lo + hi)
    if log:
        return v - 1.0, v + 1.0
    if abs(v) < 1e-30:  # zero, or float dust around it
        return 0.0, 1.0
    return (0.0, 2.0 * v) if v > 0 else (2.0 * v, 0.0)


def is_flat(lo: float, hi: float) -> bool:
    return hi - lo <= 1e-9 * max(abs(lo), abs(hi), 1e-21)


def _widen_flat_ranges(plot: pg.PlotItem) -> None:
    """Auto-range of a plot whose data have no extent along an axis uses `flat_span` there."""
    vb = plot.vb
    own = vb.childrenBounds

    def bounds(*args, **kw):
        rng = own(*args, **kw)
        for ax, side in ((0, "bottom"), (1, "left")):
            r = rng[ax]
            if r is not None and np.isfinite(r[0]) and np.isfinite(r[1]) and is_flat(r[0], r[1]):
                rng[ax] = list(flat_span(r[0], r[1], bool(plot.getAxis(side).logMode)))
        return rng

    vb.childrenBounds = bounds


def _holds_data(item) -> bool:
    """Whether a plot item shows measured data (guide lines and labels do not count)."""
    if not item.isVisible():
        return False
    if isinstance(item, (pg.PlotDataItem, pg.PlotCurveItem)):
        x, y = item.getData() if isinstance(item, pg.PlotDataItem) else (item.xData, item.yData)
        if x is None or y is None or len(y) == 0:
            return False
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape:  # step mode: one more edge than values
            x = np.arange(len(y), dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        if isinstance(item, pg.PlotDataItem) and item.opts.get("symbol") is not None:
            return bool(ok.any())
        # A line through one point (or one point repeated) draws nothing.
        return ok.sum() >= 2 and bool(np.ptp(x[ok]) > 0 or np.ptp(y[ok]) > 0)
    if isinstance(item, pg.ScatterPlotItem):
        return len(item.data) > 0
    if isinstance(item, pg.ImageItem):
        return item.image is not None and item.image.size > 0
    if isinstance(item, pg.BarGraphItem):
        h = item.opts.get("height")
        return h is not None and np.size(h) > 0
    return False


class PlotNote:
    """A centred, legible line over a plot that has nothing to show yet: what it waits for
    ("Press Play to train") or what is being computed and how far ("Hessian spectrum… 40 %").

    It hides itself as soon as any data item of the plot (or of `boxes`, e.g. a right axis's
    view box) holds data, and shows again when they are all cleared. While shown, the tick
    numbers are drawn invisible: an empty plot's default range (−0.5…0.5) means nothing.
    """

    def __init__(self, plot: pg.PlotItem, text: str, boxes: tuple[pg.ViewBox, ...] = (),
                 items: tuple | None = None):
        self.plot = plot
        self.text = text
        self.boxes = [plot.vb, *boxes]
        self.items = items  # only these count as data (e.g. a map, not the markers drawn on it)
        self.shown = False
        self.panel = QtWidgets.QGraphicsRectItem(plot.vb)  # in the view box's own coordinates
        self.panel.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.panel.setZValue(1e9)
        self.label = QtWidgets.QGraphicsTextItem(self.panel)
        option = self.label.document().defaultTextOption()
        option.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        option.setWrapMode(QtGui.QTextOption.WrapMode.WordWrap)
        self.label.document().setDefaultTextOption(option)
        self.label.setPlainText(text)
        plot._lab_note = self
        me = weakref.ref(self)
        for vb in self.boxes:
            own = vb.itemBoundsChanged

            def bounds_changed(item, own=own):
                own(item)
                note = me()
                if note is not None:
                    note.refresh()

            vb.itemBoundsChanged = bounds_changed  # every setData / setImage passes here
        for side in ("left", "bottom", "right"):
            axis = plot.getAxis(side)
            own_pen = axis.textPen

            def text_pen(own_pen=own_pen):
                # Tick numbers drawn invisible while the note shows (restyling cannot bring them back).
                pen = own_pen()
                note = me()
                if note is not None and note.shown:
                    color = pen.color()
                    color.setAlpha(0)
                    pen.setColor(color)
                return pen

            axis.textPen = text_pen
        plot.vb.sigResized.connect(lambda *_: me() is not None and me()._place())
        manager().changed.connect(lambda: me() is not None and me()._restyle())
        self._restyle()
        self.refresh()

    def set_text(self, text: str) -> None:
        """New text (shown only while the plot is empty; an empty text shows nothing)."""
        if text != self.text:
            self.text = text
            self.label.setPlainText(text)
            self.refresh()
            self._place()

    def refresh(self) -> None:
        """Show or hide after the plot's data changed."""
        if not _alive(self.panel):
            return
        items = self.items if self.items is not None else [i for vb in self.boxes for i in vb.addedItems]
        empty = not any(_holds_data(item) for item in items) and bool(self.text)
        if empty != self.shown:
            self.shown = empty
            self.panel.setVisible(empty)
            self._tick_text()
            self._place()

    def _tick_text(self) -> None:
        for side in ("left", "bottom", "right"):
            axis = self.plot.getAxis(side)
            axis.picture = None  # redrawn with the text pen of the new state
            axis.update()

    def _restyle(self) -> None:
        if not _alive(self.panel):
            return
        colors = manager().style.colors
        self.label.setFont(manager().font(1.1))
        self.label.setDefaultTextColor(QtGui.QColor(colors.text))
        bg = QtGui.QColor(colors.plot_bg)
        bg.setAlpha(215)
        self.panel.setBrush(pg.mkBrush(bg))
        self._tick_text()
        self._place()

    def _place(self) -> None:
        if not _alive(self.panel) or not self.shown:
            return
        area = self.plot.vb.rect()
        width = max(60.0, min(area.width() - 16, 520.0))
        self.label.setTextWidth(width)
        text = self.label.boundingRect()
        pad = 6.0
        self.panel.setRect(0, 0, text.width() + 2 * pad, text.height() + 2 * pad)
        self.label.setPos(pad, pad)
        self.panel.setPos(area.center().x() - self.panel.rect().width() / 2,
                          area.center().y() - self.panel.rect().height() / 2)


def note(plot: pg.PlotItem, text: str, boxes: tuple[pg.ViewBox, ...] = (), items: tuple | None = None) -> PlotNote:
    """Put a `PlotNote` over `plot` (call once its items exist)."""
    return PlotNote(plot, text, boxes, items)


def progress_text(what: str, fraction: float) -> str:
    """“what… 40 %”: the text a note or a status line shows for a job under way."""
    return f"{what[:1].upper()}{what[1:]}… {100 * min(max(fraction, 0.0), 1.0):.0f} %"


def note_of(plot: pg.PlotItem) -> PlotNote | None:
    return getattr(plot, "_lab_note", None)


def _alive(obj) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


def curve(plot: pg.PlotItem, key: str | int, name: str | None = None, width: float = 2.0,
          dashed: bool = False, **kw) -> pg.PlotDataItem:
    item = plot.plot([], [], name=name, **kw)
    symbols = kw.get("symbol") is not None and "symbolBrush" not in kw and "symbolPen" not in kw
    manager().register_curve(item, key, width,
                             QtCore.Qt.PenStyle.DashLine if dashed else QtCore.Qt.PenStyle.SolidLine, symbols)
    if name and plot.legend is not None:
        manager().register_plot(plot)  # restyle the new legend label
    event_loop_turn()
    return item


def guide_line(plot: pg.PlotItem, value: float, angle: float = 0, key: str | int = "plot_fg",
               label: str | None = None) -> pg.InfiniteLine:
    line = pg.InfiniteLine(pos=value, angle=angle, movable=False,
                           pen=manager().pen(key, 1.5, QtCore.Qt.PenStyle.DashLine),
                           label=label, labelOpts={"position": 0.9, "color": manager().color(key)})
    plot.addItem(line)
    manager().register_curve(line, key, 1.5, QtCore.Qt.PenStyle.DashLine)
    return line


class ImagePlot:
    """A 2-D field over a rectangle: image, optional isolines, one colour bar."""

    def __init__(self, view: pg.GraphicsLayoutWidget, title: str = "", xlabel: str = "",
                 ylabel: str = "", cmap: pg.ColorMap | str = "viridis", bar_label: str = "",
                 row: int | None = None, col: int | None = None, isolines: int = 0):
        self.plot = add_plot(view, title, xlabel, ylabel, row=row, col=col)
        self.plot._lab_grid = False
        manager().register_plot(self.plot)
        self.plot.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        cmap = pg.colormap.get(cmap) if isinstance(cmap, str) else cmap
        self.bar = pg.ColorBarItem(colorMap=cmap, interactive=False, width=18)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        if bar_label:
            self.bar.axis.setLabel(bar_label)
        manager().register_colorbar(self.bar)
        self.n_isolines = isolines
        # Opaque: the ends of neighbouring segments overlap, and a translucent pen would dot them.
        self._isolines = Isolines(self.image, pg.mkPen((228, 228, 228), width=1)) if isolines else None
        self.extent: tuple[float, float, float, float] | None = None
        event_loop_turn()

    def set_colormap(self, cmap: pg.ColorMap) -> None:
        self.bar.setColorMap(cmap)

    def set_image(self, z: np.ndarray, extent: tuple[float, float, float, float],
                  levels: tuple[float, float] | None = None) -> None:
        """z[row, col] with rows along y (ymin → ymax) and columns along x."""
        z = np.asarray(z, dtype=np.float32)
        finite = z[np.isfinite(z)]
        if levels is None:
            levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if levels[0] == levels[1]:
                levels = (levels[0] - 0.5, levels[1] + 0.5)
        self.image.setImage(np.nan_to_num(z, nan=levels[1]), autoLevels=False)
        self.bar.setLevels(levels)
        xmin, xmax, ymin, ymax = extent
        h, w = z.shape[:2]
        # Pixel centres sit on the grid points.
        dx = (xmax - xmin) / max(w - 1, 1)
        dy = (ymax - ymin) / max(h - 1, 1)
        self.image.setRect(QtCore.QRectF(xmin - dx / 2, ymin - dy / 2, dx * w, dy * h))
        if self._isolines is not None:
            self._isolines.set_data(z, np.linspace(levels[0], levels[1], self.n_isolines + 2)[1:-1])
        if self.extent != extent:
            self.extent = extent
            self.plot.setRange(xRange=(xmin, xmax), yRange=(ymin, ymax), padding=0)


class Isolines(pg.GraphicsObject):
    """Level lines of a field drawn over its ImageItem (a child of it, in its pixel coordinates).

    Marching squares over every cell at once (NumPy) and one painter path: a few milliseconds
    for a 220×220 field at a dozen levels, where pyqtgraph's IsocurveItem traced each line
    point by point in Python while painting (tens of milliseconds per level, on the GUI thread).
    """

    def __init__(self, image: pg.ImageItem, pen: QtGui.QPen):
        super().__init__()
        self.pen = pen
        self.path = QtGui.QPainterPath()
        self.setParentItem(image)

    def set_data(self, z: np.ndarray | None, levels) -> None:
        self.prepareGeometryChange()
        if z is None or min(np.shape(z)[:2]) < 2:
            self.path = QtGui.QPainterPath()
        else:
            x, y = level_segments(np.asarray(z, dtype=np.float64),
                                  np.atleast_1d(np.asarray(levels, dtype=np.float64)))
            self.path = pg.arrayToQPath(x, y, connect="pairs")
        self.update()

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt's name
        return self.path.boundingRect()

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        painter.setPen(self.pen)
        painter.drawPath(self.path)


def level_segments(z: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Endpoints (x, y in pixel-centre coordinates: column + ½, row + ½) of the segments where
    z crosses each level, two points per segment."""
    finite = np.isfinite(z)
    whole = finite[:-1, :-1] & finite[:-1, 1:] & finite[1:, :-1] & finite[1:, 1:]  # cells without NaN
    xs, ys = [], []
    for level in levels:
        above = z >= level
        a_, b_, c_, d_ = above[:-1, :-1], above[:-1, 1:], above[1:, 1:], above[1:, :-1]
        rows, cols = np.nonzero(((a_ != b_) | (b_ != c_) | (c_ != d_)) & whole)  # cells the line crosses
        if not len(rows):
            continue
        # Corners a b over d c; crossings on the edges top a→b, right b→c, bottom d→c, left a→d.
        a, b = z[rows, cols], z[rows, cols + 1]
        d, c = z[rows + 1, cols], z[rows + 1, cols + 1]
        x0, y0 = cols.astype(np.float64), rows.astype(np.float64)
        hit, px, py = [], [], []
        for u, v, ex, ey, dx, dy in ((a, b, x0, y0, 1.0, 0.0), (b, c, x0 + 1, y0, 0.0, 1.0),
                                     (d, c, x0, y0 + 1, 1.0, 0.0), (a, d, x0, y0, 0.0, 1.0)):
            h = (u >= level) != (v >= level)
            t = np.where(h, (level - u) / np.where(h, v - u, 1.0), 0.0)
            hit.append(h)
            px.append(ex + dx * t)
            py.append(ey + dy * t)
        hit, px, py = np.stack(hit, -1), np.stack(px, -1), np.stack(py, -1)
        four = hit.all(-1)
        # Two crossings: one segment between them. Four (a saddle cell): the centre on a's side
        # joins a to c and cuts off b and d (top–right, bottom–left); else right–bottom, left–top.
        order = np.argsort(~hit, axis=-1, kind="stable")
        if four.any():
            same = ((a + b + c + d)[four] / 4 >= level) == (a[four] >= level)
            order[four] = np.where(same[:, None], np.array([[0, 1, 2, 3]]), np.array([[1, 2, 3, 0]]))
        keep = np.where(four[:, None], order, np.tile(order[:, :2], (1, 2)))
        n = np.where(four, 4, 2)
        mask = np.arange(4)[None, :] < n[:, None]
        xs.append(np.take_along_axis(px, keep, -1)[mask])
        ys.append(np.take_along_axis(py, keep, -1)[mask])
    if not xs:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(xs) + 0.5, np.concatenate(ys) + 0.5


def caption(text: str = "", role: str = "caption", scale: float = 1.0) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setProperty("role", role)
    label.setWordWrap(True)
    label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    if scale != 1.0:
        manager().register_text(label, scale)
    return label
