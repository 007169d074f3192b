"""Cycles are collected on the GUI thread, never in a worker that happens to allocate."""

import gc
import threading
import time
import weakref

from gui.app import make_app
from gui.collector import collect_on_gui_thread


class _Node:
    pass


def test_a_worker_allocating_never_collects_and_the_gui_timer_does(qtbot):
    app = make_app()
    collector = collect_on_gui_thread(app)
    assert not gc.isenabled()

    node = _Node()
    node.self = node  # a cycle: only the cycle collector frees it
    alive = weakref.ref(node)
    del node

    def allocate():
        junk = [[] for _ in range(50 * collector.thresholds[0])]  # far past the first threshold
        del junk

    t = threading.Thread(target=allocate)
    t.start()
    t.join(10)
    assert alive() is not None, "the worker thread ran a collection"
    for _ in range(3 * collector.thresholds[1]):  # enough young collections to reach every generation
        keep = [[] for _ in range(2 * collector.thresholds[0])]  # counted while alive
        collector.check()
        del keep
    qtbot.waitUntil(lambda: alive() is None, timeout=5000)


def test_full_collections_are_spaced_by_their_cost(qtbot):
    """The tabs' long-lived plots are walked by a full collection at most ~1% of the time: the
    next one waits FULL_SPACING times as long as the last took, however many young collections
    pass meanwhile."""
    from gui import collector as module

    app = make_app()
    collector = collect_on_gui_thread(app)
    kept = [[] for _ in range(200_000)]  # long-lived, like built tabs' items

    def full_collections() -> int:
        return gc.get_stats()[2]["collections"]

    def young_churn(rounds: int) -> None:
        for _ in range(rounds):
            junk = [[] for _ in range(2 * collector.thresholds[0])]
            collector.check()
            del junk

    collector._next_full = 0.0
    before = full_collections()
    young_churn(3 * collector.thresholds[1] * collector.thresholds[2])
    assert full_collections() == before + 1, "one full collection, then none until its spacing is over"
    wait = collector._next_full - time.perf_counter()
    assert wait > 0.5 * module.FULL_SPACING * 1e-3  # the full collection of 200,000 objects took over 1 ms
    collector._next_full = time.perf_counter()  # its time is over
    young_churn(3 * collector.thresholds[1] * collector.thresholds[2])
    assert full_collections() == before + 2
    del kept


FROZEN_AFTER_START = """
import gc, os, sys, time
from PySide6 import QtCore
from gui.app import make_app
from gui import collector
from gui.main_window import MainWindow

app = make_app(offscreen=True)
win = MainWindow()
win.show()
start = time.perf_counter()
while not collector._frozen and time.perf_counter() - start < 60:
    app.processEvents()
    time.sleep(0.01)
frozen = gc.get_freeze_count()
junk = [[] for _ in range(1000)]
collector.freeze_long_lived()  # once per process: later objects stay collectable
print(frozen, gc.get_freeze_count() - frozen, flush=True)
win.close()  # as the app ends: the window stops its workers, then the process ends at once
os._exit(0)
"""


def test_what_the_app_imported_at_start_is_frozen_once_and_later_objects_stay_collectable():
    """A full collection walks only what the app made after it started, not the half million
    objects of torch, scipy and Qt (0.1–0.25 s of GUI-thread time each time it ran)."""
    import subprocess
    import sys
    from pathlib import Path

    res = subprocess.run([sys.executable, "-c", FROZEN_AFTER_START], cwd=Path(__file__).resolve().parent.parent,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    frozen, added = (int(v) for v in res.stdout.split()[-2:])
    assert frozen > 100_000, f"only {frozen} objects frozen after start-up"
    assert added == 0, "a second freeze froze the objects made since"
