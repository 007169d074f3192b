"""Loss surfaces: directions, batched evaluation, refinement, paths on planes; the Landscape tab live."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine import landscape as ls
from engine.data import Dataset, toy_dataset
from engine.device import intra_op_threads, set_thread_count
from engine.experiment import Experiment, ExperimentConfig
from engine.models import mlp, small_cnn
from engine.params import flat_params, loss_function, set_flat_params


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks: one intra-op thread is fastest, and two thread teams on a busy two-core
    machine slow each other down many times over."""
    with intra_op_threads(1):
        yield


@pytest.fixture(scope="module")
def trained() -> Experiment:
    exp = Experiment(ExperimentConfig(lr=0.3))
    with intra_op_threads(1):  # a tiny network: one thread is fastest, and immune to a busy machine
        for _ in range(200):
            exp.step()
    return exp


def digit_images(n: int = 300) -> Dataset:
    """scikit-learn's 8×8 digits as (N, 1, 8, 8) images, for the CNN."""
    ds = toy_dataset("digits", n=n, noise=0.0, seed=0)
    return Dataset("digit-images", ds.X_train.view(-1, 1, 8, 8), ds.y_train, ds.X_test.view(-1, 1, 8, 8),
                   ds.y_test, 10, (1, 8, 8), ds.class_names)


def _filters(model, vec):
    out, offset = [], 0
    for p in model.parameters():
        n = p.numel()
        out.append(vec[offset : offset + n].view(p.shape))
        offset += n
    return out


# -- directions -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: mlp(2, (16, 16), 2), lambda: small_cnn(1, 10, size=8)])
def test_filter_directions_have_exactly_the_filter_norms_of_theta(make):
    torch.manual_seed(3)
    model = make()
    theta = flat_params(model)
    d = ls.random_direction(model, "filter", seed=7)
    n_filters = 0
    for w, dw in zip(_filters(model, theta), _filters(model, d)):
        if w.dim() <= 1:
            assert torch.count_nonzero(dw) == 0  # biases stay put
            continue
        wn = w.reshape(w.shape[0], -1).norm(dim=1)
        dn = dw.reshape(dw.shape[0], -1).norm(dim=1)
        torch.testing.assert_close(dn, wn, rtol=1e-5, atol=1e-7)
        n_filters += w.shape[0]
    assert n_filters > 30
    # Same seed, same direction; another seed, another one.
    assert torch.equal(d, ls.random_direction(model, "filter", seed=7))
    assert not torch.allclose(d, ls.random_direction(model, "filter", seed=8))


def test_layer_and_unit_normalisations():
    torch.manual_seed(0)
    model = mlp(2, (8, 8), 3)
    theta = flat_params(model)
    d = ls.random_direction(model, "layer", seed=1)
    for w, dw in zip(_filters(model, theta), _filters(model, d)):
        if w.dim() > 1:
            assert abs(float(dw.norm()) - float(w.norm())) < 1e-5 * float(w.norm())
            # Layer normalisation keeps the draw's own filter proportions (not θ's).
            assert not torch.allclose(dw.norm(dim=1), w.norm(dim=1), rtol=1e-2)
        else:
            assert torch.count_nonzero(dw) == 0
    u = ls.random_direction(model, "none", seed=1)
    assert abs(float(u.norm()) - 1.0) < 1e-6 and torch.count_nonzero(u) == u.numel()
    with pytest.raises(ValueError, match="unknown normalisation"):
        ls.random_direction(model, "batch")


def test_orthogonal_directions_are_orthogonalised_after_normalising():
    torch.manual_seed(0)
    model = mlp(2, (16, 16), 2)
    raw1, raw2 = ls.direction_pair(model, "filter", seed=4)
    d1, d2 = ls.orthogonal_directions(model, "filter", seed=4)
    assert torch.equal(d1, raw1) and torch.equal(d1, ls.random_direction(model, "filter", seed=4))
    before = ls.direction_cosine(raw1, raw2)
    assert 1e-4 < abs(before) < 0.5  # random directions are not exactly orthogonal ...
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    _, left = ls.orthogonalise_normalised(model, raw1, raw2, theta, "filter")
    # Re-normalising brings back a little of d₁, far less than the draw had.
    assert abs(ls.direction_cosine(d1, d2)) == pytest.approx(abs(left), abs=1e-7)
    assert abs(left) < 0.05 * abs(before)
    # Each filter of d₂ keeps the norm of θ's filter (Li et al.'s filter normalisation holds).
    offset = 0
    for p in model.parameters():
        n = p.numel()
        if p.dim() > 1:
            w = p.detach().reshape(p.shape[0], -1)
            f = d2[offset : offset + n].reshape(p.shape[0], -1)
            assert torch.allclose(f.norm(dim=1), w.norm(dim=1), rtol=1e-4)
        offset += n
    # Orthogonalising alone (the old way) would have broken that.
    plain = ls.orthogonalise(raw1, raw2)
    w0 = next(model.parameters()).detach()
    f0 = plain[: w0.numel()].reshape(w0.shape[0], -1)
    assert not torch.allclose(f0.norm(dim=1), w0.reshape(w0.shape[0], -1).norm(dim=1), rtol=1e-4)


# -- batched evaluation -------------------------------------------------------------------------
def test_surface_centre_equals_the_loss_at_theta(trained):
    model = trained.model_copy()
    theta = trained.theta()
    L = trained.loss_fn(model)
    d1, d2 = ls.orthogonal_directions(model, theta=theta)
    grid = torch.linspace(-0.8, 0.8, 17)
    Z = ls.loss_surface(L, theta, d1, d2, grid, grid)
    assert Z.shape == (17, 17)
    assert abs(float(Z[8, 8]) - float(L(theta))) <= 1e-6 * float(L(theta))
    line = ls.loss_line(L, theta, d1, grid)
    torch.testing.assert_close(line, Z[:, 8], rtol=1e-6, atol=0)


def test_channels_last_cnn_surface_equals_the_default_layout_point_by_point_and_batched():
    torch.manual_seed(0)
    model = small_cnn(1, 3, 16)
    X, y = torch.randn(6, 1, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2])
    theta = flat_params(model)
    d1, d2 = ls.orthogonal_directions(model, seed=1, theta=theta)
    a, b = torch.linspace(-1.0, 1.0, 3), torch.linspace(-1.0, 1.0, 2)
    reference = ls.loss_surface(loss_function(model, X, y), theta, d1, d2, a, b, chunk=6)
    fast = ls.surface_loss_function(model, X, y)
    for chunk in (1, 4):  # one point per call (channels-last), and batched by vmap (default layout)
        Z = ls.loss_surface(fast, theta, d1, d2, a, b, chunk=chunk)
        assert torch.allclose(Z, reference, rtol=1e-5, atol=1e-6), chunk


def _loop_surface(model: torch.nn.Module, theta, d1, d2, a, b, X, y) -> torch.Tensor:
    """The obvious loop: write θ + α·d₁ + β·d₂ into a copy of the module, one forward per point."""
    loop_model = copy.deepcopy(model)
    Z = torch.empty(len(a), len(b))
    with torch.no_grad():
        for i, ai in enumerate(a):
            for j, bj in enumerate(b):
                set_flat_params(loop_model, theta + ai * d1 + bj * d2)
                Z[i, j] = F.cross_entropy(loop_model(X), y)
    return Z


def _conv_no_pool() -> torch.nn.Module:
    """A first convolution followed by a ReLU but no max-pool, then a dense head."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(5 * 5 * 5, 4))


class _InputSkip(torch.nn.Module):
    """The input is read twice (a skip around the first convolution): not a chain, no cut."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.head = torch.nn.Linear(3 * 10 * 10, 4)

    def forward(self, x):
        return self.head((x + torch.relu(self.conv(x))).flatten(1))


def _conv_batch_norm() -> torch.nn.Module:
    """Batch normalisation after the first convolution, in training mode: batch statistics; its
    ReLU → max-pool pair is taken pool first in the rest."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3)))


@pytest.mark.parametrize("make, shape, split", [
    (lambda: small_cnn(1, 3, 16), (1, 16, 16), (True, True)),  # conv → ReLU → 2×2 max-pool: all cut
    (_conv_no_pool, (3, 10, 10), (True, False)),
    (_InputSkip, (3, 10, 10), None),
    (_conv_batch_norm, (1, 8, 8), (False, False)),  # blocks would change the batch statistics: one block
])
def test_plane_loss_surface_equals_the_per_point_loop(make, shape, split, monkeypatch):
    torch.manual_seed(0)
    model = make()
    n = 7
    X, y = torch.randn(n, *shape), torch.randint(0, 3, (n,))
    theta = flat_params(model)
    d1, d2 = ls.orthogonal_directions(model, "layer", seed=3, theta=theta)
    d1 = d1 + 0.1 * torch.randn_like(d1)  # biases move too, so the first layer's bias path counts
    a, b = torch.linspace(-1.0, 1.0, 4), torch.linspace(-0.5, 1.5, 3)
    # Blocks of 3 images through the rest and 2 images per first-layer product: every block
    # boundary (and a short last block) is crossed.
    monkeypatch.setattr(ls, "_REST_BLOCK_FLOATS", 3 * ls._activation_floats(model, X))
    monkeypatch.setattr(ls, "_CUT_BLOCK_FLOATS", 2 * 16 * 16 * 16)
    L = ls.surface_loss_function(model, X, y)
    assert isinstance(L, ls.PlaneLoss)
    assert (None if L.split is None else (L.split.relu, L.split.pool)) == split
    Z_loop = _loop_surface(model, theta, d1, d2, a, b, X, y)
    for chunk in (1, 5):
        Z = ls.loss_surface(L, theta, d1, d2, a, b, chunk=chunk)
        torch.testing.assert_close(Z, Z_loop, rtol=1e-5, atol=1e-6)
    set_thread_count(2)  # two worker threads, each on its share of the image blocks
    try:
        Z = ls.loss_surface(L, theta, d1, d2, a, b, chunk=1)
    finally:
        set_thread_count(1)
    torch.testing.assert_close(Z, Z_loop, rtol=1e-5, atol=1e-6)
    if L.split is not None and not L._batch_statistics:
        assert len(L._blockwise) == 2  # the two workers did run
    line = ls.loss_line(L, theta, d2, b)
    torch.testing.assert_close(line, _loop_surface(model, theta, d1, d2, torch.zeros(1), b, X, y)[0],
                               rtol=1e-5, atol=1e-6)
    # The plain call (used by gradients and Hessian axes) is the same function.
    assert abs(float(L(theta)) - float(loss_function(model, X, y)(theta))) <= 1e-5 * float(L(theta))


def test_building_a_cnn_surface_leaves_a_network_training_in_another_thread_alone():
    """The Landscape tab builds a surface's loss while the MRI CNN trains in another thread: the
    training must not notice (a tracer that swapped `nn.Module.__call__` process-wide made the
    training step fail with "module is not installed as a submodule")."""
    import sys
    import threading

    torch.manual_seed(0)
    trained, other = small_cnn(1, 3, 16), small_cnn(1, 3, 16)
    X, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 0])
    errors: list[BaseException] = []
    stop = threading.Event()

    def train():
        try:
            while not stop.is_set():
                F.cross_entropy(trained(X), y).backward()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often, as in the window (0.5 ms there)
    thread = threading.Thread(target=train)
    thread.start()
    try:
        for _ in range(30):
            L = ls.surface_loss_function(other, X, y)
            assert L.split is not None and (L.split.relu, L.split.pool) == (True, True)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert not errors, errors[0]


def test_max_pool_before_relu_and_as_pairwise_maxima_is_the_pooling_layer():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 8, 10).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(ls._max_pool_2x2(x), F.max_pool2d(x, 2), rtol=0, atol=0)
    torch.testing.assert_close(torch.relu(ls._max_pool_2x2(x)), F.max_pool2d(torch.relu(x), 2), rtol=0, atol=0)
    odd = torch.randn(2, 4, 7, 6)  # odd height, default layout: the pooling layer itself
    torch.testing.assert_close(ls._max_pool_2x2(odd), F.max_pool2d(odd, 2), rtol=0, atol=0)


def test_batched_surface_equals_the_per_point_loop(trained):
    model = trained.model_copy()
    theta = trained.theta()
    X, y = trained.trainer.X_train, trained.trainer.y_train
    d1, d2 = ls.orthogonal_directions(model, seed=2, theta=theta)
    a = torch.linspace(-1.0, 1.0, 13)
    b = torch.linspace(-0.5, 1.5, 9)
    Z = ls.loss_surface(trained.loss_fn(model), theta, d1, d2, a, b, chunk=20)  # chunks split rows
    Z_loop = _loop_surface(trained.model_copy(), theta, d1, d2, a, b, X, y)  # the loop it replaces
    rel = ((Z - Z_loop).abs() / Z_loop.abs()).max()
    assert rel < 1e-5, rel
    assert float(Z.max() - Z.min()) > 0.1  # a real surface, not a constant


def test_refinement_goes_coarse_to_fine_and_ends_at_the_full_surface(trained):
    assert ls.refinement_strides(41, 41) == [4, 2, 1]
    assert ls.refinement_strides(101, 101) == [4, 2, 1]
    assert ls.refinement_strides(21, 21) == [2, 1]
    assert ls.refinement_strides(40, 40) == [1]
    model = trained.model_copy()
    theta = trained.theta()
    L = trained.loss_fn(model)
    d1, d2 = ls.orthogonal_directions(model, theta=theta)
    grid = torch.linspace(-1, 1, 41)
    items = list(ls.surface_levels(L, theta, d1, d2, grid, grid, chunk=300))
    grids = [i for i in items if isinstance(i, ls.SurfaceGrid)]
    assert [g.Z.shape for g in grids] == [(11, 11), (21, 21), (41, 41)]
    assert grids[-1].final and not grids[0].final
    full = ls.loss_surface(L, theta, d1, d2, grid, grid).numpy()
    np.testing.assert_array_equal(grids[-1].Z, full)
    np.testing.assert_array_equal(grids[0].Z, full[::4, ::4])  # the coarse grid is a sub-grid
    np.testing.assert_array_equal(grids[0].alphas, grid.numpy()[::4])
    progress = [i for i in items if isinstance(i, ls.SurfaceProgress)]
    assert progress[-1].done == 41 * 41  # every point computed once, none twice
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    # Cancellable between chunks: closing the generator stops it there.
    gen = ls.surface_levels(L, theta, d1, d2, grid, grid, chunk=50)
    first = next(gen)
    gen.close()
    assert isinstance(first, ls.SurfaceProgress) and first.done == 50


# -- paths and planes -------------------------------------------------------------------------
def test_a_path_in_a_plane_projects_onto_it_exactly():
    g = torch.Generator().manual_seed(0)
    P = 500
    centre = torch.randn(P, generator=g)
    u, v = torch.linalg.qr(torch.randn(P, 2, generator=g))[0].T
    t = torch.linspace(0, 1, 60)
    coords = torch.stack([3 * torch.cos(4 * t) * (1 - t), 2 * torch.sin(5 * t)], 1)  # a curved path
    path = centre + coords[:, :1] * u + coords[:, 1:] * v
    d1, d2, explained = ls.pca_directions(path, center=centre)
    assert abs(explained.sum() - 1.0) < 1e-6 and explained[0] >= explained[1] > 0.05
    xy = ls.project_trajectory(path, centre, d1, d2)
    rebuilt = centre.double() + torch.from_numpy(xy) @ torch.stack([d1, d2]).double()
    assert float((rebuilt - path.double()).abs().max()) < 1e-5
    proj = ls.path_projection(path, np.arange(60), centre, d1, d2)
    assert proj.off_plane.max() < 1e-5 and abs(proj.explained - 1.0) < 1e-9
    # In the basis it was drawn in, the path has exactly its drawing coordinates.
    np.testing.assert_allclose(ls.project_trajectory(path, centre, u, v), coords.numpy(), atol=1e-5)
    # And a path that leaves the plane says how far.
    lifted = path.clone()
    w = torch.randn(P, generator=g)
    w = w - (w @ u) * u - (w @ v) * v
    lifted[-1] += 2.0 * w / w.norm()
    off = ls.path_projection(lifted, np.arange(60), centre, u, v)
    assert abs(off.off_plane[-1] - 2.0) < 1e-5 and off.explained < 1.0


def test_pca_of_a_straight_path_finds_its_direction_and_sign():
    g = torch.Generator().manual_seed(1)
    start, end = torch.randn(50, generator=g), torch.randn(50, generator=g)
    path = torch.stack([start + s * (end - start) for s in torch.linspace(0, 1, 10)])
    d1, d2, explained = ls.pca_directions(path)  # centred at the last point
    direction = (start - end) / (start - end).norm()
    assert explained[0] > 1 - 1e-9 and explained[1] < 1e-9
    assert float(d1 @ direction) > 1 - 1e-6  # the first snapshot has a positive coordinate
    assert abs(float(d1 @ d2)) < 1e-6 and abs(float(d2.norm()) - 1) < 1e-6
    with pytest.raises(ValueError, match="has not moved"):
        ls.pca_directions(torch.zeros(5, 10))


def test_fitted_span_holds_the_path_and_stays_put_while_it_grows():
    """'Fit path': the grid holds the path with a 20% margin, and a live surface keeps its range
    over many refreshes while the path grows (its axes do not move at every one)."""
    spans = []
    for m in np.geomspace(0.05, 40.0, 400):  # the path's reach growing 1.7% per refresh
        p = ls.PathProjection(steps=np.arange(2), coords=np.array([[0.0, 0.0], [m, -0.5 * m]]),
                              in_plane=np.zeros(2), off_plane=np.zeros(2), explained=1.0)
        span = ls.fit_span(p)
        assert 1.2 * m <= span <= 1.2 * m * 1.34, (m, span)
        spans.append(span)
    changes = int(np.count_nonzero(np.diff(spans)))
    assert changes < 40, f"the range moved at {changes} of 399 refreshes"


def test_path_recorder_thins_evenly_and_keeps_start_and_newest():
    rec = ls.PathRecorder(max_points=16)
    for step in range(1000):
        rec.add(step, np.full(3, float(step), dtype=np.float32))
    steps, thetas = rec.snapshot()
    assert 8 <= len(steps) <= 16 and steps[0] == 0 and steps[-1] == 999
    assert all(float(t[0]) == s for s, t in zip(steps, thetas))
    gaps = np.diff(steps)
    assert gaps.max() <= 3 * np.median(gaps)  # even over the run, not crowded at its end
    rec.add(5, np.zeros(3, dtype=np.float32))  # time went backwards: a new run
    assert list(rec.snapshot()[0]) == [5]


def test_trained_theta_sits_at_the_bottom_of_its_surface_and_initial_theta_does_not():
    """The lesson's late-vs-early picture, as numbers: after training θ is the lowest point of its
    filter-normalised plane and the surface around it curves up in every direction; at θ₀ the
    plane holds clearly lower points."""
    exp = Experiment(ExperimentConfig(lr=0.3))
    model = exp.model_copy()
    grid = torch.linspace(-0.5, 0.5, 21)

    def picture():
        theta = exp.theta()
        d1, d2 = ls.orthogonal_directions(model, seed=0, theta=theta)
        return ls.loss_surface(exp.loss_fn(model), theta, d1, d2, grid, grid)

    early = picture()
    for _ in range(1000):
        exp.step()
    late = picture()

    def above_lowest(Z):  # how far the centre θ lies above the plane's lowest point, relatively
        return float(Z[10, 10] - Z.min()) / float(Z[10, 10])

    assert above_lowest(early) > 0.02
    assert above_lowest(late) < 1e-4
    inner = late[5:16, 5:16]
    lap = inner[2:, 1:-1] + inner[:-2, 1:-1] + inner[1:-1, 2:] + inner[1:-1, :-2] - 4 * inner[1:-1, 1:-1]
    assert float((lap > 0).float().mean()) > 0.9  # convex near the minimum


# -- the live computation, on an image CNN --------------------------------------------------------
def test_landscape_events_on_an_image_cnn_use_a_fixed_subset():
    torch.manual_seed(0)
    ds = digit_images()
    model = small_cnn(1, 10, size=8)
    for p in model.parameters():
        p.requires_grad_(False)
    theta = flat_params(model)
    data = ls.LandscapeData.from_split(model, ds.X_train, ds.y_train, ds.X_test, ds.y_test, max_samples=64)
    assert len(data.y) == 64 and data.n_train_total == len(ds.y_train)
    assert data.samples_used() == ls.SamplesUsed(64, len(ds.y_train))
    chunk = ls.points_per_chunk(model, data.X)
    assert 1 <= chunk < ls.default_chunk(theta.numel()) * 8
    settings = ls.LandscapeSettings(resolution=21)
    path = [theta.numpy() + 0.01 * k for k in range(4)]
    events = list(ls.landscape_events(data, theta, settings, np.arange(4), path, step=3))
    kinds = [next(k for k in ("plane", "path", "span", "grid", "progress", "lines") if getattr(e, k) is not None)
             for e in events]
    assert kinds[:4] == ["plane", "path", "span", "progress"] and kinds[-1] == "lines"
    grids = [e.grid for e in events if e.grid is not None]
    assert [g.Z.shape for g in grids] == [(11, 11), (21, 21)]
    assert [e.roughness for e in events if e.grid is not None] == [ls.roughness(g.Z) for g in grids]
    L = loss_function(model, data.X, data.y)
    assert abs(float(grids[-1].Z[10, 10]) - float(L(theta))) < 1e-5 * float(L(theta))
    assert events[0].plane.axes == "filter" and abs(events[0].plane.cosine) < 0.1
    lines = events[-1].lines  # 1-D profiles: the grid's centre column and row, plus the test loss
    np.testing.assert_array_equal(lines.train_d1, grids[-1].Z[:, 10])
    np.testing.assert_array_equal(lines.train_d2, grids[-1].Z[10, :])
    Lt = loss_function(model, data.X_test, data.y_test)
    assert abs(float(lines.test_d1[10]) - float(Lt(theta))) < 1e-5 * float(Lt(theta))
    contours = [e.contours for e in events if e.grid is not None][-1]
    assert contours.log_scale and len(contours.levels) == 9 and len(contours.segments) > 20


def test_hessian_axes_are_the_top_eigenvectors():
    pytest.importorskip("engine.hessian")
    torch.manual_seed(0)
    model = mlp(2, (6,), 2)
    ds = toy_dataset("moons", n=100)
    L = loss_function(model, ds.X_train, ds.y_train)
    theta = flat_params(model)
    d1, d2, vals = ls.hessian_directions(L, theta, seed=0, iters=200)
    H = torch.autograd.functional.hessian(L, theta)
    evals, evecs = torch.linalg.eigh(H.double())
    assert abs(vals[0] - float(evals[-1])) < 1e-3 * abs(float(evals[-1]))
    assert abs(float(d1.double() @ evecs[:, -1])) > 0.99 and abs(float(d2.double() @ evecs[:, -2])) > 0.99
    assert ls.hessian_available()


def test_intra_op_threads_restores_the_setting():
    before = torch.get_num_threads()
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# -- the Landscape tab, live --------------------------------------------------------------------
def _show(window, qtbot):
    panel = window.show_panel("landscape")
    qtbot.waitUntil(lambda: panel.surfaces_done >= 1 and not panel.busy, timeout=20000)
    return panel


def test_live_surface_follows_training_and_pause_stops_it(window, qtbot):
    from conftest import wait_idle
    from PySide6 import QtCore

    lab = window.lab
    panel = _show(window, qtbot)
    assert panel._grid.Z.shape == (41, 41)
    # The event loop must stay responsive: time the gaps between ticks of a 20 ms timer.
    ticks: list[float] = []
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    start_surfaces, start_frames = panel.surfaces_done, len(lab.history.steps)
    lab.play()
    qtbot.waitUntil(lambda: panel.surfaces_done >= start_surfaces + 2, timeout=20000)
    t0, n0 = time.perf_counter(), panel.surfaces_done
    qtbot.wait(3000)
    rate = (panel.surfaces_done - n0) / (time.perf_counter() - t0)
    timer.stop()
    gaps = np.diff(ticks)
    print(f"\nlive 41×41 surfaces per second while training: {rate:.2f}; "
          f"longest event-loop gap {1000 * gaps.max():.0f} ms; {lab.experiment.step_count} steps")
    assert len(lab.history.steps) > start_frames  # training went on meanwhile
    # The target is ≥ 2 per second on an idle 2-core machine (benchmarks/landscape_live.py measures
    # it); this bound leaves room for a loaded test machine while still catching a stalled loop.
    assert rate >= 0.5
    assert gaps.max() < 1.0
    assert panel._plane is not None and panel._plane.step > 0  # re-centred on a later θ
    lab.pause()
    wait_idle(qtbot, lab)
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    done = panel.surfaces_done
    qtbot.wait(600)
    assert panel.surfaces_done == done  # paused: no more refreshes


def test_fixed_plane_keeps_its_surface_while_the_path_grows(window, qtbot):
    from conftest import wait_idle

    lab = window.lab
    panel = _show(window, qtbot)
    panel.apply_options({"mode": "fixed", "axes": "filter"})
    qtbot.waitUntil(lambda: panel._grid is not None and panel._plane is not None and not panel.busy,
                    timeout=20000)
    grid, plane = panel._grid, panel._plane
    lab.play(max_steps=150)
    wait_idle(qtbot, lab)
    qtbot.waitUntil(lambda: not panel.busy and panel._projection is not None
                    and panel._projection.steps[-1] == lab.experiment.step_count, timeout=10000)
    assert panel._grid is grid and panel._plane is plane  # the plane stayed
    assert len(panel._projection.steps) > 3
    x, _ = panel.path_line.getData()
    assert len(x) == len(panel._projection.steps)
    assert "off the plane" in panel.caption.text() or "lies in the plane" in panel.caption.text()


def test_pca_plane_waits_for_a_path_then_reports_explained_variance(window, qtbot):
    from conftest import wait_idle

    lab = window.lab
    panel = _show(window, qtbot)
    panel.apply_options({"axes": "pca", "mode": "fixed", "range": "fit"})
    qtbot.waitUntil(lambda: "No training path yet" in panel.caption.text(), timeout=20000)
    lab.play(max_steps=200)
    wait_idle(qtbot, lab)
    panel.recentre.click()  # fit the plane to the whole path
    qtbot.waitUntil(lambda: panel._plane is not None and panel._plane.axes == "pca" and not panel.busy
                    and panel._grid is not None, timeout=20000)
    assert "PC1" in panel.caption.text()
    assert panel._plane.explained.sum() > 0.5
    # Range "fit path": the grid holds the whole projected path.
    assert np.abs(panel._projection.coords).max() <= panel._span


def test_divergence_is_shown_and_reset_clears_it(window, qtbot):
    from conftest import wait_idle

    lab = window.lab
    panel = _show(window, qtbot)
    lab.set_hparams(lr=1000.0)
    lab.play()
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.diverged, timeout=20000)
    assert panel.banner.isVisible() and "diverged" in panel.banner.text()
    assert np.isfinite(panel._grid.Z).all()  # the last surface stays, made of finite weights
    lab.set_hparams(lr=0.1)
    lab.reset()
    wait_idle(qtbot, lab)
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    assert not panel.banner.isVisible() and len(panel.recorder) == 1


def test_image_cnn_evaluates_a_subset_shows_progress_and_cancels(window, qtbot):
    from conftest import wait_idle

    from engine.experiment import DATASET_BUILDERS

    DATASET_BUILDERS["digit-images"] = lambda cfg: digit_images(600)
    try:
        lab = window.lab
        from dataclasses import replace

        lab.apply_config(replace(lab.experiment.config, dataset="digit-images", batch_size=32))
        qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.dataset.name == "digit-images",
                        timeout=20000)
        assert lab.experiment.n_params > 50_000
        panel = window.panel("landscape")
        assert panel.samples.value() == 128 and panel.resolution.currentData() == 21  # big-model defaults
        panel.samples.setValue(48)  # smaller still, to keep the test short
        window.show_panel("landscape")
        qtbot.waitUntil(lambda: panel.surfaces_done >= 1 and not panel.busy, timeout=60000)
        assert "a fixed subset of 48 of 420 training samples" in panel.caption.text()
        panel.resolution.setCurrentIndex(panel.resolution.findData(101))
        qtbot.waitUntil(lambda: panel.progress.isVisible(), timeout=10000)
        assert panel.cancel.isVisible()
        panel.cancel.click()
        qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
        assert not panel.live.isChecked() and not panel.progress.isVisible()
        assert panel._grid.Z.shape == (21, 21)  # the finished surface stays
        wait_idle(qtbot, lab)
    finally:
        DATASET_BUILDERS.pop("digit-images", None)


def test_3d_view_hides_itself_without_opengl(window, qtbot, monkeypatch):
    import gui.panels.landscape as landscape_panel

    # Offscreen Qt has OpenGL only where an X display lends it one (CI's Xvfb does): the display
    # is made to refuse, whatever this machine has.
    monkeypatch.setattr(landscape_panel, "opengl_problem", lambda: "this display offers no OpenGL")
    panel = _show(window, qtbot)
    assert panel.view3d.isHidden() and not panel.gl_note.isHidden()
    assert "OpenGL" in panel.gl_note.text() + panel.gl_note.toolTip()


def test_hessian_axes_are_offered_only_with_the_curvature_module(window):
    panel = window.panel("landscape")
    item = panel.axes.model().item(panel.axes.findData("hessian"))
    assert item.isEnabled() == ls.hessian_available()
    if not item.isEnabled():
        assert "curvature module" in item.toolTip()


def test_headless_writes_the_surface_with_its_path(tmp_path):
    import json

    from gui.headless import run_headless

    files = run_headless(tmp_path, tab="landscape", quick=True, steps=120)
    png = tmp_path / "landscape.png"
    assert png in files and png.stat().st_size > 20_000
    with np.load(tmp_path / "landscape.npz", allow_pickle=False) as z:
        loss, coords = z["loss"], z["path_coords"]
        assert loss.shape[0] == loss.shape[1] >= 21 and np.isfinite(loss).all()
        assert coords.shape[1] == 2 and len(coords) > 20
        assert np.abs(coords).max() <= float(z["alphas"].max()) + 1e-9  # the whole path is on the map
    meta = json.loads((tmp_path / "landscape.json").read_text())
    assert meta["plane"].startswith("PCA of the training path")
    assert meta["path_explained"] > 0.5


def test_pca_plane_is_centred_as_li_et_al():
    """A path that varies along e₂ and e₃ far from the origin: centred PCA finds e₂, e₃; the
    uncentred decomposition is pulled towards the offset e₁."""
    g = torch.Generator().manual_seed(3)
    t = torch.linspace(-1, 1, 40)
    e = torch.eye(6)
    path = 10 * e[0] + t[:, None] * e[1] + 0.4 * torch.cos(torch.pi * t)[:, None] * e[2] \
        + 1e-4 * torch.randn(40, 6, generator=g)
    zero = torch.zeros(6)
    d1, d2, explained = ls.pca_directions(path, center=zero)
    assert abs(float(d1 @ e[1])) > 0.999 and abs(float(d2 @ e[2])) > 0.99
    assert abs(explained.sum() - 1.0) < 1e-3
    u1, _, u_explained = ls.pca_directions(path, center=zero, centred=False)
    assert abs(float(u1 @ e[0])) > 0.99 and u_explained[0] > 0.9
