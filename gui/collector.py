"""Python's cycle collector runs on the GUI thread only.

Left automatic, a collection starts in whichever thread happens to allocate, often a worker in
mid-computation; if the garbage holds Qt objects (a closed window's plots waiting in a reference
cycle), their destructors then run off the GUI thread, and Qt crashes. So automatic collection is
off while the app runs, and a GUI timer collects each generation once its count passes Python's
own threshold, as the automatic collector would have; full collections, which walk every plot of
every built tab, are spaced by their cost (see `GuiThreadCollector.check`).
"""

from __future__ import annotations

import gc
import time

from PySide6 import QtCore

INTERVAL_MS = 100
FULL_SPACING = 100  # a full collection waits this many times its last one's duration


class GuiThreadCollector(QtCore.QObject):
    """Collects cycles on the GUI thread, on a timer, with Python's thresholds."""

    def __init__(self, parent: QtCore.QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self._next_full = 0.0  # no full collection before this time (perf_counter)
        gc.disable()
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> int:
        """Collect the generations whose counts passed their thresholds; return objects freed.

        A full collection walks every object the tabs made (their plots live in the oldest
        generation): 100–300 ms once all tabs are built. Python's own collector holds it back
        until that generation has grown by a quarter; its sizes are not readable from Python
        (listing the generation, `gc.get_objects`, hands out objects that other threads are still
        building, and broke a tuple under construction in a worker), so here a full collection
        waits at least FULL_SPACING times as long as the last one took: they take at most ~1% of
        the GUI thread's time."""
        counts = gc.get_count()
        # Python's collector looks every `threshold[0]` allocations; this one every INTERVAL_MS.
        # Where the young objects are many times the threshold (a tab was just built), Python would
        # have collected the middle generation meanwhile: so does this collection, or the young
        # objects of ten such checks would be walked again together (100+ ms on a built tab).
        burst = counts[0] > self.thresholds[0] * self.thresholds[1]
        for generation in (2, 1, 0):  # an older generation's collection includes the younger ones
            if counts[generation] <= self.thresholds[generation] and not (generation == 1 and burst):
                continue
            if generation == 2 and time.perf_counter() < self._next_full:
                continue
            t0 = time.perf_counter()
            freed = gc.collect(generation)
            if generation == 2:
                self._next_full = time.perf_counter() + FULL_SPACING * (time.perf_counter() - t0)
            return freed
        return 0


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
