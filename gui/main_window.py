"""The Saddle Lab window: experiment bar, one tab per topic, the lesson, menus, status bar."""

from __future__ import annotations

import functools
import json
import pkgutil
import sys
import threading
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from engine.experiment import ExperimentConfig

from . import startup
from .collector import freeze_long_lived
from .experiment_bar import ExperimentBar
from .export import export_all, install_exporters
from .lab import PREPARING, Lab
from .lesson import LessonPane
from .navigation import TopicList
from .panels import owner_of_job, panel_class, panel_titles, slugs
from .panels.base import Panel
from .presentation import Presentation
from .presets import Preset, load_presets
from .recording import Recorder, ReplayController
from .reveal import reveal_gradually
from .start_page import StartPage, presets_by_topic
from .style import THEMES, manager
from .worker import event_loop_turn, import_in_background, sliced

WINDOW_TITLE = "Saddle Lab"
GIL_SWITCH_S = 0.0005
SESSION_FORMAT = "saddle-lab-session"


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, lab: Lab | None = None, parent: QtWidgets.QWidget | None = None,
                 remember: bool = False):
        super().__init__(parent)
        self.setWindowTitle(WINDOW_TITLE)
        install_exporters()
        self.remember = remember  # restore and save layout and settings (QSettings)
        self.lab = lab or Lab()
        self.lab.owner_of = owner_of_job
        self.lab.setParent(self)
        self.style_manager = manager()
        self.presentation = Presentation(self)
        self.room_share = None  # View → Share with the room, made on first use
        self.share_dialog = None

        self.bar = ExperimentBar(self.lab)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        self.start_page = StartPage(self.run_preset)
        self.tabs.addTab(self.start_page, "Start")
        # Tabs are built when first shown (or soon after the window is up): the window reaches the
        # screen without waiting for a dozen plot-heavy tabs.
        self._built: dict[str, Panel] = {}
        titles = panel_titles()
        self._order = slugs()
        for slug in self._order:
            self.tabs.addTab(_PendingTab(slug), _tab_title(titles[slug]))
        # The topic list stands in for the tab bar, which cannot show thirteen titles at 1280 px.
        self.tabs.tabBar().hide()
        self.topics = TopicList(self.tabs, titles)
        self.lesson = LessonPane()
        self.lesson.hide()
        pages = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(pages)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.topics)
        row.addWidget(self.tabs, 1)

        self.split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.split.addWidget(self.bar)
        self.split.addWidget(pages)
        self.split.addWidget(self.lesson)
        self.split.setStretchFactor(0, 0)
        self.split.setStretchFactor(1, 1)
        self.split.setStretchFactor(2, 0)
        self.split.setCollapsible(1, False)
        self.split.setSizes([self.bar.needed_width(), 900, 0])
        self.recorder = Recorder(self.lab, tabs=self.built_panels)
        self.replay = ReplayController(self)
        central = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.split, 1)
        column.addWidget(self.replay.bar)
        self.setCentralWidget(central)

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
        self._build_in_slices = False  # once the window is up: a tab opened is built in slices
        self._building: set[str] = set()  # tabs under construction in slices
        self.tabs.setCurrentIndex(1 if self._order else 0)
        if self.remember:
            self._restore_settings()
        self._tab_changed(self.tabs.currentIndex())
        startup.watch(self)
        self.lab.start()
        self._busy_timer = QtCore.QTimer(self)
        self._busy_timer.setInterval(250)
        self._busy_timer.timeout.connect(self._mark_busy)
        self._busy_timer.start()
        self._build_timer = QtCore.QTimer(self)
        self._build_timer.setInterval(40)
        self._build_timer.timeout.connect(self._build_next)
        QtCore.QTimer.singleShot(400, self._build_timer.start)
        self._build_in_slices = True
        # Qt calls from the GUI thread give up Python's lock and must take it back from busy
        # workers; a shorter switch interval bounds each wait (the default 5 ms, many times over,
        # held the window still for hundreds of milliseconds while training ran).
        sys.setswitchinterval(GIL_SWITCH_S)
        # What tabs import on first use (scikit-learn, SciPy, the engine), loaded meanwhile off the
        # GUI thread: importing it there held the window still for seconds.
        self._imports_stop = threading.Event()
        self.preloading: threading.Thread | None = None
        QtCore.QTimer.singleShot(600, self._preload)

    def _preload(self) -> None:
        self.preloading = import_in_background(_modules_to_preload(), self._imports_stop, then=freeze_long_lived)

    # -- tabs built on demand -----------------------------------------------------------------
    @property
    def panels(self) -> list[Panel]:
        """Every tab's panel, in tab order (builds the ones not shown yet)."""
        return [self.panel(slug) for slug in self._order]

    def built_panels(self) -> list[Panel]:
        return [self._built[s] for s in self._order if s in self._built]

    def _build_next(self) -> None:
        pending = [s for s in self._order if s not in self._built]
        if not pending or self._closing:
            self._build_timer.stop()
            return
        # Never compete with a running experiment for the CPU, nor start a tab while one is built.
        if self.lab.state == "idle" and not self._building:
            self._build(pending[0], in_slices=True)

    def _build(self, slug: str, in_slices: bool = False) -> Panel:
        """in_slices: the event loop gets a turn every few plots (training draws on, no stall)."""
        if in_slices:
            self._building.add(slug)
            try:
                with sliced():
                    panel = panel_class(slug)(self.lab)
            finally:
                self._building.discard(slug)
            if slug in self._built:  # opened meanwhile by a direct request: that one stays
                panel.deleteLater()
                return self._built[slug]
        else:
            panel = panel_class(slug)(self.lab)
        index = next(i for i in range(self.tabs.count())
                     if isinstance(self.tabs.widget(i), _PendingTab) and self.tabs.widget(i).slug == slug)
        placeholder = self.tabs.widget(index)
        panel.default_options = panel.options()
        self._built[slug] = panel
        current = self.tabs.currentIndex()
        blocked = self.tabs.blockSignals(True)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, panel, _tab_title(panel.title))
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(blocked)
        placeholder.deleteLater()
        panel.catch_up()
        return panel

    # -- status bar ---------------------------------------------------------------------------
    def _mark_busy(self) -> None:
        """Mark in the topic list each tab with a job of its own running."""
        self.topics.set_busy({j.owner for j in self.lab.running_jobs() if j.owner})

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
        if state == "running" and self.tabs.currentWidget() is self.start_page:
            self.show_panel("train")  # Play from the start page: show what it does
        if state != "running":
            self.rate_label.setText("paused" if state == "idle" and self.lab.experiment.step_count else "")

    def _message(self, text: str, timeout: int) -> None:
        self.statusBar().showMessage(text, timeout)

    def _diverged(self, text: str) -> None:
        self.statusBar().showMessage(text, 0)

    # -- menus ------------------------------------------------------------------------------
    def _action(self, menu: QtWidgets.QMenu, text: str, slot, shortcut=None, checkable: bool = False):
        a = menu.addAction(text)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            a.setShortcuts([k if isinstance(k, QtGui.QKeySequence) else QtGui.QKeySequence(k) for k in keys])
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "Open settings…", self._open_session, QtGui.QKeySequence.StandardKey.Open)
        self._action(f, "Save settings…", self._save_session, QtGui.QKeySequence.StandardKey.Save)
        f.addSeparator()
        self._action(f, "Export all…", self._export_all, "Ctrl+E")
        f.addSeparator()
        self.record_action = self._action(f, "Record run", self._record, "Ctrl+Shift+R", True)
        self._action(f, "Replay recording…", self._open_recording, "Ctrl+Shift+O")
        self._action(f, "Export recording as web page…", self._export_recording_html)
        f.addSeparator()
        self._action(f, "&Quit", self.close, QtGui.QKeySequence.StandardKey.Quit)
        self.file_menu = f

        run = mb.addMenu("&Run")
        # Space, → and R are the window's shortcuts (see _lecture_keys); the menu only shows them.
        self.play_action = self._action(run, "Play / Pause\tSpace", self.lab.toggle)
        self._action(run, "Step\t→", self.lab.step)
        self._action(run, "Reset\tR", self.lab.reset)
        self.run_menu = run

        presets = mb.addMenu("&Presets")
        try:
            # Read once: the lesson pane lists a tab's presets at every tab change.
            self._presets: dict[str, Preset] = load_presets()
        except (OSError, ValueError):
            self._presets = {}
        groups = presets_by_topic(self._presets)
        for topic, items in groups.items():
            sub = presets.addMenu(topic)
            for p in items:
                a = sub.addAction(p.title)
                a.setToolTip(p.claim)
                a.triggered.connect(lambda _=False, preset=p: self.run_preset(preset))
        self.presets_menu = presets

        view = mb.addMenu("&View")
        self._action(view, "Larger text", lambda: self.style_manager.zoom(1.15),
                     ["Ctrl+=", "Ctrl++", QtGui.QKeySequence.StandardKey.ZoomIn])
        self._action(view, "Smaller text", lambda: self.style_manager.zoom(1 / 1.15),
                     ["Ctrl+-", QtGui.QKeySequence.StandardKey.ZoomOut])
        self._action(view, "Normal text size", lambda: self.style_manager.set(font_scale=1.0), "Ctrl+0")
        view.addSeparator()
        self.full_action = self._action(view, "Full screen", self._full_screen, QtCore.Qt.Key.Key_F11, True)
        self.presentation_action = self._action(view, "Presentation mode", self._presentation,
                                                QtCore.Qt.Key.Key_F5, True)
        keep = view.addMenu("Presentation controls")
        for key, (label, _) in self.bar.rows.items():
            a = keep.addAction(label)
            a.setCheckable(True)
            a.setChecked(key in self.presentation.state.keep)
            a.toggled.connect(lambda on, k=key: self.presentation.set_kept(k, on))
        theme_menu = view.addMenu("Theme")
        group = QtGui.QActionGroup(self)
        labels = {"light": "Light", "dark": "Dark", "contrast": "High contrast (projector)"}
        self.theme_actions: dict[str, QtGui.QAction] = {}
        for name in THEMES:
            a = theme_menu.addAction(labels.get(name, name))
            a.setCheckable(True)
            a.setChecked(name == self.style_manager.style.theme)
            a.triggered.connect(lambda _=False, n=name: self.style_manager.set(theme=n))
            group.addAction(a)
            self.theme_actions[name] = a
        view.addSeparator()
        self.lesson_action = self._action(view, "Lesson", self.show_lesson, QtCore.Qt.Key.Key_F1, True)
        view.addSeparator()
        self.share_action = self._action(view, "Share with the room…", self.show_share)
        self.view_menu = view

        # 1–9 switch tabs (Start is 1); Esc leaves presentation mode.
        self._lecture_keys()
        esc = QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Escape), self)
        esc.activated.connect(lambda: self.presentation_action.setChecked(False))

        help_menu = mb.addMenu("&Help")
        self._action(help_menu, "About Saddle Lab", self._about)
        self.help_menu = help_menu

    def show_share(self) -> None:
        """The read-only live page for the audience (View → Share with the room)."""
        if self.share_dialog is None:
            from .share import RoomShare, ShareDialog

            self.room_share = RoomShare(self)
            self.share_dialog = ShareDialog(self.room_share, self)
        self.share_dialog.show()
        self.share_dialog.raise_()

    def _full_screen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    def _presentation(self, on: bool) -> None:
        self.presentation.enter() if on else self.presentation.exit()
        self.full_action.blockSignals(True)
        self.full_action.setChecked(self.isFullScreen())
        self.full_action.blockSignals(False)

    def show_lesson(self, on: bool) -> None:
        self.lesson.setVisible(on)
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

    # -- presets ------------------------------------------------------------------------------
    def run_preset(self, preset: Preset) -> None:
        """Load a preset's settings, show its tab and start it."""
        try:
            config = preset.config()
            panel = self.panel(preset.tab)
            # From the tab's defaults: what the user changed on the tab must not alter the picture.
            options = {**panel.default_options, **preset.options()}
            panel.apply_options(options)
        except (ValueError, KeyError) as exc:
            self.statusBar().showMessage(f"Preset {preset.name}: {exc}", 8000)
            return
        if self.lab.experiment.step_count > 0 and panel.uses_experiment and not self.bar.confirm(
                f"The preset “{preset.title}” replaces the current experiment and restarts training. Continue?"):
            return
        if panel.uses_experiment:
            # Again after the rebuild: a tab re-fits some controls to a new network (resolution,
            # sample counts), and the preset's own choices must win.
            # The preset starts only once the rebuild is done: while it runs, the experiment is
            # busy and Play would be refused.
            def after_rebuild() -> None:
                panel.apply_options(options)
                panel.run_preset(preset)

            self.lab.apply_config(config, then=after_rebuild)
            self.bar.load(config)
        if not panel.uses_experiment:
            panel.run_preset(preset)  # before the tab shows, so its first visit starts nothing else
        self.tabs.setCurrentWidget(panel)
        # While new data is prepared the status bar keeps saying so, until the data's summary.
        preparing = self.statusBar().currentMessage() == PREPARING
        self.statusBar().showMessage(f"Preset: {preset.title} — {PREPARING[0].lower()}{PREPARING[1:]}"
                                     if preparing else f"Preset: {preset.title}", 0 if preparing else 5000)

    def lesson_presets(self, slug: str) -> list[Preset]:
        return [p for p in self._presets.values() if p.tab == slug]

    def _lecture_keys(self) -> None:
        """Space play/pause, → one step, R reset, 1–9 tabs, anywhere in the window. They are
        shortcuts, so a focused button or tab bar cannot swallow them, while a text field, spin box
        or editable list that has the keyboard keeps the keys it types (Qt asks it first). An
        application-wide event filter did this before: it ran Python for every event of the window,
        thousands while a tab was shown."""
        Key = QtCore.Qt.Key
        keys = {Key.Key_Space: self.lab.toggle, Key.Key_Right: self.lab.step, Key.Key_R: self.lab.reset}
        for i in range(9):
            keys[Key(Key.Key_1.value + i)] = functools.partial(self._key_tab, i)
        self.lecture_shortcuts = []
        for key, slot in keys.items():
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            shortcut.activated.connect(slot)
            self.lecture_shortcuts.append(shortcut)

    def _key_tab(self, index: int) -> None:
        if index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    # -- tabs ---------------------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        built_now = isinstance(widget, _PendingTab)
        if built_now:
            widget = self._build(widget.slug, in_slices=self._build_in_slices)
        if self._current is not None and self._current is not widget:
            self._current.set_active(False)
        self._current = widget if isinstance(widget, Panel) else None
        slug = self._current.slug if self._current is not None else "start"
        if self._current is not None:
            if self._build_in_slices:  # what a tab starts when shown (a run, its first plots) in slices too
                reveal_gradually(self._current)
                with sliced():
                    if built_now:  # the tab went in after its last slice: a turn before it starts
                        event_loop_turn(now=True)
                    self._current.set_active(True)
            else:
                self._current.set_active(True)
        self.lesson.show_lesson(slug, self.lesson_presets(slug), self.run_preset)
        self._show_bar(self._current is None or self._current.uses_experiment)

    def _show_bar(self, show: bool) -> None:
        """A tab with its own experiment has its own settings: the shared bar would only take
        room. Back on a shared-experiment tab the bar gets its width back."""
        if show != self.bar.isHidden():
            return
        self.bar.setVisible(show)
        sizes = self.split.sizes()
        if show and sizes[0] == 0:
            width = self.bar.needed_width()
            self.split.setSizes([width, max(300, sizes[1] - width), sizes[2]])

    def panel(self, slug: str) -> Panel:
        if slug in self._built:
            return self._built[slug]
        if slug not in self._order:
            raise KeyError(f"no tab {slug!r}; tabs: {', '.join(self._order)}")
        return self._build(slug)

    def show_panel(self, slug: str) -> Panel:
        p = self.panel(slug)
        self.tabs.setCurrentWidget(p)
        return p

    def _restyle(self) -> None:
        # Bigger text needs a wider experiment bar; give it what it asks for.
        QtWidgets.QApplication.processEvents()
        self.topics.restyle()
        need = self.bar.needed_width()
        sizes = self.split.sizes()
        if sizes[0] and sizes[0] != need:
            sizes[1] = max(200, sizes[1] + sizes[0] - need)
            sizes[0] = need
            self.split.setSizes(sizes)
        for name, a in getattr(self, "theme_actions", {}).items():
            a.setChecked(name == self.style_manager.style.theme)

    # -- sessions: settings to and from JSON ------------------------------------------------
    def session_settings(self) -> dict[str, Any]:
        s = self.style_manager.style
        current = self.tabs.currentWidget()
        return {
            "format": SESSION_FORMAT, "version": 1,
            "experiment": self.lab.experiment.config.to_dict(),
            "style": {"theme": s.theme, "font_scale": s.font_scale},
            "tab": current.slug if isinstance(current, Panel) else "start",
            "panels": {p.slug: changed for p in self.built_panels() if (changed := _changed_options(p))},
        }

    def apply_session(self, d: dict[str, Any]) -> None:
        """Validate everything first; apply only if all of it is good."""
        if not isinstance(d, dict) or d.get("format") != SESSION_FORMAT:
            raise ValueError("not a Saddle Lab settings file")
        config = ExperimentConfig.from_dict(d.get("experiment", {}))
        problems = {k: v for k, v in config.problems().items() if k != "batch_size"}
        if problems:
            raise ValueError("; ".join(problems.values()))
        style = d.get("style", {})
        theme = style.get("theme", "light")
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}")
        scale = float(style.get("font_scale", 1.0))
        panels = d.get("panels", {})
        for slug in panels:
            self.panel(slug)  # raises for an unknown tab
        if config != self.lab.experiment.config:
            self.lab.apply_config(config)
            self.bar.load(config)
        self.style_manager.set(theme=theme, font_scale=scale)
        # A session lists what differs from a tab's defaults: every other built tab goes back to them.
        for p in self.built_panels():
            defaults = p.default_options
            opts = panels.get(p.slug)
            if opts:
                p.apply_options({**defaults, **opts})
            elif defaults and _changed_options(p):
                p.apply_options(defaults)
        tab = d.get("tab", "start")
        if tab == "start":
            self.tabs.setCurrentWidget(self.start_page)
        else:
            self.show_panel(tab)

    def _save_session(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save settings", "saddle-lab-settings.json",
                                                        "Settings (*.json)")
        if path:
            self.save_session(Path(path))

    def save_session(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            tmp.write_text(json.dumps(self.session_settings(), indent=1))
            tmp.replace(path)
            self.statusBar().showMessage(f"Settings saved to {path}", 5000)
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save {path}: {exc.strerror or exc}", 8000)

    def _open_session(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open settings", "", "Settings (*.json)")
        if path:
            self.open_session(Path(path))

    def open_session(self, path: Path) -> bool:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            self.apply_session(d)
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            text = exc.args[0] if exc.args else str(exc)
            self.statusBar().showMessage(f"Could not open {path.name}: {text}", 10000)
            return False
        self.statusBar().showMessage(f"Settings loaded from {path.name}", 5000)
        return True

    def _export_all(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Export every tab to a folder")
        if folder:
            try:
                files = export_all(self, Path(folder))
                self.statusBar().showMessage(f"Exported {len(files)} files to {folder}", 6000)
            except OSError as exc:
                self.statusBar().showMessage(f"Export failed: {exc}", 10000)

    # -- recordings ---------------------------------------------------------------------------
    def _record(self, on: bool) -> None:
        if on:
            if self.lab.replaying:
                self.record_action.setChecked(False)
                return
            self.recorder.start()
            self.statusBar().showMessage("Recording: every frame from now on (File → Record run to stop)", 5000)
            return
        rec = self.recorder.stop()
        if rec is None or not rec.frames:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save recording", "run.sdlrec",
                                                        "Saddle Lab recordings (*.sdlrec)")
        if path:
            self.save_recording(rec, Path(path))

    def save_recording(self, rec, path: Path) -> None:
        from engine.recording import save_recording

        try:
            save_recording(rec, path)
            self.statusBar().showMessage(f"Saved {len(rec.frames)} frames to {path.name}", 6000)
        except (OSError, TypeError) as exc:
            self.statusBar().showMessage(f"Could not save the recording: {exc}", 10000)

    def _open_recording(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Replay a recording", "",
                                                        "Saddle Lab recordings (*.sdlrec);;All files (*)")
        if path:
            self.replay.open(Path(path))

    def _export_recording_html(self) -> None:
        """A recording as one HTML file: every tab along the timeline, opens offline."""
        from engine.recording import RecordingError, load_recording

        from .recording_html import export_with_progress

        src, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Recording to export", "",
                                                       "Saddle Lab recordings (*.sdlrec);;All files (*)")
        if not src:
            return
        try:
            rec = load_recording(src)
        except (RecordingError, OSError) as exc:
            self.statusBar().showMessage(f"Cannot export {Path(src).name}: {exc}", 12000)
            return
        dst, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save web page", str(Path(src).with_suffix(".html")),
                                                       "Web pages (*.html)")
        if dst:
            export_with_progress(self, rec, Path(dst))

    # -- remembered layout (QSettings) ------------------------------------------------------
    def _restore_settings(self) -> None:
        qs = QtCore.QSettings()
        geometry = qs.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        split = qs.value("window/splitter")
        if split is not None:
            self.split.restoreState(split)
        last = qs.value("session/last")
        if isinstance(last, str) and last:
            try:
                d = json.loads(last)
                self.apply_session(d)
            except (ValueError, KeyError, TypeError):
                pass  # an old or damaged entry: start from the defaults

    def _save_settings(self) -> None:
        qs = QtCore.QSettings()
        qs.setValue("window/geometry", self.saveGeometry())
        qs.setValue("window/splitter", self.split.saveState())
        qs.setValue("session/last", json.dumps(self.session_settings()))
        qs.sync()  # on disk now: the app leaves without the interpreter's slow teardown

    # -- closing ------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self._closing = True
        if self.presentation.active:
            self.presentation.exit()
        self.replay.bar.pause()
        if self.remember:
            self._save_settings()
        self._build_timer.stop()
        self._imports_stop.set()
        if self.room_share is not None:  # every viewer's connection closes with the window
            self.room_share.shutdown()
        for p in self.built_panels():
            p.shutdown()
        self.lab.stop_all(timeout=0.8)
        super().closeEvent(event)




def _modules_to_preload() -> list[str]:
    import engine

    # torch loads these on first use: torch.func's first gradient imports the compiler package
    # (0.9 s of Python here), its first forward-mode product the jvp rules, compiled from source.
    # In a tab's worker they held Python from the GUI thread for that long, when the tab was shown.
    torch_lazy = ["torch._dynamo", "torch._decomp.decompositions_for_jvp"]
    heavy = ["scipy.linalg", "scipy.optimize", "scipy.stats", "sklearn.linear_model", "sklearn.svm",
             "sklearn.kernel_ridge", "sklearn.metrics.pairwise"]
    return torch_lazy + heavy + [f"engine.{m.name}" for m in pkgutil.iter_modules(engine.__path__)]


class _PendingTab(QtWidgets.QWidget):
    """Stands in for a tab until its panel is built."""

    def __init__(self, slug: str):
        super().__init__()
        self.slug = slug


def _changed_options(panel: Panel) -> dict[str, Any]:
    """The panel's options that differ from its defaults (all of them if it has none recorded)."""
    defaults = panel.default_options
    return {k: v for k, v in panel.options().items() if k not in defaults or defaults[k] != v}


def _tab_title(title: str) -> str:
    return title.replace("&", "&&")  # "&" is literal, not a keyboard shortcut
