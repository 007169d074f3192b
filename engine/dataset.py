"""The dataset type every topic trains on, its loading progress, and the stratified split.

Kept apart from the builders (engine.data, engine.phantoms, engine.image_folder) so that each
builder imports it and none imports another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .progress import Progress


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
class LoadProgress(Progress):
    """How far building or reading a dataset has come; `what`: what is being done, or the file
    just read."""

    skipped: int = 0  # files that could not be read


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
