"""Lottery tickets: iterative magnitude pruning (IMP) with rewinding, and the two controls.

IMP (Frankle & Carbin 2019): train, remove the smallest-magnitude p% of the surviving
weights, set the survivors back to their values at the rewind point (θ₀, or θ_k after k
steps: Frankle et al. 2020), train again; repeat. The subnetwork it finds is a *winning
ticket* if it trains to the dense network's accuracy. Two controls say whether that is more
than sparsity: "reinit" keeps the ticket's mask but draws fresh random weights, "random"
keeps the rewound weights but draws a random mask with the same number of weights per layer.

A mask is a dict name -> 0/1 tensor over a parameter; pruned weights are held at exactly
zero during training (gradients masked, weights re-masked after each step).

Speed: every network that trains in one round (the ticket and its controls, for every seed)
trains side by side as one stacked network (`MaskedEnsemble`): the weights of all members
are stacked along a leading axis and one batched matmul (or `torch.func.vmap`) advances all of
them, each with its own mask, initial weights and minibatch order.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from . import data as data_module
from .data import Dataset, toy_dataset
from .device import intra_op_threads, pick_device
from .models import ACTIVATIONS, mlp, small_cnn
from .specs import ModelSpec, OptimSpec, SplitSpec
from .training import TrainConfig, Trainer

CONTROLS = ("ticket", "reinit", "random")
SCOPES = ("layer", "global")
CONTROL_LABELS = {"ticket": "winning ticket (rewound)", "reinit": "same mask, fresh weights",
                  "random": "random mask, same weights"}

Masks = dict[str, torch.Tensor]


# -- masks ------------------------------------------------------------------------------------
def prunable_names(model: nn.Module | Mapping[str, torch.Tensor], prune_biases: bool = False) -> list[str]:
    """Names of the parameters pruning acts on: every weight matrix or kernel (and the biases
    when asked), in the model's order."""
    named = _named_tensors(model)
    return [n for n, p in named.items() if p.ndim >= 2 or (prune_biases and p.ndim == 1)]


def output_layer_name(model: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """The last weight matrix: the classifier, pruned at its own (lower) rate."""
    names = [n for n, p in _named_tensors(model).items() if p.ndim >= 2]
    if not names:
        raise ValueError("the model has no weight matrix to prune")
    return names[-1]


def _named_tensors(model: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if isinstance(model, nn.Module):
        return {n: p.detach() for n, p in model.named_parameters()}
    return {n: torch.as_tensor(p) for n, p in model.items()}


def n_to_prune(fraction: float, n_remaining: int) -> int:
    """How many of `n_remaining` weights a round of `fraction` removes (rounded to nearest)."""
    return int(math.floor(fraction * n_remaining + 0.5))


def _prune_smallest(scores: torch.Tensor, alive: torch.Tensor, k: int) -> torch.Tensor:
    """New 0/1 mask (flat) with the k smallest `scores` among the alive entries removed.

    Exactly k go (ties broken by position), so sparsity is exact, never "all at the threshold".
    """
    alive = alive.bool()
    out = alive.clone()
    if k <= 0:
        return out
    idx = torch.nonzero(alive, as_tuple=True)[0]
    k = min(k, idx.numel())
    order = torch.argsort(scores[idx], stable=True)
    out[idx[order[:k]]] = False
    return out


def magnitude_masks(model: nn.Module | Mapping[str, torch.Tensor], fraction: float, scope: str = "global",
                    masks: dict | None = None, output_fraction: float | None = None,
                    prune_biases: bool = False) -> dict[str, torch.Tensor]:
    """Prune `fraction` of what remains, by weight magnitude; returns new 0/1 masks.

    scope "layer": every prunable tensor loses `fraction` of its own surviving weights;
    "global": one ranking over all of them (layers with small weights lose more).
    `output_fraction` (open_lth / Frankle & Carbin: half the rate) prunes the output layer
    separately at its own rate; None: the output layer is treated like the others. Biases are
    left alone unless `prune_biases`. `masks` are the current ones (None: nothing pruned yet).
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the pruning fraction must lie in [0, 1), got {fraction}")
    if output_fraction is not None and not 0.0 <= output_fraction < 1.0:
        raise ValueError(f"the output layer's pruning fraction must lie in [0, 1), got {output_fraction}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose {' or '.join(SCOPES)}")
    weights = _named_tensors(model)
    names = prunable_names(weights, prune_biases)
    current = {n: (masks[n] if masks and n in masks else torch.ones_like(weights[n])) for n in names}
    for n, m in current.items():
        if m.shape != weights[n].shape:
            raise ValueError(f"mask {n} has shape {tuple(m.shape)}, the weight {tuple(weights[n].shape)}")
    out_name = output_layer_name(weights) if output_fraction is not None else None
    new: dict[str, torch.Tensor] = {}
    groups: list[tuple[list[str], float]] = []
    if out_name is not None and out_name in names:
        groups.append(([out_name], output_fraction))
    rest = [n for n in names if n != out_name]
    if scope == "layer":
        groups += [([n], fraction) for n in rest]
    elif rest:
        groups.append((rest, fraction))
    for group, frac in groups:
        scores = torch.cat([weights[n].abs().reshape(-1).float() for n in group])
        alive = torch.cat([current[n].reshape(-1) for n in group]) > 0
        keep = _prune_smallest(scores, alive, n_to_prune(frac, int(alive.sum())))
        offset = 0
        for n in group:
            size = weights[n].numel()
            new[n] = keep[offset : offset + size].view(weights[n].shape).to(weights[n].dtype)
            offset += size
    return {n: new[n] for n in names}


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned weights of `model` in place.

    Training keeps them at zero when the optimiser sees masked gradients and the weights are
    re-masked after each step: `engine.training.Trainer.masks` and `MaskedEnsemble` do both.
    """
    params = dict(model.named_parameters())
    unknown = set(masks) - set(params)
    if unknown:
        raise KeyError(f"masks for parameters the model does not have: {', '.join(sorted(unknown))}")
    with torch.no_grad():
        for name, m in masks.items():
            params[name].mul_(m.to(params[name].device, params[name].dtype))


def remaining_fraction(masks: Mapping[str, torch.Tensor]) -> float:
    """Share of the masked weights still alive (1.0: dense)."""
    total = sum(int(m.numel()) for m in masks.values())
    if total == 0:
        return 1.0
    return float(sum(float(torch.as_tensor(m).sum()) for m in masks.values()) / total)


def layer_remaining(masks: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Share of weights alive in each masked tensor."""
    return {n: float(torch.as_tensor(m).float().mean()) for n, m in masks.items()}


def random_masks_like(masks: Mapping[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random masks with exactly as many survivors per tensor as `masks` (the "random" control)."""
    g = torch.Generator().manual_seed(int(seed))
    out = {}
    for n, m in masks.items():
        k = int(m.sum())
        flat = torch.zeros(m.numel(), dtype=m.dtype)
        flat[torch.randperm(m.numel(), generator=g)[:k]] = 1
        out[n] = flat.view(m.shape).to(m.device)
    return out


def full_masks(model: nn.Module | Mapping[str, torch.Tensor], prune_biases: bool = False) -> Masks:
    weights = _named_tensors(model)
    return {n: torch.ones_like(weights[n]) for n in prunable_names(weights, prune_biases)}


# -- settings -------------------------------------------------------------------------------
@dataclass
class LotteryConfig(OptimSpec, ModelSpec, SplitSpec):
    """One lottery experiment; the defaults are LeNet-300-100 on scikit-learn's 8×8 digits with
    Frankle & Carbin's rates: 20% of each layer per round, 10% of the output layer, Adam
    1.2e-3, batch 60, 13 rounds (≈6% of the weights left)."""

    dataset: str = "digits"  # or "mri": the MRI phantoms with the small CNN
    n: int = 1797
    noise: float = 0.0
    hidden: tuple[int, ...] = (300, 100)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1.2e-3
    batch_size: int = 60
    image_size: int = 32  # MRI phantoms only
    steps: int = 500  # training steps per round (rewound runs train steps − k)
    eval_every: int = 20
    rounds: int = 13
    prune_fraction: float = 0.2
    output_fraction: float | None = 0.1
    prune_biases: bool = False
    scope: str = "layer"
    # "init" (θ₀, Frankle & Carbin 2019) or an iteration k of the dense run (Frankle et al. 2020).
    # 20 steps ≈ one epoch of digits: the ticket's lead over both controls is larger and steadier
    # across seeds than with θ₀ (see the lesson and tests/test_pruning.py's claim test).
    rewind: str | int = 20
    controls: tuple[str, ...] = CONTROLS
    seeds: tuple[int, ...] = (0,)
    device: str = "auto"

    DATASETS = data_module.TOY_NAMES + ("mri",)

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        """Field -> a specific message for every invalid setting (empty when valid)."""
        out = super().problems(n_train)
        if self.dataset == "mri" and not hasattr(data_module, "mri_phantoms"):
            out["dataset"] = "the MRI phantoms are not part of this installation; use digits"
        if self.steps < 1:
            out["steps"] = f"train at least 1 step per round, got {self.steps}"
        if self.eval_every < 1:
            out["eval_every"] = f"eval_every must be ≥ 1, got {self.eval_every}"
        if not 1 <= self.rounds <= 40:
            out["rounds"] = f"rounds must lie between 1 and 40, got {self.rounds}"
        if not 0.0 < self.prune_fraction < 1.0:
            out["prune_fraction"] = f"the pruning rate must lie strictly between 0 and 1, got {self.prune_fraction}"
        if self.output_fraction is not None and not 0.0 <= self.output_fraction < 1.0:
            out["output_fraction"] = f"the output layer's rate must lie in [0, 1), got {self.output_fraction}"
        if self.scope not in SCOPES:
            out["scope"] = f"unknown scope {self.scope!r}; choose {' or '.join(SCOPES)}"
        if self.rewind != "init":
            if isinstance(self.rewind, bool) or not isinstance(self.rewind, int):
                out["rewind"] = f"rewind to \"init\" or to an iteration k (a whole number), got {self.rewind!r}"
            elif not 0 <= self.rewind < self.steps:
                out["rewind"] = f"the rewind iteration must lie in [0, {self.steps}), got {self.rewind}"
        bad = [c for c in self.controls if c not in CONTROLS]
        if bad or not self.controls:
            out["controls"] = f"controls are {', '.join(CONTROLS)}; got {list(self.controls)}"
        if not self.seeds:
            out["seeds"] = "give at least one seed"
        elif len(set(self.seeds)) != len(self.seeds):
            out["seeds"] = f"seeds must differ, got {list(self.seeds)}"
        return out

    @property
    def rewind_step(self) -> int:
        return 0 if self.rewind == "init" else int(self.rewind)

    def build_dataset(self) -> Dataset:
        if self.dataset == "mri":
            phantoms = data_module.mri_phantoms
            return phantoms(size=self.image_size, noise=self.noise or 0.05,
                            test_fraction=self.test_fraction, seed=self.data_seed)
        return toy_dataset(self.dataset, n=self.n, noise=self.noise, test_fraction=self.test_fraction,
                           seed=self.data_seed)

    def model_factory(self, dataset: Dataset) -> Callable[[], nn.Module]:
        """A function that builds a fresh, randomly initialised network (seed it first)."""
        shape = tuple(dataset.input_shape)
        if len(shape) == 3:
            return lambda: small_cnn(shape[0], dataset.n_classes, shape[-1])
        hidden, act = tuple(int(h) for h in self.hidden), self.activation
        return lambda: mlp(dataset.in_features, hidden, dataset.n_classes, act)

    def train_config(self) -> TrainConfig:
        return TrainConfig(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                           batch_size=self.batch_size, weight_decay=self.weight_decay, steps=self.steps,
                           eval_every=self.eval_every, device=self.device)

    @property
    def final_remaining(self) -> float:
        """The share of weights left after all rounds, without training (for labels)."""
        return float((1 - self.prune_fraction) ** self.rounds)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["hidden"], d["controls"], d["seeds"] = list(self.hidden), list(self.controls), list(self.seeds)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> LotteryConfig:
        names = set(cls.__dataclass_fields__)
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown lottery settings: {', '.join(sorted(unknown))}")
        d = dict(d)
        for key in ("hidden", "seeds"):
            if key in d:
                d[key] = tuple(int(v) for v in d[key])
        if "controls" in d:
            d["controls"] = tuple(d["controls"])
        return replace(cls(), **d)


# -- events ---------------------------------------------------------------------------------
@dataclass
class PruneRound:
    """One network trained at one sparsity: the ticket of a round, or one of its controls."""

    round: int
    remaining: float  # share of the prunable weights alive
    train_acc: float
    test_acc: float
    layer_remaining: dict[str, float]
    control: str = "ticket"
    seed: int = 0
    train_loss: float = float("nan")
    test_loss: float = float("nan")
    steps: int = 0  # steps trained this round
    curve_steps: np.ndarray | None = None  # the round's learning curve (test accuracy)
    curve_acc: np.ndarray | None = None
    masks: dict[str, np.ndarray] | None = None  # bool, per prunable tensor
    state: dict[str, np.ndarray] | None = None  # trained weights at the end of the round
    rewind_state: dict[str, np.ndarray] | None = None  # what survivors are reset to (ticket only)
    seconds: float = 0.0

    def row(self) -> dict:
        """The plain numbers of this round (a CSV row)."""
        out = {"round": self.round, "control": self.control, "seed": self.seed,
               "remaining": self.remaining, "train_acc": self.train_acc, "test_acc": self.test_acc,
               "train_loss": self.train_loss, "test_loss": self.test_loss, "steps": self.steps,
               "seconds": round(self.seconds, 3)}
        out.update({f"remaining[{k}]": v for k, v in self.layer_remaining.items()})
        return out


@dataclass
class RoundProgress:
    """The round being trained, every `eval_every` steps: learning curves so far."""

    round: int
    remaining: float
    step: int
    total_steps: int
    labels: list[tuple[int, str]]  # (seed, control) of each curve
    curve_steps: np.ndarray  # (T,)
    curve_acc: np.ndarray  # (members, T) test accuracy
    rounds_total: int = 0
    diverged: bool = False
    message: str = ""


# -- training many masked networks at once --------------------------------------------------
def _stackable_mlp(model: nn.Module) -> list[tuple[str, object]] | None:
    """The layer plan of a plain MLP (Linear + elementwise activations), or None."""
    if not isinstance(model, nn.Sequential):
        return None
    plan: list[tuple[str, object]] = []
    for name, module in model.named_children():
        if isinstance(module, nn.Linear):
            plan.append(("linear", name))
        elif isinstance(module, tuple(ACTIVATIONS.values())):
            plan.append(("act", module))
        else:
            return None
    return plan


# The backward of each activation a plain MLP may use, from (gradient, its input, its output):
# the kernels autograd itself calls, so the hand-written backward gives autograd's numbers.
_ACTIVATION_BACKWARD: dict[type, Callable[[torch.Tensor, torch.Tensor, torch.Tensor, nn.Module], torch.Tensor]] = {
    nn.ReLU: lambda g, z, h, m: torch.ops.aten.threshold_backward(g, h, 0.0),
    nn.Tanh: lambda g, z, h, m: torch.ops.aten.tanh_backward(g, h),
    nn.Sigmoid: lambda g, z, h, m: torch.ops.aten.sigmoid_backward(g, h),
    nn.GELU: lambda g, z, h, m: torch.ops.aten.gelu_backward(g, z, approximate=m.approximate),
    nn.Identity: lambda g, z, h, m: g,
}


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log_softmax over the last axis, written out: for a few classes ATen's kernel is several
    times slower (and far slower with two threads) than these four elementwise steps."""
    z = logits - logits.amax(-1, keepdim=True).detach()  # the shift changes no gradient
    return z - z.exp().sum(-1, keepdim=True).log_()


class _BatchOrder:
    """Minibatch indices for one network: a fresh permutation each epoch, the last incomplete
    batch dropped; the same sequence `engine.training.Trainer` draws for the same seed."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, min(batch_size, n)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.order = torch.empty(0, dtype=torch.long)
        self.cursor = 0

    def next(self) -> torch.Tensor:
        if self.batch_size >= self.n:
            return torch.arange(self.n)
        if self.cursor + self.batch_size > len(self.order):
            self.order = torch.randperm(self.n, generator=self.generator)
            self.cursor = 0
        idx = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return idx

    def skip(self, steps: int) -> None:
        for _ in range(steps):
            self.next()


class MaskedEnsemble:
    """B networks of one architecture trained side by side, each with its own weights, mask and
    minibatch order, as one stacked network.

    Plain MLPs run as batched matmuls (`torch.baddbmm`); other modules (the CNN) through
    `torch.func.vmap` over `functional_call`. Each member's loss is its own mean cross-entropy
    and the gradient of their sum is each member's own; SGD / Adam are written out elementwise
    with a step count per member, so members never mix and a member can wait (frozen) while
    others train. Masked weights get zero gradients, so they stay exactly zero.
    Same weights and batches as `engine.training.Trainer`, same result.
    """

    def __init__(self, template: nn.Module, states: Sequence[Mapping[str, torch.Tensor]],
                 masks: Sequence[Mapping[str, torch.Tensor]], dataset: Dataset, config: TrainConfig,
                 order_seeds: Sequence[int], skip_steps: Sequence[int] | None = None):
        if not (len(states) == len(masks) == len(order_seeds)) or not states:
            raise ValueError("give one state, one mask set and one order seed per member")
        self.device = pick_device(config.device)
        self.config = config
        self.template = copy.deepcopy(template).to(self.device)
        self.names = [n for n, _ in self.template.named_parameters()]
        self.params = {n: torch.stack([torch.as_tensor(s[n]) for s in states]).to(self.device).contiguous()
                       .requires_grad_(True) for n in self.names}
        mask_names = sorted(set().union(*[set(m) for m in masks]), key=self.names.index)
        self.masks = {n: torch.stack([torch.as_tensor(m[n]) if n in m else torch.ones_like(self.params[n][0])
                                      for m in masks]).to(self.device, self.params[n].dtype)
                      for n in mask_names}
        with torch.no_grad():
            for n, m in self.masks.items():
                self.params[n].mul_(m)
        # Masks that keep every weight (the dense round) need no multiply each step.
        self._gradient_masks = {n: m for n, m in self.masks.items() if not bool(m.all())}
        self.size = len(states)
        self.X_train = dataset.X_train.to(self.device)
        self.y_train = dataset.y_train.to(self.device)
        self.X_test = dataset.X_test.to(self.device)
        self.y_test = dataset.y_test.to(self.device)
        bs = len(self.y_train) if config.batch_size in (0, None) else int(config.batch_size)
        self.orders = [_BatchOrder(len(self.y_train), bs, s) for s in order_seeds]
        for order, k in zip(self.orders, skip_steps or [0] * self.size):
            order.skip(int(k))
        self.state: dict[str, dict[str, torch.Tensor]] = {n: {} for n in self.names}
        self.member_steps = torch.zeros(self.size, device=self.device)  # optimiser steps taken
        self._member_step_views = list(self.member_steps.unbind(0))  # each member's count, for fused Adam
        self._grads: dict[str, torch.Tensor] | None = None
        self._fused_lists: dict[tuple[int, ...], tuple[list[torch.Tensor], ...]] = {}
        self._plan = _stackable_mlp(self.template)
        # A stacked MLP's operations each take about 0.1 ms on the CPU: a second intra-op
        # thread gains nothing there, and on a busy 2-core machine waiting for it makes every
        # operation many times slower. One thread, as for the other small networks.
        self._threads = 1 if self.device.type == "cpu" and self._plan is not None else None
        self.step_count = 0
        self.start_loss: torch.Tensor | None = None

    # -- forward -------------------------------------------------------------------------
    def forward(self, X: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """X: (B, N, ...) one batch per member -> outputs (B, N, classes)."""
        params = self.params if params is None else params
        if self._plan is not None:
            h = X.flatten(2)
            for kind, item in self._plan:
                if kind == "linear":
                    W, b = params[f"{item}.weight"], params.get(f"{item}.bias")
                    h = torch.bmm(h, W.transpose(1, 2)) if b is None else torch.baddbmm(b.unsqueeze(1), h,
                                                                                          W.transpose(1, 2))
                else:
                    h = item(h)
            return h
        template = self.template

        def one(p, x):
            return functional_call(template, p, (x,))

        return torch.func.vmap(one)(dict(params), X)

    def member_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's mean cross-entropy: out (B, N, classes), y (B, N) -> (B,)."""
        return -_log_softmax(out).gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(1)

    # -- training ------------------------------------------------------------------------
    def step(self, active: torch.Tensor | None = None) -> torch.Tensor:
        """One step of every member (or of the `active` ones, a (B,) bool; the others keep
        their weights and optimiser state exactly); returns the minibatch losses (B,)."""
        with intra_op_threads(self._threads):
            return self._step(active)

    def _step(self, active: torch.Tensor | None) -> torch.Tensor:
        idx = torch.stack([o.next() for o in self.orders]).to(self.device)
        Xb, yb = self.X_train[idx], self.y_train[idx]
        if self._plan is not None:
            losses, grads = self._mlp_losses_and_gradients(Xb, yb)
        else:
            losses = self.member_losses(self.forward(Xb), yb)
            fresh = torch.autograd.grad(losses.sum(), [self.params[n] for n in self.names])
            grads = self._gradient_buffers()
            with torch.no_grad():
                for n, g in zip(self.names, fresh):
                    grads[n].copy_(g)
        self._optimizer_step(grads, None if active is None else active.to(self.device))
        self.step_count += 1
        losses = losses.detach()
        if self.start_loss is None:
            self.start_loss = losses.clone()
        return losses

    @torch.no_grad()
    def _mlp_losses_and_gradients(self, X: torch.Tensor, y: torch.Tensor
                                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Minibatch losses (B,) and the gradient of their sum for a plain MLP, the backward
        written out (batched matmuls and autograd's own activation kernels) with no graph."""
        h = X.flatten(2)
        trace = []  # (kind, item, input, output) of each step
        for kind, item in self._plan:
            if kind == "linear":
                W, b = self.params[f"{item}.weight"], self.params.get(f"{item}.bias")
                out = torch.bmm(h, W.transpose(1, 2)) if b is None else torch.baddbmm(b.unsqueeze(1), h,
                                                                                        W.transpose(1, 2))
            else:
                out = item(h)
            trace.append((kind, item, h, out))
            h = out
        B, N, _ = h.shape
        logp = _log_softmax(h)
        losses = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(1)
        # d(mean cross-entropy)/d(logits) = (softmax − one-hot) / N, per member.
        grad = logp.exp_()
        grad.scatter_add_(-1, y.unsqueeze(-1), torch.full((B, N, 1), -1.0, dtype=grad.dtype, device=grad.device))
        grad.mul_(1.0 / N)
        grads = self._gradient_buffers()
        for i, (kind, item, inp, out) in enumerate(reversed(trace)):
            if kind == "act":
                grad = _ACTIVATION_BACKWARD[type(item)](grad, inp, out, item)
                continue
            torch.bmm(grad.transpose(1, 2), inp, out=grads[f"{item}.weight"])
            if f"{item}.bias" in grads:
                torch.sum(grad, 1, out=grads[f"{item}.bias"])
            if i < len(trace) - 1:  # the network's input needs no gradient
                grad = torch.bmm(grad, self.params[f"{item}.weight"])
        return losses, grads

    def _gradient_buffers(self) -> dict[str, torch.Tensor]:
        """One gradient tensor per stacked parameter, reused every step (fused Adam's per-member
        slices of it are made once)."""
        if self._grads is None:
            self._grads = {n: torch.zeros_like(p, requires_grad=False) for n, p in self.params.items()}
        return self._grads

    @torch.no_grad()
    def _optimizer_step(self, grads: dict[str, torch.Tensor], active: torch.Tensor | None) -> None:
        """torch.optim.SGD / Adam, written out over the stacked weights so that every member
        keeps its own step count (Adam's bias correction) and idle members stay untouched.

        Pruned weights get zero gradients: they start at zero, and with a zero gradient (and
        zero optimiser state) neither optimiser moves them, so they stay exactly zero. Adam on
        the CPU runs as one fused kernel over blocks of members (each block with its own step
        count), in one pass instead of one per elementwise operation."""
        cfg = self.config
        for n, m in self._gradient_masks.items():
            if n in grads:
                grads[n].mul_(m)  # the step's own gradient buffers
        if active is None:
            self.member_steps += 1
        else:
            self.member_steps += active.to(self.member_steps.dtype)
        adam = cfg.optimizer == "adam"
        # The fused kernel is a private op of recent PyTorch builds; older ones take the written-out form.
        if adam and self.device.type == "cpu" and hasattr(torch, "_fused_adam_"):
            self._fused_adam(grads, active)
            return
        if adam:
            beta1, beta2, eps = 0.9, 0.999, 1e-8
            t = self.member_steps.clamp(min=1)
            step_size = cfg.lr / (1 - beta1 ** t)  # (B,) per member, computed once per step
            inv_bc2 = 1 / torch.sqrt(1 - beta2 ** t)
        for n, p in self.params.items():
            g = grads.get(n)
            if g is None:
                continue
            if cfg.weight_decay:
                g = g.add(p, alpha=cfg.weight_decay)
            shape = (self.size,) + (1,) * (p.ndim - 1)
            if active is not None:
                g = g * active.view(shape).to(g.dtype)  # zero gradient, fresh state: no move
            state = self.state[n]
            if adam:
                if not state:
                    state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                m, v = state["m"], state["v"]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = v.sqrt().mul_(inv_bc2.view(shape)).add_(eps).div_(step_size.view(shape))
                p.addcdiv_(m, denom, value=-1.0)
            else:
                if cfg.momentum:
                    if not state:
                        state["buf"] = torch.zeros_like(p)
                    g = state["buf"].mul_(cfg.momentum).add_(g)
                p.sub_(g, alpha=cfg.lr)

    def _fused_adam(self, grads: dict[str, torch.Tensor], active: torch.Tensor | None) -> None:
        """Adam for the members that step, as `torch._fused_adam_`: one call, one pass over the
        weights. The kernel takes one step count per tensor, so each run of neighbouring members
        with the same count goes in as one block of the stacked tensors (lottery_run places
        members that start together side by side, which keeps the blocks few and large)."""
        on = [True] * self.size if active is None else active.tolist()
        counts = self.member_steps.tolist()
        runs, b = [], 0
        while b < self.size:
            if not on[b]:
                b += 1
                continue
            e = b + 1
            while e < self.size and on[e] and counts[e] == counts[b]:
                e += 1
            runs.append((b, e))
            b = e
        if not runs:
            return
        key = tuple(runs)
        lists = self._fused_lists.get(key)
        if lists is None:
            for n in self.names:
                if not self.state[n]:
                    self.state[n]["m"] = torch.zeros_like(self.params[n])
                    self.state[n]["v"] = torch.zeros_like(self.params[n])
            # Blocks of the stacked tensors (contiguous, updated in place), made once per pattern.
            lists = tuple([t[i:e] for t in tensors for i, e in runs] for tensors in (
                [self.params[n] for n in self.names], [grads[n] for n in self.names],
                [self.state[n]["m"] for n in self.names], [self.state[n]["v"] for n in self.names]))
            lists += ([self._member_step_views[i] for _ in self.names for i, _ in runs],)
            self._fused_lists[key] = lists
        params, gs, ms, vs, steps = lists
        cfg = self.config
        torch._fused_adam_(params, gs, ms, vs, [], steps, lr=cfg.lr, beta1=0.9, beta2=0.999,
                           weight_decay=float(cfg.weight_decay or 0.0), eps=1e-8, amsgrad=False, maximize=False)

    @torch.no_grad()
    def evaluate(self, split: str = "test", chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """(loss (B,), accuracy (B,)) of every member on a whole split."""
        with intra_op_threads(self._threads):
            return self._evaluate(split, chunk)

    def _evaluate(self, split: str, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = (self.X_test, self.y_test) if split == "test" else (self.X_train, self.y_train)
        total = torch.zeros(self.size, device=self.device)
        correct = torch.zeros(self.size, device=self.device)
        for i in range(0, len(y), chunk):
            xb, yb = X[i : i + chunk], y[i : i + chunk]
            out = self.forward(xb.unsqueeze(0).expand(self.size, *xb.shape))
            yy = yb.unsqueeze(0).expand(self.size, -1)
            total += self.member_losses(out, yy) * len(yb)
            correct += (out.argmax(-1) == yy).float().sum(1)
        return (total / len(y)).cpu().numpy(), (correct / len(y)).cpu().numpy()

    def diverged(self, losses: torch.Tensor, explode_factor: float = 50.0) -> np.ndarray:
        """Which members' losses are not finite or far above where they started."""
        start = torch.clamp(self.start_loss if self.start_loss is not None else losses, min=1.0)
        return (~torch.isfinite(losses) | (losses > explode_factor * start)).cpu().numpy()

    def member_state(self, b: int) -> dict[str, torch.Tensor]:
        """Member b's weights (a detached CPU copy), as a state_dict of the template."""
        return {n: self.params[n][b].detach().cpu().clone() for n in self.names}


# -- IMP -----------------------------------------------------------------------------------
def _init_state(model_factory: Callable[[], nn.Module], seed: int) -> dict[str, torch.Tensor]:
    """The initial weights a seed gives, without disturbing the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = model_factory()
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters()}


def _numpy_state(state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {n: t.detach().cpu().numpy().copy() for n, t in state.items()}


def _reinit_seed(seed: int, round_: int) -> int:
    return 1_000_003 * (int(seed) + 1) + 7919 * round_  # a fresh draw per seed and round


def lottery_run(config: LotteryConfig, dataset: Dataset | None = None,
                model_factory: Callable[[], nn.Module] | None = None,
                progress: bool = True) -> Iterator[PruneRound | RoundProgress]:
    """IMP for every seed of `config`, with the controls, one round at a time.

    Round 0 trains the dense network (one per seed; it is every control's starting point).
    Each later round prunes the previous round's trained ticket, rewinds its survivors and
    trains, beside it, the controls that use the new mask. Yields `RoundProgress` every
    `eval_every` steps and one `PruneRound` per seed and control at the end of each round.
    `progress=False` (tests, benchmarks, scripts): no RoundProgress and learning curves with
    only their first and last point, which saves the evaluations in between. Close the
    generator to stop.
    """
    config.check()
    dataset = dataset if dataset is not None else config.build_dataset()
    model_factory = model_factory or config.model_factory(dataset)
    template = model_factory()
    tcfg = config.train_config()
    tcfg.check(len(dataset.y_train))
    seeds = list(config.seeds)
    controls = [c for c in CONTROLS if c in config.controls]
    k = config.rewind_step

    init = {s: _init_state(model_factory, s) for s in seeds}
    masks = {s: full_masks(init[s], config.prune_biases) for s in seeds}
    rewind_state: dict[int, dict[str, torch.Tensor]] = {s: init[s] for s in seeds}
    rewind_np: dict[int, dict[str, np.ndarray]] = {}
    trained_ticket: dict[int, dict[str, torch.Tensor]] = {}

    for r in range(config.rounds + 1):
        t_round = time.perf_counter()
        # Who trains this round: (seed, control), initial weights, mask, batches already seen.
        members: list[tuple[int, str]] = []
        states, member_masks, skips = [], [], []
        for s in seeds:
            if r == 0:
                members.append((s, "dense"))
                states.append(init[s])
                member_masks.append(masks[s])
                skips.append(0)
                continue
            masks[s] = magnitude_masks(trained_ticket[s], config.prune_fraction, config.scope, masks[s],
                                       config.output_fraction, config.prune_biases)
            for c in controls:
                members.append((s, c))
                if c == "ticket":
                    states.append(rewind_state[s])
                    member_masks.append(masks[s])
                elif c == "reinit":
                    states.append(_init_state(model_factory, _reinit_seed(s, r)))
                    member_masks.append(masks[s])
                else:
                    states.append(rewind_state[s])
                    member_masks.append(random_masks_like(masks[s], _reinit_seed(s, r) + 1))
                # Rewound networks resume at step k; reinit trains from scratch, the full budget.
                skips.append(0 if c == "reinit" else k)
        # The ensemble holds members that start together side by side (its fused Adam takes
        # each such block at once); results are still reported in the order above.
        slots = sorted(range(len(members)), key=lambda i: skips[i] == 0)
        report_order = sorted(range(len(slots)), key=slots.__getitem__)
        members, states, member_masks, skips = ([xs[i] for i in slots]
                                                for xs in (members, states, member_masks, skips))
        steps = [tcfg.steps - skip for skip in skips]
        total = max(steps)
        # One clock for the round: shorter (rewound) runs start later and stay frozen until
        # then; the batches they skip are drawn while frozen, the rest now.
        start_after = torch.tensor([total - n for n in steps])
        ens = MaskedEnsemble(template, states, member_masks, dataset, tcfg, [s for s, _ in members],
                             [skip - int(wait) for skip, wait in zip(skips, start_after)])
        remaining = remaining_fraction(masks[seeds[0]])
        curve_steps, curve_acc = [0], [_curve_point(ens, start_after, 0)]
        for step in range(1, total + 1):
            if r == 0 and k and step == k + 1:
                # θ_k of the dense run: where late rewinding sends the survivors.
                rewind_state = {s: ens.member_state(b) for b, (s, _) in enumerate(members)}
            active = start_after < step
            losses = ens.step(None if bool(active.all()) else active)
            bad = ens.diverged(losses) & active.numpy()
            if bad.any():
                b = int(np.flatnonzero(bad)[0])
                s, c = members[b]
                yield RoundProgress(r, remaining, step, total, members, np.asarray(curve_steps),
                                    np.stack(curve_acc, 1), config.rounds, diverged=True,
                                    message=f"training diverged in round {r} (seed {s}, {c}): the loss is "
                                            f"{float(losses[b]):.3g}; lower the learning rate")
                return
            if step == total or (progress and step % tcfg.eval_every == 0):
                curve_steps.append(step)
                curve_acc.append(_curve_point(ens, start_after, step))
                if progress:
                    yield RoundProgress(r, remaining, step, total, members, np.asarray(curve_steps),
                                        np.stack(curve_acc, 1), config.rounds)
        if r == 0:
            rewind_np = {s: _numpy_state(rewind_state[s]) for s in seeds}
        yield from _round_results(r, ens, members, masks, controls, steps, rewind_np, trained_ticket,
                                  np.asarray(curve_steps), np.stack(curve_acc, 1), time.perf_counter() - t_round,
                                  report_order)


def _curve_point(ens: MaskedEnsemble, start_after: torch.Tensor, step: int) -> np.ndarray:
    """Test accuracy of every member at `step` of the round's clock (NaN before it starts)."""
    acc = ens.evaluate("test")[1]
    acc[(start_after > step).numpy()] = np.nan
    return acc


def _round_results(r: int, ens: MaskedEnsemble, members: list[tuple[int, str]], masks: dict[int, Masks],
                   controls: list[str], steps: list[int], rewind_np: dict[int, dict[str, np.ndarray]],
                   trained_ticket: dict[int, dict[str, torch.Tensor]], curve_steps: np.ndarray,
                   curve_acc: np.ndarray, seconds: float, order: Sequence[int]) -> Iterator[PruneRound]:
    """The PruneRounds of a trained round, members taken in `order`; keeps each seed's trained
    ticket for the next pruning."""
    test_loss, test_acc = ens.evaluate("test")
    train_loss, train_acc = ens.evaluate("train")
    for b in order:
        s, c = members[b]
        trained = ens.member_state(b)
        own = masks[s] if c != "random" else {n: m[b].cpu() for n, m in ens.masks.items()}
        info = dict(round=r, remaining=remaining_fraction(own), train_acc=float(train_acc[b]),
                    test_acc=float(test_acc[b]), layer_remaining=layer_remaining(own), seed=s,
                    train_loss=float(train_loss[b]), test_loss=float(test_loss[b]), steps=steps[b],
                    curve_steps=curve_steps, curve_acc=curve_acc[b].copy(), seconds=seconds)
        if c not in ("dense", "ticket"):
            yield PruneRound(control=c, **info)
            continue
        trained_ticket[s] = trained
        info.update(masks={n: m.cpu().numpy() > 0 for n, m in masks[s].items()}, state=_numpy_state(trained),
                    rewind_state=rewind_np[s])
        for control in (controls if c == "dense" else ["ticket"]):  # the dense net starts every curve
            yield PruneRound(control=control, **info)


def iterative_magnitude_pruning(dataset: Dataset, model_factory: Callable[[], nn.Module], config: TrainConfig,
                                rounds: int = 6, prune_fraction: float = 0.2, rewind: str | int = "init",
                                control: str = "ticket", scope: str = "global", seed: int = 0, *,
                                output_fraction: float | None = None,
                                prune_biases: bool = False) -> Iterator[PruneRound]:
    """IMP on `dataset`: `rounds` rounds of pruning `prune_fraction` of what remains.

    `config` sets the training of every round (optimizer, lr, batch size, steps, device);
    `model_factory()` builds a fresh network (seeded with `seed` first). Yields one PruneRound
    per round, round 0 being the dense network. control "ticket": the rewound survivors;
    "reinit": the ticket's mask with fresh random weights; "random": a random mask of the same
    per-layer sparsity on the rewound weights (the ticket's masks are found alongside).
    """
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; choose one of {', '.join(CONTROLS)}")
    lottery = LotteryConfig(optimizer=config.optimizer, lr=config.lr, momentum=config.momentum,
                            batch_size=config.batch_size or len(dataset.y_train),
                            weight_decay=config.weight_decay, steps=config.steps, eval_every=config.eval_every,
                            rounds=rounds, prune_fraction=prune_fraction, output_fraction=output_fraction,
                            prune_biases=prune_biases, scope=scope, rewind=rewind,
                            controls=tuple(dict.fromkeys(("ticket", control))), seeds=(seed,),
                            device=config.device)
    for item in lottery_run(lottery, dataset, model_factory, progress=False):
        if isinstance(item, PruneRound) and item.control == control:
            yield item


# -- summaries and files ---------------------------------------------------------------------
def summarize(rounds: Sequence[PruneRound]) -> dict[str, dict[str, np.ndarray]]:
    """control -> {"remaining", "mean", "std", "n"} of test accuracy over seeds, per round."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for c in CONTROLS:
        rows = [r for r in rounds if r.control == c]
        if not rows:
            continue
        idx = sorted({r.round for r in rows})
        rem = np.array([np.mean([r.remaining for r in rows if r.round == i]) for i in idx])
        accs = [[r.test_acc for r in rows if r.round == i] for i in idx]
        out[c] = {"round": np.array(idx), "remaining": rem, "mean": np.array([np.mean(a) for a in accs]),
                  "std": np.array([np.std(a) for a in accs]), "n": np.array([len(a) for a in accs])}
    return out


def rounds_csv(rounds: Sequence[PruneRound]) -> str:
    """The round table as CSV text: one row per round, control and seed."""
    rows = [r.row() for r in rounds]
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_rounds_csv(path: str | Path, rounds: Sequence[PruneRound]) -> Path:
    path = Path(path)
    _atomic_write(path, lambda p: p.write_text(rounds_csv(rounds), encoding="utf-8"))
    return path


def save_ticket(path: str | Path, state: Mapping[str, np.ndarray | torch.Tensor],
                masks: Mapping[str, np.ndarray | torch.Tensor], info: Mapping | None = None) -> Path:
    """Write a pruned network: {"state_dict", "masks", "info"}; only tensors and plain values,
    so `load_ticket` reads it back with torch.load(weights_only=True)."""
    payload = {"state_dict": {n: torch.as_tensor(np.asarray(v)).clone() for n, v in state.items()},
               "masks": {n: torch.as_tensor(np.asarray(v)).to(torch.bool).clone() for n, v in masks.items()},
               "info": _plain(dict(info or {}))}
    path = Path(path)
    _atomic_write(path, lambda p: torch.save(payload, p))
    return path


def load_ticket(path: str | Path) -> dict:
    """Read what `save_ticket` wrote (nothing is unpickled: weights_only=True)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or not {"state_dict", "masks"} <= set(payload):
        raise ValueError(f"{path} is not a saved lottery ticket (no state_dict and masks)")
    return payload


def _plain(v):
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


@dataclass
class RetrainPoint:
    """The ticket retrained beside the dense network: test accuracy so far of both."""

    step: int
    total_steps: int
    steps: np.ndarray
    dense_acc: np.ndarray
    ticket_acc: np.ndarray
    dense_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ticket_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))


def retrain_ticket(config: LotteryConfig, rewind_state: Mapping[str, np.ndarray | torch.Tensor],
                   masks: Mapping[str, np.ndarray | torch.Tensor], seed: int = 0,
                   dataset: Dataset | None = None,
                   model_factory: Callable[[], nn.Module] | None = None) -> Iterator[RetrainPoint]:
    """Train a ticket again beside the dense network it came from, for their learning curves.

    Dense: θ₀ of `seed`, every weight, `steps` steps. Ticket: the rewind point (θ₀ or θ_k) under `masks`,
    `steps − k` steps, drawn on the same step axis (it starts at k). Both use
    `engine.training.Trainer` (the ticket through its `masks`), the same minibatch order as
    `lottery_run` for that seed, so the ticket reaches the accuracy its round reported.
    """
    config.check()
    dataset = dataset if dataset is not None else config.build_dataset()
    model_factory = model_factory or config.model_factory(dataset)
    k = config.rewind_step
    tcfg = replace(config.train_config(), seed=int(seed), eval_every=config.eval_every)
    dense_model, ticket_model = model_factory(), model_factory()
    _load(dense_model, _init_state(model_factory, seed))  # θ₀ of that seed
    _load(ticket_model, rewind_state)
    dense = Trainer(dense_model, dataset, tcfg)
    ticket = Trainer(ticket_model, dataset, tcfg)
    ticket.masks = {n: torch.as_tensor(np.asarray(m)).to(ticket.device, torch.float32) for n, m in masks.items()}
    apply_masks(ticket.model, ticket.masks)
    ticket.skip_batches(k)
    steps, d_acc, t_acc, d_loss, t_loss = [], [], [], [], []

    def record(step: int) -> RetrainPoint:
        _, _, dl, da = dense.evaluate()
        steps.append(step)
        d_acc.append(da)
        d_loss.append(dl)
        if step >= k:
            _, _, tl, ta = ticket.evaluate()
        else:
            tl, ta = float("nan"), float("nan")
        t_acc.append(ta)
        t_loss.append(tl)
        return RetrainPoint(step, config.steps, np.asarray(steps), np.asarray(d_acc), np.asarray(t_acc),
                            np.asarray(d_loss), np.asarray(t_loss))

    yield record(0)
    for step in range(1, config.steps + 1):
        events = [dense.step()]
        if step > k:
            events.append(ticket.step())
        if any(e.diverged for e in events):
            raise RuntimeError(f"training diverged at step {step}; lower the learning rate")
        if step % config.eval_every == 0 or step == config.steps:
            yield record(step)


def _load(model: nn.Module, state: Mapping[str, np.ndarray | torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, v in state.items():
            params[n].copy_(torch.as_tensor(np.asarray(v)))
