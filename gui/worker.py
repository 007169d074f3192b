"""Runs engine generators off the GUI thread.

A `Job` iterates a generator in a Python thread and hands what it yields to the GUI thread
through a queue that a GUI timer drains about 30 times a second; so the worker never touches a
Qt object and the GUI draws at most one batch per tick, however fast the engine yields. The
job stops at the generator's next yield when asked (and closes it, so its `finally` runs).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from PySide6 import QtCore

from engine.priority import lower_thread_priority

DRAIN_MS = 33
MAX_DRAIN_MS = 400
# The largest share of the GUI thread's time that drawing what jobs deliver may take. Python runs
# one thread at a time, and Qt's painting holds that turn inside its C++ calls: a GUI thread busy
# all the time drawing left a small network's training loop 5% of its speed. Past this share a
# job hands over its items less often (fewer, larger batches), down to ~2.5 a second.
GUI_SHARE = 0.35
# Called on the GUI thread after a job's items were handed over, before Qt paints what they
# changed (gui.plots settles the plots' auto-ranges here).
AFTER_DELIVERY: list[Callable[[], None]] = []


class Job(QtCore.QObject):
    """One generator run in a worker thread."""

    def __init__(self, factory: Callable[[], Iterator[Any]], on_items: Callable[[list], None] | None = None,
                 on_done: Callable[[], None] | None = None,
                 on_error: Callable[[str], None] | None = None, name: str = "job",
                 parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._factory = factory
        self._on_items = on_items
        self._on_done = on_done
        self._on_error = on_error
        self._queue: deque = deque()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"saddle-lab-{name}", daemon=True)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self._drain)
        self._delivered = False
        self._marks: tuple[float, float] | None = None  # (wall, GUI-thread CPU) at the last drain
        self.gui_load = 0.0  # smoothed share of the GUI thread's time in use between drains

    # -- worker thread --------------------------------------------------------------------
    def _run(self) -> None:
        gen = None
        lower_thread_priority()  # the GUI thread first: the window answers while this computes
        try:
            gen = self._factory()
            for item in gen:
                self._queue.append(item)
                if self._stop.is_set():
                    break
        except Exception as exc:  # reported on the GUI thread as a message, never a dialog
            self._error = _describe(exc)
            traceback.print_exc()
        finally:
            if gen is not None and hasattr(gen, "close"):
                try:
                    gen.close()
                except Exception:
                    traceback.print_exc()
            self._factory = None  # nor what the generator was built from
            self._finished.set()

    # -- GUI thread -----------------------------------------------------------------------
    def start(self) -> Job:
        self._timer.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the generator to stop at its next yield (does not wait)."""
        self._stop.set()
        self._timer.setInterval(DRAIN_MS)

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return not self._finished.is_set() or bool(self._queue)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _pace(self) -> None:
        """Hand over less often while the GUI thread is busier than GUI_SHARE; back to DRAIN_MS
        once it is well under."""
        wall, cpu = time.perf_counter(), time.thread_time()
        if self._marks is not None and wall > self._marks[0]:
            used = (cpu - self._marks[1]) / (wall - self._marks[0])
            self.gui_load = 0.6 * self.gui_load + 0.4 * used
        self._marks = (wall, cpu)
        interval = self._timer.interval()
        if self._stop.is_set() or self._finished.is_set():
            interval = DRAIN_MS  # the last items and the end promptly, as before pacing
        elif self.gui_load > GUI_SHARE:
            interval = min(MAX_DRAIN_MS, int(interval * 1.3) + 1)
        elif self.gui_load < 0.6 * GUI_SHARE:
            interval = max(DRAIN_MS, int(interval / 1.2))
        if interval != self._timer.interval():
            self._timer.setInterval(interval)

    def _drain(self) -> None:
        self._pace()
        items = []
        while self._queue:
            items.append(self._queue.popleft())
        if items and self._on_items is not None:
            self._safe(self._on_items, items)
            for hook in AFTER_DELIVERY:
                self._safe(hook)
        if self._finished.is_set() and not self._queue and not self._delivered:
            self._delivered = True
            self._timer.stop()
            if self._error is not None and self._on_error is not None:
                self._safe(self._on_error, self._error)
            elif self._on_done is not None:
                self._safe(self._on_done)
            # The Lab keeps its jobs: an ended one must not keep what its callbacks refer to.
            self._on_items = self._on_done = self._on_error = None

    def finish_now(self) -> None:
        """Deliver what is left (after `wait`), e.g. before the window closes or in tests."""
        self._drain()

    def _safe(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            traceback.print_exc()


class SyncJob:
    """The same interface as `Job`, but runs the generator to the end on the calling thread.

    Used for headless rendering, where the figures are wanted in order, not live.
    """

    def __init__(self, factory, on_items=None, on_done=None, on_error=None, name: str = "job", parent=None):
        self.name = name
        self._args = (factory, on_items, on_done, on_error)
        self.running = False
        self.stopping = False

    def start(self) -> SyncJob:
        factory, on_items, on_done, on_error = self._args
        try:
            for item in factory():
                if on_items is not None:
                    on_items([item])
        except Exception as exc:
            traceback.print_exc()
            if on_error is not None:
                on_error(_describe(exc))
            return self
        if on_done is not None:
            on_done()
        return self

    def stop(self) -> None:
        self.stopping = True

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def finish_now(self) -> None:
        pass


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return "out of memory: " + text + " (try a smaller model, grid or batch)"
    return text


# -- long GUI-thread work in slices -------------------------------------------------------------
SLICE_S = 0.025  # longest stretch of sliced GUI work before the event loop gets a turn

_slicing = {"depth": 0, "since": 0.0}


class sliced:
    """While active, `event_loop_turn()` calls hand the event loop a turn once `SLICE_S` has
    passed: building a tab of a dozen plots then never holds the window still for more than a
    slice, and training frames, timers and painting go on meanwhile. User input waits until the
    work is done (so no click lands on a half-built tab). Nested use is one slice."""

    def __enter__(self) -> sliced:
        if _slicing["depth"] == 0:
            _slicing["since"] = time.perf_counter()
        _slicing["depth"] += 1
        return self

    def __exit__(self, *exc) -> None:
        _slicing["depth"] -= 1


def slicing() -> bool:
    return _slicing["depth"] > 0


def event_loop_turn(now: bool = False) -> None:
    """Inside `sliced()`: let the event loop run once this slice has lasted `SLICE_S` (or `now`,
    where the work before, outside any slice, was long)."""
    if _slicing["depth"] == 0 or (not now and time.perf_counter() - _slicing["since"] < SLICE_S):
        return
    app = QtCore.QCoreApplication.instance()
    if app is not None and QtCore.QThread.currentThread() == app.thread():
        _slicing["depth"], depth = 0, _slicing["depth"]  # work started meanwhile is not sliced again
        try:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        finally:
            _slicing["depth"] = depth
    _slicing["since"] = time.perf_counter()


def import_in_background(modules: list[str], stop: threading.Event | None = None,
                         then: Callable[[], None] | None = None) -> threading.Thread:
    """Import modules in a worker thread (the heavy libraries a tab loads on first use, such as
    scikit-learn: seconds on a slow machine that the GUI thread would otherwise stand still for);
    `then` runs in that thread once all are imported."""
    import importlib

    def run() -> None:
        lower_thread_priority()
        for name in modules:
            if stop is not None and stop.is_set():
                return
            try:
                importlib.import_module(name)
            except Exception:  # the tab that needs it reports the problem when it is opened
                pass
        if then is not None:
            then()

    thread = threading.Thread(target=run, name="saddle-lab-imports", daemon=True)
    thread.start()
    return thread
