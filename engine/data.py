"""Datasets: 2-D point clouds for the toy track and small image sets.

Every dataset is generated (or read) deterministically from a seed and split into a stratified
train and test part. Arrays are float32 inputs and int64 labels, on the CPU; models move them
to their device once.
"""

from __future__ import annotations

import numpy as np
import torch

from .dataset import Dataset, LoadProgress, stratified_split

TOY_NAMES = ("moons", "circles", "spirals", "xor", "blobs", "digits")
TOY_CLASSES = {"moons": 2, "circles": 2, "spirals": 2, "xor": 2, "blobs": 3, "digits": 10}


def _counts(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _moons(n, noise, rng):
    n0, n1 = _counts(n, 2)
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    a = np.stack([np.cos(t0), np.sin(t0)], 1)
    b = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)
    X = np.concatenate([a, b]) - np.array([0.5, 0.25])
    X = X + rng.normal(0, noise, X.shape)
    return X, np.repeat([0, 1], [n0, n1])


def _circles(n, noise, rng):
    n0, n1 = _counts(n, 2)
    t0, t1 = rng.uniform(0, 2 * np.pi, n0), rng.uniform(0, 2 * np.pi, n1)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), 0.45 * np.stack([np.cos(t1), np.sin(t1)], 1)])
    X = X + rng.normal(0, noise, X.shape)
    return X, np.repeat([0, 1], [n0, n1])


def _spirals(n, noise, rng, arms: int = 2):
    Xs, ys = [], []
    for k, m in enumerate(_counts(n, arms)):
        r = np.sqrt(rng.uniform(0.02, 1.0, m))  # even density along the arm
        t = 3.0 * np.pi * r + 2 * np.pi * k / arms
        Xs.append(np.stack([r * np.cos(t), r * np.sin(t)], 1))
        ys.append(np.full(m, k))
    X = np.concatenate(Xs)
    return X + rng.normal(0, noise * 0.5, X.shape), np.concatenate(ys)


def _xor(n, noise, rng):
    X = rng.uniform(-1, 1, (n, 2))
    X = X + np.sign(X) * 0.05  # a small gap around the axes, as in the classic picture
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X + rng.normal(0, noise, X.shape), y


def _blobs(n, noise, rng, k: int = 3):
    centres = np.array([[np.cos(a), np.sin(a)] for a in 2 * np.pi * np.arange(k) / k + np.pi / 2]) * 0.8
    Xs, ys = [], []
    for c, m in enumerate(_counts(n, k)):
        Xs.append(centres[c] + rng.normal(0, 0.15 + noise, (m, 2)))
        ys.append(np.full(m, c))
    return np.concatenate(Xs), np.concatenate(ys)


def _digits(n, noise, rng):
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data.astype(np.float64) / 16.0, d.target.astype(np.int64)
    if n < len(y):  # a stratified subsample, so small requests keep every class
        keep = np.concatenate(
            [rng.permutation(np.flatnonzero(y == c))[:m] for c, m in enumerate(_counts(n, 10))]
        )
        X, y = X[keep], y[keep]
    if noise > 0:
        X = X + rng.normal(0, noise, X.shape)
    return X, y


_GENERATORS = {
    "moons": _moons,
    "circles": _circles,
    "spirals": _spirals,
    "xor": _xor,
    "blobs": _blobs,
    "digits": _digits,
}


def toy_dataset(
    name: str, n: int = 600, noise: float = 0.1, test_fraction: float = 0.3, seed: int = 0
) -> Dataset:
    """A small classification set: "moons" "circles" "spirals" "xor" "blobs" "digits".

    The 2-D sets are centred near the origin with a spread of about one; "digits" is
    scikit-learn's bundled 8×8 handwritten digits (1,797 images, pixels scaled to [0, 1]),
    `n` capped at that count. `noise` is the standard deviation of Gaussian jitter added to
    the coordinates (or pixels). Same arguments, same arrays.
    """
    key = name.lower()
    if key not in _GENERATORS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(TOY_NAMES)}")
    if n < 10:
        raise ValueError(f"a dataset needs at least 10 samples, got n={n}")
    if noise < 0:
        raise ValueError(f"noise must be ≥ 0, got {noise}")
    rng = np.random.default_rng(seed)
    X, y = _GENERATORS[key](min(n, 1797) if key == "digits" else n, noise, rng)
    Xtr, ytr, Xte, yte = stratified_split(X.astype(np.float32), y.astype(np.int64), test_fraction, rng)
    n_classes = int(y.max()) + 1
    if key == "digits":
        names, shape, image_shape = [str(i) for i in range(10)], (64,), (8, 8)
    else:
        names, shape, image_shape = [f"class {i}" for i in range(n_classes)], (2,), None
    return Dataset(
        name=key,
        X_train=torch.from_numpy(Xtr),
        y_train=torch.from_numpy(ytr),
        X_test=torch.from_numpy(Xte),
        y_test=torch.from_numpy(yte),
        n_classes=n_classes,
        input_shape=shape,
        class_names=names,
        image_shape=image_shape,
    )


def mri_phantoms(n_per_class: int = 40, size: int = 64, n_classes: int = 17, noise: float = 0.05,
                 test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Synthetic axial brain MRI slices with 17 lesion types; X is (N, 1, size, size).

    See `engine.phantoms` for the anatomy and each lesion's signature.
    """
    from .phantoms import mri_phantoms as build

    return build(n_per_class=n_per_class, size=size, n_classes=n_classes, noise=noise,
                 test_fraction=test_fraction, seed=seed)


def image_folder(path, size: int = 64, grayscale: bool = True, test_fraction: float = 0.2,
                 seed: int = 0) -> Dataset:
    """A dataset from a folder with one subfolder of PNG/JPEG images per class.

    See `engine.image_folder` (letterboxing, normalisation, skipped files, errors).
    """
    from .image_folder import image_folder as build

    return build(path, size=size, grayscale=grayscale, test_fraction=test_fraction, seed=seed)


__all__ = ["Dataset", "LoadProgress", "stratified_split", "TOY_NAMES", "toy_dataset", "mri_phantoms",
           "image_folder"]
