"""engine.representations: activations of every layer, PCA, probes, intrinsic dimension, CKA, NC1."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from engine.data import Dataset, toy_dataset
from engine.experiment import Experiment, ExperimentConfig
from engine.models import mlp, small_cnn
from engine.params import flat_params
from engine.representations import (
    RepresentationWatcher,
    align_basis,
    cka_matrix,
    components_for_variance,
    fixed_subset,
    intrinsic_dimension_pca,
    intrinsic_dimension_twonn,
    layer_activations,
    layer_points,
    linear_cka,
    linear_probe,
    neural_collapse_nc1,
    pca,
    pca_basis,
    probe_layers,
)
from engine.training import TrainConfig, Trainer


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These networks are tiny: a second intra-op thread only adds hand-off cost (and on a busy
    machine, waits of seconds), so the tests train them on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _orthonormal(rng, d, k):
    q, _ = np.linalg.qr(rng.normal(size=(d, k)))
    return q


def digit_images(n: int = 600) -> Dataset:
    """scikit-learn's digits as (N, 1, 8, 8) images, the shape the CNN takes."""
    ds = toy_dataset("digits", n=n, noise=0.0, seed=0)
    return Dataset("digit-images", ds.X_train.reshape(-1, 1, 8, 8), ds.y_train, ds.X_test.reshape(-1, 1, 8, 8),
                   ds.y_test, 10, (1, 8, 8), ds.class_names)


# -- activations ----------------------------------------------------------------------------------
def test_mlp_layers_are_named_from_the_modules_and_read_after_the_activation():
    torch.manual_seed(0)
    model = mlp(2, [16, 8], 3, "tanh")
    X = torch.randn(50, 2)
    acts = layer_activations(model, X)
    assert list(acts) == ["input", "fc1", "fc2", "out"]
    assert [tuple(a.shape) for a in acts.values()] == [(50, 2), (50, 16), (50, 8), (50, 3)]
    with torch.no_grad():
        h1 = torch.tanh(model.fc1(X))
        h2 = torch.tanh(model.fc2(h1))
        torch.testing.assert_close(acts["fc1"], h1)
        torch.testing.assert_close(acts["fc2"], h2)
        torch.testing.assert_close(acts["out"], model(X))
    points = layer_points(model, X[:1])
    assert [(p.module, p.kind) for p in points] == [("", "input"), ("act1", "hidden"), ("act2", "hidden"),
                                                    ("", "output")]
    assert points[1].description == "Linear → Tanh"


def test_cnn_on_digit_images_gives_conv_blocks_then_dense_layers():
    ds = digit_images(300)
    torch.manual_seed(0)
    model = small_cnn(1, 10, size=8)
    model.train()
    acts = layer_activations(model, ds.X_train, chunk=64)
    assert list(acts) == ["input", "conv1", "conv2", "conv3", "fc1", "fc2", "out"]
    dims = {k: v.shape[1] for k, v in acts.items()}
    assert dims == {"input": 64, "conv1": 16 * 4 * 4, "conv2": 32 * 2 * 2, "conv3": 64, "fc1": 256, "fc2": 256,
                    "out": 10}
    assert all(len(v) == len(ds.y_train) for v in acts.values())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(acts["out"], model(ds.X_train))
        fc2 = model.act2(model.fc2(model.act1(model.fc1(model.pool(model.features(ds.X_train)).flatten(1)))))
        torch.testing.assert_close(acts["fc2"], fc2)
    one_chunk = layer_activations(model, ds.X_train, chunk=10_000)
    for k in acts:
        torch.testing.assert_close(acts[k], one_chunk[k])
    model.train()
    layer_activations(model, ds.X_train[:5])
    assert model.training  # the mode is restored
    assert not any(m._forward_hooks for m in model.modules())  # and no hook is left behind


def test_a_reused_activation_module_is_read_at_each_of_its_calls():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 5)
            self.b = nn.Linear(5, 4)
            self.head = nn.Linear(4, 2)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.head(self.act(self.b(self.act(self.a(x)))))

    torch.manual_seed(0)
    model = Shared()
    X = torch.randn(20, 3)
    acts = layer_activations(model, X)
    assert list(acts) == ["input", "a", "b", "head"]
    with torch.no_grad():
        torch.testing.assert_close(acts["a"], torch.relu(model.a(X)))
        torch.testing.assert_close(acts["b"], torch.relu(model.b(torch.relu(model.a(X)))))


# -- CKA -------------------------------------------------------------------------------------------
def test_linear_cka_is_one_for_rotated_scaled_copy_and_small_for_noise():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(500, 30))
    Q = _orthonormal(rng, 30, 30)
    assert linear_cka(A, 3.7 * A @ Q) == pytest.approx(1.0, abs=1e-10)
    assert linear_cka(A, rng.normal(size=(500, 30))) < 0.15
    B = rng.normal(size=(500, 30))
    assert linear_cka(A, B) == pytest.approx(linear_cka(B, A), abs=1e-12)
    assert linear_cka(torch.from_numpy(A), torch.from_numpy(A + 5.0)) == pytest.approx(1.0, abs=1e-10)


def test_wide_cka_through_gram_matrices_matches_the_definition():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(40, 300)), rng.normal(size=(40, 200))
    A[:, :20] += B[:, :20]
    H = np.eye(40) - 1.0 / 40

    def hsic(K, L):
        return np.trace(K @ H @ L @ H)

    K, L = A @ A.T, B @ B.T
    expected = hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))
    assert linear_cka(A, B) == pytest.approx(expected, rel=1e-9)
    M = cka_matrix({"a": A, "b": B, "c": A[:, :50]})
    assert np.allclose(np.diag(M), 1.0) and np.allclose(M, M.T)
    assert M[0, 1] == pytest.approx(expected, rel=1e-9)
    assert M[0, 2] == pytest.approx(linear_cka(A, A[:, :50]), rel=1e-9)


# -- intrinsic dimension ----------------------------------------------------------------------------
def test_twonn_recovers_2d_and_5d_manifolds_embedded_in_50d():
    rng = np.random.default_rng(0)
    n = 1500
    # A swiss roll (a curved 2-D sheet) and a flat 2-D Gaussian, rotated into 50-D.
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    roll = np.stack([t * np.cos(t), rng.uniform(0, 10, n), t * np.sin(t)], 1) @ _orthonormal(rng, 50, 3).T
    flat2 = rng.normal(size=(n, 2)) @ _orthonormal(rng, 50, 2).T
    # The 5-sphere (a curved 5-D manifold in 6-D) and a flat 5-D Gaussian, rotated into 50-D.
    z = rng.normal(size=(n, 6))
    sphere5 = (z / np.linalg.norm(z, axis=1, keepdims=True)) @ _orthonormal(rng, 50, 6).T
    flat5 = rng.normal(size=(n, 5)) @ _orthonormal(rng, 50, 5).T
    for X, d in ((roll, 2), (flat2, 2), (sphere5, 5), (flat5, 5)):
        est = intrinsic_dimension_twonn(X)
        assert abs(est - d) <= 0.15 * d, (d, est)
    # Duplicates have no neighbour ratio and are left out rather than breaking the fit.
    assert abs(intrinsic_dimension_twonn(np.concatenate([flat2, flat2[:50]])) - 2) <= 0.3


def test_pca_count_equals_a_known_rank_exactly():
    rng = np.random.default_rng(0)
    for k in (1, 3, 7, 12):
        Z = rng.normal(size=(500, k)) * rng.uniform(1.0, 2.0, k)  # every axis holds ≥ 1/(4k) of the variance
        X = Z @ _orthonormal(rng, 50, k).T + 3.0
        assert intrinsic_dimension_pca(X, variance=0.99) == k
        assert intrinsic_dimension_pca(X, variance=1.0) == k
    wide = rng.normal(size=(30, 6)) @ rng.normal(size=(6, 400))  # more features than samples
    assert intrinsic_dimension_pca(wide, variance=1.0) == 6
    with pytest.raises(ValueError, match="variance"):
        intrinsic_dimension_pca(wide, variance=1.5)
    assert components_for_variance([0.5, 0.3, 0.2], 0.8) == 2


def test_pca_matches_scikit_learn_up_to_sign_and_pads_missing_axes():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(2)
    for shape in ((200, 12), (20, 90)):
        X = rng.normal(size=shape) @ np.diag(np.linspace(3, 0.5, shape[1]))
        proj, ratio = pca(X, k=3)
        ref = PCA(3).fit(X)
        ref_proj = ref.transform(X)
        np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-8)
        for i in range(3):
            s = np.sign(proj[:, i] @ ref_proj[:, i])
            np.testing.assert_allclose(s * proj[:, i], ref_proj[:, i], atol=1e-8)
    proj, ratio = pca(rng.normal(size=(50, 1)), k=2)  # a one-unit layer still gives 2 coordinates
    assert proj.shape == (50, 2) and np.all(proj[:, 1] == 0) and ratio[1] == 0


def test_aligned_pca_never_flips_between_consecutive_frames():
    """A cloud whose two main axes slowly turn and swap order: the raw principal axes jump
    (sign flips and a 90° swap); the aligned ones move smoothly, never against the last frame."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 2))
    embed = _orthonormal(rng, 10, 10)
    prev_raw = prev = None
    raw_jumps, min_agreement, max_move = 0, np.inf, 0.0
    prev_proj = None
    for t in np.linspace(0.0, 1.0, 80):
        angle = 0.6 * t
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        scales = np.array([2.0 - 1.2 * t, 0.8 + 1.2 * t])  # the variances cross at t = 0.5
        X = np.zeros((300, 10))
        X[:, :2] = (base * scales) @ rot
        X[:, 2:] = 0.05 * rng.normal(size=(300, 8))
        X = X @ embed.T
        raw = pca_basis(X, 2).components
        if prev_raw is not None:
            raw_jumps += int(np.any(np.diag(raw @ prev_raw.T) < 0.5))
        aligned = align_basis(raw, prev)
        H = X - X.mean(0)
        proj = H @ aligned.T
        if prev is not None:
            agreement = np.diag(aligned @ prev.T)
            min_agreement = min(min_agreement, agreement.min())
            max_move = max(max_move, np.abs(proj - prev_proj).max() / np.abs(prev_proj).max())
        prev_raw, prev, prev_proj = raw, aligned, proj
        # The aligned axes still span the top-2 principal subspace.
        np.testing.assert_allclose(aligned @ aligned.T, np.eye(2), atol=1e-9)
        np.testing.assert_allclose(np.linalg.svd(aligned @ raw.T, compute_uv=False), [1, 1], atol=1e-6)
    assert raw_jumps >= 1, "the scenario must make raw PCA jump, or it tests nothing"
    assert min_agreement > 0.9
    assert max_move < 0.2


# -- probes -------------------------------------------------------------------------------------------
def test_probe_scores_one_on_separable_features_and_chance_on_noise():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 200)
    centres = rng.normal(size=(3, 10)) * 6
    X = centres[y] + rng.normal(size=(600, 10))
    perm = rng.permutation(600)
    X, y = X[perm], y[perm]
    train_acc, test_acc = linear_probe(X[:400], y[:400], X[400:], y[400:])
    assert train_acc == 1.0 and test_acc >= 0.99
    noise = rng.normal(size=(1200, 30))
    yn = rng.integers(0, 3, 1200)
    _, test_acc = linear_probe(noise[:600], yn[:600], noise[600:], yn[600:])
    assert abs(test_acc - 1 / 3) < 0.08


def test_probe_on_features_wider_than_the_sample_count_is_exact():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    Xtr, Xte = rng.normal(size=(150, 400)), rng.normal(size=(300, 400))
    ytr = (Xtr[:, 0] + 0.7 * rng.normal(size=150) > 0).astype(int)
    yte = (Xte[:, 0] > 0).astype(int)
    mean, std = Xtr.mean(0), Xtr.std(0)
    ref = LogisticRegression(max_iter=5000, tol=1e-8).fit((Xtr - mean) / std, ytr)
    expected = ref.score((Xte - mean) / std, yte)
    assert linear_probe(Xtr, ytr, Xte, yte, max_iter=5000)[1] == pytest.approx(expected, abs=1 / 300 + 1e-9)


def test_probe_refuses_bad_input_with_a_reason():
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match="two classes"):
        linear_probe(X, np.zeros(10), X, np.zeros(10))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        linear_probe(X, np.arange(10) % 2, X, np.arange(10) % 2)


# -- class geometry -----------------------------------------------------------------------------------
def test_nc1_matches_its_definition_and_vanishes_when_classes_collapse():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(300, 20))
    y = rng.integers(0, 4, 300)
    mu_g = F.mean(0)
    means = np.stack([F[y == c].mean(0) for c in range(4)])
    sigma_b = sum(np.outer(m - mu_g, m - mu_g) for m in means) / 4
    within = F - means[y]
    sigma_w = within.T @ within / 300
    expected = np.trace(sigma_w @ np.linalg.pinv(sigma_b)) / 4
    assert neural_collapse_nc1(F, y) == pytest.approx(expected, rel=1e-8)
    assert neural_collapse_nc1(7.0 * F + 2.0, y) == pytest.approx(expected, rel=1e-8)
    collapsed = means[y] + 1e-3 * within
    assert neural_collapse_nc1(collapsed, y) == pytest.approx(1e-6 * expected, rel=1e-6)
    assert np.isnan(neural_collapse_nc1(F, np.zeros(300)))


def test_fixed_subset_keeps_every_class_and_the_exact_size():
    y = np.array([0] * 500 + [1] * 300 + [2] * 7)
    idx = fixed_subset(y, 200, seed=0)
    assert len(idx) == 200 and len(set(idx)) == 200
    counts = np.bincount(y[idx])
    assert counts[2] >= 1 and abs(counts[0] - 124) <= 1
    assert np.array_equal(idx, fixed_subset(y, 200, seed=0))
    assert len(fixed_subset(y, 5000)) == len(y)


# -- following training ---------------------------------------------------------------------------------
def test_watcher_measures_every_layer_and_compares_with_the_start():
    ds = toy_dataset("digits", n=400, noise=0.0, seed=0)
    torch.manual_seed(0)
    model = mlp(64, [32, 32], 10, "relu")
    theta0 = flat_params(model).numpy()
    idx = fixed_subset(ds.y_train, 150)
    watcher = RepresentationWatcher(mlp(64, [32, 32], 10, "relu"), ds.X_train[idx], ds.y_train[idx], theta0=theta0)
    f0 = next(watcher.frames(theta0, step=0))
    assert f0.names == ["input", "fc1", "fc2", "out"] and [lay.dim for lay in f0.layers] == [64, 32, 32, 10]
    assert np.allclose(np.diag(f0.cka), 1.0) and np.allclose(f0.cka_to_start, 1.0)
    for name in f0.names:
        assert f0.projections[name].shape == (150, 2)
        assert f0.spectra[name].sum() == pytest.approx(1.0)
        assert f0.axis_explained[name].sum() <= f0.spectra[name][:2].sum() + 1e-9
        assert 0 < f0.twonn[name] < 64 and f0.nc1[name] > 0
    trainer = Trainer(model, ds, TrainConfig(optimizer="adam", lr=0.01, batch_size=0, seed=0))
    for _ in range(60):
        trainer.step()
    f1 = watcher.frame(flat_params(model).numpy(), step=60)
    assert f1.cka_to_start[0] == pytest.approx(1.0)  # the input does not train
    assert f1.cka_to_start[-1] < 0.95  # the logits do
    assert f1.nc1["fc2"] < f0.nc1["fc2"]
    bad = flat_params(model).numpy().copy()
    bad[:10] = np.nan
    f2 = watcher.frame(bad, step=61)
    assert f2.problems and "not finite" in f2.problems[0]


@pytest.mark.slow
def test_probe_accuracy_rises_from_the_input_to_the_last_hidden_layer_on_spirals():
    """Alain & Bengio: features get more linearly separable with depth. The network is the app's
    default experiment (2-16-16-2 tanh, SGD 0.1, batch 32) with the dataset set to spirals."""
    exp = Experiment(replace(ExperimentConfig(), dataset="spirals", device="cpu"))
    assert exp.config.hidden == (16, 16) and exp.config.optimizer == "sgd"
    for _ in range(6000):  # about two seconds
        exp.step()
    _, train_acc, _, test_acc = exp.trainer.evaluate()
    assert train_acc > 0.9 and test_acc > 0.9  # trained well
    ds = exp.dataset
    results = {r.layer: r.test_acc for r in probe_layers(exp.model, ds.X_train, ds.y_train, ds.X_test, ds.y_test)}
    assert list(results) == ["input", "fc1", "fc2", "out"]
    # measured at this seed: input 0.69, fc1 0.72, fc2 0.97
    assert results["input"] < 0.75  # two interleaved spirals: no line separates them
    assert results["fc2"] > 0.9
    assert results["fc2"] - results["input"] > 0.2
    assert results["fc2"] >= results["fc1"]


@pytest.mark.slow
def test_nc1_keeps_falling_after_training_error_reaches_zero():
    """Papyan et al.: past zero training error, the classes keep collapsing onto their means."""
    ds = toy_dataset("digits", n=600, noise=0.0, seed=0)
    torch.manual_seed(0)
    model = mlp(64, [64, 64], 10, "tanh")
    trainer = Trainer(model, ds, TrainConfig(optimizer="adam", lr=0.01, batch_size=0, seed=0))
    idx = fixed_subset(ds.y_train, 300)
    X, y = ds.X_train[idx], ds.y_train[idx]
    zero_step, nc1 = None, []
    for step in range(1, 601):
        trainer.step()
        if step % 50 == 0:
            _, train_acc, _, _ = trainer.evaluate()
            if zero_step is None and train_acc == 1.0:
                zero_step = step
            if zero_step is not None:
                nc1.append(neural_collapse_nc1(layer_activations(model, X)["fc2"], y))
    assert zero_step is not None and zero_step <= 200
    assert len(nc1) >= 8
    assert all(b < a * 1.01 for a, b in zip(nc1, nc1[1:]))  # falls at every checkpoint
    assert nc1[-1] < 0.8 * nc1[0]
