"""How a tab runs its own computations: `PanelJobs`, one job per key, and `weak` callbacks.

Every tab that computes something of its own (a sweep, a surface, a spectrum, …) starts it
through its `PanelJobs`:

- at most one job runs per key ("surface", "sweep", …); starting a new one stops the old one and
  drops whatever the old one still delivers, so the newest request always wins (a slider dragged
  quickly never ends on a stale curve);
- `cancel` stops a job and drops its deliveries; `stop` stops it and keeps what it delivered;
- the callbacks are held weakly: the Lab keeps its jobs after they end, and a bound method would
  keep a closed tab (and its plots) alive with them; a tab that is gone is never called.

The jobs run through `Lab.start_job` with the tab as owner, so the topic list marks the tab busy.
"""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import shiboken6

from .worker import Job, SyncJob


def weak(method: Callable, *bound: Any) -> Callable:
    """A callback that calls `method(*bound, *args)` while the method's object lives, and does
    nothing after (a plain function is called as it is, with the bound arguments first)."""
    if not inspect.ismethod(method):
        if not bound:
            return method
        return lambda *args: method(*bound, *args)
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        m = ref()
        if m is not None:
            return m(*bound, *args)
        return None

    return call


class PanelJobs:
    """A tab's jobs, one per key, through `lab.start_job`; newest wins, stale deliveries are dropped."""

    def __init__(self, panel: Any):
        self.lab = panel.lab
        self.owner: str = panel.slug
        self._panel = weakref.ref(panel)
        self._jobs: dict[str, Job | SyncJob] = {}
        self._generation: dict[str, int] = {}
        self._open: dict[str, int] = {}  # key -> generation of its job whose end is not delivered yet

    def start(self, key: str, factory: Callable[[], Iterator[Any]], on_items: Callable[[list], None] | None = None,
              on_done: Callable[[], None] | None = None, on_error: Callable[[str], None] | None = None,
              on_end: Callable[[], None] | None = None,
              on_exit: Callable[[str | None], None] | None = None) -> Job | SyncJob:
        """Run `factory()` off the GUI thread (inline when headless), replacing the job of `key`.

        `on_items`, `on_done` and `on_error` are called for the newest job of the key only;
        without `on_error` a failure goes to the status bar. `on_end` runs once that job ends in
        any way (done, failed or stopped). `on_exit(error or None)` runs once the job has ended
        even if it was cancelled or replaced: for a tab that holds back its next request until
        the running job is over."""
        self.stop(key)
        self._jobs.pop(key, None)  # a headless job runs inside start_job: no older one is its key's meanwhile
        gen = self._generation.get(key, 0) + 1
        self._generation[key] = gen
        self._open[key] = gen
        calls = [weak(f) if f is not None else None for f in (on_items, on_done, on_error, on_end, on_exit)]
        items_cb, done_cb, error_cb, end_cb, exit_cb = calls

        def current() -> bool:
            return self._generation.get(key) == gen and self._alive()

        def items(batch: list) -> None:
            if current() and items_cb is not None:
                items_cb(batch)

        def done() -> None:
            try:
                if current():
                    if done_cb is not None:
                        done_cb()
                    if end_cb is not None:
                        end_cb()
            finally:  # a callback that raised must not leave the key running for ever
                exited(None)

        def failed(text: str) -> None:
            try:
                if current():
                    if error_cb is not None:
                        error_cb(text)
                    else:
                        self.lab.message.emit(f"Error: {text}", 8000)
                    if end_cb is not None:
                        end_cb()
            finally:
                exited(text)

        def exited(error: str | None) -> None:
            if self._open.get(key) == gen:
                del self._open[key]
            if exit_cb is not None and self._alive():
                exit_cb(error)

        job = self.lab.start_job(factory, items, done, failed, name=f"{self.owner}-{key}", owner=self.owner)
        self._jobs.setdefault(key, job)  # unless a headless job started a newer one as it ended
        return job

    def _alive(self) -> bool:
        panel = self._panel()
        # A closed window's tabs may be deleted (on the Qt side) before their jobs end.
        return panel is not None and shiboken6.isValid(panel)

    def cancel(self, key: str, forget: bool = False) -> None:
        """Stop the job and ignore what it still delivers. It counts as running until it has
        ended, unless `forget`: then a new job of the key may start beside it at once."""
        self.stop(key)
        self._generation[key] = self._generation.get(key, 0) + 1
        if forget:
            self._open.pop(key, None)

    def stop(self, key: str) -> None:
        """Stop the job at its next yield; what it delivered until then is kept."""
        job = self._jobs.get(key)
        if job is not None and job.running:
            job.stop()

    def job(self, key: str) -> Job | SyncJob | None:
        """The job last started under `key` (also once it has ended), or None."""
        return self._jobs.get(key)

    def running(self, key: str) -> bool:
        """A job of `key` has not ended yet: its end (done, failed or stopped) is not delivered."""
        return key in self._open

    def stopping(self, key: str) -> bool:
        """The job of `key` was asked to stop."""
        job = self._jobs.get(key)
        return job is not None and bool(job.stopping)

    def stop_all(self, wait: float = 0.0, drop: bool = True) -> bool:
        """Stop every job; with `wait` > 0, give them that many seconds in all to finish.
        `drop`: ignore what they still deliver; without it their ends still reach the tab."""
        for key in list(self._jobs):
            self.cancel(key) if drop else self.stop(key)
        deadline = time.perf_counter() + wait
        ok = True
        for job in self._jobs.values():
            ok &= job.wait(max(0.0, deadline - time.perf_counter())) if wait > 0 else True
        return ok
