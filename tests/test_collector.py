"""Cycles are collected on the GUI thread, never in a worker that happens to allocate."""

import gc
import threading
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
