"""The Paradigms tab, driven like a lecturer would: open it, watch, cancel, change settings."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"dataset": "moons", "n": 300, "noise": 0.1, "steps": 100, "surface_resolution": 21, "map_resolution": 40,
         "map_every": 25}


def _wait_done(qtbot, panel, timeout=60000):
    qtbot.waitUntil(lambda: not panel.running, timeout=timeout)


def test_first_visit_trains_every_rule_and_fills_every_view(window, qtbot):
    panel = window.panel("paradigms")
    panel.apply_options(SMALL)
    window.show_panel("paradigms")  # the first visit starts the comparison by itself
    assert panel.running and panel.progress.isVisible()
    assert window.bar.isHidden()  # the tab has its own settings
    _wait_done(qtbot, panel)
    assert panel.outcome == "done" and not panel.progress.isVisible()
    rules = panel.run_config.rules
    assert len(rules) == 5
    for rule in rules:
        x, y = panel.loss_curves[rule].getData()
        assert len(x) >= 10 and y[-1] < y[0], rule
        assert panel.map_images[rule].image.shape == (40, 40)  # a decision map of the moons
        assert len(panel.map_points[rule].data) > 0
        px, py = panel.path_curves[rule].getData()
        assert len(px) >= 2 and abs(px[0]) < 1e-4 and abs(py[0]) < 1e-4  # paths start at θ₀
    ax, ay = panel.angle_curve.getData()
    assert len(ax) >= 10 and np.all((ay >= 0) & (ay <= 180))
    assert panel.plane_map.image.image.shape == (21, 21)
    assert len(panel.contours.getData()[0]) > 0
    assert panel.curv_bars.opts["height"].shape == (5,)
    assert panel.table.rowCount() == 5 and panel.table.item(1, 0).text() == "Feedback alignment"
    assert "FA's update" in panel.summary.text() and "BP " in panel.summary.text()
    assert "Share of each path inside the plane" in panel.plane_caption.text()
    # The x axis switches to passes through the network (log scale): ES pays 100 per step.
    panel.x_axis.setCurrentIndex(panel.x_axis.findData("passes"))
    es_x, bp_x = panel.loss_curves["evolution"].xData, panel.loss_curves["backprop"].xData
    assert es_x[-1] == 100 * 100 and bp_x[-1] == 2 * 100
    assert panel.loss_plot.ctrl.logXCheck.isChecked()


def test_cancel_keeps_what_was_drawn_bad_settings_say_why_divergence_is_named(window, qtbot):
    panel = window.panel("paradigms")
    panel.apply_options({**SMALL, "steps": 50_000, "rules": ["backprop", "evolution"]})
    window.show_panel("paradigms")
    qtbot.waitUntil(lambda: len(panel.history.get("evolution", {}).get("step", [])) > 3, timeout=20000)
    qtbot.mouseClick(panel.progress.cancel, QtCore.Qt.MouseButton.LeftButton)
    _wait_done(qtbot, panel, timeout=5000)
    assert panel.outcome == "cancelled" and "cancelled" in panel.summary.text()
    assert len(panel.loss_curves["evolution"].getData()[0]) > 3
    assert not panel.loss_curves["forward_forward"].isVisible()  # not in this run
    assert panel.train_button.isEnabled()

    panel.settings_toggle.setChecked(True)
    assert panel.settings_box.isVisible()
    panel.fields["evolution.sigma"].setText("-0.1")
    qtbot.mouseClick(panel.train_button, QtCore.Qt.MouseButton.LeftButton)
    assert not panel.running and panel.error.isVisible() and "ES sigma must be > 0" in panel.error.text()
    panel.fields["evolution.sigma"].setText("0.05")
    panel.fields["evolution.population"].setText("7")
    panel.start()
    assert not panel.running and "even number" in panel.error.text()
    for box in panel.rule_boxes.values():
        box.setChecked(False)
    assert not panel.train_button.isEnabled()
    with pytest.raises(ValueError, match="page is one of"):
        panel.apply_options({"page": "nowhere"})
    with pytest.raises(ValueError, match="unknown Evolution strategies settings: pop"):
        panel.apply_options({"evolution": {"pop": 3}})

    # A rule that diverges is named; the others run to the end.
    panel.fields["evolution.population"].setText("100")
    panel.fields["feedback_alignment.lr"].setText("1e5")
    panel.rule_boxes["backprop"].setChecked(True)
    panel.rule_boxes["feedback_alignment"].setChecked(True)
    panel.steps.setValue(60)
    qtbot.mouseClick(panel.train_button, QtCore.Qt.MouseButton.LeftButton)
    _wait_done(qtbot, panel)
    assert panel.outcome == "done"
    assert "feedback_alignment" in panel.diverged and "Feedback alignment diverged" in panel.error.text()
    assert panel.last_event["backprop"].step == 60
    assert "(diverged)" in panel.table.item(1, 0).text()


def test_headless_writes_plots_and_data(tmp_path):
    res = subprocess.run([sys.executable, "main.py", "--headless", "--tab", "paradigms", "--quick",
                          "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    for name in ("loss", "maps", "angle", "plane", "curvature", "table"):
        assert (tmp_path / f"paradigms-{name}.png").stat().st_size > 5_000, name
    data = json.loads((tmp_path / "paradigms.json").read_text())
    assert [r["rule"] for r in data["rules"]] == ["backprop", "feedback_alignment", "evolution",
                                                  "forward_forward", "hebbian"]
    assert data["config"]["dataset"] == "digits" and data["outcome"] == "done"
    for row in data["rules"]:
        assert row["train_loss"] < data["history"][row["rule"]]["train_loss"][0]
        assert 0 < row["in_plane"] <= 1 and row["lambda_max"] > 0
    arrays = np.load(tmp_path / "paradigms.npz", allow_pickle=False)
    assert arrays["surface_loss"].shape == (25, 25) and arrays["confusion_backprop"].shape == (10, 10)
