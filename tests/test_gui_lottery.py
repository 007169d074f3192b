"""The Lottery tickets tab, driven like a lecturer would: run, watch, cancel, retrain, export."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6 import QtCore

from engine.pruning import load_ticket

ROOT = Path(__file__).resolve().parent.parent


def _small(panel, rounds=2, steps=40, seeds=1):
    panel.rounds_box.setValue(rounds)
    panel.steps.setValue(steps)
    panel.seeds.setValue(seeds)


def _wait_done(qtbot, panel, timeout=60000):
    qtbot.waitUntil(lambda: not panel.running and not panel.retraining, timeout=timeout)


def test_run_fills_every_view_then_retrain_and_export(window, qtbot, tmp_path):
    panel = window.show_panel("lottery")
    _small(panel)
    qtbot.mouseClick(panel.run, QtCore.Qt.MouseButton.LeftButton)
    assert panel.running and not panel.run.isEnabled() and panel.cancel.isEnabled()
    _wait_done(qtbot, panel)
    assert panel.progress_bar.format() == "done"
    for c in ("ticket", "reinit", "random"):
        x, y = panel.acc_curves[c].getData()
        assert len(x) == 3 and np.all((y > 0) & (y <= 100))
    assert len(panel.bars.opts["height"]) == 3  # fc1, fc2, out
    assert panel.mask_image.image.image.shape == (8, 8)  # the first layer's input pixels
    assert "Round 2" in panel.summary.text() and "ticket" in panel.summary.text()
    x, y = panel.round_curves["ticket"].getData()
    assert len(x) >= 2
    # Another layer shows its raw mask.
    panel.layer.setCurrentIndex(1)
    assert panel.mask_image.image.image.shape == (100, 300)

    qtbot.mouseClick(panel.retrain_button, QtCore.Qt.MouseButton.LeftButton)
    _wait_done(qtbot, panel)
    xd, yd = panel.retrain_dense.getData()
    xt, yt = panel.retrain_ticket.getData()
    assert len(xd) >= 2 and len(xt) >= 2 and "Ticket trained again" in window.statusBar().currentMessage()

    panel.ask_save_path = lambda default: str(tmp_path / "ticket")
    qtbot.mouseClick(panel.export_button, QtCore.Qt.MouseButton.LeftButton)
    saved = load_ticket(tmp_path / "ticket.pt")
    assert saved["info"]["round"] == 2
    w = saved["state_dict"]["fc1.weight"]
    assert w.shape == (300, 64) and bool((w[~saved["masks"]["fc1.weight"]] == 0).all())
    assert torch.count_nonzero(w) > 0
    rows = (tmp_path / "ticket-rounds.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3 * 3 and rows[0].startswith("round,control,seed")


def test_three_seeds_show_mean_and_spread(window, qtbot):
    panel = window.show_panel("lottery")
    _small(panel, rounds=1, steps=30, seeds=3)
    panel.start()
    _wait_done(qtbot, panel)
    assert "mean of 3 seeds" in panel.summary.text()
    assert panel.acc_errors["ticket"].isVisible()
    assert len({r.seed for r in panel.rounds}) == 3
    # 80% of the weights left: the claim (under 10%) is not judged yet, and the caption says so.
    assert "under 10%" in panel.verdict.text() and "holds on" not in panel.verdict.text()


def test_seed_spread_caption_judges_each_seed_with_the_claim_record(window, qtbot):
    from engine.claims import lottery as lottery_claims
    from engine.claims import verdict

    panel = window.show_panel("lottery")
    _small(panel, rounds=2, steps=30, seeds=2)
    panel.rate.setValue(75)  # 0.25² ≈ 6% of the weights left after two rounds
    panel.out_rate.setValue(75)
    panel.start()
    _wait_done(qtbot, panel)
    claim = panel.data()["claim"]
    assert claim["name"] == "lottery-digits"
    assert [row["seed"] for row in claim["seeds"]] == [0, 1]
    for row in claim["seeds"]:
        numbers = {k: v for k, v in row.items() if k not in ("seed", "holds")}
        assert numbers["remaining"] < 0.10 and numbers["n_test"] == 539
        assert row["holds"] == lottery_claims.ticket_beats_controls(numbers)
    results = panel.seed_results()
    assert claim["verdict"] == verdict(lottery_claims.DIGITS, results)
    text = panel.verdict.text()
    assert text.startswith(claim["verdict"]) and "seed 1:" in text and "of 539 test images" in text


def test_cancel_stops_a_long_run_promptly(window, qtbot):
    panel = window.show_panel("lottery")
    _small(panel, rounds=13, steps=5000)
    panel.start()
    qtbot.waitUntil(lambda: panel.items_seen > 0, timeout=20000)
    qtbot.mouseClick(panel.cancel, QtCore.Qt.MouseButton.LeftButton)
    _wait_done(qtbot, panel, timeout=5000)
    assert panel.progress_bar.format() == "cancelled" and panel.run.isEnabled()


def test_bad_settings_say_why_and_block_the_run(window, qtbot):
    panel = window.show_panel("lottery")
    assert window.bar.isHidden()  # the tab has its own settings: the shared bar steps aside
    panel.steps.setValue(100)
    panel.rewind.setCurrentIndex(panel.rewind.findData("k"))
    panel.rewind_k.setValue(150)
    assert panel.error.isVisible() and "rewind iteration" in panel.error.text()
    assert not panel.run.isEnabled()
    panel.rewind_k.setValue(10)
    assert not panel.error.isVisible() and panel.run.isEnabled() and panel.config.rewind == 10
    with pytest.raises(ValueError, match="unknown lottery settings"):
        panel.apply_options({"learning_rate": 1})
    # A run that diverges says so on the tab and leaves the window usable.
    panel.apply_options({"optimizer": "sgd", "lr": 500.0, "rounds": 1, "steps": 40, "rewind": "init"})
    panel.start()
    _wait_done(qtbot, panel)
    assert panel.banner.isVisible() and "diverged" in panel.banner.text()
    assert panel.progress_bar.format() == "diverged" and panel.run.isEnabled()
    window.show_panel("train")
    assert not window.bar.isHidden() and window.split.sizes()[0] >= 250


def test_headless_writes_plot_table_and_ticket(tmp_path):
    res = subprocess.run([sys.executable, "main.py", "--headless", "--tab", "lottery", "--quick",
                          "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "lottery-accuracy.png").stat().st_size > 10_000
    rows = (tmp_path / "lottery-rounds.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3 * 6  # rounds 0..5, three controls
    data = json.loads((tmp_path / "lottery.json").read_text())
    assert len(data["summary"]["ticket"]["remaining"]) == 6 and data["retrain"]["steps"]
    assert load_ticket(tmp_path / "lottery-ticket.pt")["info"]["round"] == 5
