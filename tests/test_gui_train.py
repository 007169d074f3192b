"""The real window, driven like a lecturer would: Play, Pause, Step, Reset, bad input, closing."""

import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import wait_idle
from PySide6 import QtCore, QtWidgets

ROOT = Path(__file__).resolve().parent.parent


def test_play_draws_frames_then_pause_stops(window, qtbot):
    panel = window.panel("train")
    before = panel.frames_drawn
    qtbot.mouseClick(window.bar.play, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.frames_drawn >= before + 3 and window.lab.experiment.step_count >= 20,
                    timeout=20000)
    assert window.lab.running and window.bar.play.text().endswith("Pause")
    qtbot.mouseClick(window.bar.play, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window.lab)
    steps = window.lab.experiment.step_count
    assert steps > 0
    qtbot.wait(300)
    assert window.lab.experiment.step_count == steps  # paused means paused
    x, y = panel.train_loss.getData()
    assert len(x) >= 2 and (panel.map.image.image is not None)
    assert window.step_label.text() == f"step {steps:,}"


def test_window_opens_with_the_training_points_on_the_map(window, qtbot):
    panel = window.panel("train")
    n_train = len(window.lab.experiment.dataset.y_train)
    assert len(panel.train_pts.getData()[0]) == n_train
    window.panel("train").show_test.setChecked(True)
    assert len(panel.test_pts.getData()[0]) == len(window.lab.experiment.dataset.y_test)


def test_step_advances_exactly_one(window, qtbot):
    lab = window.lab
    for expected in (1, 2, 3):
        qtbot.mouseClick(window.bar.step, QtCore.Qt.MouseButton.LeftButton)
        wait_idle(qtbot, lab)
        assert lab.experiment.step_count == expected
        assert lab.last_frame.step == expected


def test_reset_restores_initial_theta_exactly(window, qtbot):
    lab = window.lab
    theta0 = lab.experiment.theta0.clone()
    lab.play(max_steps=40)
    wait_idle(qtbot, lab)
    assert not torch.equal(lab.experiment.theta(), theta0)
    qtbot.mouseClick(window.bar.reset, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.last_frame.step == 0, timeout=10000)
    assert torch.equal(lab.experiment.theta(), theta0)
    assert lab.history.eval_steps == [0]


def test_reset_while_running_leaves_no_old_frames_behind(window, qtbot):
    lab = window.lab
    theta0 = lab.experiment.theta0.clone()
    lab.play()
    qtbot.waitUntil(lambda: lab.experiment.step_count >= 30, timeout=20000)
    lab.reset()  # frames of the run may still be queued: none may land in the new history
    qtbot.waitUntil(lambda: lab.state == "idle", timeout=10000)
    assert torch.equal(lab.experiment.theta(), theta0)
    assert lab.last_frame.step == 0
    assert lab.history.steps == [0] and lab.history.eval_steps == [0]


def test_reseed_draws_new_weights(window, qtbot):
    lab = window.lab
    theta0 = lab.experiment.theta0.clone()
    qtbot.mouseClick(window.bar.reseed, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.config.seed == 1, timeout=10000)
    assert not torch.equal(lab.experiment.theta0, theta0)
    assert window.bar.seed.value() == 1


def _type(qtbot, edit: QtWidgets.QLineEdit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    edit.setText(text)
    edit.editingFinished.emit()


def test_bad_learning_rate_shows_its_message(window, qtbot):
    lab, bar = window.lab, window.bar
    for text, words in (("0", "> 0"), ("-0.5", "> 0"), ("fast", "must be a number")):
        _type(qtbot, bar.lr, text)
        assert bar.errors["lr"].isVisible() and words in bar.errors["lr"].text()
        assert lab.experiment.config.lr == 0.1
    # Training on (with the last good rate) does not wipe the message or the typed text.
    qtbot.mouseClick(bar.step, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, lab)
    assert bar.errors["lr"].isVisible() and bar.lr.text() == "fast"
    _type(qtbot, bar.lr, "0.05")
    assert not bar.errors["lr"].isVisible()
    assert lab.experiment.config.lr == 0.05


def test_batch_size_above_sample_count_and_zero_hidden_units(window, qtbot):
    bar, lab = window.bar, window.lab
    bar.batch.setValue(5000)
    bar.batch.editingFinished.emit()
    msg = bar.errors["batch_size"]
    assert msg.isVisible() and "exceeds the 420 training samples" in msg.text()
    assert lab.experiment.config.batch_size == 32
    _type(qtbot, bar.hidden, "16, 0")
    assert bar.errors["hidden"].isVisible() and "at least 1 unit" in bar.errors["hidden"].text()
    assert lab.experiment.config.hidden == (16, 16)
    _type(qtbot, bar.hidden, "8")
    wait_idle(qtbot, lab)
    assert lab.experiment.config.hidden == (8,) and not bar.errors["hidden"].isVisible()


def test_divergence_is_shown_and_the_app_stays_usable(window, qtbot):
    lab, bar = window.lab, window.bar
    _type(qtbot, bar.lr, "1000")
    lab.play()
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.diverged, timeout=10000)
    assert "diverged" in window.statusBar().currentMessage()
    assert window.panel("train").banner.isVisible()
    _type(qtbot, bar.lr, "0.1")
    lab.reset()
    qtbot.waitUntil(lambda: lab.state == "idle" and not lab.experiment.diverged, timeout=10000)
    lab.play(max_steps=20)
    wait_idle(qtbot, lab)
    assert lab.experiment.step_count == 20 and not window.panel("train").banner.isVisible()


def test_learning_rate_change_applies_mid_run(window, qtbot):
    lab, bar = window.lab, window.bar
    lab.play()
    qtbot.waitUntil(lambda: lab.experiment.step_count > 5, timeout=10000)
    _type(qtbot, bar.lr, "0.02")
    qtbot.waitUntil(lambda: lab.experiment.trainer.optimizer.param_groups[0]["lr"] == 0.02, timeout=5000)
    lab.pause()
    wait_idle(qtbot, lab)


def test_architecture_change_asks_before_resetting(window, qtbot):
    lab, bar = window.lab, window.bar
    lab.play(max_steps=20)
    wait_idle(qtbot, lab)
    asked = []
    bar.confirm = lambda text: asked.append(text) or False
    bar.activation.setCurrentText("relu")
    assert asked and "restarts training" in asked[0]
    assert lab.experiment.config.activation == "tanh" and lab.experiment.step_count == 20
    assert bar.activation.currentText() == "tanh"
    bar.confirm = lambda text: True
    bar.activation.setCurrentText("relu")
    wait_idle(qtbot, lab)
    assert lab.experiment.config.activation == "relu" and lab.experiment.step_count == 0


def test_dataset_switch_rebuilds(window, qtbot):
    lab, bar = window.lab, window.bar
    bar.dataset.setCurrentIndex(bar.dataset.findData("blobs"))
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.dataset.name == "blobs", timeout=10000)
    lab.play(max_steps=15)
    wait_idle(qtbot, lab)
    assert window.panel("train").map.image.image is not None
    assert lab.last_frame.probes["decision"].probs.shape[-1] == 3


def test_font_scale_reaches_plot_axes(window, qtbot):
    from gui.style import manager

    axis = window.panel("train").loss_plot.getAxis("left")
    before = axis.style["tickFont"].pointSizeF()
    try:
        manager().zoom(1.5)
        assert axis.style["tickFont"].pointSizeF() > 1.4 * before
        assert QtWidgets.QApplication.font().pointSizeF() > 1.4 * 10
    finally:
        manager().set(font_scale=1.0)


def test_closing_mid_run_is_clean(qtbot, qtlog):
    from gui.main_window import MainWindow

    win = MainWindow()
    win.show()
    qtbot.waitUntil(lambda: win.lab.state == "idle", timeout=10000)
    win.lab.play()
    qtbot.waitUntil(lambda: win.lab.experiment.step_count > 10, timeout=10000)
    job = win.lab._train_job
    t0 = time.perf_counter()
    win.close()
    assert time.perf_counter() - t0 < 1.0
    assert job is not None and not job._thread.is_alive()
    from gui.headless import dispose

    dispose(win)
    bad = [r.message for r in qtlog.records if "thread" in r.message.lower()]
    assert not bad, bad


CLOSE_MID_RUN = """
import time
from PySide6 import QtCore, QtWidgets
from gui.app import make_app, run_gui
from gui.main_window import MainWindow


def window():
    return next(w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, MainWindow))


def close():
    win = window()
    assert win.lab.running and win.lab.experiment.step_count > 10
    print(f"closing {time.time():.6f}", flush=True)
    win.close()


def play():
    window().lab.play()
    QtCore.QTimer.singleShot(1500, close)


make_app(offscreen=True)
QtCore.QTimer.singleShot(1500, play)
run_gui(leave_process=True)  # as main.py runs the window
"""


def test_closing_mid_run_ends_the_process_within_a_second(tmp_path):
    """The whole program, not only the window: worker stopped, event loop left, process gone, and
    the window's settings saved (it remembers them, as the app does)."""
    import os

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", CLOSE_MID_RUN], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate(timeout=120)
    ended = time.time()
    assert proc.returncode == 0, err
    closing = float(next(line for line in out.splitlines() if line.startswith("closing")).split()[1])
    assert ended - closing < 1.0, f"{ended - closing:.2f} s from close to exit"
    assert "QThread" not in err and "Traceback" not in err, err
    saved = list(tmp_path.rglob("Saddle Lab*.conf"))
    assert saved and "session" in saved[0].read_text(), "the settings were not written before the process ended"


def test_self_test_command():
    res = subprocess.run([sys.executable, "main.py", "--self-test"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("self-test ok")


def test_headless_command_writes_plots_and_curves(tmp_path):
    import json

    res = subprocess.run([sys.executable, "main.py", "--headless", "--out", str(tmp_path), "--steps", "120"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "train-decision-map.png").stat().st_size > 10_000
    assert (tmp_path / "train-curves.png").stat().st_size > 10_000
    curves = json.loads((tmp_path / "train.json").read_text())["curves"]
    assert curves["eval_steps"][-1] == 120 and curves["train_loss"][-1] < curves["train_loss"][0]


def test_headless_rejects_unknown_tab(tmp_path):
    res = subprocess.run([sys.executable, "main.py", "--headless", "--out", str(tmp_path), "--tab", "nope"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "no tab 'nope'" in res.stderr
