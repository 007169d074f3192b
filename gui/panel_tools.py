"""Small building blocks for panels that run their own computations.

- `JobProgress`: what a computation is doing, how far it is, and a Cancel button.
- `PanelJobs`: at most one running job per key ("sweep", "networks", …); starting a new one
  stops the old one and drops whatever the old one still delivers, so the newest request
  always wins (a slider dragged quickly never ends on a stale curve).
- `ValueSlider`: a slider over a list of values (linear or log-spaced) with its name and value.
- `right_axis`: a second y axis with its own view box, sharing the plot's x axis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from .style import manager


class JobProgress(QtWidgets.QWidget):
    """Label + progress bar + Cancel button; hidden while nothing runs."""

    cancel_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.label = QtWidgets.QLabel("")
        self.label.setWordWrap(True)  # long status text must never widen the window
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.bar = QtWidgets.QProgressBar()
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


class PanelJobs:
    """One job per key through `lab.start_job`; newest wins, stale deliveries are dropped."""

    def __init__(self, lab, owner: str):
        self.lab = lab
        self.owner = owner
        self._jobs: dict[str, Any] = {}
        self._generation: dict[str, int] = {}

    def start(self, key: str, factory: Callable[[], Iterator[Any]], on_items: Callable[[list], None],
              on_done: Callable[[], None] | None = None, on_error: Callable[[str], None] | None = None,
              on_end: Callable[[], None] | None = None) -> None:
        """Run `factory()` off the GUI thread. `on_end` runs once the job ends in any way
        (done, failed or cancelled), unless a newer job of the same key replaced it."""
        self.stop(key)
        gen = self._generation.get(key, 0) + 1
        self._generation[key] = gen

        def current() -> bool:
            return self._generation.get(key) == gen

        def items(batch: list) -> None:
            if current():
                on_items(batch)

        def done() -> None:
            if current():
                if on_done is not None:
                    on_done()
                if on_end is not None:
                    on_end()

        def failed(text: str) -> None:
            if current():
                if on_error is not None:
                    on_error(text)
                else:
                    self.lab.message.emit(f"Error: {text}", 8000)
                if on_end is not None:
                    on_end()

        self._jobs[key] = self.lab.start_job(factory, items, done, failed, name=f"{self.owner}-{key}")

    def cancel(self, key: str) -> None:
        """Stop the job and forget it: what it still delivers is ignored."""
        self.stop(key)
        self._generation[key] = self._generation.get(key, 0) + 1

    def stop(self, key: str) -> None:
        job = self._jobs.get(key)
        if job is not None and job.running:
            job.stop()

    def running(self, key: str) -> bool:
        job = self._jobs.get(key)
        return job is not None and bool(job.running)

    def stop_all(self, wait: float = 0.0) -> bool:
        """Stop every job; with `wait` > 0, give them that many seconds in all to finish."""
        for key in list(self._jobs):
            self.cancel(key)
        deadline = time.perf_counter() + wait
        ok = True
        for job in self._jobs.values():
            ok &= job.wait(max(0.0, deadline - time.perf_counter())) if wait > 0 else True
        return ok


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
