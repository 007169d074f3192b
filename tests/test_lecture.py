"""Lecture-hall features: presentation mode, keys, presets, recordings, export, sessions."""

import json
import zipfile

import numpy as np
import pytest
from conftest import wait_idle
from PySide6 import QtCore, QtWidgets

from gui.style import manager


@pytest.fixture(autouse=True)
def _plain_style():
    manager().set(theme="light", font_scale=1.0, line_scale=1.0)
    yield
    manager().set(theme="light", font_scale=1.0, line_scale=1.0)


def test_presentation_mode_one_key(window, qtbot):
    bar = window.bar
    window.presentation_action.trigger()  # F5
    s = manager().style
    assert s.theme == "contrast" and s.font_scale >= 1.6 and s.line_scale >= 2
    assert window.isFullScreen()
    assert bar.play.isVisible() and bar.step.isVisible() and bar.reset.isVisible()
    assert not bar.reseed.isVisible() and not bar.dataset.isVisible() and not bar.hidden.isVisible()
    assert bar.lr.isVisible()  # kept by default
    window.presentation.set_kept("batch_size", True)
    assert bar.batch.isVisible()
    pen = window.panel("train").train_loss.opts["pen"]
    assert pen.widthF() >= 4
    window.presentation_action.trigger()
    assert manager().style.theme == "light" and manager().style.font_scale == 1.0
    assert not window.isFullScreen() and bar.dataset.isVisible() and bar.reseed.isVisible()


def test_keys_play_step_reset_and_tabs(window, qtbot):
    lab = window.lab
    window.activateWindow()
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_Right)
    wait_idle(qtbot, lab)
    assert lab.experiment.step_count == 1
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: lab.running, timeout=5000)
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_Space)
    wait_idle(qtbot, lab)
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_R)
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.step_count == 0, timeout=10000)
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_1)
    assert window.tabs.currentWidget() is window.start_page
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_2)
    assert window.tabs.currentWidget() is window.panel("train")
    # A field that types keeps them: no tab change, no training.
    field = window.bar.lr
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=2000)
    qtbot.keyClick(field, QtCore.Qt.Key.Key_3)
    qtbot.keyClick(field, QtCore.Qt.Key.Key_Space)
    assert field.text().endswith("3 ")
    assert window.tabs.currentWidget() is window.panel("train") and lab.state != "running"


def test_start_page_and_lesson_run_presets(window, qtbot):
    from gui.presets import load_presets

    presets = load_presets()
    assert set(window.start_page.buttons) == set(presets)
    lab = window.lab
    window.tabs.setCurrentWidget(window.start_page)
    window.start_page.buttons["train-moons"].click()
    qtbot.waitUntil(lambda: lab.running or lab.experiment.step_count > 0, timeout=20000)
    assert window.tabs.currentWidget() is window.panel("train")
    assert lab.experiment.config.lr == presets["train-moons"].config().lr
    lab.pause()
    wait_idle(qtbot, lab)
    # The lesson beside the Train tab offers the Train presets.
    titles = {b.text() for b in window.lesson.preset_buttons}
    assert {p.title for p in presets.values() if p.tab == "train"} <= titles


def test_record_and_replay_reproduce_the_curves(window, qtbot, tmp_path):
    lab = window.lab
    window.record_action.setChecked(True)
    lab.play(max_steps=60)
    wait_idle(qtbot, lab)
    rec = window.recorder.stop()
    window.record_action.blockSignals(True)
    window.record_action.setChecked(False)
    window.record_action.blockSignals(False)
    path = tmp_path / "run.sdlrec"
    window.save_recording(rec, path)
    live = lab.history.as_dict()
    live_map = lab.last_frame.probes["decision"].probs.copy()

    lab.reset()
    wait_idle(qtbot, lab)
    assert window.replay.open(path)
    qtbot.waitUntil(lambda: window.replay.bar.isVisible(), timeout=10000)
    bar = window.replay.bar
    bar.seek(len(rec.frames) - 1)
    assert lab.history.as_dict() == live
    np.testing.assert_array_equal(lab.last_frame.probes["decision"].probs, live_map)
    x, _ = window.panel("train").train_loss.getData()
    assert list(x) == live["eval_steps"]
    # The timeline goes back, too.
    bar.seek(0)
    assert lab.history.eval_steps == [0]
    bar.speed.setCurrentIndex(bar.speed.count() - 1)
    bar.toggle()
    qtbot.waitUntil(lambda: bar.index == len(rec.frames) - 1, timeout=15000)
    assert lab.history.as_dict() == live
    lab.play()  # no training while replaying
    assert not lab.running and "replayed" in window.statusBar().currentMessage()
    window.replay.leave()
    wait_idle(qtbot, lab)
    assert not lab.replaying and window.bar.isEnabled()


@pytest.mark.parametrize("kind", ["truncated", "corrupt-json", "foreign-zip", "not-a-zip", "missing-arrays"])
def test_bad_recordings_change_nothing(window, qtbot, tmp_path, kind):
    from engine.recording import RecordingWriter

    lab = window.lab
    good = tmp_path / "good.sdlrec"
    w = RecordingWriter(lab.experiment.config.to_dict())
    w.add(lab.last_frame)
    w.save(good)
    bad = tmp_path / f"{kind}.sdlrec"
    data = good.read_bytes()
    if kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "not-a-zip":
        bad.write_text("hello")
    else:
        with zipfile.ZipFile(bad, "w") as z:
            if kind == "corrupt-json":
                z.writestr("recording.json", "{not json")
                z.writestr("arrays.npz", b"")
            elif kind == "foreign-zip":
                z.writestr("readme.txt", "some other program's file")
            else:
                z.writestr("recording.json", json.dumps({"format": "saddle-lab-recording", "version": 1,
                                                         "settings": {}, "frames": [{"events": [0, 1]}]}))
                z.writestr("arrays.npz", b"PK not really")
    config = lab.experiment.config
    theta = lab.experiment.theta().clone()
    assert not window.replay.open(bad)
    msg = window.statusBar().currentMessage()
    assert msg.startswith(f"Cannot replay {bad.name}:") and len(msg) > 30
    assert not lab.replaying and lab.experiment.config == config
    assert (lab.experiment.theta() == theta).all() and not window.replay.bar.isVisible()


def test_replay_of_a_frame_a_tab_cannot_draw_says_so_and_goes_on(window, qtbot, tmp_path):
    from dataclasses import replace

    from engine.recording import RecordingWriter

    lab = window.lab
    w = RecordingWriter(lab.experiment.config.to_dict())
    frame = lab.last_frame
    w.add(replace(frame, probes={**frame.probes, "decision": "not a decision map"}))
    w.add(frame)
    path = w.save(tmp_path / "odd.sdlrec")
    assert window.replay.open(path)
    bar = window.replay.bar
    qtbot.waitUntil(lambda: bar.isVisible(), timeout=10000)
    bar.seek(1)
    bar.seek(0)
    assert "cannot draw this part of the recording" in window.statusBar().currentMessage()
    bar.seek(1)  # the next, sound frame is drawn
    assert window.panel("train").map.image.image is not None
    window.replay.leave()
    wait_idle(qtbot, lab)


def test_export_all_writes_png_svg_and_data(window, qtbot, tmp_path):
    from gui.export import export_all

    window.lab.play(max_steps=30)
    wait_idle(qtbot, window.lab)
    files = export_all(window, tmp_path)
    names = {f.name for f in files}
    assert {"train-decision-map.png", "train-decision-map.svg", "train-curves.svg", "train.json",
            "train-curves.csv", "settings.json"} <= names
    svg = (tmp_path / "train" / "train-curves.svg").read_text()
    assert "<svg" in svg and "<path" in svg
    rows = (tmp_path / "train" / "train-curves.csv").read_text().splitlines()
    assert rows[0].startswith("steps,") and len(rows) > 30


def test_plot_context_menu_exports_png_at_size_and_svg(window, tmp_path):
    import pyqtgraph.exporters as ex

    from gui.export import QtSvgExporter

    names = [e.Name for e in ex.Exporter.Exporters]
    assert QtSvgExporter.Name in names and "Scalable Vector Graphics (SVG)" not in names
    plot = window.panel("train").loss_plot
    png = ex.ImageExporter(plot)
    png.parameters()["width"] = 1600
    png.export(str(tmp_path / "loss.png"))
    from PySide6 import QtGui

    assert QtGui.QImage(str(tmp_path / "loss.png")).width() == 1600
    svg = QtSvgExporter(plot)
    svg.export(str(tmp_path / "loss.svg"))
    assert "<svg" in (tmp_path / "loss.svg").read_text()


def test_session_settings_round_trip(window, qtbot, tmp_path):
    from dataclasses import replace

    lab = window.lab
    path = tmp_path / "session.json"
    manager().set(theme="dark", font_scale=1.3)
    window.save_session(path)
    manager().set(theme="light", font_scale=1.0)
    lab.apply_config(replace(lab.experiment.config, dataset="circles", lr=0.05))
    wait_idle(qtbot, lab)
    assert window.open_session(path)
    wait_idle(qtbot, lab)
    assert lab.experiment.config.dataset == "moons" and lab.experiment.config.lr == 0.1
    assert manager().style.theme == "dark" and abs(manager().style.font_scale - 1.3) < 1e-9
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "saddle-lab-session", "experiment": {"lr": -1}}))
    assert not window.open_session(bad)
    assert "learning rate" in window.statusBar().currentMessage()
    assert lab.experiment.config.lr == 0.1


def test_window_remembers_layout_and_settings(qtbot, tmp_path):
    from gui.headless import dispose
    from gui.main_window import MainWindow

    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, str(tmp_path))
    win = MainWindow(remember=True)
    win.show()
    qtbot.waitUntil(lambda: win.lab.state == "idle", timeout=20000)
    win.bar.lr.setText("0.042")
    win.bar.lr.editingFinished.emit()
    win.show_panel("train")
    win.close()
    dispose(win)
    win2 = MainWindow(remember=True)
    win2.show()
    qtbot.waitUntil(lambda: win2.lab.state == "idle", timeout=20000)
    try:
        assert win2.lab.experiment.config.lr == 0.042
        assert win2.bar.lr.text() == "0.042"
    finally:
        win2.close()
        dispose(win2)
    assert isinstance(QtWidgets.QApplication.instance(), QtWidgets.QApplication)


def test_show_starts_training_and_the_tabs_own_computation(window, qtbot):
    """Show is one click: the rebuild, then training for the preset's steps, and a tab with its
    own experiment starts computing too."""
    from gui.presets import load_presets

    presets = load_presets()
    lab = window.lab
    edge = presets["curvature-edge-of-stability"]
    window.start_page.buttons[edge.name].click()
    qtbot.waitUntil(lambda: lab.running, timeout=20000)
    assert lab.experiment.config.lr == edge.config().lr
    assert window.tabs.currentWidget() is window.panel("curvature")
    lab.pause()
    wait_idle(qtbot, lab)
    assert lab.experiment.step_count > 0

    lottery = window.panel("lottery")
    window.start_page.buttons["lottery-digits"].click()
    qtbot.waitUntil(lambda: lottery.running, timeout=5000)
    assert window.tabs.currentWidget() is lottery
    lottery.stop()
    qtbot.waitUntil(lambda: not lottery.running, timeout=20000)

    sharp = window.panel("sharpness")
    window.run_preset(presets["curvature-sharp-vs-flat"])
    qtbot.waitUntil(lambda: sharp.jobs.running("sweep"), timeout=5000)
    sharp.jobs.stop("sweep")
    qtbot.waitUntil(lambda: not sharp.jobs.running("sweep"), timeout=20000)
