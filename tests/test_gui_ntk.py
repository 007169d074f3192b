"""The NTK & kernels tab in the real window: it fits on first visit, sweeps, cancels, refuses bad
input with a message, lets the newest request win, and renders headless."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6 import QtCore

ROOT = Path(__file__).resolve().parent.parent


def _idle(qtbot, panel, timeout=60000):
    qtbot.waitUntil(lambda: not panel.jobs.running("study") and not panel.running, timeout=timeout)


def _type(edit, text):
    edit.setText(text)
    edit.editingFinished.emit()


def _open(window, qtbot, steps=120):
    panel = window.panel("ntk")
    panel.steps.setValue(steps)  # before the first visit, which starts a fit
    window.show_panel("ntk")
    qtbot.waitUntil(lambda: panel._shown is not None, timeout=60000)
    _idle(qtbot, panel)
    return panel


def test_first_visit_fits_then_a_sweep_fills_the_drift_plot(window, qtbot):
    panel = _open(window, qtbot)
    r = panel._shown
    assert r.width == 256 and panel.width == 256
    x, y = panel.net_curve.getData()
    assert len(x) == 200 and np.isfinite(y).all()
    for item in (panel.lin_curve, panel.kernel_curve, panel.rbf_curve, panel.ntk_ridge_curve, panel.eig0_curve):
        assert len(item.getData()[0]) > 0
    assert panel.k0_image.image.image.shape == (64, 64) and panel.kt_image.image.image.shape == (64, 64)
    assert "width 256" in panel.summary.text() and not panel.error.isVisible()

    _type(panel.sweep_widths, "8, 32, 128")
    qtbot.mouseClick(panel.sweep_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.running, timeout=5000)
    _idle(qtbot, panel)
    widths, _ = panel.drift_curve.getData()
    assert sorted(np.round(10 ** np.asarray(widths)).astype(int)) == [8, 32, 128, 256]  # log-mode x
    assert panel.width == 128 and panel._shown.width == 128  # the slider names what is shown
    assert panel.progress.text() == "done"
    # A swept width comes back at once when the slider returns to it.
    panel.width_slider.setValue(panel.width_slider.value() - 4)  # two octaves down: 32
    assert panel._shown.width == 32 and not panel.jobs.running("study")


def test_cancel_stops_a_sweep_at_the_next_step(window, qtbot):
    panel = _open(window, qtbot, steps=60)
    panel.steps.setValue(50_000)
    _type(panel.sweep_widths, "16, 32")
    qtbot.mouseClick(panel.sweep_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "step" in panel.progress.text(), timeout=30000)
    qtbot.mouseClick(panel.cancel_button, QtCore.Qt.MouseButton.LeftButton)
    _idle(qtbot, panel, timeout=10000)
    assert panel.progress.text() == "cancelled"
    assert 16 not in panel._results and 32 not in panel._results


def test_bad_input_gets_a_message_and_starts_nothing(window, qtbot):
    panel = _open(window, qtbot, steps=60)
    _type(panel.lr, "fast")
    qtbot.wait(500)  # past the debounce
    assert panel.error.isVisible() and "learning rate must be a number" in panel.error.text()
    assert not panel.jobs.running("study")
    panel.progress.setFormat("")
    _type(panel.lr, "0.3")  # a good value clears the message and fits again
    # A short fit may start and end within one turn of the event loop: look for either.
    qtbot.waitUntil(lambda: not panel.error.isVisible() and (panel.running or panel.progress.text() == "done"),
                    timeout=5000)
    _idle(qtbot, panel)

    _type(panel.sweep_widths, "16")
    panel.request("sweep")
    assert "at least two widths" in panel.error.text() and not panel.jobs.running("study")
    panel.layers.setValue(3)
    panel.set_width(4096)
    panel.request("fit")
    assert "above the limit" in panel.error.text() and not panel.jobs.running("study")


def test_divergence_is_reported_in_words(window, qtbot):
    panel = _open(window, qtbot, steps=60)
    panel.parameterization.setCurrentIndex(panel.parameterization.findData("standard"))
    panel.set_width(2048)
    panel.request("fit")
    _idle(qtbot, panel)
    assert panel._shown.diverged
    assert panel.error.isVisible() and "diverged" in panel.error.text() and "stable below lr" in panel.error.text()


def test_the_newest_width_wins(window, qtbot):
    panel = _open(window, qtbot, steps=60)
    panel.steps.setValue(50_000)
    panel.set_width(64)
    panel.request("fit")
    qtbot.waitUntil(lambda: panel.running, timeout=5000)
    panel.steps.setValue(60)
    panel.set_width(16)  # while the first runs: it is stopped, then this one starts
    _idle(qtbot, panel)
    assert panel._shown.width == 16 and 64 not in panel._results


def test_headless_ntk_tab_writes_plots_and_data(tmp_path):
    res = subprocess.run([sys.executable, "main.py", "--headless", "--tab", "ntk", "--quick", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    for name in ("ntk-fit", "ntk-drift", "ntk-kernels", "ntk-spectrum", "ntk-kernel-methods", "ntk-kernel-spectra",
                 "ntk"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000, name
    data = json.loads((tmp_path / "ntk.json").read_text())
    assert [w["width"] for w in data["widths"]] == [16, 64, 256, 1024]
    assert data["shown"]["width"] == 256 and not data["shown"]["diverged"]
    arrays = np.load(tmp_path / "ntk.npz", allow_pickle=False)
    assert arrays["kernel_0"].shape == (64, 64) and arrays["sweep_relative_change"].shape == (4,)
