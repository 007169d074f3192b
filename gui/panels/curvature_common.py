"""Widgets shared by the Curvature, Saddles and Sharpness tabs."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from ..panel_tools import fields_box


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
        self.bar = QtWidgets.QProgressBar()
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


def weak(method: Callable, *extra) -> Callable:
    """A callback that calls `method(*args, *extra)` while its object lives, and does nothing after.

    Jobs keep their callbacks; a bound method would tie the panel (and its plots) into a reference
    cycle with the Lab, kept alive until the garbage collector happens to run.
    """
    ref = weakref.WeakMethod(method)

    def call(*args):
        m = ref()
        if m is not None:
            return m(*args, *extra)
        return None

    return call
