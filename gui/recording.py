"""Recording a run and replaying it: the same plots, a timeline and a speed control, with no
training and no GPU (the experiment is rebuilt on the CPU only to know its architecture)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from engine.checkpoint import CHECKPOINT_PROBE, take_checkpoint
from engine.experiment import ExperimentConfig
from engine.live import Probe
from engine.recording import Recording, RecordingError, RecordingWriter, load_recording

from .lab import Lab

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SMALL_MODEL = 100_000  # parameters: checkpoints 4 times a second below, every 5 s above


def checkpoint_interval(n_params: int) -> float:
    """Seconds between the checkpoints a recording keeps (so Continue is never far back)."""
    return 0.25 if n_params <= SMALL_MODEL else 5.0


class Recorder:
    """Appends every frame the Lab streams to a RecordingWriter until stopped, with checkpoints
    and what the jobs of tabs with their own computations delivered (taken twice a second)."""

    def __init__(self, lab: Lab, tabs: Callable[[], list] | None = None):
        self.lab = lab
        self.tabs = tabs or (lambda: [])  # the window's built tabs
        self.writer: RecordingWriter | None = None
        self._listening: dict[str, Any] = {}  # tab slug -> its RunLog
        self._frames_at_event = -1
        self._timer = QtCore.QTimer()
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._take_tab_events)

    @property
    def active(self) -> bool:
        return self.writer is not None

    def start(self) -> None:
        self.writer = RecordingWriter(self.lab.experiment.config.to_dict(),
                                      meta={"n_params": self.lab.experiment.n_params})
        if self.lab.last_frame is not None:  # the picture before the first step
            first = self.lab.last_frame
            if self.lab.state == "idle":  # nothing trains: the weights can be read here
                first = replace(first, probes={**first.probes, CHECKPOINT_PROBE: take_checkpoint(self.lab.experiment)})
            self.writer.add(first)
        self.lab.recorders.append(self._add)
        # Checkpoints are taken in the training thread, between steps, like any probe.
        interval = checkpoint_interval(self.lab.experiment.n_params)
        self.lab.set_probes("recording", {CHECKPOINT_PROBE: Probe(take_checkpoint, min_interval=interval)})
        self._listening = {}
        self._frames_at_event = -1
        self._take_tab_events()
        self._timer.start()

    def _add(self, frames) -> None:
        if self.writer is not None:
            for f in frames:
                self.writer.add(f)

    def _take_tab_events(self) -> None:
        writer = self.writer
        if writer is None:
            return
        taken: list[tuple[str, str, str, Any]] = []
        for panel in self.tabs():
            log = getattr(panel, "run_log", None)
            if log is None:
                continue
            if panel.slug not in self._listening:  # built since the last look, or the first look
                self._listening[panel.slug] = log
                taken += [(panel.slug, *e) for e in log.start_recording()]
            taken += [(panel.slug, *e) for e in log.take()]
        if not taken:
            return
        rec = writer.recording
        if not rec.frames or len(rec.frames) - 1 == self._frames_at_event:
            # Nothing trained since the last events (a tab computes on its own): a timeline point.
            last = rec.frames[-1] if rec.frames else self.lab.last_frame
            if last is None:
                return
            writer.add(replace(last, events=[], theta=None, history=[]))
        index = len(rec.frames) - 1
        self._frames_at_event = index
        rec.tab_events.extend((index, *e) for e in taken)

    def stop(self) -> Recording | None:
        self._take_tab_events()
        self._timer.stop()
        for log in self._listening.values():
            log.stop_recording()
        self._listening = {}
        self.lab.set_probes("recording", {})
        if self._add in self.lab.recorders:
            self.lab.recorders.remove(self._add)
        writer, self.writer = self.writer, None
        return writer.recording if writer is not None else None


class ReplayBar(QtWidgets.QWidget):
    """Play/Pause, a timeline scrubber, speed, and Leave replay."""

    left = QtCore.Signal()
    moved = QtCore.Signal(int)  # the frame now shown
    continue_requested = QtCore.Signal(int)  # the frame shown

    def __init__(self, lab: Lab, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.lab = lab
        self.recording: Recording | None = None
        self.index = -1
        self.play_button = QtWidgets.QPushButton("Replay")
        self._icons = {k: self.style().standardIcon(getattr(QtWidgets.QStyle.StandardPixmap, k))
                       for k in ("SP_MediaPlay", "SP_MediaPause")}
        self.play_button.setIcon(self._icons["SP_MediaPlay"])
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setToolTip("timeline: drag to any frame")
        self.speed = QtWidgets.QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}×", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.position = QtWidgets.QLabel("")
        self.leave = QtWidgets.QPushButton("Leave replay")
        self.go_on = QtWidgets.QPushButton("Continue from here")
        self.go_on.setToolTip("Leave the replay and train on from this step, with the recorded weights")
        title = QtWidgets.QLabel("<b>Replay</b>")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for w in (title, self.play_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        for w in (self.position, QtWidgets.QLabel("speed"), self.speed, self.go_on, self.leave):
            layout.addWidget(w)
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._advance)
        self.play_button.clicked.connect(self.toggle)
        self.slider.valueChanged.connect(self._scrubbed)
        self.leave.clicked.connect(self.left.emit)
        self.go_on.clicked.connect(lambda: self.continue_requested.emit(self.index))
        self.hide()

    def begin(self, rec: Recording) -> None:
        self.recording = rec
        self.index = -1
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(rec.frames) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.go_on.setEnabled(bool(rec.checkpoints))
        self.go_on.setToolTip("Leave the replay and train on from this step, with the recorded weights"
                              if rec.checkpoints else "This recording holds no weights to train on from")
        self.show()
        self.seek(0)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            if self.recording is not None and self.index >= len(self.recording.frames) - 1:
                self.seek(0)
            self.play_button.setText("Pause")
            self.play_button.setIcon(self._icons["SP_MediaPause"])
            self._schedule()

    def pause(self) -> None:
        self.timer.stop()
        self.play_button.setText("Replay")
        self.play_button.setIcon(self._icons["SP_MediaPlay"])

    def _schedule(self) -> None:
        rec = self.recording
        if rec is None or self.index >= len(rec.frames) - 1:
            self.pause()
            return
        gap = rec.times[self.index + 1] - rec.times[self.index] if self.index >= 0 else 0.0
        self.timer.start(int(max(15.0, 1000 * gap / float(self.speed.currentData()))))

    def _advance(self) -> None:
        self.step_to(self.index + 1)
        self._schedule()

    def _scrubbed(self, value: int) -> None:
        self.seek(value)

    def seek(self, i: int) -> None:
        """Jump to frame i: the history is rebuilt from the recording's start."""
        rec = self.recording
        if rec is None:
            return
        i = max(0, min(i, len(rec.frames) - 1))
        if i == self.index:
            return
        if i == self.index + 1:
            self.step_to(i)
            return
        self.index = i
        self.lab.deliver_replay(rec.frames[: i + 1], restart=True)
        self.slider.blockSignals(True)
        self.slider.setValue(i)
        self.slider.blockSignals(False)
        self._show_position()

    def step_to(self, i: int) -> None:
        rec = self.recording
        if rec is None or i >= len(rec.frames):
            return
        self.index = i
        self.lab.deliver_replay([rec.frames[i]], restart=(i == 0))
        self.slider.blockSignals(True)
        self.slider.setValue(i)
        self.slider.blockSignals(False)
        self._show_position()

    def _show_position(self) -> None:
        self.moved.emit(self.index)
        rec = self.recording
        f = rec.frames[self.index]
        self.position.setText(f"step {f.step:,}  ·  {rec.times[self.index]:.1f} / {rec.duration:.1f} s")

    def end(self) -> None:
        self.pause()
        self.recording = None
        self.hide()


class ReplayController:
    """Loads a recording, switches the window into replay mode and back."""

    def __init__(self, window):
        self.window = window
        self.lab: Lab = window.lab
        self.bar = ReplayBar(self.lab)
        self.bar.left.connect(self.leave)
        self.bar.continue_requested.connect(self.continue_from)
        self.bar.moved.connect(self._show_tab_states)
        self._saved_config: ExperimentConfig | None = None
        self._shown_events: dict[str, int] = {}

    def open(self, path: Path) -> bool:
        """Replay the recording at `path`; on any problem, say why and change nothing."""
        try:
            rec = load_recording(path)
            ExperimentConfig.from_dict(rec.settings)  # settings this version understands
        except (RecordingError, ValueError, TypeError, OSError) as exc:
            text = exc.args[0] if exc.args else str(exc)
            self.window.statusBar().showMessage(f"Cannot replay {Path(path).name}: {text}", 12000)
            return False
        self.show(rec)
        return True

    def show(self, rec: Recording) -> None:
        """Replay a recording already read (its settings checked)."""
        config = ExperimentConfig.from_dict(rec.settings)
        if self._saved_config is None:
            self._saved_config = self.lab.experiment.config
        self.lab.pause()
        self.lab.apply_config(replace(config, device="cpu"))  # the architecture only; no training
        self.window.bar.load(config)
        self.window.bar.setEnabled(False)
        self.lab.replaying = True
        # Start after the rebuild's own frame, so the recording's frames come last.
        QtCore.QTimer.singleShot(0, lambda: self._begin_when_idle(rec))

    def _begin_when_idle(self, rec: Recording) -> None:
        if self.lab.state != "idle":
            QtCore.QTimer.singleShot(30, lambda: self._begin_when_idle(rec))
            return
        self.window.statusBar().showMessage(
            f"Replaying {len(rec.frames)} frames ({rec.duration:.1f} s); training is off until you leave", 6000)
        self._shown_events = {}
        self.bar.begin(rec)  # after the notice, so a warning about the first frame stays readable

    def _show_tab_states(self, index: int) -> None:
        """Tabs with their own computations show what their jobs had delivered at this point."""
        rec = self.bar.recording
        if rec is None:
            return
        for slug in dict.fromkeys(e[1] for e in rec.tab_events):
            used, runs = rec.tab_runs_at(slug, index)
            if self._shown_events.get(slug, -1) == used:
                continue
            self._shown_events[slug] = used
            try:
                panel = self.window.panel(slug)
            except KeyError:
                continue  # a tab this version does not have
            try:
                panel.replay_runs(runs)
            except Exception as exc:  # noqa: BLE001 - a recording may hold anything
                self.window.statusBar().showMessage(
                    f"The {panel.title} tab cannot show this part of the recording "
                    f"(damaged data: {exc.__class__.__name__}); the other tabs go on", 10000)

    def continue_from(self, index: int) -> bool:
        """Leave the replay and train on from the newest checkpoint at or before frame `index`."""
        rec = self.bar.recording
        found = rec.checkpoint_at_or_before(index) if rec is not None else None
        if rec is None or found is None:
            self.window.statusBar().showMessage("This recording holds no weights at or before this frame", 8000)
            return False
        i, ckpt = found
        config = ExperimentConfig.from_dict(rec.settings)
        if self._saved_config is not None:  # train where the user trains (their device), not the lecture's
            config = replace(config, device=self._saved_config.device)
        frames = rec.frames[: i + 1]
        self.bar.end()
        self.lab.replaying = False
        self._saved_config = None
        self.window.bar.setEnabled(True)
        self.window.bar.load(config)
        self.lab.apply_config(config, then=lambda: self.lab.continue_from(ckpt, frames))
        return True

    def leave(self) -> None:
        if not self.lab.replaying:
            return
        self.bar.end()
        self.lab.replaying = False
        self.window.bar.setEnabled(True)
        config, self._saved_config = self._saved_config, None
        if config is not None:
            self.lab.apply_config(config)
            self.window.bar.load(config)
