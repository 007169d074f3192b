"""The MRI phantoms and the CNN: shapes, determinism, balance, lesion signatures, torch.func,
and the gap between a linear model on raw pixels and the CNN."""

import numpy as np
import pytest
import torch
from torch.func import grad, jvp, vmap

from engine.data import Dataset, mri_phantoms
from engine.models import SmallCNN, model_for, small_cnn
from engine.params import flat_params, loss_function
from engine.phantoms import CLASS_NAMES, LESIONS, phantom_slice


@pytest.fixture(scope="module")
def small() -> Dataset:
    return mri_phantoms(n_per_class=5, size=32, seed=0)


def test_shapes_names_and_balance(small):
    ds = small
    assert ds.name == "mri" and ds.n_classes == 17 and len(ds.class_names) == 17
    assert ds.class_names == CLASS_NAMES and len(set(CLASS_NAMES)) == 17
    assert ds.input_shape == (1, 32, 32) and ds.is_images and not ds.is_points
    assert ds.X_train.shape[1:] == (1, 32, 32) and ds.X_train.dtype == torch.float32
    assert ds.y_train.dtype == torch.int64
    assert len(ds.y_train) + len(ds.y_test) == 85
    # Every class has the same count, and the test split takes one of each five.
    assert ds.y_test.bincount(minlength=17).tolist() == [1] * 17
    assert ds.y_train.bincount(minlength=17).tolist() == [4] * 17
    assert float(ds.X_train.min()) >= 0.0 and float(ds.X_train.max()) <= 1.0


def test_deterministic_per_seed(small):
    again = mri_phantoms(n_per_class=5, size=32, seed=0)
    other = mri_phantoms(n_per_class=5, size=32, seed=1)
    assert torch.equal(small.X_train, again.X_train) and torch.equal(small.y_test, again.y_test)
    assert not torch.equal(small.X_train, other.X_train)
    # A picture depends on (seed, class, index) only, not on how many were asked for.
    assert np.array_equal(phantom_slice(3, 32, 0.05, 0, 2), phantom_slice(3, 32, 0.05, 0, 2))
    assert not np.array_equal(phantom_slice(3, 32, 0.05, 0, 2), phantom_slice(3, 32, 0.05, 0, 3))


def test_any_size_up_to_224_and_bad_arguments():
    big = mri_phantoms(n_per_class=2, size=224, n_classes=2, seed=0)
    assert big.X_train.shape[1:] == (1, 224, 224) and big.class_names == CLASS_NAMES[:2]
    # The anatomy does not depend on the size: a 128 picture shrunk to 64 is the 64 picture.
    a = phantom_slice(6, 128, 0.0, 0, 1).reshape(64, 2, 64, 2).mean((1, 3))
    b = phantom_slice(6, 64, 0.0, 0, 1)
    assert np.abs(a - b).mean() < 0.03
    for kw, words in (({"size": 300}, "between 8 and 224"), ({"n_classes": 18}, "n_classes"),
                      ({"n_per_class": 1}, "at least 2"), ({"noise": -0.1}, "noise")):
        with pytest.raises(ValueError, match=words):
            mri_phantoms(**kw)


def _mean_over(label: int, fn, n: int = 6, size: int = 64) -> float:
    return float(np.mean([fn(phantom_slice(label, size, 0.0, 0, i)) for i in range(n)]))


def _central_dark(img: np.ndarray) -> float:
    """Share of dark (CSF-like) pixels in the middle of the picture: the ventricles."""
    h = img.shape[0]
    centre = img[int(0.3 * h): int(0.7 * h), int(0.35 * h): int(0.65 * h)]
    return float((centre < 0.2).mean())


def test_lesion_signatures_are_measurable():
    index = {name: k for k, name in enumerate(CLASS_NAMES)}
    # Obstructive hydrocephalus: a colloid cyst enlarges the ventricles; a cavernoma does not.
    assert _mean_over(index["colloid cyst"], _central_dark) > 1.5 * _mean_over(index["cavernoma"], _central_dark)
    # Enhancement: inside the skull, a glioblastoma's ring is brighter than anything a low-grade
    # glioma shows (the bright scalp fat lies outside the disc measured).
    def bright(img: np.ndarray) -> float:
        h = img.shape[0]
        yy, xx = np.mgrid[:h, :h] - (h - 1) / 2
        return float((img[np.hypot(xx, yy) < 0.5 * h / 2] > 0.72).mean())

    assert _mean_over(index["glioblastoma"], bright) > 2 * _mean_over(index["low-grade glioma"], bright)
    # Every signature is written down.
    assert all(lesion.signature and lesion.abbreviation for lesion in LESIONS)


def test_noise_is_rician_in_the_background():
    clean = phantom_slice(0, 64, 0.0, 0, 0)
    noisy = phantom_slice(0, 64, 0.1, 0, 0)
    corner_clean, corner_noisy = clean[:6, :6], noisy[:6, :6]
    assert corner_clean.max() < 1e-3  # air is black without noise
    # Magnitude noise is never negative, and its mean in air is positive (Rayleigh), not zero.
    assert corner_noisy.min() >= 0 and corner_noisy.mean() > 0.02


def test_cnn_layers_and_torch_func(small):
    torch.manual_seed(0)
    model = model_for(small)
    assert isinstance(model, SmallCNN)
    names = [n for n, _ in model.named_modules()]
    assert {"fc1", "fc2", "out"} <= set(names) and model.fc2.out_features == 256
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    X, y = small.X_train[:8], small.y_train[:8]
    L = loss_function(model, X, y)
    theta = flat_params(model)
    # grad through functional_call equals autograd on the module.
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(X), y).backward()
    g_module = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert torch.allclose(grad(L)(theta), g_module, atol=1e-5)
    # vmap over several θ at once (what landscape grids do) agrees with one at a time.
    thetas = theta + 0.01 * torch.randn(3, theta.numel(), generator=torch.Generator().manual_seed(0))
    batched = vmap(L)(thetas)
    assert torch.allclose(batched, torch.stack([L(t) for t in thetas]), atol=1e-5)
    # Hessian-vector product, forward-over-reverse (what curvature routines do), against central
    # differences, in double precision so that the differences are exact enough.
    model64 = model.double()
    L64 = loss_function(model64, X.double(), y)
    theta64 = flat_params(model64)
    v = torch.randn(theta64.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    v = v / v.norm()
    _, hv = jvp(grad(L64), (theta64,), (v,))
    eps = 1e-5
    fd = (grad(L64)(theta64 + eps * v) - grad(L64)(theta64 - eps * v)) / (2 * eps)
    assert torch.allclose(hv, fd, atol=1e-4 * float(fd.abs().max()))


def test_small_cnn_sizes():
    for size in (8, 28, 64, 224):
        m = small_cnn(3, 5, size)
        assert m(torch.zeros(2, 3, size, size)).shape == (2, 5)
    with pytest.raises(ValueError):
        small_cnn(1, 2, 4)


@pytest.mark.slow
def test_linear_model_on_pixels_scores_clearly_below_the_cnn():
    """Point 1 of the MRI track at the default size (64×64, 40 scans per class): a lesion moves
    from scan to scan, which a convolution follows and a linear model on raw pixels cannot.
    (At 32 pixels the small lesions shrink to a pixel or two and neither model learns them.)"""
    from engine.training import TrainConfig, Trainer

    ds = mri_phantoms(n_per_class=40, size=64, seed=0)
    # Linear: softmax regression on standardised pixels, the best of a few weight decays.
    Xtr, Xte = ds.X_train.flatten(1), ds.X_test.flatten(1)
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-3
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    linear_acc = 0.0
    for wd in (1e-3, 1e-2, 1e-1):
        torch.manual_seed(0)
        lin = torch.nn.Linear(Xtr.shape[1], ds.n_classes)
        opt = torch.optim.Adam(lin.parameters(), 1e-2, weight_decay=wd)
        for _ in range(200):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(lin(Xtr), ds.y_train).backward()
            opt.step()
        with torch.no_grad():
            linear_acc = max(linear_acc, float((lin(Xte).argmax(1) == ds.y_test).float().mean()))
    # The default CNN with the app's image settings (Adam, lr 1e-3, batch 32).
    torch.manual_seed(0)
    trainer = Trainer(model_for(ds), ds, TrainConfig(optimizer="adam", lr=1e-3, batch_size=32, eval_every=700,
                                                     device="cpu", seed=0))
    for _ in range(700):
        event = trainer.step()
    cnn_acc = event.test_acc
    chance = 1 / ds.n_classes
    assert linear_acc < 0.3, linear_acc
    assert cnn_acc > 0.35 and cnn_acc > linear_acc + 0.12, (cnn_acc, linear_acc)
    assert cnn_acc > 5 * chance


def test_fewer_pictures_per_class_are_the_first_ones():
    """Picture k of a class does not depend on how many are drawn (so a cached larger set serves)."""
    mri_phantoms(n_per_class=4, size=16, n_classes=3, seed=2)  # drawn first, then reused
    few = mri_phantoms(n_per_class=2, size=16, n_classes=3, seed=2, test_fraction=0.5)
    for x, c in zip(torch.cat([few.X_train, few.X_test]), torch.cat([few.y_train, few.y_test])):
        assert any(np.array_equal(x[0].numpy(), phantom_slice(int(c), 16, 0.05, 2, k)) for k in range(2))
