"""A tab's plot views are painted one per event-loop turn when the tab is shown.

Shown at once, a tab of eight plots is painted in one turn: 150–300 ms on a laptop, in which the
window answers nothing and training frames wait. Here the first view paints at once and each
further one a turn later, so the tab fills in over a few frames and no turn holds more than one
view's paint. Anything that takes a picture of the window (`grab`, export, recordings) calls
`reveal_now()` first, since a view not yet revealed would be blank in it.
"""

from __future__ import annotations

import weakref

import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtWidgets

GAP_MS = 10  # between two views: the paint of one lands before the next is let in

_pending: list[weakref.ref] = []
_timer: QtCore.QTimer | None = None


def reveal_gradually(root: QtWidgets.QWidget) -> None:
    """Hold back the paint of all but the first visible plot view under `root`; let them in one
    per turn."""
    reveal_now()
    views = [v for v in root.findChildren(pg.GraphicsView) if v.isVisibleTo(root) and v.updatesEnabled()]
    if len(views) < 2:
        return
    for v in views[1:]:
        v.setUpdatesEnabled(False)
        _pending.append(weakref.ref(v))
    _schedule()


def reveal_now() -> None:
    """Let every held-back view paint (before a picture of the window is taken)."""
    while _pending:
        _let_in(_pending.pop(0))
    if _timer is not None:
        _timer.stop()


def pending() -> int:
    return len(_pending)


def _let_in(ref: weakref.ref) -> None:
    view = ref()
    if view is not None and shiboken6.isValid(view):
        view.setUpdatesEnabled(True)


def _next() -> None:
    if _pending:
        _let_in(_pending.pop(0))
    if _pending:
        _schedule()


def _schedule() -> None:
    global _timer
    if _timer is None or not shiboken6.isValid(_timer):
        _timer = QtCore.QTimer()
        _timer.setSingleShot(True)
        _timer.setInterval(GAP_MS)
        _timer.timeout.connect(_next)
    _timer.start()
