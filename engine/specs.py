"""Settings that many topics share: the data, the network and the optimiser.

A topic's config is a dataclass that inherits the specs it uses fully and adds its own fields,
so every topic keeps one flat list of keyword fields (what presets, recordings, `asdict` and
`replace` see) while each shared field is declared, and checked, in one place:

    @dataclass
    class LotteryConfig(OptimSpec, ModelSpec, SplitSpec):
        dataset: str = "digits"      # a topic may override a spec's default, nothing else
        rounds: int = 13             # … and adds what only it has

Bases are listed optimiser first because dataclass fields, and the `problems` chain, run from
the last base to the first: so fields and messages read data, network, optimiser, then the
topic's own.

`problems()` returns {field name: a specific message} for every invalid setting (empty when
valid); field names key the messages so panels can show each next to its widget. The specs'
`problems` chain through `super()`, so a topic calls `super().problems()` once and adds only
its own checks. A topic that has one shared field but not a whole spec (the sharpness sweep's
learning rate, the paradigms' batch size) checks it with the same rule function below, so a
bad value reads the same on every tab.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

from .data import TOY_CLASSES, TOY_NAMES
from .models import ACTIVATIONS

OPTIMIZERS = ("sgd", "adam")
MIN_SAMPLES = 10  # toy_dataset refuses fewer
MAX_WIDTH = 4096  # units per hidden layer: wider MLPs stall a lecture laptop for no new picture


# -- rules for single fields, shared by the specs and by topics that hold the field alone --------
def _number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def lr_problem(lr: float, what: str = "learning rate") -> str | None:
    """A step size must be a finite positive number."""
    if not _number(lr) or lr <= 0:
        return f"{what} must be a positive number, got {lr}"
    return None


def momentum_problem(momentum: float) -> str | None:
    """Heavy-ball momentum diverges at 1 and above."""
    if not _number(momentum) or not 0.0 <= momentum < 1.0:
        return f"momentum must lie in [0, 1), got {momentum}"
    return None


def batch_size_problem(batch_size: int, n_train: int | None = None) -> str | None:
    """0 means full batch (every trainer here reads it so); a batch cannot exceed the training set."""
    if batch_size < 0:
        return f"batch size must be ≥ 0 (0 means full batch), got {batch_size}"
    if n_train is not None and batch_size > n_train:
        return (f"batch size {batch_size} exceeds the {n_train} training samples; "
                "use at most that many, or 0 for full batch")
    return None


def activation_problem(activation: str, choices=tuple(ACTIVATIONS)) -> str | None:
    if activation not in choices:
        return f"unknown activation {activation!r}; choose one of {', '.join(choices)}"
    return None


def min_samples(dataset: str) -> int:
    """The fewest samples `dataset` can have: toy_dataset's minimum, and two per class, since the
    stratified split needs one to train on and one to test on in every class (digits: 20)."""
    return max(MIN_SAMPLES, 2 * TOY_CLASSES.get(dataset, 2))


class Spec:
    """The end of the `problems` chain, and `check`, which every config shares."""

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        return {}

    def check(self, n_train: int | None = None) -> None:
        """Raise one ValueError naming every invalid setting."""
        raise_problems(self.problems(n_train))


# -- the specs ------------------------------------------------------------------------------------
@dataclass
class DataSpec(Spec):
    """Which samples: a dataset by name, how many, and how noisy (toy_dataset's arguments)."""

    dataset: str = "moons"
    n: int = 600
    noise: float = 0.1

    # Datasets a topic can build; a topic that builds more (images, a folder) widens this.
    DATASETS: ClassVar[tuple[str, ...]] = TOY_NAMES

    def dataset_names(self) -> tuple[str, ...]:
        return self.DATASETS

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        out = super().problems(n_train)
        names = self.dataset_names()
        if self.dataset not in names:
            out["dataset"] = f"unknown dataset {self.dataset!r}; choose one of {', '.join(names)}"
        least = min_samples(self.dataset)
        if self.n < least:
            why = "" if least == MIN_SAMPLES else f" for {self.dataset} (two per class)"
            out["n"] = f"use at least {least} samples{why}, got {self.n}"
        if not _number(self.noise) or self.noise < 0:
            out["noise"] = f"noise must be ≥ 0, got {self.noise}"
        return out


@dataclass
class SplitSpec(DataSpec):
    """A dataset with its own seed and held-out share (topics whose data seed is not the run's)."""

    test_fraction: float = 0.3
    data_seed: int = 0

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        out = super().problems(n_train)
        if not (_number(self.test_fraction) and 0.0 < self.test_fraction < 1.0):
            out["test_fraction"] = f"test_fraction must lie strictly between 0 and 1, got {self.test_fraction}"
        return out

    def train_size(self) -> int | None:
        """Training samples of a toy set (None for images, whose count the folder decides)."""
        if self.dataset not in TOY_NAMES:
            return None
        return int(round(self.n * (1 - self.test_fraction)))


@dataclass
class ModelSpec(Spec):
    """The multilayer perceptron: hidden widths and activation."""

    hidden: tuple[int, ...] = (16, 16)
    activation: str = "tanh"

    ACTIVATIONS: ClassVar[tuple[str, ...]] = tuple(ACTIVATIONS)
    MAX_WIDTH: ClassVar[int] = MAX_WIDTH

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        out = super().problems(n_train)
        if not self.hidden:
            out["hidden"] = "give at least one hidden layer, e.g. 16, 16"
        elif any(int(h) < 1 for h in self.hidden):
            out["hidden"] = "every hidden layer needs at least 1 unit"
        elif any(int(h) > self.MAX_WIDTH for h in self.hidden):
            out["hidden"] = f"at most {self.MAX_WIDTH} units per layer"
        bad = activation_problem(self.activation, self.ACTIVATIONS)
        if bad:
            out["activation"] = bad
        return out


@dataclass
class OptimSpec(Spec):
    """The optimiser: SGD (with heavy-ball momentum) or Adam, step size, batch, weight decay."""

    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    batch_size: int = 32  # 0: full batch
    weight_decay: float = 0.0

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        """`n_train`, where known, bounds the batch size."""
        out = super().problems(n_train)
        if self.optimizer not in OPTIMIZERS:
            out["optimizer"] = f"unknown optimizer {self.optimizer!r}; choose {' or '.join(OPTIMIZERS)}"
        for name, bad in (("lr", lr_problem(self.lr)), ("momentum", momentum_problem(self.momentum)),
                          ("batch_size", batch_size_problem(self.batch_size, n_train))):
            if bad:
                out[name] = bad
        if not _number(self.weight_decay) or self.weight_decay < 0:
            out["weight_decay"] = f"weight decay must be ≥ 0, got {self.weight_decay}"
        return out


def raise_problems(problems: dict[str, str]) -> None:
    """One ValueError holding every message, for engine entry points."""
    if problems:
        raise ValueError("; ".join(problems.values()))


__all__ = ["DataSpec", "MAX_WIDTH", "MIN_SAMPLES", "ModelSpec", "OPTIMIZERS", "OptimSpec", "SplitSpec", "Spec",
           "activation_problem", "batch_size_problem", "lr_problem", "min_samples", "momentum_problem",
           "raise_problems"]
