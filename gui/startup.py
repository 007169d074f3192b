"""Start-up timing: when the process began and when the window first reached the screen."""

from __future__ import annotations

import os
import sys
import time

from PySide6 import QtCore

_started: float = time.time()
first_paint: float | None = None  # seconds after start, once painted


def mark_started(when: float | None) -> None:
    global _started
    if when is not None:
        _started = when


class FirstPaint(QtCore.QObject):
    """Notes the first paint of a widget (the moment the window is on screen)."""

    def eventFilter(self, obj, event) -> bool:
        global first_paint
        if first_paint is None and event.type() == QtCore.QEvent.Type.Paint:
            first_paint = time.time() - _started
            if os.environ.get("SADDLE_LAB_REPORT_PAINT"):
                print(f"first-paint-epoch {time.time():.4f}", file=sys.stderr, flush=True)
            obj.removeEventFilter(self)
        return False


_filter: FirstPaint | None = None


def watch(widget) -> None:
    global _filter
    if first_paint is None:
        _filter = FirstPaint()
        widget.installEventFilter(_filter)
