"""Small building blocks for panels that run their own computations.

- `JobProgress`: what a computation is doing, how far it is, and a Cancel button.
- `TaskBar`: the same as one line for a toolbar, with a percentage (Curvature, Saddles, Sharpness).
  (Jobs themselves are started through gui/jobs.py.)
- `ValueSlider`: a slider over a list of values (linear or log-spaced) with its name and value.
- `right_axis`: a second y axis with its own view box, sharing the plot's x axis.
- `fmt`, `labelled`, `fields_box`, `legend_below`, `legend_under`: captions, fields and legends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets
from superqt import QFlowLayout

from .style import manager


class RowFlow(QFlowLayout):
    """superqt's flow layout, remembering its height for a width until its items change: Qt asks
    again at every layout request (a label's new text), and each answer laid the row out anew,
    about 80 times a second on a tab with a live status line."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._heights: dict[int, int] = {}

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        h = self._heights.get(width)
        if h is None:
            if len(self._heights) > 16:
                self._heights.clear()
            h = self._heights[width] = super().heightForWidth(width)
        return h

    def invalidate(self) -> None:
        self._heights.clear()
        super().invalidate()


class ProgressBar(QtWidgets.QProgressBar):
    """A progress bar that shows a new value with the window's next paint. QProgressBar.setValue
    repaints at once, inside the call; where the window had more to paint (a tab just shown),
    that took the whole of it, 60 ms and more, into whatever set the value."""

    def setValue(self, value: int) -> None:  # noqa: N802 - Qt's name
        if value == self.value():
            return
        self.setUpdatesEnabled(False)
        try:
            super().setValue(value)
        finally:
            self.setUpdatesEnabled(True)  # schedules the repaint


class JobProgress(QtWidgets.QWidget):
    """Label + progress bar + Cancel button; hidden while nothing runs."""

    cancel_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.label = QtWidgets.QLabel("")
        self.label.setWordWrap(True)  # long status text must never widen the window
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.bar = ProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(160)
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_requested)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.bar)
        row.addWidget(self.cancel)
        self.setVisible(False)

    def start(self, text: str, maximum: int = 0) -> None:
        """Show the row; maximum 0 shows a busy bar."""
        self.label.setText(text)
        self.bar.setRange(0, maximum)
        self.bar.setValue(0)
        self.cancel.setEnabled(True)
        self.setVisible(True)

    def set_value(self, value: int, text: str | None = None) -> None:
        self.bar.setValue(int(value))
        if text is not None:
            self.label.setText(text)

    def finish(self) -> None:
        self.setVisible(False)


class TaskBar(QtWidgets.QWidget):
    """What a long computation is doing: a line of text, a progress bar and a Cancel button.

    Hidden while idle; `cancelled` fires when the user presses Cancel.
    """

    cancelled = QtCore.Signal()
    visibility_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.label = QtWidgets.QLabel("")
        self.label.setMinimumWidth(40)
        self.bar = ProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setMaximumWidth(220)
        self.bar.setMinimumWidth(60)
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.cancel.setToolTip("Stop this computation (the rest of the window keeps working)")
        self.cancel.clicked.connect(self.cancelled.emit)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel)
        self._active = False
        self.hide()

    def show_progress(self, fraction: float, text: str) -> None:
        self.label.setText(text)
        self.bar.setValue(int(round(1000 * min(1.0, max(0.0, fraction)))))
        self.bar.setFormat(f"{100 * min(1.0, max(0.0, fraction)):.0f}%")
        self.active = True

    def finish(self) -> None:
        self.active = False

    @property
    def active(self) -> bool:
        return self._active

    @active.setter
    def active(self, on: bool) -> None:
        if on != getattr(self, "_active", None):
            self._active = on
            self.setVisible(on)
            self.visibility_changed.emit(on)


def fmt(x: float, digits: int = 3) -> str:
    """A number for a caption: short, with scientific notation for tiny or huge values."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        text = f"{x:.{max(1, digits - 1)}e}".replace("e-0", "e-").replace("e+0", "e+")
    else:
        text = f"{x:.{digits}g}"
    return text.replace("-", "−")  # a true minus sign


def labelled(label: str, widget: QtWidgets.QWidget, tip: str = "") -> QtWidgets.QWidget:
    """A label and its field side by side, as one widget for a toolbar row."""
    return fields_box(label, widget, tip=tip)


class ValueSlider(QtWidgets.QWidget):
    """A named slider over fixed values; emits `value_changed(float)` as it moves."""

    value_changed = QtCore.Signal(float)

    def __init__(self, name: str, values: Sequence[float], initial: float,
                 fmt: Callable[[float], str] = lambda v: f"{v:g}", tooltip: str = "",
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.values = np.asarray(values, dtype=np.float64)
        self.fmt = fmt
        self.name = QtWidgets.QLabel(name)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, len(self.values) - 1)
        self.slider.setMinimumWidth(80)
        self.readout = QtWidgets.QLabel("")
        self.readout.setMinimumWidth(self.readout.fontMetrics().horizontalAdvance("0.0001 ") + 6)
        if tooltip:
            for w in (self.name, self.slider, self.readout):
                w.setToolTip(tooltip)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.name)
        row.addWidget(self.slider, 1)
        row.addWidget(self.readout)
        self.slider.valueChanged.connect(self._moved)
        self.set_value(initial)
        self._moved(self.slider.value())

    def value(self) -> float:
        return float(self.values[self.slider.value()])

    def index_of(self, value: float) -> int:
        if np.all(self.values > 0) and value > 0:
            return int(np.argmin(np.abs(np.log(self.values) - np.log(value))))
        return int(np.argmin(np.abs(self.values - value)))

    def set_value(self, value: float) -> None:
        """Move to the nearest allowed value (emits value_changed if it moved)."""
        self.slider.setValue(self.index_of(value))

    def _moved(self, index: int) -> None:
        self.readout.setText(self.fmt(float(self.values[index])))
        self.value_changed.emit(float(self.values[index]))


def right_axis(plot: pg.PlotItem, label: str) -> pg.ViewBox:
    """A view box drawn over `plot`, x-linked to it, whose y axis is the plot's right axis.

    Items added to it need `setLogMode` set by hand when the plot is in log mode.
    """
    box = pg.ViewBox()
    plot.showAxis("right")
    plot.scene().addItem(box)
    axis = plot.getAxis("right")
    axis.linkToView(box)
    axis.setLabel(label)
    box.setXLink(plot)
    box.setZValue(plot.vb.zValue() + 1)

    def follow() -> None:
        box.setGeometry(plot.vb.sceneBoundingRect())
        box.linkedViewChanged(plot.vb, box.XAxis)

    plot.vb.sigResized.connect(follow)
    follow()
    manager().register_plot(plot)  # style the new axis with the others
    return box


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _log_label(exponent: float) -> str:
    """A tick label for 10**exponent: plain numbers from 0.001 to 9999, else m·10ᵏ."""
    value = 10.0 ** exponent
    if 1e-3 <= value < 1e4:
        text = f"{value:.3g}"
        return f"{value:.0f}" if "e" in text else text
    k = int(np.floor(exponent + 1e-9))
    mantissa = f"{value / 10.0 ** k:.2g}"
    power = "10" + str(k).translate(_SUPERSCRIPT)
    return power if mantissa == "1" else f"{mantissa}·{power}"


class LogAxis(pg.AxisItem):
    """An axis whose log mode labels only powers of ten (plus 2 and 5 between them when the
    range is short), so labels never crowd at lecture font sizes; linear mode is unchanged."""

    def __init__(self, orientation: str, **kw):
        super().__init__(orientation, **kw)
        self.setStyle(maxTextLevel=0)  # the minor level is ticks only

    def tickValues(self, minVal: float, maxVal: float, size: float):
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = sorted((float(minVal), float(maxVal)))
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo > 60:
            return []
        decades = np.arange(np.floor(lo) - 1, np.ceil(hi) + 1)
        inside = lambda v: lo <= v <= hi  # noqa: E731
        majors = [float(k) for k in decades if inside(k)]
        every = max(1, int(np.ceil(len(majors) / 7)))
        labelled = [k for k in majors if int(round(k)) % every == 0]
        minors = [k + np.log10(m) for k in decades for m in range(1, 10) if inside(k + np.log10(m))]
        if len(majors) < 3:
            labelled += [k + np.log10(m) for k in decades for m in (2, 5) if inside(k + np.log10(m))]
        if len(labelled) < 2:  # less than a decade in view: label every 1 … 9
            labelled = list(minors)
        if len(labelled) < 2:  # a sliver of a decade: evenly spaced round values
            v_lo, v_hi = 10.0 ** lo, 10.0 ** hi
            raw = (v_hi - v_lo) / 4
            mag = 10.0 ** np.floor(np.log10(raw))
            step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
            values = np.arange(np.ceil(v_lo / step) * step, v_hi, step)
            labelled = [float(np.log10(v)) for v in values if v > 0]
        minors = [v for v in minors if all(abs(v - w) > 1e-9 for w in labelled)]
        return [(None, sorted(labelled)), (None, minors)]

    def tickStrings(self, values, scale, spacing):
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [_log_label(v) for v in values]


def log_axes(*names: str) -> dict[str, LogAxis]:
    """axisItems for plots.add_plot: readable log ticks on the named sides."""
    return {name: LogAxis(name) for name in (names or ("left", "bottom", "right"))}


_CORNERS = {"top-left": ((0, 0), (0, 0), (10, 10)), "top-right": ((1, 0), (1, 0), (-10, 10)),
            "bottom-left": ((0, 1), (0, 1), (10, -10)), "bottom-right": ((1, 1), (1, 1), (-10, -10)),
            "right": ((1, 0.5), (1, 0.5), (-10, 0))}


def place_legend(plot: pg.PlotItem, corner: str) -> None:
    """Move the plot's legend into a corner of its data area (where the curves leave room)."""
    item_pos, parent_pos, offset = _CORNERS[corner]
    plot.legend.anchor(item_pos, parent_pos, offset)


def lay_out_pages(tabs: QtWidgets.QTabWidget) -> None:
    """Give every page of `tabs` the current page's geometry, so pages never shown yet can be
    grabbed to pictures at their real size (a stacked layout sizes only the visible page)."""
    current = tabs.currentIndex()
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        QtWidgets.QApplication.processEvents()
    tabs.setCurrentIndex(current)
    QtWidgets.QApplication.processEvents()


def set_title(plot: pg.PlotItem, text: str) -> None:
    """Change a plot's title, keeping the style manager's font and colour."""
    plot._lab_title = text
    manager().register_plot(plot)


def legend_below(view: pg.GraphicsLayoutWidget, row: int, col: int, columns: int = 1,
                 colspan: int = 1) -> pg.LegendItem:
    """A legend in its own layout cell (for pictures whose free corners are all crossed by data).

    Assign it to `plot.legend` before adding named curves: they then list themselves in it,
    and the style manager restyles it with the plot. Keep plots out of its row (no rowspan
    into it), or the layout stretches the legend along with them."""
    legend = pg.LegendItem(colCount=columns)
    view.addItem(legend, row=row, col=col, colspan=colspan)
    layout = view.ci.layout
    layout.setRowStretchFactor(row, 0)  # the legend keeps its natural height; plots take the rest
    for r in range(row):
        layout.setRowStretchFactor(r, max(layout.rowStretchFactor(r), 1))
    return legend


def legend_under(view: pg.GraphicsLayoutWidget, plot: pg.PlotItem, row: int, col: int = 0,
                 columns: int = 2) -> pg.LegendItem:
    """A legend in its own row under `plot`, where it cannot hide the curves, made the plot's
    legend (unlike `legend_below`, the layout's row stretch is left as it is)."""
    legend = pg.LegendItem(colCount=columns, horSpacing=12)
    view.addItem(legend, row=row, col=col)
    plot.legend = legend  # curves named later join it; the style manager styles it with the plot
    manager().register_plot(plot)
    return legend


def fields_box(*parts: QtWidgets.QWidget | str, tip: str = "") -> QtWidgets.QWidget:
    """Labels and fields side by side as one widget, for a row of controls that wraps; a text
    part becomes a label for the widget after it."""
    box = QtWidgets.QWidget()
    lay = QtWidgets.QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    widgets = [QtWidgets.QLabel(p) if isinstance(p, str) else p for p in parts]
    for i, w in enumerate(widgets):
        if isinstance(parts[i], str) and i + 1 < len(widgets):
            w.setBuddy(widgets[i + 1])
        lay.addWidget(w)
    if tip:
        box.setToolTip(tip)
        for w in widgets:
            w.setToolTip(tip)
    return box


class FlowLayout(QtWidgets.QLayout):
    """Lays widgets out left to right and wraps them onto new lines, like words."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, hspacing: int = 10, vspacing: int = 4):
        super().__init__(parent)
        self._items: list[QtWidgets.QLayoutItem] = []
        self._h, self._v = hspacing, vspacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QtWidgets.QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i: int):
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i: int):
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self) -> QtCore.Qt.Orientation:
        return QtCore.Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QtCore.QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QtCore.QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QtCore.QSize:
        return self.minimumSize()

    def minimumSize(self) -> QtCore.QSize:
        size = QtCore.QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.sizeHint())
        return size

    def _arrange(self, rect: QtCore.QRect, move: bool) -> int:
        lines: list[list[tuple[QtWidgets.QLayoutItem, QtCore.QSize]]] = [[]]
        x = rect.x()
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            if lines[-1] and x + hint.width() > rect.right() + 1:
                lines.append([])
                x = rect.x()
            lines[-1].append((item, hint))
            x += hint.width() + self._h
        y = rect.y()
        for line in lines:
            height = max((h.height() for _, h in line), default=0)
            if move:
                x = rect.x()
                for item, hint in line:  # centred vertically on the line
                    item.setGeometry(QtCore.QRect(QtCore.QPoint(x, y + (height - hint.height()) // 2), hint))
                    x += hint.width() + self._h
            y += height + self._v
        return max(0, y - self._v - rect.y())
