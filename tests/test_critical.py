"""Critical points of the 2-D test surfaces, gradient descent near saddles, and the index-vs-loss
picture of a tiny network."""

import numpy as np
import pytest
import torch
from torch.func import grad, hessian

from engine.critical import (
    SURFACES,
    NetworkCriticalConfig,
    SurfaceCriticalPoints,
    SurfaceMap,
    batched_mlp_loss,
    descent_paths,
    find_critical_points,
    network_critical_points,
    network_critical_points_iter,
    point_info,
    saddle_escape,
    start_beside_saddle,
    surface_overview,
)
from engine.hessian import classify_critical_point, last
from engine.progress import Progress

REQUIRED = {"bowl", "saddle", "monkey", "rosenbrock", "himmelblau", "gaussians"}


def test_the_listed_surfaces_are_there():
    assert REQUIRED <= set(SURFACES)
    for s in SURFACES.values():
        z = s(torch.tensor([0.3, -0.2]), torch.tensor([0.1, 0.4]))
        assert z.shape == (2,)  # elementwise on tensors


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_known_critical_points_are_genuine(name):
    """The surface's list is right: ∇f = 0 there and the Hessian's signs give the stated class."""
    s = SURFACES[name]
    f = lambda p: s(p[0], p[1])  # noqa: E731
    for (x, y), kind in s.known:
        p = torch.tensor([x, y], dtype=torch.float64)
        gnorm = float(grad(f)(p).norm())
        scale = float(hessian(f)(p).abs().max()) + 1.0
        assert gnorm < 1e-4 * scale, (name, x, y, gnorm)  # the listed values carry 6 decimals
        assert classify_critical_point(torch.linalg.eigvalsh(hessian(f)(p)).numpy(), tol=1e-6 * scale) == kind


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_known_critical_point_is_found_and_classified(name):
    s = SURFACES[name]
    found = find_critical_points(s, s.bounds, n_starts=64, seed=0)
    assert len(found) == len(s.known), [(c.point, c.kind) for c in found]
    for (x, y), kind in s.known:
        d = [np.hypot(c.point[0] - x, c.point[1] - y) for c in found]
        c = found[int(np.argmin(d))]
        assert min(d) < 1e-5 and c.kind == kind, (name, (x, y), c.point, c.kind)
        assert c.grad_norm < 1e-8 * (1 + np.abs(c.eigenvalues).max())
    values = [c.value for c in found]
    assert values == sorted(values)


def test_monkey_saddle_is_degenerate_with_three_valleys():
    s = SURFACES["monkey"]
    (c,) = find_critical_points(s, s.bounds)
    assert c.kind == "degenerate" and "3 descending valleys" in c.shape


def test_point_info_gives_gradient_and_eigenpairs():
    info = point_info(SURFACES["saddle"], 0.5, 0.25)  # f = x² − y²
    assert np.allclose(info.gradient, [1.0, -0.5])
    assert np.allclose(info.eigenvalues, [-2.0, 2.0])
    assert np.allclose(np.abs(info.eigenvectors), [[0, 1], [1, 0]])


def test_gradient_descent_lingers_at_a_saddle_and_momentum_escapes_sooner():
    s = SURFACES["saddle"]
    run = descent_paths(s, (1.8, 1e-3), lr=0.05, momenta=(0.0, 0.9), steps=300, bounds=s.bounds)
    gd_escape, mom_escape = run.escape_steps((0.0, 0.0), (0.0, 1.0), 0.4)
    # |y| grows by (1 + 2η) = 1.1 a step under GD: 0.001·1.1ᵗ > 0.4 first at t = 63.
    assert gd_escape == 63
    # Momentum's growth rate per step is the larger root of r² − (1 + β + 2η)r + β, 1 + √0.1.
    assert mom_escape is not None and 0.3 < mom_escape / gd_escape < 0.5, (gd_escape, mom_escape)
    # Momentum overshoots the saddle along the stable axis long before it escapes: a ball around
    # the saddle would count that overshoot as an escape.
    dist = np.linalg.norm(run.paths[1], axis=1)
    inside = np.flatnonzero(dist <= 0.4)[0]
    overshoot = inside + np.flatnonzero(dist[inside:] > 0.4)[0]
    assert overshoot < mom_escape / 2 and abs(run.paths[1, overshoot, 1]) < 0.4
    # On the stable manifold itself (y = 0 exactly) plain GD never leaves: it converges to the saddle.
    stuck = descent_paths(s, (1.8, 0.0), lr=0.05, momenta=(0.0,), steps=300)
    assert np.linalg.norm(stuck.paths[0, -1]) < 1e-10 and stuck.escape_steps((0, 0), (0, 1), 0.4) == [None]
    # Runs that leave the widened box stop (NaN) instead of falling forever.
    assert np.isnan(run.paths[:, -1]).all()


def test_surface_overview_yields_the_map_then_the_critical_points():
    s = SURFACES["saddle"]
    first, second = surface_overview(s, res=40, n_starts=16)
    assert isinstance(first, SurfaceMap) and first.Z.shape == (40, 40)
    assert np.allclose(first.Z, first.xs[None, :] ** 2 - first.ys[:, None] ** 2)  # rows along y
    assert isinstance(second, SurfaceCriticalPoints) and [c.kind for c in second.points] == ["saddle"]


def test_saddle_escape_times_the_runs_out_of_the_nearest_saddle():
    s = SURFACES["himmelblau"]
    critical = find_critical_points(s, s.bounds, n_starts=64, seed=0)
    saddle = next(c for c in critical if c.kind == "saddle")
    start = start_beside_saddle(saddle, s.bounds)
    span = max(s.bounds[1] - s.bounds[0], s.bounds[3] - s.bounds[2])
    # Out along the stable axis by 0.15 of the span, a hair along the unstable one.
    assert abs(np.dot(start - saddle.point, saddle.eigenvectors[-1]) - 0.15 * span) < 1e-9
    found = saddle_escape(s, start, 0.005, (0.0, 0.9), 400, critical, 0.1)
    assert np.allclose(found.saddle, saddle.point) and found.threshold == pytest.approx(0.1 * span)
    # The same numbers as timing the runs by hand against that saddle.
    run = descent_paths(s, start, 0.005, (0.0, 0.9), 400, bounds=s.bounds)
    assert found.escapes == run.escape_steps(saddle.point, saddle.eigenvectors[0], 0.1 * span)
    gd, mom = found.escapes
    assert gd is not None and mom is not None and mom < gd
    bowl = SURFACES["bowl"]  # no saddle: nothing to escape
    none = saddle_escape(bowl, (0.5, 0.5), 0.05, (0.0,), 50, [], 0.1)
    assert none.escapes == [None] and none.saddle is None


def test_descent_rejects_bad_settings():
    with pytest.raises(ValueError, match="positive"):
        descent_paths(SURFACES["bowl"], (1, 1), lr=-0.1)
    with pytest.raises(ValueError, match="momentum"):
        descent_paths(SURFACES["bowl"], (1, 1), lr=0.1, momenta=(1.2,))


def test_batched_network_loss_matches_each_network_alone():
    from engine.data import toy_dataset
    from engine.models import mlp
    from engine.params import loss_function

    ds = toy_dataset("moons", n=40, seed=0)
    model = mlp(2, (5,), 2).double()
    X, y = ds.X_train.double(), ds.y_train
    total = batched_mlp_loss(model, X, y, weight_decay=0.01)
    thetas = torch.randn(4, sum(p.numel() for p in model.parameters()), dtype=torch.float64)
    single = loss_function(model, X, y)
    expected = sum(float(single(t)) + 0.005 * float(t @ t) for t in thetas)
    assert abs(float(total(thetas)) - expected) < 1e-10


@pytest.mark.slow
def test_tiny_network_high_loss_critical_points_have_high_index():
    points = network_critical_points(NetworkCriticalConfig(inits=4))
    assert len(points) >= 5
    losses = np.array([p.value for p in points])
    index = np.array([p.index for p in points])
    assert all(p.grad_norm <= 1e-6 for p in points)
    from scipy.stats import spearmanr

    assert spearmanr(losses, index)[0] > 0.7
    low, high = points[0], points[-1]
    assert high.kind == "saddle" and high.index > 0.1 and low.index < high.index / 3
    assert any(p.kind == "minimum" for p in points)
    # The top of the loss range is the symmetric point where the network outputs log 2 everywhere.
    assert abs(high.value - np.log(2)) < 1e-3


def test_network_search_reports_progress_and_can_be_stopped():
    gen = network_critical_points_iter(NetworkCriticalConfig(inits=2, gd_steps=200, newton_iters=10))
    first = next(gen)
    gen.close()
    assert isinstance(first, Progress)
    assert first.total == 210 and "gradient descent" in first.what
    res = last(network_critical_points_iter(NetworkCriticalConfig(inits=2, gd_steps=200, snapshots=3,
                                                                  newton_iters=10)))
    assert res.n_params == 32 and res.n_starts == 2 * 4
