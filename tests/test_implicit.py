"""Implicit regularisation: GD from zero finds the minimum-norm fit, logistic GD turns to the
max-margin direction, small initialisation finds the least nuclear norm; and the tab."""

import json
import math

import numpy as np
import pytest
import torch

from engine.implicit import (
    angle_degrees,
    factorization_gd,
    least_squares_demo,
    logistic_smoothness,
    margin_data,
    max_margin_direction,
    min_frobenius_solution,
    min_norm_gd,
    min_norm_solution,
    min_nuclear_norm_psd,
    nuclear_norm,
    sensing_demo,
    sensing_problem,
    svm_direction,
    svm_direction_through_origin,
    underdetermined_problem,
)


def test_gd_from_zero_converges_to_the_pseudo_inverse_solution():
    X, y = underdetermined_problem(n=20, d=100, seed=0)
    points = list(min_norm_gd(X, y, steps=1000))
    assert points[0].step == 0 and points[0].distance_to_min_norm == pytest.approx(
        float(min_norm_solution(X, y).norm()))
    assert points[-1].distance_to_min_norm < 1e-6
    assert points[-1].loss < 1e-20
    distances = [p.distance_to_min_norm for p in points[:150]]
    assert all(b < a for a, b in zip(distances, distances[1:]))  # every step moves closer


def test_gd_from_a_random_start_lands_on_a_different_interpolant():
    X, y = underdetermined_problem(n=20, d=100, seed=0)
    w0 = torch.randn(100, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    last = list(min_norm_gd(X, y, steps=1000, w0=w0))[-1]
    assert last.loss < 1e-20  # it fits the data exactly too …
    assert last.distance_to_min_norm > 1.0  # … but is not the minimum-norm fit
    assert last.distance_to_limit < 1e-6  # it keeps the start's null-space part, as predicted
    assert last.norm > float(min_norm_solution(X, y).norm())


def test_least_squares_demo_draws_one_equation_and_measures_many():
    demo = least_squares_demo(seed=3, d=60, steps=300, picture_steps=30)
    assert demo.d == 60 and len(demo.zero) == len(demo.random) == 301
    assert np.allclose(demo.w_min2, [0.75, 0.75])  # X⁺y of x₁ + x₂ = 1.5
    # The picture keeps w: from zero it reaches X⁺y, from the random start another fit on the line.
    assert np.allclose(demo.picture_zero[-1].w, demo.w_min2, atol=1e-6)
    w_r = demo.picture_random[-1].w
    assert abs(w_r.sum() - 1.5) < 1e-6 and np.linalg.norm(w_r - demo.w_min2) > 1e-3
    assert float(demo.x2[0] @ demo.picture_random[0].w) <= demo.y2[0]  # starts on the origin's side
    assert demo.zero[-1].distance_to_min_norm < 1e-3 < demo.random[-1].distance_to_min_norm
    assert demo.random[-1].distance_to_limit < 1e-3


def test_min_norm_gd_refuses_a_diverging_learning_rate():
    X, y = underdetermined_problem(n=5, d=10, seed=0)
    with pytest.raises(FloatingPointError, match="diverged"):
        list(min_norm_gd(X, y, steps=5000, lr=1e3))


@pytest.fixture(scope="module")
def margin_run():
    X, y = margin_data(seed=0)
    return X, y, list(max_margin_direction(X, y, steps=100_000, lr=1.0 / logistic_smoothness(X)))


def test_svm_direction_differs_clearly_from_the_mean_direction():
    X, y = margin_data(seed=0)
    w_svm, b = svm_direction(X, y)
    assert abs(b) < 1e-6  # symmetric data: no intercept needed
    assert angle_degrees(w_svm, (y[:, None] * X).mean(0)) > 30


def _shifted_margin_data():
    """margin_data moved off the origin, so an intercept helps the SVM. Moving every point by c
    leaves the normal of the SVM with intercept unchanged, and on the symmetric data that normal
    is the one without intercept (b = 0): so it is the unshifted data's origin SVM."""
    X, y = margin_data(seed=0)
    return X + np.array([0.3, -1.0]), y, svm_direction_through_origin(X, y)


def test_svm_without_intercept_matches_a_direct_solution_and_differs_from_the_one_with():
    X, y, w_biased = _shifted_margin_data()
    w0 = svm_direction_through_origin(X, y)
    margins = y * (X @ w0)
    # Optimality of min ‖w‖ s.t. yᵢ⟨w, xᵢ⟩ ≥ 1: the points at the least margin span w's direction.
    support = np.abs(margins - margins.min()) < 1e-6 * margins.min()
    assert support.sum() >= 1 and margins.min() > 0
    lam = np.linalg.lstsq((y[support, None] * X[support]).T, w0, rcond=None)[0]
    assert np.all(lam > 0) and np.allclose((y[support, None] * X[support]).T @ lam, w0)
    assert angle_degrees(w0, w_biased) > 10
    with pytest.raises(ValueError, match="through the origin"):
        svm_direction_through_origin(np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([1, -1]))


def test_gd_without_bias_turns_to_the_svm_without_intercept():
    X, y, w_biased = _shifted_margin_data()
    w_free = svm_direction_through_origin(X, y)
    points = list(max_margin_direction(X, y, steps=100_000, lr=1.0 / logistic_smoothness(X), points=20))
    first, last = points[0], points[-1]
    assert last.angle_to_svm == pytest.approx(angle_degrees(last.w, w_free))
    assert last.angle_to_svm < 3.0 < 20.0 < first.angle_to_svm
    assert angle_degrees(last.w, w_biased) > 10.0  # not the SVM that has an intercept


def test_angle_to_the_svm_shrinks_across_every_decade_of_steps(margin_run):
    _, _, points = margin_run
    by_step = {p.step: p for p in points}
    decades = [1, 10, 100, 1_000, 10_000, 100_000]
    angles = [by_step[t].angle_to_svm for t in decades]
    assert all(b < a for a, b in zip(angles, angles[1:])), angles
    assert angles[-1] < 3.0 and angles[0] > 30.0


def test_weight_norm_grows_like_log_t(margin_run):
    X, y, points = margin_run
    by_step = {p.step: p for p in points}
    gains = [by_step[10 * t].norm - by_step[t].norm for t in (1_000, 10_000)]
    assert gains[0] > 0 and abs(gains[1] - gains[0]) < 0.2 * gains[0], gains  # equal steps per decade
    assert by_step[100_000].loss < by_step[1_000].loss / 10  # the loss keeps falling, no minimiser
    w_svm, _ = svm_direction(X, y)
    svm_margin = float(np.min(y * (X @ w_svm)))
    assert by_step[100_000].margin == pytest.approx(svm_margin, rel=0.1)


@pytest.fixture(scope="module")
def sensing():
    problem = sensing_problem(d=12, rank=1, seed=0)
    return problem, min_nuclear_norm_psd(problem)


def test_admm_finds_the_least_nuclear_norm_psd_solution(sensing):
    problem, ref = sensing
    assert float((problem.measure(ref) - problem.b).abs().max()) < 1e-8
    assert float(torch.linalg.eigvalsh(ref).min()) > -1e-8
    # With these measurements the low-rank truth is the least-trace PSD solution (exact recovery).
    assert float(torch.linalg.matrix_norm(ref - problem.X_star)) < 1e-6
    assert float(nuclear_norm(min_frobenius_solution(problem))) > 1.3 * float(torch.trace(ref))


def test_sensing_demo_holds_both_reference_norms(sensing):
    problem, ref = sensing
    demo = sensing_demo(d=12, rank=1, seed=0)
    assert torch.equal(demo.problem.b, problem.b) and torch.allclose(demo.reference, ref)
    assert demo.min_nuclear_norm == pytest.approx(float(torch.trace(ref)))
    assert demo.frobenius_nuclear_norm == pytest.approx(float(nuclear_norm(min_frobenius_solution(problem))))


def test_smaller_alpha_comes_closer_to_the_least_nuclear_norm(sensing):
    problem, ref = sensing
    alphas = [1.0, 0.3, 0.1, 0.03, 0.01]
    last = list(factorization_gd(problem, alphas, steps=2000, reference=ref, every=2000))[-1]
    assert np.all(last.loss < 1e-4)  # every run fits the measurements
    assert np.all(np.diff(last.error) < 0), last.error
    assert np.all(np.diff(last.nuclear_norm) < 0), last.nuclear_norm
    assert last.error[-1] < 0.05 and last.error[0] > 1.0
    assert np.all(last.nuclear_norm >= float(torch.trace(ref)) - 1e-3)  # none beats the minimum
    assert last.X.shape == (5, 12, 12)


def test_bad_inputs_to_the_implicit_experiments_are_refused():
    with pytest.raises(ValueError, match="underdetermined"):
        underdetermined_problem(n=10, d=5)
    with pytest.raises(ValueError, match="positive"):
        list(factorization_gd(sensing_problem(d=4, rank=1), [0.0]))
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0], [-2.0, 0.0]])
    with pytest.raises(ValueError, match="not linearly separable"):
        svm_direction(X, np.array([1, 1, -1, -1]))


# -- the tab ---------------------------------------------------------------------------------
def test_alpha_slider_reruns_and_redraws(window, qtbot):
    panel = window.show_panel("implicit")
    qtbot.waitUntil(lambda: bool(panel.ls_zero) and panel.factor_single is not None, timeout=30000)
    assert panel.ls_zero[-1].distance_to_min_norm < 1e-6
    x, _ = panel.ls_d0.getData()
    assert len(x) > 100
    first = panel.factor_single
    panel.pages.setCurrentIndex(2)
    panel.alpha.set_value(1.0)
    qtbot.waitUntil(lambda: panel.factor_single is not first, timeout=30000)
    assert panel.factor_single.alphas[0] == pytest.approx(1.0, rel=0.2)
    assert panel.factor_single.error[0] > first.error[0]  # a larger start lands farther away
    assert panel.factor_marker.value() == pytest.approx(math.log10(panel.alpha.value()))
    qtbot.waitUntil(lambda: len(panel.margin_points) > 20, timeout=30000)
    _, angles = panel.margin_angle.getData()
    assert angles[-1] < angles[0]


def test_headless_writes_the_three_pictures_and_the_numbers(tmp_path):
    from gui.headless import run_headless

    files = run_headless(tmp_path, tab="implicit", quick=True)
    names = {f.name for f in files}
    for stem in ("least-squares", "max-margin", "factorization"):
        png = tmp_path / f"implicit-{stem}.png"
        assert png.name in names and png.stat().st_size > 5_000
    data = json.loads((tmp_path / "implicit.json").read_text())
    assert data["least_squares"]["from_zero_final_distance_to_min_norm"] < 1e-6
    assert data["least_squares"]["random_start_final_distance_to_min_norm"] > 0.1
    with np.load(tmp_path / "implicit.npz", allow_pickle=False) as arrays:
        assert np.all(np.diff(arrays["factor_error"]) > 0)  # alphas ascend: the error grows with α
