"""Python's cycle collector runs on the GUI thread only.

Left automatic, a collection starts in whichever thread happens to allocate, often a worker in
mid-computation; if the garbage holds Qt objects (a closed window's plots waiting in a reference
cycle), their destructors then run off the GUI thread, and Qt crashes. So automatic collection is
off while the app runs, and a GUI timer collects each generation once its count passes Python's
own threshold, as the automatic collector would have.
"""

from __future__ import annotations

import gc

from PySide6 import QtCore

INTERVAL_MS = 500


class GuiThreadCollector(QtCore.QObject):
    """Collects cycles on the GUI thread, on a timer, with Python's thresholds."""

    def __init__(self, parent: QtCore.QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> int:
        """Collect the generations whose counts passed their thresholds; return objects freed."""
        freed = 0
        counts = gc.get_count()
        for generation in (2, 1, 0):  # an older generation's collection includes the younger ones
            if counts[generation] > self.thresholds[generation]:
                freed += gc.collect(generation)
                break
        return freed


_collector: GuiThreadCollector | None = None
_frozen = False


def freeze_long_lived() -> None:
    """Exempt every object alive now from later collections (`gc.freeze`), once per process.

    Called once the app has started and imported what its tabs use: the half million objects of
    torch, scipy, scikit-learn and Qt's wrappers live until the app ends, yet a full collection
    walked them all, 0.1–0.25 s of GUI-thread time every few minutes of training. Frozen, they
    are no longer walked; anything they hold is still freed by reference counting.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def collect_on_gui_thread(app: QtCore.QCoreApplication) -> GuiThreadCollector:
    """Install the collector once per application."""
    global _collector
    if _collector is None or _collector.parent() is not app:
        _collector = GuiThreadCollector(app)
    return _collector
