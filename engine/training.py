"""Training as a generator of events.

`Trainer` holds the state of one run (model, optimiser, batch order, step count) and advances
one optimisation step at a time; `train` wraps it in the generator the API promises. The
learning rate, momentum and weight decay can change between steps (`Trainer.set_hparams`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from .data import Dataset
from .device import pick_device
from .optim import SGD, Adam
from .params import flat_params, loss_value
from .specs import OPTIMIZERS, OptimSpec  # noqa: F401  (OPTIMIZERS: callers import it from here)


@dataclass
class TrainConfig(OptimSpec):
    """One training run: the optimiser (`OptimSpec`: optimizer, lr, momentum, batch_size,
    weight_decay) and how long, how often to evaluate, which seed and device."""

    steps: int = 500
    eval_every: int = 10
    seed: int = 0
    device: str = "auto"
    loss: str = "cross_entropy"
    explode_factor: float = 50.0  # a loss this many times its start (at least 1.0) counts as diverged

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        """Field name -> a specific message for every invalid setting (empty when valid)."""
        out = super().problems(n_train)
        if self.steps < 0:
            out["steps"] = f"steps must be ≥ 0, got {self.steps}"
        if self.eval_every < 1:
            out["eval_every"] = f"eval_every must be ≥ 1, got {self.eval_every}"
        return out


@dataclass
class TrainEvent:
    step: int
    epoch: float
    train_loss: float  # full training set at evaluated steps, else the minibatch
    test_loss: float  # NaN at steps that were not evaluated
    train_acc: float
    test_acc: float
    theta: np.ndarray | None = None
    diverged: bool = False
    evaluated: bool = False
    batch_loss: float = float("nan")
    message: str = ""


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str = "cross_entropy",
             chunk: int = 1024) -> tuple[float, float]:
    """(mean loss, accuracy) over a whole split, in chunks so big image sets fit."""
    if len(y) == 0:
        return float("nan"), float("nan")
    total, correct = 0.0, 0
    for i in range(0, len(y), chunk):
        out = model(X[i : i + chunk])
        yb = y[i : i + chunk]
        total += float(loss_value(out, yb, loss)) * len(yb)
        if out.ndim == 2 and out.shape[1] > 1 and yb.dtype == torch.int64:
            correct += int((out.argmax(1) == yb).sum())
    acc = correct / len(y) if loss == "cross_entropy" or y.dtype == torch.int64 else float("nan")
    return total / len(y), acc


def make_optimizer(params, config: TrainConfig) -> SGD | Adam:
    if config.optimizer == "adam":
        return Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


class Trainer:
    """One training run, advanced a step at a time."""

    def __init__(self, model: nn.Module, dataset: Dataset, config: TrainConfig,
                 record_theta_every: int = 0):
        n_train = len(dataset.y_train)
        config.check(n_train)
        self.config = replace(config)
        self.device = pick_device(config.device)
        self.model = model.to(self.device)
        self.dataset = dataset
        # Images and kernels channels-last for a convolutional network: the CPU's convolutions and
        # max pooling (oneDNN) and GPUs' tensor cores run fastest on that layout (a training step
        # of the MRI CNN measured 25% faster on a CPU). θ keeps its order: flat_params reshapes.
        layout = torch.contiguous_format
        if dataset.X_train.ndim == 4 and any(isinstance(m, nn.Conv2d) for m in model.modules()):
            layout = torch.channels_last
            self.model.to(memory_format=layout)
        # Data moves to the device once; batches are index views, never copies from the host.
        self.X_train = dataset.X_train.to(self.device, memory_format=layout)
        self.y_train = dataset.y_train.to(self.device)
        self.X_test = dataset.X_test.to(self.device, memory_format=layout)
        self.y_test = dataset.y_test.to(self.device)
        self.n_train = n_train
        self.batch_size = n_train if config.batch_size in (0, None) else int(config.batch_size)
        self.record_theta_every = record_theta_every
        self._optimizer: SGD | Adam | None = None
        self.generator = torch.Generator().manual_seed(int(config.seed))
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self.step_count = 0
        self.samples_seen = 0
        self.start_loss: float | None = None
        self.diverged = False
        self._pending: dict[str, float] = {}
        self.masks: dict[str, torch.Tensor] | None = None  # pruning masks kept at zero

    # -- hyperparameters that may change mid-run -------------------------------------------
    @property
    def optimizer(self) -> SGD | Adam:
        if self._optimizer is None:
            self._optimizer = make_optimizer(self.model.parameters(), self.config)
        return self._optimizer

    @optimizer.setter
    def optimizer(self, value: SGD | Adam) -> None:
        self._optimizer = value

    LIVE_FIELDS = ("lr", "momentum", "weight_decay", "batch_size", "optimizer")

    def set_hparams(self, **values) -> None:
        """Queue new lr / momentum / weight_decay / batch_size / optimizer values; they apply
        at the next step (a new optimizer starts with fresh state, from the current weights)."""
        unknown = set(values) - set(self.LIVE_FIELDS)
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))} during a run")
        probe = replace(self.config, **{**self._pending, **values})
        probe.check(self.n_train)
        self._pending = {**self._pending, **values}

    def _apply_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        old_optimizer = self.config.optimizer
        self.config = replace(self.config, **pending)
        if "batch_size" in pending:
            self.batch_size = self.n_train if self.config.batch_size in (0, None) else int(self.config.batch_size)
            self._order, self._cursor = torch.empty(0, dtype=torch.long), 0
        if self.config.optimizer != old_optimizer:
            self.optimizer = make_optimizer(self.model.parameters(), self.config)
            return
        for group in self.optimizer.param_groups:
            for key in ("lr", "momentum", "weight_decay"):
                if key in pending and key in group:
                    group[key] = pending[key]

    # -- batches ---------------------------------------------------------------------------
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch_size >= self.n_train:
            return self.X_train, self.y_train
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(self.n_train, generator=self.generator).to(self.device)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return self.X_train[idx], self.y_train[idx]

    def skip_batches(self, n: int) -> None:
        """Draw and discard `n` minibatches: a run resumed at step n (a rewound lottery
        ticket) then sees the batches an uninterrupted run would."""
        for _ in range(int(n)):
            self._next_batch()

    @property
    def epoch(self) -> float:
        return self.samples_seen / self.n_train

    def evaluate(self) -> tuple[float, float, float, float]:
        """(train loss, train acc, test loss, test acc) over the full splits."""
        was_training = self.model.training
        self.model.eval()
        tl, ta = evaluate(self.model, self.X_train, self.y_train, self.config.loss)
        vl, va = evaluate(self.model, self.X_test, self.y_test, self.config.loss)
        self.model.train(was_training)
        return tl, ta, vl, va

    def theta(self) -> np.ndarray:
        return flat_params(self.model).cpu().numpy()

    def initial_event(self) -> TrainEvent:
        """An evaluated event for the current weights, without taking a step."""
        tl, ta, vl, va = self.evaluate()
        if self.start_loss is None and math.isfinite(tl):
            self.start_loss = tl
        return TrainEvent(self.step_count, self.epoch, tl, vl, ta, va,
                          theta=self.theta() if self.record_theta_every else None,
                          evaluated=True, batch_loss=tl)

    def step(self) -> TrainEvent:
        """One optimisation step; evaluates on both splits every `eval_every` steps."""
        if self.diverged:
            raise RuntimeError("this run diverged; reset it before training on")
        self._apply_pending()
        self.model.train()
        Xb, yb = self._next_batch()
        self.optimizer.zero_grad(set_to_none=True)
        out = self.model(Xb)
        loss = loss_value(out, yb, self.config.loss)
        loss.backward()
        if self.masks is not None:
            self._mask_gradients()
        batch_loss = float(loss.detach())
        if self.start_loss is None and math.isfinite(batch_loss):
            self.start_loss = batch_loss
        limit = self.config.explode_factor * max(self.start_loss or 1.0, 1.0)
        if not math.isfinite(batch_loss) or batch_loss > limit:
            self.diverged = True
            why = "not a number" if not math.isfinite(batch_loss) else f"{batch_loss:.3g}, above {limit:.3g}"
            return TrainEvent(self.step_count, self.epoch, batch_loss, float("nan"), float("nan"),
                              float("nan"), diverged=True, batch_loss=batch_loss,
                              message=f"training diverged at step {self.step_count}: loss {why}; "
                                      "lower the learning rate and reset")
        self.optimizer.step()
        if self.masks is not None:
            self._apply_masks()
        self.step_count += 1
        self.samples_seen += len(yb)
        acc = float((out.detach().argmax(1) == yb).float().mean()) if out.ndim == 2 and out.shape[1] > 1 \
            and yb.dtype == torch.int64 else float("nan")
        event = TrainEvent(self.step_count, self.epoch, batch_loss, float("nan"), acc, float("nan"),
                           batch_loss=batch_loss)
        if self.step_count % self.config.eval_every == 0:
            tl, ta, vl, va = self.evaluate()
            event.train_loss, event.train_acc, event.test_loss, event.test_acc = tl, ta, vl, va
            event.evaluated = True
            if not math.isfinite(tl):
                self.diverged = True
                event.diverged = True
                event.message = (f"training diverged at step {self.step_count}: the loss is not a number; "
                                 "lower the learning rate and reset")
        if self.record_theta_every and self.step_count % self.record_theta_every == 0:
            event.theta = self.theta()
        return event

    # -- pruning support (masked weights stay exactly zero) -------------------------------
    def _mask_gradients(self) -> None:
        params = dict(self.model.named_parameters())
        for name, m in self.masks.items():
            g = params[name].grad
            if g is not None:
                g.mul_(m)

    def _apply_masks(self) -> None:
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, m in self.masks.items():
                params[name].mul_(m)


def train(model: nn.Module, dataset: Dataset, config: TrainConfig,
          record_theta_every: int = 0) -> Iterator[TrainEvent]:
    """Train `model` in place, yielding an evaluated event for step 0 and one event per step.

    Stop early by closing the generator. A NaN/inf loss, or one that explodes far above its
    start, ends the run with a final event whose `diverged` is True.
    """
    trainer = Trainer(model, dataset, config, record_theta_every)
    yield trainer.initial_event()
    for _ in range(config.steps):
        event = trainer.step()
        yield event
        if event.diverged:
            return


@dataclass
class History:
    """Curves of a run, accumulated from events (what the Train tab plots)."""

    steps: list[int] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)

    def add(self, event: TrainEvent) -> None:
        if event.diverged:
            return
        self.steps.append(event.step)
        self.batch_loss.append(event.batch_loss)
        if event.evaluated:
            if self.eval_steps and self.eval_steps[-1] == event.step:
                return
            self.eval_steps.append(event.step)
            self.train_loss.append(event.train_loss)
            self.test_loss.append(event.test_loss)
            self.train_acc.append(event.train_acc)
            self.test_acc.append(event.test_acc)

    def as_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.__dict__.items()}
