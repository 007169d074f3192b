"""The shared experiment: one dataset, one network, one training run, and its settings.

The GUI's experiment bar edits an `ExperimentConfig`; the `Experiment` builds the data and the
model from it and trains step by step. It knows nothing of Qt and notifies no one: the GUI's
`Lab` calls `rebuild()` / `reset()` and announces the change itself, and workers call `step()`
from one thread at a time.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from .data import TOY_NAMES, Dataset, toy_dataset
from .device import pick_device
from .models import mlp, model_for
from .params import flat_params, loss_function, set_flat_params
from .specs import OPTIMIZERS, ModelSpec, OptimSpec, SplitSpec
from .training import TrainConfig, Trainer, TrainEvent

# Builders for datasets that are not toy sets, keyed by name: fn(config) -> Dataset.
DATASET_BUILDERS: dict[str, Callable[[ExperimentConfig], Dataset]] = {}
DATASET_LABELS: dict[str, str] = {name: name.capitalize() for name in TOY_NAMES}
DATASET_LABELS["xor"] = "XOR"
IMAGE_CLASSES = 17  # lesion types of the MRI phantoms


@dataclass
class ExperimentConfig(OptimSpec, ModelSpec, SplitSpec):
    """The shared experiment: data (`SplitSpec`), network (`ModelSpec`), optimiser (`OptimSpec`),
    and what only it has: image datasets, skip connections, the run's seed and device."""

    folder: str = ""  # for the "folder" dataset
    image_size: int = 64
    residual: bool = False  # skip connections around every hidden layer that keeps its width
    seed: int = 0
    eval_every: int = 10
    device: str = "auto"

    # Settings whose change needs a new dataset or a new network (and so a reset).
    DATA_FIELDS = ("dataset", "n", "noise", "test_fraction", "data_seed", "folder", "image_size")
    MODEL_FIELDS = ("hidden", "activation", "residual", "seed", "device")
    HPARAM_FIELDS = ("lr", "momentum", "weight_decay", "batch_size", "optimizer")

    def dataset_names(self) -> tuple[str, ...]:
        return tuple(known_datasets())  # image builders register themselves below

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        """Field -> specific message for every invalid setting."""
        out = super().problems(self.train_size() if n_train is None else n_train)
        if self.dataset == "folder" and not str(self.folder).strip():
            out["folder"] = "choose a folder with one subfolder of images per class"
        if not 8 <= self.image_size <= 224:
            out["image_size"] = f"image size must lie between 8 and 224 pixels, got {self.image_size}"
        if self.eval_every < 1:
            out["eval_every"] = f"eval_every must be ≥ 1, got {self.eval_every}"
        return out

    def train_config(self) -> TrainConfig:
        return TrainConfig(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                           batch_size=self.batch_size, weight_decay=self.weight_decay,
                           seed=self.seed, eval_every=self.eval_every, device=self.device)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown experiment settings: {', '.join(sorted(unknown))}")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(int(h) for h in d["hidden"])
        return replace(cls(), **d)

    def differs_in(self, other: ExperimentConfig, names) -> bool:
        return any(getattr(self, k) != getattr(other, k) for k in names)


def build_dataset(config: ExperimentConfig) -> Dataset:
    if config.dataset in DATASET_BUILDERS:
        return DATASET_BUILDERS[config.dataset](config)
    return toy_dataset(config.dataset, n=config.n, noise=config.noise,
                       test_fraction=config.test_fraction, seed=config.data_seed)


def build_model(config: ExperimentConfig, dataset: Dataset) -> nn.Module:
    torch.manual_seed(config.seed)
    if len(dataset.input_shape) == 3:
        return model_for(dataset)
    return mlp(dataset.in_features, config.hidden, dataset.n_classes, config.activation, residual=config.residual)


class Experiment:
    """Dataset + model + trainer, rebuilt when the settings change."""

    def __init__(self, config: ExperimentConfig | None = None, dataset: Dataset | None = None):
        self.config = config or ExperimentConfig()
        self.dataset: Dataset | None = dataset
        self._data_key: tuple | None = None if dataset is None else self._key(self.config)
        self.model: nn.Module
        self.theta0: torch.Tensor
        self.trainer: Trainer
        self.rebuild(self.config)

    @staticmethod
    def _key(config: ExperimentConfig) -> tuple:
        return tuple(getattr(config, k) for k in ExperimentConfig.DATA_FIELDS)

    # -- building --------------------------------------------------------------------------
    def rebuild(self, config: ExperimentConfig) -> None:
        """New settings: rebuild what they touch (data only if a data field changed)."""
        problems = config.problems()
        hard = {k: v for k, v in problems.items() if k != "batch_size"}
        if hard:
            raise ValueError("; ".join(hard.values()))
        if self.dataset is None or self._key(config) != self._data_key:
            self.dataset = build_dataset(config)
            self._data_key = self._key(config)
        config.train_config().check(len(self.dataset.y_train))
        self.config = replace(config)
        self.device = pick_device(config.device)
        self.model = build_model(self.config, self.dataset).to(self.device)
        self.theta0 = flat_params(self.model)
        self._new_trainer()

    def _new_trainer(self) -> None:
        self.trainer = Trainer(self.model, self.dataset, self.config.train_config())

    def reset(self) -> None:
        """Back to the same initial weights θ₀, a fresh optimiser and the same batch order."""
        set_flat_params(self.model, self.theta0)
        self._new_trainer()

    def reseed(self) -> None:
        """New initial weights (seed + 1), same data."""
        self.rebuild(replace(self.config, seed=self.config.seed + 1))

    def set_hparams(self, **values) -> None:
        """Change lr / momentum / weight decay / batch size / optimizer; applies at the next
        training step, keeping the current weights."""
        self.trainer.set_hparams(**values)
        self.config = replace(self.config, **values)

    # -- training --------------------------------------------------------------------------
    def step(self) -> TrainEvent:
        return self.trainer.step()

    def initial_event(self) -> TrainEvent:
        return self.trainer.initial_event()

    @property
    def step_count(self) -> int:
        return self.trainer.step_count

    @property
    def diverged(self) -> bool:
        return self.trainer.diverged

    @property
    def n_params(self) -> int:
        return int(self.theta0.numel())

    def theta(self) -> torch.Tensor:
        return flat_params(self.model)

    # -- for analyses that run beside training --------------------------------------------
    def model_copy(self) -> nn.Module:
        """An independent module of the same architecture (analyses run on their own copy,
        since functional_call swaps parameters in and is not safe across threads)."""
        m = copy.deepcopy(self.model)
        for p in m.parameters():
            p.requires_grad_(False)
        return m

    def loss_fn(self, model: nn.Module | None = None, split: str = "train",
                max_samples: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        model = model if model is not None else self.model_copy()
        X, y = (self.trainer.X_train, self.trainer.y_train) if split == "train" else \
            (self.trainer.X_test, self.trainer.y_test)
        if max_samples is not None and len(y) > max_samples:
            X, y = X[:max_samples], y[:max_samples]
        return loss_function(model, X, y, self.config.train_config().loss)


def _mri_dataset(config: ExperimentConfig) -> Dataset:
    """The MRI phantoms: `n` images in all (spread evenly over the 17 lesion types)."""
    from .data import mri_phantoms

    return mri_phantoms(n_per_class=max(2, round(config.n / IMAGE_CLASSES)), size=config.image_size,
                        noise=config.noise, test_fraction=config.test_fraction, seed=config.data_seed)


def _folder_dataset(config: ExperimentConfig) -> Dataset:
    """The user's folder of class subfolders (read once; the same settings come from a cache)."""
    from .data import image_folder

    return image_folder(config.folder, size=config.image_size, test_fraction=config.test_fraction,
                        seed=config.data_seed)


DATASET_BUILDERS["mri"] = _mri_dataset
DATASET_LABELS["mri"] = "MRI phantoms"
DATASET_BUILDERS["folder"] = _folder_dataset
DATASET_LABELS["folder"] = "Image folder…"


def known_datasets() -> list[str]:
    return list(TOY_NAMES) + [k for k in DATASET_BUILDERS if k not in TOY_NAMES]


__all__ = ["Experiment", "ExperimentConfig", "DATASET_BUILDERS", "DATASET_LABELS", "OPTIMIZERS",
           "build_dataset", "build_model", "known_datasets"]
