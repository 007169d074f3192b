"""ε-sharpness against its closed form, the batch-size experiment and the edge of stability."""

import numpy as np
import pytest
import torch

from engine.hessian import last
from engine.sharpness import (
    EdgeOfStabilityConfig,
    MinimumReport,
    SharpnessConfig,
    SweepResult,
    batch_size_sweep,
    edge_of_stability,
    epsilon_sharpness,
    keskar_sharpness,
    loss_slice,
    stability_threshold,
)


def test_epsilon_sharpness_of_a_quadratic_is_half_rho_squared_lambda_max():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(40, 40, generator=g, dtype=torch.float64)
    A = M @ M.T / 40
    lam = float(torch.linalg.eigvalsh(A)[-1])

    def L(t):
        return 0.5 * t @ A @ t

    for rho in (0.05, 0.5):
        s = epsilon_sharpness(L, torch.zeros(40, dtype=torch.float64), rho=rho, steps=20)
        assert abs(s - 0.5 * rho**2 * lam) < 0.01 * 0.5 * rho**2 * lam
    with pytest.raises(ValueError, match="rho"):
        epsilon_sharpness(L, torch.zeros(40, dtype=torch.float64), rho=0.0)


def test_keskar_sharpness_is_the_box_maximum_normalised_by_one_plus_the_loss():
    a = torch.linspace(0.5, 3.0, 30, dtype=torch.float64)
    c = torch.linspace(-2.0, 2.0, 30, dtype=torch.float64)

    def L(t):
        return 1.0 + 0.5 * (a * (t - c) ** 2).sum()  # minimum 1 at θ = c

    rho = 1e-3
    # On a separable convex bowl the box's maximum is at a corner: εᵢ = ±ρ(|cᵢ| + 1).
    expected = 100 * 0.5 * float((a * (rho * (c.abs() + 1)) ** 2).sum()) / (1 + 1.0)
    assert keskar_sharpness(L, c, rho=rho, steps=10) == pytest.approx(expected, rel=1e-6)
    # The L2-ball measure is a different number: at most ½ρ²λmax for a ball of the same ρ.
    ball = epsilon_sharpness(L, c, rho=rho, steps=30)
    assert 0.9 * 0.5 * rho**2 * 3.0 < ball <= 0.5 * rho**2 * 3.0 * (1 + 1e-9) and ball < expected / 100
    with pytest.raises(ValueError, match="rho"):
        keskar_sharpness(L, c, rho=-1.0)


def test_loss_slice_is_the_loss_along_a_unit_direction():
    def L(t):
        return (t**2).sum() + t[0]

    theta = torch.tensor([1.0, 2.0], dtype=torch.float64)
    alphas = np.linspace(-1, 1, 5)
    out = loss_slice(L, theta, torch.tensor([0.0, 3.0], dtype=torch.float64), alphas)
    expected = [float(L(theta + torch.tensor([0.0, a], dtype=torch.float64))) for a in alphas]
    assert np.allclose(out, expected)


def test_stability_threshold():
    assert stability_threshold(0.5) == 4.0
    assert abs(stability_threshold(0.1, 0.9) - 38.0) < 1e-12


@pytest.mark.slow
def test_lambda_max_grows_with_batch_size_at_equal_training_loss():
    cfg = SharpnessConfig(batch_sizes=(16, 64, 0), lr=0.2, target_loss=0.1, rho=0.5, max_epochs=1000)
    events = list(batch_size_sweep(cfg))
    result = events[-1]
    assert isinstance(result, SweepResult)
    reps = result.reports
    assert [r.label for r in reps] == ["batch 16", "batch 64", "full batch"]
    assert isinstance(events[-2], MinimumReport)
    # Every run stopped at the same training loss (the first check at or below the target).
    assert all(r.reached_target and 0.08 < r.train_loss <= 0.1 for r in reps)
    lam = [r.lambda_max for r in reps]
    assert lam[0] < lam[1] < lam[2], lam
    assert lam[2] > 2 * lam[0], lam
    assert all(r.lambda_residual < 0.05 * r.lambda_max for r in reps)
    assert reps[2].trace > reps[0].trace and reps[2].eps_sharpness > reps[0].eps_sharpness
    # The slices pass through the stopping point (α = 0, at the training loss), which sits at the
    # bottom of the valley up to the small gradient left when the run stopped.
    for r in reps:
        mid = len(r.slice_alphas) // 2
        assert abs(r.slice_losses[mid] - r.train_loss) < 1e-4
        assert abs(r.slice_alphas[np.argmin(r.slice_losses)]) <= 0.15


@pytest.mark.slow
def test_edge_of_stability_lambda_max_rises_to_two_over_eta():
    cfg = EdgeOfStabilityConfig(steps=600, track_every=20)
    points = list(edge_of_stability(cfg))
    threshold = 2 / cfg.lr
    lam = np.array([p.lambda_max for p in points])
    assert points[0].step == 0 and points[-1].step == 600
    assert lam[0] < 0.6 * threshold  # it starts well below 2/η ...
    assert abs(lam[-1] - threshold) < 0.2 * threshold, (lam[-1], threshold)  # ... and ends at it
    late = lam[len(lam) // 2 :]
    assert np.all(np.abs(late - threshold) < 0.25 * threshold)  # hovering, not passing through
    assert all(p.residual < 1e-2 * p.lambda_max for p in points)


def test_edge_of_stability_generator_stops_when_closed():
    gen = edge_of_stability(EdgeOfStabilityConfig(steps=100, track_every=10))
    first = next(gen)
    gen.close()
    assert first.step == 0 and first.threshold == 4.0


def test_sweep_rejects_bad_settings():
    with pytest.raises(ValueError, match="learning rate"):
        last(batch_size_sweep(SharpnessConfig(lr=-1.0)))
    with pytest.raises(ValueError, match="batch sizes"):
        last(batch_size_sweep(SharpnessConfig(batch_sizes=(-4,))))
