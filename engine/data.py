"""Datasets: 2-D point clouds for the toy track and small image sets.

Every dataset is generated (or read) deterministically from a seed and split into a stratified
train and test part. Arrays are float32 inputs and int64 labels, on the CPU; models move them
to their device once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

TOY_NAMES = ("moons", "circles", "spirals", "xor", "blobs", "digits")
TOY_CLASSES = {"moons": 2, "circles": 2, "spirals": 2, "xor": 2, "blobs": 3, "digits": 10}


@dataclass
class Dataset:
    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    input_shape: tuple
    class_names: list[str]
    image_shape: tuple | None = None  # (H, W) when the flat inputs are pictures (digits)
    notes: list[str] = field(default_factory=list)  # e.g. how many unreadable files were skipped

    @property
    def is_points(self) -> bool:
        """True for 2-D inputs, which can be drawn as a decision map."""
        return tuple(self.input_shape) == (2,)

    @property
    def is_images(self) -> bool:
        return len(self.input_shape) == 3 or self.image_shape is not None

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    def bounds(self, margin: float = 0.15) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax): a square around all 2-D points, padded, for decision maps."""
        X = torch.cat([self.X_train, self.X_test]).numpy()
        lo, hi = X.min(0), X.max(0)
        centre, half = (lo + hi) / 2, (hi - lo).max() * (0.5 + margin)
        return (float(centre[0] - half), float(centre[0] + half),
                float(centre[1] - half), float(centre[1] + half))


@dataclass
class LoadProgress:
    """How far building or reading a dataset has come (for a progress bar)."""

    done: int
    total: int
    what: str  # what is being done, or the file just read
    skipped: int = 0  # files that could not be read

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def stratified_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split so that every class keeps its share in train and test (at least one each)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    train_idx, test_idx = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_fraction * len(idx)))
        n_test = min(max(n_test, 1), len(idx) - 1) if len(idx) > 1 else 0
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    tr = rng.permutation(np.concatenate(train_idx))
    te = rng.permutation(np.concatenate(test_idx))
    return X[tr], y[tr], X[te], y[te]


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
