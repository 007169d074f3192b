"""What a tab's own jobs delivered, so a recording can hold the lottery, double descent, NTK and
paradigms tabs too, and a replay can draw them again without computing.

A tab with its own computations keeps a `RunLog`: it calls `begin(job, settings)` when it starts
a job, `add(job, items)` with what the job yields (engine events, as its handler gets them) and
`end(job)` when it is over. The log holds the current run of each job (for a recording started
mid-run); while a recorder listens it also keeps every entry in order, for the recorder to take.
On replay the tab's `replay_runs` gets, per job, the settings, the items and whether it ended.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.recording import TabRun


class RunLog:
    def __init__(self) -> None:
        self.runs: dict[str, TabRun] = {}
        self.entries: list[tuple[str, str, Any]] = []  # (job, kind, payload), kept while recording
        self.recording = False

        self._muted = False

    @contextmanager
    def muted(self) -> Iterator[None]:
        """While a tab draws a replay through its usual handlers: nothing is logged."""
        self._muted = True
        try:
            yield
        finally:
            self._muted = False

    def begin(self, job: str, settings: Any) -> None:
        if self._muted:
            return
        self.runs[job] = TabRun(settings=settings)
        if self.recording:
            self.entries.append((job, "begin", settings))

    def add(self, job: str, items: list) -> None:
        run = self.runs.get(job)
        if run is None or self._muted:
            return
        run.items.extend(items)
        if self.recording:
            self.entries.append((job, "items", list(items)))

    def end(self, job: str) -> None:
        run = self.runs.get(job)
        if run is None or run.ended or self._muted:
            return
        run.ended = True
        if self.recording:
            self.entries.append((job, "end", None))

    def start_recording(self) -> list[tuple[str, str, Any]]:
        """Begin keeping entries; returns the runs so far as entries (a recording started mid-run)."""
        self.recording = True
        self.entries = []
        out: list[tuple[str, str, Any]] = []
        for job, run in self.runs.items():
            out.append((job, "begin", run.settings))
            if run.items:
                out.append((job, "items", list(run.items)))
            if run.ended:
                out.append((job, "end", None))
        return out

    def take(self) -> list[tuple[str, str, Any]]:
        """The entries since the last take."""
        out, self.entries = self.entries, []
        return out

    def stop_recording(self) -> None:
        self.recording = False
        self.entries = []
