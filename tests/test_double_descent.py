"""Double descent: the random-features peak at p = n and its ridge cure, the epoch-wise peak,
the batched solver against the obvious loop, the width sweep, and the tab's live redraw."""

import json
import math
import time

import numpy as np
import pytest
import torch
from PySide6 import QtCore

from engine.data import toy_dataset
from engine.double_descent import (
    EpochWiseConfig,
    SweepPoint,
    SweepProgress,
    default_feature_counts,
    epoch_wise_curve,
    epoch_wise_problem,
    epoch_wise_shape,
    noisy_labels,
    one_hidden_layer_params,
    random_features_sweep,
    random_features_sweep_loop,
    width_sweep,
)
from engine.training import TrainConfig


@pytest.fixture(scope="module")
def min_norm_sweep():
    """n = 100 samples of a linear teacher in d = 20, 60 feature counts, pseudo-inverse fits."""
    return random_features_sweep(n_train=100, noise=0.1, ridge=0.0, seed=0, input_dim=20)


def test_default_grid_has_60_counts_through_the_threshold():
    counts = default_feature_counts(100)
    assert len(counts) == 60 and np.all(np.diff(counts) > 0)
    assert {50, 100, 1000} <= set(counts.tolist())


def test_test_error_peaks_at_the_interpolation_threshold(min_norm_sweep):
    r = min_norm_sweep
    n = r.n_train
    assert len(r.counts) == 60
    assert 0.9 * n <= r.peak_count <= 1.1 * n, f"peak at p = {r.peak_count}, not within ±10% of n = {n}"
    worst = float(r.test_error.max())
    assert worst > 5 * r.test_error_at(n // 2), (worst, r.test_error_at(n // 2))
    assert worst > 5 * r.test_error_at(10 * n), (worst, r.test_error_at(10 * n))
    # Past the threshold the fit interpolates, and the minimum-norm interpolant's norm falls again.
    over = r.counts >= n
    assert np.all(r.train_error[over] < 1e-12) and np.all(r.train_error[~over] > 1e-6)
    assert r.counts[int(np.argmax(r.weight_norm))] == r.peak_count
    assert r.weight_norm[-1] < r.weight_norm.max() / 5


def test_ridge_of_one_flattens_the_peak(min_norm_sweep):
    ridge = random_features_sweep(n_train=100, noise=0.1, ridge=1.0, seed=0, input_dim=20)
    at_n = ridge.test_error_at(100)
    assert at_n < 2 * float(ridge.test_error.min()), (at_n, float(ridge.test_error.min()))
    assert at_n < min_norm_sweep.test_error_at(100) / 100  # and far below the unregularised peak


@pytest.mark.parametrize("ridge", [0.0, 0.3])
@pytest.mark.parametrize("features", ["relu", "fourier"])
def test_batched_sweep_equals_one_pinv_per_count(ridge, features):
    counts = [3, 10, 29, 30, 31, 45, 90, 200]
    kw = dict(n_train=30, feature_counts=counts, noise=0.2, ridge=ridge, n_test=200, seed=3, input_dim=5,
              draws=2, features=features)
    fast, loop = random_features_sweep(**kw), random_features_sweep_loop(**kw)
    np.testing.assert_allclose(fast.test_error_draws, loop.test_error_draws, rtol=1e-6)
    np.testing.assert_allclose(fast.weight_norm, loop.weight_norm, rtol=1e-6)
    np.testing.assert_allclose(fast.train_error, loop.train_error, rtol=1e-6, atol=1e-12)


def test_more_label_noise_raises_the_peak():
    quiet = random_features_sweep(n_train=60, noise=0.05, seed=1, draws=3)
    loud = random_features_sweep(n_train=60, noise=0.5, seed=1, draws=3)
    assert loud.test_error_at(60) > 3 * quiet.test_error_at(60)


def test_bad_sweep_settings_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="ridge"):
        random_features_sweep(ridge=-1.0)
    with pytest.raises(ValueError, match="features"):
        random_features_sweep(features="polynomial")
    with pytest.raises(ValueError, match="at most"):
        random_features_sweep(feature_counts=[10, 10**6])


def test_epoch_wise_test_error_falls_rises_and_falls_below_its_first_minimum():
    points = list(epoch_wise_curve(EpochWiseConfig()))
    shape = epoch_wise_shape(points)
    start = next(p.test_error for p in points if p.step == 1)
    assert shape["first_min"] < 0.8 * start, (start, shape)  # falls
    assert shape["peak"] > 1.3 * shape["first_min"], shape  # rises to a peak
    assert shape["second_min"] < 0.5 * shape["first_min"], shape  # falls below its first minimum
    assert shape["first_min_step"] < shape["peak_step"] < shape["second_min_step"]
    # The rise is the fast features overfitting; the second descent the slow ones being learned.
    by_step = {p.step: p for p in points}
    first, peak = by_step[int(shape["first_min_step"])], by_step[int(shape["peak_step"])]
    assert peak.fast_error > first.fast_error and peak.slow_error <= first.slow_error + 1e-9


def test_epoch_wise_curve_is_gradient_descent_step_by_step():
    config = EpochWiseConfig(max_steps=200, points=200)
    prob = epoch_wise_problem(config)
    curve = {p.step: p for p in epoch_wise_curve(config)}
    w = torch.zeros(prob.X.shape[1], dtype=torch.float64)
    for t in range(1, 201):
        w = w - prob.lr * prob.X.T @ (prob.X @ w - prob.y) / config.n_train
        if t in curve:
            err = w - prob.theta_star
            test = float((prob.scales ** 2 * err ** 2).sum()) + config.noise ** 2
            assert math.isclose(curve[t].test_error, test, rel_tol=1e-9)
            assert math.isclose(curve[t].train_error, float(((prob.X @ w - prob.y) ** 2).mean()), rel_tol=1e-9)


def test_width_sweep_streams_one_point_per_width():
    ds = toy_dataset("moons", n=80, noise=0.2, seed=0)
    config = TrainConfig(optimizer="adam", lr=0.01, batch_size=0, steps=40, loss="mse", device="cpu")
    items = list(width_sweep(ds, [2, 16], config, seed=0, label_noise=0.25, progress_every=10))
    points = [i for i in items if isinstance(i, SweepPoint)]
    assert [p.width for p in points] == [2, 16] and [p.index for p in points] == [0, 1]
    assert [p.n_params for p in points] == [one_hidden_layer_params(2, w, 2) for w in (2, 16)]
    assert all(0.0 <= p.test_error <= 1.0 and p.steps == 40 and p.weight_norm > 0 for p in points)
    assert sum(isinstance(i, SweepProgress) for i in items) == 2 * 3  # steps 10, 20, 30 of each width
    gen = width_sweep(ds, [2, 4, 8], config)
    first = next(gen)
    gen.close()  # stopping early is allowed
    assert first.width == 2


def test_label_noise_changes_exactly_the_requested_share_of_training_labels():
    ds = toy_dataset("digits", n=400, noise=0.0, seed=0)
    noisy = noisy_labels(ds, 0.3, seed=0)
    changed = float((noisy.y_train != ds.y_train).float().mean())
    assert abs(changed - 0.3) < 0.07
    assert torch.equal(noisy.y_test, ds.y_test)


# -- the tab ---------------------------------------------------------------------------------
def test_slider_change_redraws_the_curve(window, qtbot):
    panel = window.show_panel("double-descent")
    qtbot.waitUntil(lambda: panel.sweeps_drawn >= 1, timeout=20000)
    x_before, y_before = (np.array(a) for a in panel.rf_plot.test.getData())
    assert len(x_before) >= 50 and np.all(np.isfinite(y_before))
    assert panel.rf_plot.lines[0].value() == pytest.approx(math.log10(100))

    drawn = panel.sweeps_drawn
    t0 = time.perf_counter()
    panel.samples.set_value(150)
    qtbot.waitUntil(lambda: panel.sweeps_drawn > drawn and panel.sweep.n_train == 150, timeout=20000)
    elapsed = time.perf_counter() - t0
    x_after, y_after = (np.array(a) for a in panel.rf_plot.test.getData())
    assert not np.array_equal(x_after, x_before)  # a new grid around the new threshold
    assert panel.rf_plot.lines[0].value() == pytest.approx(math.log10(150))
    assert 135 <= panel.sweep.peak_count <= 165
    print(f"sweep redrawn {elapsed:.2f} s after the slider moved")

    drawn = panel.sweeps_drawn
    panel.ridge.set_value(1.0)
    qtbot.waitUntil(lambda: panel.sweeps_drawn > drawn and panel.sweep.ridge == pytest.approx(1.0, rel=0.05),
                    timeout=20000)
    _, y_ridge = panel.rf_plot.test.getData()
    assert float(np.max(y_ridge)) < float(np.max(y_after)) / 10  # the peak is gone from the picture


def test_network_sweep_runs_and_can_be_cancelled(window, qtbot):
    panel = window.show_panel("double-descent")
    panel.pages.setCurrentIndex(1)
    panel.net_widths.setText("2, 8, x")
    panel.run_networks()
    assert panel.net_error.isVisible() and "whole numbers" in panel.net_error.text()
    panel.net_widths.setText("2, 8")
    panel.net_steps.setValue(60)
    panel.net_n.setValue(60)
    panel.run_networks()
    assert panel.net_progress.isVisible()
    qtbot.waitUntil(lambda: len(panel.net_points) == 2 and not panel.net_progress.isVisible(), timeout=30000)
    x, _ = panel.net_plot.test.getData()
    assert len(x) == 2
    _, train_err = panel.net_train_err.getData()  # train error drawn beside the test error
    assert np.allclose(10 ** np.asarray(train_err), np.maximum([q.train_error for q in panel.net_points], 1e-3))
    panel.net_widths.setText("64, 128, 256, 512")
    panel.net_steps.setValue(5000)
    panel.run_networks()
    qtbot.mouseClick(panel.net_progress.cancel, QtCore.Qt.MouseButton.LeftButton)
    assert not panel.net_progress.isVisible() and panel.net_run.isEnabled()


def test_headless_writes_the_three_pictures_and_the_numbers(tmp_path):
    from gui.headless import run_headless

    files = run_headless(tmp_path, tab="double-descent", quick=True)
    names = {f.name for f in files}
    for stem in ("random-features", "networks", "epoch-wise"):
        png = tmp_path / f"double-descent-{stem}.png"
        assert png.name in names and png.stat().st_size > 5_000
    data = json.loads((tmp_path / "double-descent.json").read_text())
    assert 90 <= data["random_features"]["counts"][int(np.argmax(data["random_features"]["test_error"]))] <= 110
    assert data["epoch_wise"]["second_min"] < data["epoch_wise"]["first_min"] < data["epoch_wise"]["peak"]
    with np.load(tmp_path / "double-descent.npz", allow_pickle=False) as arrays:
        assert len(arrays["rf_counts"]) == 60
        assert len(arrays["net_train_error"]) == len(arrays["net_test_error"]) == len(data["networks"])
