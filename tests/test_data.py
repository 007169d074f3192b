import numpy as np
import pytest
import torch

from engine.data import TOY_NAMES, toy_dataset


@pytest.mark.parametrize("name", TOY_NAMES)
def test_shapes_types_and_split(name):
    ds = toy_dataset(name, n=300, noise=0.1, test_fraction=0.3, seed=1)
    assert ds.X_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert len(ds.X_train) + len(ds.X_test) == 300
    assert abs(len(ds.X_test) - 90) <= ds.n_classes
    assert tuple(ds.X_train.shape[1:]) == tuple(ds.input_shape)
    assert set(ds.y_train.tolist()) == set(range(ds.n_classes)) == set(ds.y_test.tolist())
    assert len(ds.class_names) == ds.n_classes
    # Stratified: every class keeps about its share in the test split.
    full = torch.cat([ds.y_train, ds.y_test]).bincount(minlength=ds.n_classes).float()
    test = ds.y_test.bincount(minlength=ds.n_classes).float()
    assert torch.allclose(test / full, torch.full_like(full, 0.3), atol=0.06)


@pytest.mark.parametrize("name", TOY_NAMES)
def test_deterministic_per_seed(name):
    a = toy_dataset(name, n=200, seed=3)
    b = toy_dataset(name, n=200, seed=3)
    c = toy_dataset(name, n=200, seed=4)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.X_train, c.X_train)


def test_noise_moves_points():
    a = toy_dataset("moons", n=400, noise=0.0, seed=0)
    b = toy_dataset("moons", n=400, noise=0.3, seed=0)
    # With no noise the moons are exact arcs of radius 1 around their centres.
    X = a.X_train.numpy() + np.array([0.5, 0.25])
    upper = a.y_train.numpy() == 0
    assert np.allclose(np.linalg.norm(X[upper], axis=1), 1.0, atol=1e-5)
    assert b.X_train.std() > a.X_train.std()


def test_digits_is_the_bundled_set():
    ds = toy_dataset("digits", n=5000, noise=0.0, seed=0)
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert ds.input_shape == (64,) and ds.image_shape == (8, 8) and ds.n_classes == 10
    assert 0.0 <= float(ds.X_train.min()) and float(ds.X_train.max()) <= 1.0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown dataset"):
        toy_dataset("swirls")
    with pytest.raises(ValueError, match="noise"):
        toy_dataset("moons", noise=-1)
    with pytest.raises(ValueError, match="test_fraction"):
        toy_dataset("moons", test_fraction=1.5)
