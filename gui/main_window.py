"""The Saddle Lab window: experiment bar, one tab per topic, the lesson, menus, status bar."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from .experiment_bar import ExperimentBar
from .lab import Lab
from .lesson import LessonPane
from .panels import panel_classes
from .panels.base import Panel
from .style import THEMES, manager

WINDOW_TITLE = "Saddle Lab"


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, lab: Lab | None = None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(WINDOW_TITLE)
        self.lab = lab or Lab()
        self.lab.setParent(self)
        self.style_manager = manager()

        self.bar = ExperimentBar(self.lab)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        self.panels: list[Panel] = []
        for cls in panel_classes():
            panel = cls(self.lab)
            self.panels.append(panel)
            self.tabs.addTab(panel, panel.title.replace("&", "&&"))  # "&" is literal, not a shortcut
        self.lesson = LessonPane()

        self.split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.split.addWidget(self.bar)
        self.split.addWidget(self.tabs)
        self.split.addWidget(self.lesson)
        self.split.setStretchFactor(0, 0)
        self.split.setStretchFactor(1, 1)
        self.split.setStretchFactor(2, 0)
        self.split.setCollapsible(1, False)
        self.split.setSizes([250, 900, 0])
        self.setCentralWidget(self.split)

        self._build_status()
        self._build_menus()
        self.tabs.currentChanged.connect(self._tab_changed)
        self.lab.frames.connect(self._frames)
        self.lab.weights_reset.connect(self._reset)
        self.lab.message.connect(self._message)
        self.lab.diverged.connect(self._diverged)
        self.lab.state_changed.connect(self._state)
        self.style_manager.changed.connect(self._restyle)
        self.resize(1280, 720)
        self._closing = False
        self.style_manager.apply_all()

        self._current: Panel | None = None
        self._tab_changed(self.tabs.currentIndex())
        self.lab.start()

    # -- status bar ---------------------------------------------------------------------------
    def _build_status(self) -> None:
        sb = self.statusBar()
        self.device_label = QtWidgets.QLabel(self.lab.device_text())
        self.step_label = QtWidgets.QLabel("step 0")
        self.epoch_label = QtWidgets.QLabel("epoch 0.0")
        self.rate_label = QtWidgets.QLabel("")
        for w in (self.step_label, self.epoch_label, self.rate_label, self.device_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

    def _frames(self, frames) -> None:
        f = frames[-1]
        self.step_label.setText(f"step {f.step:,}")
        self.epoch_label.setText(f"epoch {f.epoch:.1f}")
        if self.lab.running and f.steps_per_second:
            self.rate_label.setText(f"{f.steps_per_second:,.0f} steps/s")

    def _reset(self) -> None:
        self.step_label.setText("step 0")
        self.epoch_label.setText("epoch 0.0")
        self.rate_label.setText("")
        self.device_label.setText(self.lab.device_text())

    def _state(self, state: str) -> None:
        if state != "running":
            self.rate_label.setText("paused" if state == "idle" and self.lab.experiment.step_count else "")

    def _message(self, text: str, timeout: int) -> None:
        self.statusBar().showMessage(text, timeout)

    def _diverged(self, text: str) -> None:
        self.statusBar().showMessage("⚠ " + text, 0)

    # -- menus ------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.file_menu = file_menu

        run = mb.addMenu("&Run")
        self.play_action = run.addAction("Play / Pause")
        self.play_action.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space))
        self.play_action.triggered.connect(self.lab.toggle)
        step = run.addAction("Step")
        step.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Right))
        step.triggered.connect(self.lab.step)
        reset = run.addAction("Reset")
        reset.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_R))
        reset.triggered.connect(self.lab.reset)
        self.run_menu = run

        view = mb.addMenu("&View")
        bigger = view.addAction("Larger text")
        bigger.setShortcuts([QtGui.QKeySequence("Ctrl+="), QtGui.QKeySequence("Ctrl++"),
                             QtGui.QKeySequence.StandardKey.ZoomIn])
        bigger.triggered.connect(lambda: self.style_manager.zoom(1.15))
        smaller = view.addAction("Smaller text")
        smaller.setShortcuts([QtGui.QKeySequence("Ctrl+-"), QtGui.QKeySequence.StandardKey.ZoomOut])
        smaller.triggered.connect(lambda: self.style_manager.zoom(1 / 1.15))
        normal = view.addAction("Normal text size")
        normal.setShortcut(QtGui.QKeySequence("Ctrl+0"))
        normal.triggered.connect(lambda: self.style_manager.set(font_scale=1.0))
        view.addSeparator()
        full = view.addAction("Full screen")
        full.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_F11))
        full.setCheckable(True)
        full.toggled.connect(lambda on: self.showFullScreen() if on else self.showNormal())
        self.full_action = full
        theme_menu = view.addMenu("Theme")
        group = QtGui.QActionGroup(self)
        labels = {"light": "Light", "dark": "Dark", "contrast": "High contrast (projector)"}
        for name in THEMES:
            a = theme_menu.addAction(labels.get(name, name))
            a.setCheckable(True)
            a.setChecked(name == self.style_manager.style.theme)
            a.triggered.connect(lambda _=False, n=name: self.style_manager.set(theme=n))
            group.addAction(a)
        view.addSeparator()
        lesson = view.addAction("Lesson")
        lesson.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_F1))
        lesson.setCheckable(True)
        lesson.toggled.connect(self.show_lesson)
        self.lesson_action = lesson
        self.view_menu = view

        help_menu = mb.addMenu("&Help")
        about = help_menu.addAction("About Saddle Lab")
        about.triggered.connect(self._about)
        self.help_menu = help_menu

    def show_lesson(self, on: bool) -> None:
        sizes = self.split.sizes()
        width = max(300, int(self.width() * 0.26))
        if on:
            sizes[1] = max(300, sizes[1] - width)
            sizes[2] = width
        else:
            sizes[1] += sizes[2]
            sizes[2] = 0
        self.split.setSizes(sizes)

    def _about(self) -> None:
        QtWidgets.QMessageBox.about(
            self, "About Saddle Lab",
            "Saddle Lab: watch the geometry of neural networks while they train.\n"
            f"Computing on {self.lab.device_text()}.")

    # -- tabs ---------------------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        panel = self.tabs.widget(index)
        if self._current is not None and self._current is not panel:
            self._current.set_active(False)
        self._current = panel if isinstance(panel, Panel) else None
        if self._current is not None:
            self._current.set_active(True)
            self.lesson.show_lesson(self._current.slug)

    def panel(self, slug: str) -> Panel:
        for p in self.panels:
            if p.slug == slug:
                return p
        raise KeyError(f"no tab {slug!r}; tabs: {', '.join(p.slug for p in self.panels)}")

    def show_panel(self, slug: str) -> Panel:
        p = self.panel(slug)
        self.tabs.setCurrentWidget(p)
        return p

    def _restyle(self) -> None:
        self.updateGeometry()

    # -- closing ------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self._closing = True
        for p in self.panels:
            p.shutdown()
        self.lab.stop_all(timeout=0.8)
        super().closeEvent(event)
