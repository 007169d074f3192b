"""The GUI-side owner of the shared experiment: runs training in a worker, fans frames out.

Panels subscribe to the Qt signals here (`frames`, `reset`, `rebuilt`, …). The experiment itself
is engine code; only one job touches it at a time (training, a single step, a rebuild or a
reset snapshot), which the Lab guarantees by running them one after another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from PySide6 import QtCore

from engine.checkpoint import restore_checkpoint
from engine.device import describe
from engine.experiment import Experiment, ExperimentConfig
from engine.history import HistoryRecorder, RunHistory, default_probes
from engine.landscape import PathRecorder
from engine.live import Frame, Probe, live_training, snapshot_frame
from engine.training import History

from .worker import Job, SyncJob

PREPARING = "Preparing the data…"


class Lab(QtCore.QObject):
    frames = QtCore.Signal(list)  # list[Frame], newest last; at most ~30 per second
    weights_reset = QtCore.Signal()  # weights are back at θ₀ (also after a rebuild): clear live views
    rebuilt = QtCore.Signal()  # new dataset or network
    state_changed = QtCore.Signal(str)  # "idle" | "running" | "busy"
    diverged = QtCore.Signal(str)
    message = QtCore.Signal(str, int)  # status-bar text, timeout in ms (0: until replaced)
    error = QtCore.Signal(str, str)  # field (or "" for general), message

    def __init__(self, config: ExperimentConfig | None = None, sync: bool = False,
                 parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.sync = sync  # headless: jobs run inline, in order
        # Which tab a job named so computes for; the window, which knows the tabs, sets it.
        self.owner_of: Callable[[str], str | None] = lambda name: None
        self.experiment = Experiment(config or ExperimentConfig())
        self.history = History()
        # Recorded from step 0 whichever tab is open, so a tab opened late shows the whole run:
        # the always-on analyses (measured in the training thread) and the path θ_t.
        self.history_recorder = HistoryRecorder(default_probes())
        self.run_history = RunHistory()
        self.path = PathRecorder()
        self.last_frame: Frame | None = None
        self._probes: dict[str, dict[str, Probe]] = {}
        self._merged_probes: dict[str, Probe] = {}
        self._train_job: Job | SyncJob | None = None
        self._jobs: list[Job | SyncJob] = []
        self._queued: list[Callable[[], None]] = []
        self.state = "idle"
        self.max_steps: int | None = None  # stop automatically after this many steps per Play
        self.replaying = False  # a recording is shown: no training until the replay ends
        self.recorders: list[Callable[[list[Frame]], None]] = []

    # -- probes requested by visible panels -------------------------------------------------
    def set_probes(self, owner: str, probes: dict[str, Probe]) -> None:
        self._probes[owner] = dict(probes)
        merged: dict[str, Probe] = {}
        for d in self._probes.values():
            merged.update(d)
        self._merged_probes = merged  # swapped whole: the training thread reads it each frame

    def probes(self) -> dict[str, Probe]:
        return self._merged_probes

    # -- jobs ------------------------------------------------------------------------------
    def start_job(self, factory: Callable[[], Iterator[Any]], on_items=None, on_done=None,
                  on_error=None, name: str = "job", owner: str | None = None) -> Job | SyncJob:
        """Run an engine generator off the GUI thread (inline when headless).

        `owner`: the tab slug the job computes for (default: `owner_of(name)`, which the window
        sets to find the tab whose slug starts the name), so the window can mark that tab as busy
        while the job runs."""
        cls = SyncJob if self.sync else Job
        job = cls(factory, on_items, on_done, on_error or self._job_error, name=name, parent=self)
        job.owner = owner if owner is not None else self.owner_of(name)
        self._jobs = [j for j in self._jobs if j.running]
        self._jobs.append(job)
        return job.start()

    def running_jobs(self) -> list[Job | SyncJob]:
        """The jobs running now (tab jobs and the experiment's own)."""
        return [j for j in self._jobs if j.running and not j.stopping]

    def _job_error(self, text: str) -> None:
        self.message.emit(f"Error: {text}", 8000)

    def stop_all(self, timeout: float = 1.0) -> bool:
        """Stop every job at its next yield and wait (used when the window closes)."""
        jobs = [j for j in self._jobs if j.running]
        if self._train_job is not None:
            jobs.append(self._train_job)
        for j in jobs:
            j.stop()
        deadline = time.perf_counter() + timeout
        ok = True
        for j in jobs:
            ok &= j.wait(max(0.0, deadline - time.perf_counter()))
        return ok

    # -- training --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._train_job is not None

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _run_exclusive(self, factory, name: str, on_done: Callable[[], None] | None = None,
                       announce: str | None = None) -> None:
        """Start a job that owns the experiment; later ones queue behind it.

        announce: "reset" or "rebuilt", told to the views just before this job's first frame
        (not before: frames of the job it waited for may still be on their way)."""
        if self._train_job is not None:
            self._queued.append(lambda: self._run_exclusive(factory, name, on_done, announce))
            self._train_job.stop()
            return

        pending = [announce]

        def flush_announce() -> None:
            if pending[0] is not None:
                self._announce(pending[0])
                pending[0] = None

        def done() -> None:
            self._train_job = None
            flush_announce()  # a job stopped before its first frame still changed the weights
            if on_done is not None:
                on_done()
            if self._queued:
                self._queued.pop(0)()
            elif self._train_job is None:
                self._set_state("idle")

        def failed(text: str) -> None:
            self.message.emit(f"Error: {text}", 10000)
            done()

        self._set_state("running" if name == "train" else "busy")
        job_cls = SyncJob if self.sync else Job

        def deliver(frames: list[Frame]) -> None:
            flush_announce()
            self._deliver(frames)

        self._train_job = job_cls(factory, deliver, done, failed, name=name, parent=self)
        self._train_job.start()

    def _refuse_in_replay(self) -> bool:
        if self.replaying:
            self.message.emit("A recording is being replayed: leave the replay to train.", 5000)
        return self.replaying

    def play(self, max_steps: int | None = None) -> None:
        if self._refuse_in_replay():
            return
        if self.running or self.experiment.diverged:
            if self.experiment.diverged:
                self.message.emit("This run diverged: press Reset (or lower the learning rate) first.", 6000)
            return
        steps = max_steps if max_steps is not None else self.max_steps
        exp = self.experiment
        self._run_exclusive(lambda: live_training(exp, self.probes, max_steps=steps, history=self.history_recorder,
                                                  spare_threads=1), "train")

    def pause(self) -> None:
        if self._train_job is not None:
            self._queued.clear()
            self._train_job.stop()

    def toggle(self) -> None:
        self.pause() if self.running else self.play()

    def step(self) -> None:
        """Exactly one optimisation step (when paused)."""
        if self._refuse_in_replay() or self.running or self.experiment.diverged:
            return
        exp = self.experiment
        self._run_exclusive(lambda: live_training(exp, self.probes, max_steps=1, history=self.history_recorder),
                            "step")

    def reset(self) -> None:
        """Same initial weights θ₀, fresh optimiser."""
        if self._refuse_in_replay():
            return
        self.pause()
        exp = self.experiment

        def work():
            exp.reset()
            self.history_recorder.clear()  # the new run's step 0 is measured when training starts
            yield snapshot_frame(exp, self.probes)

        self._run_exclusive(work, "reset", announce="reset")

    def reseed(self) -> None:
        self.apply_config(replace(self.experiment.config, seed=self.experiment.config.seed + 1))

    def apply_config(self, config: ExperimentConfig, then: Callable[[], None] | None = None) -> None:
        """Rebuild data and/or model for new settings (in a worker: data can take seconds).
        `then` runs once the views have seen the rebuild, before any job queued behind it."""
        self.pause()
        exp = self.experiment
        if config.differs_in(exp.config, ExperimentConfig.DATA_FIELDS):
            self.message.emit(PREPARING, 0)  # replaced by the summary when it is ready

        def work():
            exp.rebuild(config)
            self.history_recorder.clear()  # the new run's step 0 is measured when training starts
            yield snapshot_frame(exp, self.probes)

        def done() -> None:
            self._after_rebuild()
            if then is not None:
                then()

        self._run_exclusive(work, "rebuild", on_done=done, announce="rebuilt")

    def _after_rebuild(self) -> None:
        notes = "; ".join(self.experiment.dataset.notes)  # e.g. unreadable files that were skipped
        self.message.emit(f"{self.experiment.dataset.name}: {len(self.experiment.dataset.y_train)} train / "
                          f"{len(self.experiment.dataset.y_test)} test samples, "
                          f"{self.experiment.n_params:,} parameters" + (f" ({notes})" if notes else ""),
                          12000 if notes else 5000)

    def set_hparams(self, **values: float) -> None:
        """lr / momentum / weight decay: applied at the next training step, even mid-run."""
        try:
            self.experiment.set_hparams(**values)
        except ValueError as exc:
            self.error.emit(next(iter(values)), str(exc))

    def start(self) -> None:
        """First frame after the window opens: panels get rebuilt, reset, then a frame."""
        # Queued even behind a panel's own refresh: the views must hear "rebuilt" once.
        self._run_exclusive(self._snapshot_job, "refresh", announce="rebuilt")

    def refresh(self) -> None:
        """A fresh frame of the current weights (e.g. a panel became visible while paused)."""
        if self.running:
            return
        self._run_exclusive(self._snapshot_job, "refresh")

    def _snapshot_job(self):
        yield snapshot_frame(self.experiment, self.probes)

    def train_sync(self, steps: int) -> None:
        """Headless: train `steps` steps inline, delivering frames as they come."""
        for frame in live_training(self.experiment, self.probes, max_steps=steps,
                                   frame_interval=0.0 if steps <= 50 else 0.05, history=self.history_recorder):
            self._deliver([frame])

    def continue_from(self, checkpoint: dict, recorded: list[Frame] | None = None) -> None:
        """Put a recorded checkpoint into the experiment (built with the recording's settings)
        and show the recorded frames up to it, so training goes on from that step."""
        exp = self.experiment

        def work():
            restore_checkpoint(exp, checkpoint)
            yield snapshot_frame(exp, self.probes, history=self.history_recorder)

        def shown() -> None:
            if recorded:
                self.deliver_replay(recorded, restart=True)
            self.message.emit(f"Continuing from step {exp.step_count:,} of the recording: press Play", 8000)

        self._run_exclusive(work, "continue", on_done=shown, announce="reset")

    # -- replay ------------------------------------------------------------------------------
    def deliver_replay(self, frames: list[Frame], restart: bool) -> None:
        """Show recorded frames as if they had just streamed (restart: from an empty history)."""
        if restart:
            self.history = History()
            self.run_history.clear()
            self.path.clear()
            self.last_frame = None
            self.weights_reset.emit()
        self._collect(frames)
        self.last_frame = frames[-1]
        self.frames.emit(frames)

    # -- frames out --------------------------------------------------------------------------
    def _announce(self, what: str) -> None:
        self.history = History()
        self.run_history.clear()
        self.path.clear()
        self.last_frame = None
        if what == "rebuilt":
            self.rebuilt.emit()
        self.weights_reset.emit()

    def _collect(self, frames: list[Frame]) -> None:
        """Into the run's records: the step events, the always-on analyses, the path θ_t."""
        for f in frames:
            for ev in f.events:
                self.history.add(ev)
            self.run_history.extend(f.history)
            if f.theta is not None and not f.diverged:
                self.path.add(f.step, f.theta)

    def _deliver(self, frames: list[Frame]) -> None:
        self._collect(frames)
        self.last_frame = frames[-1]
        self.frames.emit(frames)
        for record in self.recorders:
            record(frames)
        last = frames[-1]
        if last.diverged:
            self.diverged.emit(last.message)

    def device_text(self) -> str:
        return describe(self.experiment.device)
