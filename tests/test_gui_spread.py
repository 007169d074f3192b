"""Spread over seeds in the real window: the "× N seeds" control reruns a tab's comparison on N
seeds, draws every seed, and its caption is the claim record's verdict on their numbers."""

import numpy as np
from PySide6 import QtCore

from engine.claims import double_descent as dd_claims
from engine.claims import ntk as ntk_claims
from engine.claims import verdict
from gui.spread import SeedCount, mean_sd


def _check_caption(claim, data, caption, n_seeds):
    assert data["name"] == claim.name
    assert [row["seed"] for row in data["seeds"]] == list(range(n_seeds))
    results = []
    for row in data["seeds"]:
        numbers = {k: v for k, v in row.items() if k not in ("seed", "holds")}
        assert row["holds"] == claim.holds(numbers)  # judged by the record's own rule
        results.append((row["seed"], numbers, row["holds"]))
    assert data["verdict"] == verdict(claim, results)
    assert caption.startswith(data["verdict"]) and f"seed {n_seeds - 1}:" in caption


def test_mean_sd_ignores_seeds_still_running():
    mean, sd = mean_sd(np.array([[1.0, 2.0, np.nan], [3.0, 2.0, np.nan]]))
    assert np.allclose(mean[:2], [2.0, 2.0]) and np.allclose(sd[:2], [1.0, 0.0]) and np.isnan(mean[2])


def test_seed_count_runs_one_to_five(qtbot):
    box = SeedCount("tip")
    qtbot.addWidget(box)
    box.setValue(9)
    assert box.value() == 5 and box.text() == "× 5 seeds"


def test_double_descent_peak_over_two_seeds(window, qtbot):
    panel = window.show_panel("double-descent")
    qtbot.waitUntil(lambda: panel.sweep is not None, timeout=60000)
    panel.rf_seeds.setValue(2)
    qtbot.waitUntil(lambda: len(panel.rf_seed_sweeps) == 2, timeout=90000)
    data = panel.data()["rf_claim"]
    _check_caption(dd_claims.PEAK, data, panel.rf_verdict.text(), 2)
    # The peak at p = n is no single draw's accident: it holds on every seed.
    assert panel.rf_verdict.text().startswith("holds on all 2 seeds")
    assert all(0.8 <= row["peak_at"] <= 1.25 for row in data["seeds"])
    assert panel.rf_band.fill.isVisible() and len(panel.rf_band.points.data) == 2 * len(panel.sweep.counts)


def test_ntk_drift_sweep_over_two_seeds(window, qtbot):
    panel = window.panel("ntk")
    panel.steps.setValue(60)
    window.show_panel("ntk")
    qtbot.waitUntil(lambda: not panel.jobs.running("study") and not panel.running and panel._shown is not None,
                    timeout=60000)
    panel.seed_count.setValue(2)
    panel.sweep_widths.setText("8, 32")
    panel.sweep_widths.editingFinished.emit()
    qtbot.mouseClick(panel.sweep_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.jobs.running("study") and not panel.running, timeout=90000)
    assert panel.progress.text() == "done"
    # Seed 0 also holds the first visit's fit at width 256 (same settings); seed 1 the sweep only.
    assert sorted(panel._by_seed) == [0, 1] and sorted(panel._by_seed[1]) == [8, 32]
    assert {8, 32} <= set(panel._by_seed[0])
    _check_caption(ntk_claims.DRIFT, panel.data()["claim"], panel.verdict.text(), 2)
    # The plot's main curve is seed 0; the band spans both seeds' kernel changes.
    changes = [panel._by_seed[s][8].relative_change for s in (0, 1)]
    assert changes[0] != changes[1]
    assert panel.drift_band.fill.isVisible() and len(panel.drift_band.points.data) == 4
