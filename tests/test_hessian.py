"""Hessian-vector products, the full Hessian, Lanczos, SLQ and Hutchinson against closed forms
and against `torch.linalg.eigvalsh`."""

import numpy as np
import pytest
import torch
from torch.func import grad

from engine.data import toy_dataset
from engine.hessian import (
    HessianOperator,
    bottom_eigenvalues,
    classify_critical_point,
    eigen_residuals,
    eigenpairs,
    eigenpairs_iter,
    full_hessian,
    hessian_trace,
    hvp,
    power_iteration,
    slq_nodes,
    spectral_density,
    top_eigenvalues,
)
from engine.models import mlp, small_cnn
from engine.params import flat_params, loss_function
from engine.progress import Progress
from engine.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def trained_mlp():
    """A 2-16-16-2 tanh network after 150 SGD steps on moons, in float64 (so eigvalsh is a sharp
    reference): its Hessian has both signs."""
    ds = toy_dataset("moons", n=300, noise=0.2, seed=0)
    torch.manual_seed(0)
    model = mlp(2, [16, 16], 2)
    trainer = Trainer(model, ds, TrainConfig(lr=0.3, batch_size=32, device="cpu"))
    for _ in range(150):
        trainer.step()
    model = model.double()
    for p in model.parameters():
        p.requires_grad_(False)
    L = loss_function(model, ds.X_train.double(), ds.y_train)
    theta = flat_params(model)
    H = torch.func.hessian(L)(theta)  # an independent reference (jacfwd of jacrev)
    return L, theta, H, torch.linalg.eigvalsh(H)


def test_hessian_of_a_quadratic_is_its_matrix():
    g = torch.Generator().manual_seed(1)
    M = torch.randn(30, 30, generator=g, dtype=torch.float64)
    A = (M + M.T) / 2  # indefinite on purpose
    theta = torch.randn(30, generator=g, dtype=torch.float64)

    def L(t):
        return 0.5 * t @ A @ t

    assert torch.allclose(full_hessian(L, theta), A, atol=1e-12)
    V = torch.randn(5, 30, generator=g, dtype=torch.float64)
    assert torch.allclose(hvp(L, theta, V), V @ A, atol=1e-12)
    assert torch.allclose(hvp(L, theta, V[0], mode="forward"), A @ V[0], atol=1e-12)


def test_hvp_equals_finite_differences(trained_mlp):
    L, theta, _, _ = trained_mlp
    g = torch.Generator().manual_seed(2)
    v = torch.randn(theta.numel(), generator=g, dtype=torch.float64)
    v /= v.norm()
    eps = 1e-5
    gradient = grad(L)
    fd = (gradient(theta + eps * v) - gradient(theta - eps * v)) / (2 * eps)
    for mode in ("reverse", "forward"):
        hv = hvp(L, theta, v, mode=mode)
        assert float((hv - fd).norm() / fd.norm()) < 1e-7, mode


def test_mse_loss_falls_back_to_reverse_mode():
    ds = toy_dataset("moons", n=60, seed=0)
    torch.manual_seed(0)
    model = mlp(2, [8], 2)
    L = loss_function(model, ds.X_train, ds.y_train, "mse")
    theta = flat_params(model)
    op = HessianOperator(L, theta, mode="forward")
    V = torch.randn(3, theta.numel())
    out = op(V)  # PyTorch's mse_loss has no forward-over-reverse rule
    assert op.mode == "reverse"
    ref = HessianOperator(L, theta, mode="reverse")(V)
    assert torch.allclose(out, ref) and op.matvecs == 3


def test_full_hessian_matches_autograd_and_is_batched(trained_mlp):
    L, theta, H, _ = trained_mlp
    assert torch.allclose(full_hessian(L, theta, chunk=50), H, atol=1e-10)


def test_full_hessian_refuses_large_models_and_names_the_iterative_methods(trained_mlp):
    L, theta, _, _ = trained_mlp
    with pytest.raises(ValueError, match="top_eigenvalues.*spectral_density"):
        full_hessian(L, theta, max_params=100)


@pytest.mark.parametrize("which", ["top", "bottom"])
def test_lanczos_extreme_eigenpairs_equal_eigvalsh(trained_mlp, which):
    L, theta, H, exact = trained_mlp
    k = 3
    ref = exact.flip(0)[:k] if which == "top" else exact[:k]
    fn = top_eigenvalues if which == "top" else bottom_eigenvalues
    values, vectors = fn(L, theta, k=k, iters=100, tol=1e-6)
    assert values.shape == (k,) and vectors.shape == (k, theta.numel())
    rel = ((values - ref).abs() / ref.abs()).max()
    assert float(rel) < 1e-4, (values, ref)
    assert float(exact[-1]) > 0 > float(exact[0])  # the check covers both signs
    # The reported residuals are the true ‖Hv − λv‖, measured independently with the matrix.
    r = eigenpairs(L, theta, k=k, which=which, iters=100, tol=1e-6)
    true = (r.vectors @ H - r.values[:, None] * r.vectors).norm(dim=1)
    assert torch.allclose(r.residuals, true, atol=1e-9)
    assert torch.allclose(eigen_residuals(L, theta, r.values, r.vectors), true, atol=1e-9)
    assert float(r.residuals.max()) < 1e-4 * float(exact.abs().max()) and r.converged


def test_stopping_on_ritz_values_gives_the_eigenvalues_with_no_extra_products(trained_mlp):
    L, theta, H, exact = trained_mlp
    for which, ref in (("top", exact.flip(0)[:3]), ("bottom", exact[:3])):
        r = eigenpairs(L, theta, k=3, which=which, iters=200, tol=1e-8, criterion="value")
        assert r.converged and float(((r.values - ref).abs() / ref.abs()).max()) < 1e-5, (r.values, ref)
        assert r.matvecs == r.iterations  # the residuals are Lanczos's estimates, not fresh products
        true = (r.vectors @ H - r.values[:, None] * r.vectors).norm(dim=1)
        assert torch.allclose(r.residuals, true, rtol=1e-3, atol=1e-9)
    with pytest.raises(ValueError, match="criterion"):
        eigenpairs(L, theta, criterion="change")


def test_products_through_the_kept_gradient_graph_equal_fresh_ones(trained_mlp):
    L, theta, H, _ = trained_mlp
    V = torch.randn(4, theta.numel(), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for chunk in (None, 1, 3):
        op = HessianOperator(L, theta, mode="reverse", chunk=chunk)  # "auto" takes the layer-wise path
        assert torch.allclose(op(V), V @ H, atol=1e-10) and op._graph is not None, chunk
    fresh = torch.stack([torch.func.vjp(grad(L), theta)[1](v)[0] for v in V])
    assert torch.allclose(HessianOperator(L, theta)(V), fresh, atol=1e-12)
    # Inside a torch.func transform the kept graph cannot serve; the per-call products take over.
    under_vmap = torch.func.vmap(lambda v: hvp(L, theta, v))(V)
    assert torch.allclose(under_vmap, V @ H, atol=1e-10)


def test_hutchinson_on_given_probes_is_their_mean_quadratic_form(trained_mlp):
    L, theta, H, _ = trained_mlp
    V = (torch.randint(0, 2, (7, theta.numel()), generator=torch.Generator().manual_seed(3)) * 2 - 1).double()
    expected = float(torch.einsum("np,pq,nq->n", V, H, V).mean())
    for chunk in (None, 1, 4):
        assert abs(hessian_trace(L, theta, probes=V, chunk=chunk) - expected) < 1e-9 * abs(expected), chunk


def test_lanczos_stops_early_and_yields_progress(trained_mlp):
    L, theta, _, exact = trained_mlp
    steps = [s.done for s in eigenpairs_iter(L, theta, k=1, which="top", iters=200, tol=1e-4)
             if isinstance(s, Progress)]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) < 60  # top-1 converges fast
    r = eigenpairs(L, theta, k=1, tol=1e-4)
    warm = eigenpairs(L, theta, k=1, tol=1e-4, start=r.vectors[0])
    assert warm.iterations < r.iterations  # a warm start (the last eigenvector) saves steps
    assert abs(float(warm.values[0] - exact[-1])) < 1e-4 * float(exact[-1])


def test_power_iteration_agrees_but_needs_more_products(trained_mlp):
    L, theta, _, exact = trained_mlp
    p = power_iteration(L, theta, tol=1e-6)
    lz = eigenpairs(L, theta, k=1, tol=1e-6)
    assert p.converged and abs(float(p.values[0] - exact[-1])) < 1e-5 * float(exact[-1])
    assert lz.matvecs < p.matvecs


def test_slq_density_integrates_to_one_and_sits_on_the_eigenvalues(trained_mlp):
    L, theta, _, exact = trained_mlp
    lam = exact.numpy()
    grid, density = spectral_density(L, theta, n_probes=8, lanczos_steps=60, grid_size=2000)
    dx = np.diff(grid)
    assert abs(float(np.sum((density[1:] + density[:-1]) * dx) / 2) - 1.0) < 1e-9
    # Compare distribution functions: the SLQ measure against the exact eigenvalue counts.
    cdf_slq = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) * dx / 2)])
    cdf_exact = np.searchsorted(np.sort(lam), grid, side="right") / len(lam)
    spread = lam.max() - lam.min()
    w1 = float(np.sum(np.abs(cdf_slq - cdf_exact)[:-1] * dx)) / spread  # Wasserstein-1 / spread
    assert w1 < 0.03, w1
    # The extremes of the support are the extreme eigenvalues, and the negative mass is there.
    q = slq_nodes(L, theta, n_probes=8, lanczos_steps=60)
    assert abs(q.top_value - lam[-1]) < 1e-6 * spread and abs(q.bottom_value - lam[0]) < 1e-3 * spread
    exact_neg = float((lam < -0.01 * np.abs(lam).max()).mean())
    assert abs(q.negative_fraction(0.01 * np.abs(lam).max()) - exact_neg) < 0.1


def test_hutchinson_trace_within_five_percent(trained_mlp):
    L, theta, H, _ = trained_mlp
    exact = float(torch.trace(H))
    est = hessian_trace(L, theta, n_probes=4000, seed=0, chunk=500)
    assert abs(est - exact) < 0.05 * abs(exact), (est, exact)


def test_classify_critical_point():
    assert classify_critical_point([1.0, 2.0]) == "minimum"
    assert classify_critical_point(torch.tensor([-1.0, -3.0])) == "maximum"
    assert classify_critical_point([-1.0, 0.0, 2.0]) == "saddle"
    assert classify_critical_point([0.0, 2.0]) == "degenerate"
    assert classify_critical_point([1e-9, 1.0], tol=1e-6) == "degenerate"
    with pytest.raises(ValueError):
        classify_critical_point([float("nan")])


def test_cnn_spectrum_by_lanczos_on_image_subset_with_progress_and_cancel():
    """The image CNN path: SLQ on a fixed subset, progress at every Lanczos step, stoppable."""
    from engine.spectrum import SpectrumSettings, SpectrumSnapshot, spectrum_snapshot

    ds = toy_dataset("digits", n=300, seed=0)
    X, y = ds.X_train.reshape(-1, 1, 8, 8)[:32], ds.y_train[:32]
    torch.manual_seed(0)
    model = small_cnn(1, 10, size=8)
    for p in model.parameters():
        p.requires_grad_(False)
    theta = flat_params(model)
    settings = SpectrumSettings(image_probes=2, image_lanczos_steps=12)
    items = list(spectrum_snapshot(model, X, y, theta.numpy(), 7, settings))
    progress = [i for i in items if isinstance(i, Progress)]
    snap = items[-1]
    assert isinstance(snap, SpectrumSnapshot) and snap.method == "slq" and snap.step == 7
    assert [p.done for p in progress] == list(range(1, 13))
    assert snap.n_params == theta.numel() > 100_000 and snap.n_samples == 32
    assert snap.lambda_max > 0 > snap.lambda_min
    assert snap.residual_max < 0.05 * abs(snap.lambda_max)  # Ritz pair from 12 steps, residual reported
    assert abs(np.sum((snap.density[1:] + snap.density[:-1]) * np.diff(snap.grid)) / 2 - 1) < 1e-6
    # Cancel: closing the generator after three steps stops it there.
    gen = spectrum_snapshot(model, X, y, theta, 0, settings)
    seen = [next(gen) for _ in range(3)]
    gen.close()
    assert [s.done for s in seen] == [1, 2, 3]
