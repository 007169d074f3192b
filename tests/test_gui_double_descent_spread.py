"""The Double descent tab's networks and epoch-wise pages over seeds: "× N seeds" reruns the
sweep (or the curve) on N seeds, draws each seed's test loss (or error) with the mean ± s.d.
band, and the caption is the claim record's verdict on those seeds' numbers."""

import time

import numpy as np
from test_gui_spread import _check_caption

from engine.claims import double_descent as dd_claims
from engine.claims import verdict
from gui.panels.double_descent_common import FLOOR


def _band_points(band) -> np.ndarray:
    """The band's points as (x, y) in data units (the scatter holds log10 of both)."""
    return 10 ** np.column_stack([band.points.data["x"], band.points.data["y"]])


def test_network_sweep_over_two_seeds(window, qtbot):
    panel = window.show_panel("double-descent")
    panel.show_view("networks")
    panel.net_dataset.setCurrentText("digits")
    panel.net_n.setValue(100)
    panel.net_noise.setValue(20)
    panel.net_widths.setText("4, 256")
    panel.net_steps.setValue(40)
    panel.net_seeds.setValue(2)
    t0 = time.perf_counter()
    panel.run_networks()
    qtbot.waitUntil(lambda: not panel.jobs.running("networks"), timeout=60000)
    print(f"2 widths × 40 steps on 2 seeds: {time.perf_counter() - t0:.2f} s")
    by_seed = panel.network_seed_points()
    assert sorted(by_seed) == [0, 1] and all(len(points) == 2 for points in by_seed.values())
    # The band's points are the seeds' measured test losses, seed 0 (the main curve) first.
    losses = np.array([[p.test_loss for p in by_seed[s]] for s in (0, 1)])
    assert not np.allclose(losses[0], losses[1])  # the seeds differ: a spread, not one run twice
    points = _band_points(panel.net_band)
    counts = np.array([p.n_params for p in by_seed[0]], dtype=float)
    assert np.allclose(points[:, 0], np.tile(counts, 2))
    assert np.allclose(points[:, 1], np.maximum(losses, FLOOR).ravel())
    assert panel.net_band.fill.isVisible()
    # The caption is the claim record's verdict on the two seeds' own numbers.
    n, k = panel.net_threshold
    expected = [(s, dd_claims.network_numbers(by_seed[s], n * k)) for s in (0, 1)]
    results = [(s, nums, dd_claims.NETWORKS.holds(nums)) for s, nums in expected]
    data = panel.data()["network_claim"]
    _check_caption(dd_claims.NETWORKS, data, panel.net_verdict.text(), 2)
    assert data["verdict"] == verdict(dd_claims.NETWORKS, results)
    # 40 steps are too few for a peak at p = n·k: on each seed the 4-unit network is the worst.
    assert all(nums["peak_at"] < 0.75 and nums["peak_loss"] == nums["narrowest_loss"] for _, nums in expected)
    assert panel.net_verdict.text().startswith("does not hold on any of the 2 seeds")
    window.resize(1400, 900)
    qtbot.wait(50)
    panel.grab().save("/tmp/seeds_dd_networks.png")

    # Settings the claim does not speak of get no verdict, only the spread.
    panel.net_widths.setText("2, 8")
    panel.run_networks()
    qtbot.waitUntil(lambda: not panel.jobs.running("networks"), timeout=60000)
    assert len(panel.network_seed_points()[1]) == 2 and "network_claim" not in panel.data()
    assert panel.net_verdict.text().startswith("No claim is stated")


def test_epoch_wise_curve_over_two_seeds(window, qtbot):
    panel = window.show_panel("double-descent")
    panel.show_view("epoch-wise")
    # 90 fast features: seed 0 shows the second descent below the first minimum, seed 1 does not.
    panel.fast_count.set_value(90)
    panel.epoch_seeds.setValue(2)
    qtbot.waitUntil(lambda: len(panel.epoch_seed_curves) == 2 and not panel.jobs.running("epoch-seeds"),
                    timeout=30000)
    curves = {c.seed: c.points for c in panel.epoch_seed_curves}
    assert sorted(curves) == [0, 1]
    assert panel.epoch_config().fast_features == 90
    later = [p.step > 0 for p in curves[0]]
    errors = np.array([[p.test_error for p, keep in zip(curves[s], later) if keep] for s in (0, 1)])
    points = _band_points(panel.epoch_band)
    assert np.allclose(points[:, 1], np.maximum(errors, FLOOR).ravel())
    assert panel.epoch_band.fill.isVisible()
    numbers = [dd_claims.epoch_numbers(curves[s]) for s in (0, 1)]
    held = [dd_claims.EPOCH_WISE.holds(n) for n in numbers]
    assert held == [True, False], numbers  # the seeds disagree …
    data = panel.data()["epoch_claim"]
    _check_caption(dd_claims.EPOCH_WISE, data, panel.epoch_verdict.text(), 2)
    assert panel.epoch_verdict.text().startswith("within noise: it held on 1 of 2 seeds")  # … so: noise
    window.resize(1400, 900)
    qtbot.wait(50)
    panel.grab().save("/tmp/seeds_dd_epoch_wise.png")

    before = panel.epoch_seed_curves
    panel.fast_count.set_value(60)  # the preset's setting: both seeds fall, rise, and fall lower
    qtbot.waitUntil(lambda: panel.epoch_seed_curves is not before and len(panel.epoch_seed_curves) == 2,
                    timeout=30000)
    assert panel.epoch_verdict.text().startswith("holds on all 2 seeds: " + dd_claims.EPOCH_WISE.text)
    panel.epoch_seeds.setValue(1)
    qtbot.waitUntil(lambda: not panel.epoch_verdict.isVisible(), timeout=10000)
    assert len(panel.epoch_band.points.data) == 0
