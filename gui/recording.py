"""Recording a run and replaying it: the same plots, a timeline and a speed control, with no
training and no GPU (the experiment is rebuilt on the CPU only to know its architecture)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from engine.experiment import ExperimentConfig
from engine.recording import Recording, RecordingError, RecordingWriter, load_recording

from .lab import Lab

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class Recorder:
    """Appends every frame the Lab streams to a RecordingWriter until stopped."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.writer: RecordingWriter | None = None

    @property
    def active(self) -> bool:
        return self.writer is not None

    def start(self) -> None:
        self.writer = RecordingWriter(self.lab.experiment.config.to_dict(),
                                      meta={"n_params": self.lab.experiment.n_params})
        if self.lab.last_frame is not None:  # the picture before the first step
            self.writer.add(self.lab.last_frame)
        self.lab.recorders.append(self._add)

    def _add(self, frames) -> None:
        if self.writer is not None:
            for f in frames:
                self.writer.add(f)

    def stop(self) -> Recording | None:
        if self._add in self.lab.recorders:
            self.lab.recorders.remove(self._add)
        writer, self.writer = self.writer, None
        return writer.recording if writer is not None else None


class ReplayBar(QtWidgets.QWidget):
    """Play/Pause, a timeline scrubber, speed, and Leave replay."""

    left = QtCore.Signal()

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
        title = QtWidgets.QLabel("<b>Replay</b>")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for w in (title, self.play_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        for w in (self.position, QtWidgets.QLabel("speed"), self.speed, self.leave):
            layout.addWidget(w)
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._advance)
        self.play_button.clicked.connect(self.toggle)
        self.slider.valueChanged.connect(self._scrubbed)
        self.leave.clicked.connect(self.left.emit)
        self.hide()

    def begin(self, rec: Recording) -> None:
        self.recording = rec
        self.index = -1
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(rec.frames) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
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
        self._saved_config: ExperimentConfig | None = None

    def open(self, path: Path) -> bool:
        """Replay the recording at `path`; on any problem, say why and change nothing."""
        try:
            rec = load_recording(path)
            config = ExperimentConfig.from_dict(rec.settings)
        except (RecordingError, ValueError, TypeError, OSError) as exc:
            text = exc.args[0] if exc.args else str(exc)
            self.window.statusBar().showMessage(f"Cannot replay {Path(path).name}: {text}", 12000)
            return False
        if self._saved_config is None:
            self._saved_config = self.lab.experiment.config
        self.lab.pause()
        self.lab.apply_config(replace(config, device="cpu"))  # the architecture only; no training
        self.window.bar.load(config)
        self.window.bar.setEnabled(False)
        self.lab.replaying = True
        # Start after the rebuild's own frame, so the recording's frames come last.
        QtCore.QTimer.singleShot(0, lambda: self._begin_when_idle(rec))
        return True

    def _begin_when_idle(self, rec: Recording) -> None:
        if self.lab.state != "idle":
            QtCore.QTimer.singleShot(30, lambda: self._begin_when_idle(rec))
            return
        self.window.statusBar().showMessage(
            f"Replaying {len(rec.frames)} frames ({rec.duration:.1f} s); training is off until you leave", 6000)
        self.bar.begin(rec)  # after the notice, so a warning about the first frame stays readable

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
