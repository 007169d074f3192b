"""Training without exact backpropagated gradients, side by side with backpropagation.

Five learning rules train the same small network (one or more tanh hidden layers and a
linear output, `engine.models.mlp`) on the same data, from the same initial weights θ₀ and
with the same minibatches:

- backpropagation, the reference: plain SGD on the cross-entropy;
- feedback alignment (Lillicrap et al. 2016): the error travels back through fixed random
  matrices Bₗ instead of the transposed forward weights Wₗᵀ;
- evolution strategies (Salimans et al. 2017): the gradient is estimated from the losses of
  antithetic Gaussian perturbations θ ± σε, ranked (fitness shaping); the whole population
  is evaluated in one batched forward (`torch.func.vmap`);
- forward-forward (Hinton 2022): each hidden layer raises its goodness G = Σⱼ hⱼ² on real
  data with the right label embedded in the input and lowers it with a wrong label; a linear
  read-out learns the classes from the activities under a neutral label;
- Hebbian learning: Oja's rule, generalised to several units by Sanger, turns the hidden
  weights into principal components of the layer's input; a linear read-out on these
  features learns the classes.

Every rule is a `Learner` whose network is, at every step, a point θ of the *same* parameter
space (forward-forward folds its neutral label into the first bias), so all paths can be
drawn on one loss surface. `train` runs one rule as a generator like `engine.training.train`;
`compare` runs several side by side, then builds the shared PCA plane of all paths with its
loss surface, the decision maps (2-D data) or confusion matrices, and λmax at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap

from .data import Dataset, toy_dataset
from .device import intra_op_threads, pick_device
from .forward_ad import jvp
from .landscape import (
    Contours,
    SurfaceGrid,
    grid_contours,
    loss_surface,
    path_projection,
    pca_directions,
)
from .models import ACTIVATIONS, mlp
from .params import flat_params, functional_forward, loss_function
from .specs import ModelSpec, SplitSpec, batch_size_problem

RULES = ("backprop", "feedback_alignment", "evolution", "forward_forward", "hebbian")
RULE_LABELS = {
    "backprop": "Backpropagation",
    "feedback_alignment": "Feedback alignment",
    "evolution": "Evolution strategies",
    "forward_forward": "Forward-forward",
    "hebbian": "Hebbian (Oja)",
}
RULE_SHORT = {"backprop": "BP", "feedback_alignment": "FA", "evolution": "ES", "forward_forward": "FF",
              "hebbian": "Hebb"}
# Activations whose derivative the local rules compute elementwise (GELU would do too, but
# the lessons speak of these).
PARADIGM_ACTIVATIONS = ("tanh", "relu", "sigmoid")


# -- settings ---------------------------------------------------------------------------------
@dataclass
class BackpropConfig:
    lr: float = 0.3  # plain SGD: the rule the others are measured against


@dataclass
class FeedbackAlignmentConfig:
    lr: float = 0.3
    feedback_scale: float = 1.0  # Bₗ ~ U(−s/√fan-in, s/√fan-in), the forward layers' own scale
    feedback_seed: int = 1


@dataclass
class EvolutionConfig:
    population: int = 100  # perturbations per step, in antithetic pairs ±ε
    sigma: float = 0.05  # perturbation size
    lr: float = 0.02  # Adam step on the estimated gradient (as Salimans et al.)
    shaping: str = "ranks"  # "ranks": centred ranks in [−½, ½]; "none": raw fitness minus its mean
    noise_seed: int = 2


@dataclass
class ForwardForwardConfig:
    lr: float = 0.01  # Adam, for the hidden layers and the read-out
    threshold: float = 0.5  # goodness threshold per unit: τ = threshold × width
    label_scale: float = 1.0  # size of the one-hot label embedded in the input
    negative_seed: int = 3


@dataclass
class HebbianConfig:
    # Oja/Sanger step η. Oja's unit tells PC1 from PC2 at the rate η(λ₁ − λ₂) per step; on digits
    # λ₁ = 0.71 and λ₂ = 0.64, and θ₀ may start almost orthogonal to PC1 (cos 0.003 at seed 0),
    # so η = 0.05 needs thousands of steps (cos∠(w₁, PC1) = 0.04 after 600, on PC2 instead).
    # η = 0.3 reaches cos > 0.99 within the default 600 steps for every seed tried, and ηλ₁
    # stays far below the instability near 1 on every toy set (λ₁ ≤ 0.9).
    lr: float = 0.3
    readout_lr: float = 0.5  # SGD on the read-out's cross-entropy (the delta rule)
    mean_rate: float = 0.05  # running mean of each layer's input (the rule works on centred inputs)


RULE_CONFIGS: dict[str, type] = {
    "backprop": BackpropConfig,
    "feedback_alignment": FeedbackAlignmentConfig,
    "evolution": EvolutionConfig,
    "forward_forward": ForwardForwardConfig,
    "hebbian": HebbianConfig,
}


@dataclass
class ParadigmsConfig(ModelSpec, SplitSpec):
    """One comparison: the task (`SplitSpec`), the network (`ModelSpec`), the schedule, the
    rules and their settings (each rule has its own step size, so there is no `OptimSpec`)."""

    dataset: str = "digits"  # any toy dataset: digits, moons, circles, spirals, xor, blobs
    n: int = 1797
    noise: float = 0.0
    hidden: tuple[int, ...] = (32,)
    rules: tuple[str, ...] = RULES
    steps: int = 600
    batch_size: int = 64  # 0: full batch
    eval_every: int = 10
    record_every: int = 5  # θ snapshots for the paths
    seed: int = 0  # θ₀ and the batch order
    device: str = "cpu"  # tiny networks run fastest on the CPU
    surface_resolution: int = 41
    surface_samples: int = 0  # training samples the surface is evaluated on (0: all)
    map_resolution: int = 100
    map_every: int = 50  # decision maps (or confusion matrices) while training, every this many steps
    curvature: bool = True  # λmax of the Hessian at each rule's end point
    threads: int | None = 1  # torch intra-op threads in the run: tiny networks run fastest on one
    backprop: BackpropConfig = field(default_factory=BackpropConfig)
    feedback_alignment: FeedbackAlignmentConfig = field(default_factory=FeedbackAlignmentConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    forward_forward: ForwardForwardConfig = field(default_factory=ForwardForwardConfig)
    hebbian: HebbianConfig = field(default_factory=HebbianConfig)

    ACTIVATIONS = PARADIGM_ACTIVATIONS  # the local rules differentiate these elementwise
    MAX_WIDTH = 1024  # this tab's cap: evolution strategies run the whole network population times a step

    def rule_config(self, rule: str):
        return getattr(self, rule)

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        """Field -> a specific message for every invalid setting (empty when valid)."""
        out = super().problems(n_train)
        unknown = [r for r in self.rules if r not in RULES]
        if unknown:
            out["rules"] = f"unknown rule {unknown[0]!r}; choose from {', '.join(RULES)}"
        elif not self.rules:
            out["rules"] = "choose at least one learning rule"
        if self.steps < 1:
            out["steps"] = f"train at least one step, got {self.steps}"
        bad = batch_size_problem(self.batch_size)
        if bad:
            out["batch_size"] = bad
        if self.map_every < 0:
            out["map_every"] = "map_every must be ≥ 0 (0: maps only at the end)"
        if self.eval_every < 1 or self.record_every < 1:
            out["eval_every"] = "evaluate and record at least every step (≥ 1)"
        if not 5 <= self.surface_resolution <= 201:
            out["surface_resolution"] = "the surface grid needs 5 to 201 points a side"
        if self.surface_samples < 0:
            out["surface_samples"] = "surface samples must be ≥ 0 (0: all)"
        for rule in RULES:
            cfg = self.rule_config(rule)
            for name in ("lr", "readout_lr", "sigma", "feedback_scale", "label_scale"):
                v = getattr(cfg, name, None)
                if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                    what = name.replace("_", " ")
                    out[f"{rule}.{name}"] = f"{RULE_LABELS[rule]}: {what} must be a positive number, got {v}"
        if self.evolution.population < 2 or self.evolution.population % 2:
            out["evolution.population"] = ("Evolution strategies: the population is an even number ≥ 2 "
                                           f"(antithetic pairs), got {self.evolution.population}")
        if self.evolution.shaping not in ("ranks", "none"):
            out["evolution.shaping"] = f"fitness shaping is 'ranks' or 'none', got {self.evolution.shaping!r}"
        if not 0 < self.forward_forward.threshold:
            out["forward_forward.threshold"] = "Forward-forward: the goodness threshold must be positive"
        if not 0 < self.hebbian.mean_rate <= 1:
            out["hebbian.mean_rate"] = "Hebbian: the running-mean rate lies in (0, 1]"
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rules"], d["hidden"] = list(self.rules), list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> ParadigmsConfig:
        """Settings from a plain dict (a preset); rule settings as nested dicts, merged into
        the defaults. Unknown names are refused with the list of known ones."""
        base = cls()
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown paradigm settings: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(names))}")
        values: dict = {}
        for key, v in d.items():
            if key in RULE_CONFIGS:
                if not isinstance(v, Mapping):
                    raise ValueError(f"{key}: give its settings as an object, e.g. {{\"lr\": 0.1}}")
                sub = RULE_CONFIGS[key]
                bad = set(v) - {f.name for f in fields(sub)}
                if bad:
                    raise ValueError(f"unknown {RULE_LABELS[key]} settings: {', '.join(sorted(bad))}; "
                                     f"known: {', '.join(f.name for f in fields(sub))}")
                values[key] = replace(getattr(base, key), **v)
            elif key in ("rules", "hidden"):
                values[key] = tuple(str(r) for r in v) if key == "rules" else tuple(int(h) for h in v)
            else:
                values[key] = v
        return replace(base, **values)


# -- the network as plain tensors --------------------------------------------------------------
def build_network(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh",
                  seed: int = 0) -> nn.Module:
    """The shared network (`engine.models.mlp`) with θ₀ drawn from its own generator.

    Weights and biases follow PyTorch's default law, U(−1/√fan-in, 1/√fan-in), but from a
    seeded `torch.Generator`, so building it never touches the global random state (other
    tabs draw from it in their own threads).
    """
    model = mlp(in_dim, hidden, out_dim, activation)
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.copy_(torch.empty(m.weight.shape).uniform_(-bound, bound, generator=g))
                m.bias.copy_(torch.empty(m.bias.shape).uniform_(-bound, bound, generator=g))
    return model


def _layers(theta: torch.Tensor, shapes: list[tuple[int, int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """θ as [(W₁, b₁), …, (W_out, b_out)] views, in `mlp`'s parameter order."""
    out, offset = [], 0
    for n_out, n_in in shapes:
        W = theta[offset : offset + n_out * n_in].view(n_out, n_in)
        offset += n_out * n_in
        b = theta[offset : offset + n_out]
        offset += n_out
        out.append((W, b))
    return out


def _flatten(layers: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for W, b in layers for t in (W, b)])


def _derivative(phi: Callable[[torch.Tensor], torch.Tensor], a: torch.Tensor) -> torch.Tensor:
    """φ′(a) elementwise, as the forward-mode derivative of φ along a vector of ones."""
    return jvp(phi, (a,), (torch.ones_like(a),))[1]


def error_signals(layers, X: torch.Tensor, y: torch.Tensor, phi, backward: Sequence[torch.Tensor]):
    """Cross-entropy gradients of every layer, with the error sent back through `backward`.

    backward[l] replaces the forward weight W_{l+1} on the way down: the forward weights
    themselves give backpropagation (the exact gradient), fixed random matrices give feedback
    alignment. Returns [(∂W₁, ∂b₁), …, (∂W_out, ∂b_out)].
    """
    hs, pre = [X], []
    for W, b in layers[:-1]:
        a = hs[-1] @ W.T + b
        pre.append(a)
        hs.append(phi(a))
    W_out, b_out = layers[-1]
    z = hs[-1] @ W_out.T + b_out
    e = (torch.softmax(z, 1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / len(y)
    grads = [(e.T @ hs[-1], e.sum(0))]
    delta = e
    for i in range(len(layers) - 2, -1, -1):
        delta = (delta @ backward[i]) * _derivative(phi, pre[i])
        grads.insert(0, (delta.T @ hs[i], delta.sum(0)))
    return grads


def angle_degrees(a: torch.Tensor, b: torch.Tensor) -> float:
    """∠(a, b) in degrees (90 for a zero vector)."""
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    denom = float(a.norm() * b.norm())
    if denom == 0.0:
        return 90.0
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b) / denom))))


def centered_ranks(values: torch.Tensor) -> torch.Tensor:
    """Fitness shaping: ranks mapped evenly onto [−½, ½] (the best gets ½), so one lucky
    perturbation cannot dominate the step and the update does not depend on the loss's scale."""
    n = len(values)
    ranks = torch.empty(n, dtype=values.dtype, device=values.device)
    ranks[values.argsort()] = torch.arange(n, dtype=values.dtype, device=values.device)
    return ranks / max(n - 1, 1) - 0.5


def es_gradient(loss_fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, sigma: float,
                population: int, generator: torch.Generator, shaping: str = "ranks"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Evolution strategies' estimate of ∇L(θ) and the population's losses.

    ε₁ … ε_{n/2} ~ N(0, I), each used as +ε and −ε (antithetic: the even terms of L's Taylor
    series cancel). Fitness Fᵢ = −L(θ + σεᵢ); the estimate is −(1/(nσ)) Σᵢ wᵢ εᵢ with
    wᵢ = centred rank of Fᵢ ("ranks") or Fᵢ − mean F ("none"). All n losses come from one
    `vmap`-batched call. Noise is drawn on the CPU, so a seed gives the same run on any device.
    """
    half = population // 2
    eps = torch.randn(half, theta.numel(), generator=generator).to(theta.device, theta.dtype)
    eps = torch.cat([eps, -eps])
    with torch.no_grad():
        losses = vmap(loss_fn)(theta.unsqueeze(0) + sigma * eps)
    fitness = -losses
    if shaping == "ranks":
        w = centered_ranks(fitness)
    else:
        w = fitness - fitness.mean()
    ascent = (w.unsqueeze(1) * eps).sum(0) / (len(eps) * sigma)
    return -ascent, losses


def _adam(state: dict, grad: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> torch.Tensor:
    """One Adam step on a flat vector: the change to add."""
    b1, b2 = betas
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = b1 * state.get("m", torch.zeros_like(grad)) + (1 - b1) * grad
    v = state["v"] = b2 * state.get("v", torch.zeros_like(grad)) + (1 - b2) * grad * grad
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return -lr * m_hat / (v_hat.sqrt() + eps)


# -- the learners -----------------------------------------------------------------------------
class Learner:
    """One rule's run: `step(X, y)` applies the rule to a minibatch; `theta()` is the network
    as a point of the shared parameter space; `extras()` holds what the rule measures."""

    rule = ""

    def __init__(self, model: nn.Module, theta0: torch.Tensor, config: ParadigmsConfig):
        self.model = model  # template only: its parameters are never changed
        self.config = config
        self.cfg = config.rule_config(self.rule)
        self.phi = ACTIVATIONS[config.activation]()
        self.shapes = [(m.out_features, m.in_features) for m in model.modules() if isinstance(m, nn.Linear)]
        self.n_classes = self.shapes[-1][0]
        self.theta_ = theta0.detach().clone()
        self.forward_passes = 0  # network evaluations per example, summed over steps

    def theta(self) -> torch.Tensor:
        return self.theta_

    def layers(self):
        return _layers(self.theta(), self.shapes)

    def outputs(self, X: torch.Tensor) -> torch.Tensor:
        """The network's logits (the plain network at `theta()`, unless the rule's differs)."""
        with torch.no_grad():
            return functional_forward(self.model)(self.theta(), X)

    def step(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Apply the rule to one minibatch."""
        raise NotImplementedError

    def measure(self) -> dict[str, float]:
        """What the rule measures about its last step (kept out of its timing)."""
        return {}

    def extras(self, data: EvalData) -> dict[str, float]:
        """Rule-specific measurements at an evaluation (besides loss and accuracy)."""
        return {}


class Backprop(Learner):
    rule = "backprop"

    def step(self, X, y):
        layers = self.layers()
        grads = error_signals(layers, X, y, self.phi, [W for W, _ in layers[1:]])
        self.theta_ = self.theta_ - self.cfg.lr * _flatten(grads)
        self.forward_passes += 2  # forward and backward


class FeedbackAlignment(Learner):
    """Lillicrap et al. 2016: δₗ = (δₗ₊₁ Bₗ₊₁) ⊙ φ′(aₗ) with fixed random Bₗ₊₁ in place of Wₗ₊₁."""

    rule = "feedback_alignment"

    def __init__(self, model, theta0, config):
        super().__init__(model, theta0, config)
        g = torch.Generator().manual_seed(int(self.cfg.feedback_seed))
        self.feedback = []
        for n_out, n_in in self.shapes[1:]:
            bound = self.cfg.feedback_scale / math.sqrt(n_in)
            self.feedback.append(torch.empty(n_out, n_in).uniform_(-bound, bound, generator=g).to(theta0.device))
        n_hidden = sum(o * i + o for o, i in self.shapes[:-1])
        self.hidden_slice = slice(0, n_hidden)  # the parameters where FA and BP differ

    def step(self, X, y):
        layers = self.layers()
        fa = _flatten(error_signals(layers, X, y, self.phi, self.feedback))
        self._last = (layers, X, y, fa)
        self.theta_ = self.theta_ - self.cfg.lr * fa
        self.forward_passes += 2

    def measure(self):
        """∠ between FA's step and the true gradient (backpropagation's) on the same batch, over
        the hidden layers, where the two differ (the output layer's are equal), and over all θ."""
        layers, X, y, fa = self._last
        true = _flatten(error_signals(layers, X, y, self.phi, [W for W, _ in layers[1:]]))
        h = self.hidden_slice
        return {"angle": angle_degrees(fa[h], true[h]), "angle_all": angle_degrees(fa, true)}


class Evolution(Learner):
    """Salimans et al. 2017, with Adam on the estimated gradient."""

    rule = "evolution"

    def __init__(self, model, theta0, config):
        super().__init__(model, theta0, config)
        self.generator = torch.Generator().manual_seed(int(self.cfg.noise_seed))
        self.adam: dict = {}

    def step(self, X, y):
        L = loss_function(self.model, X, y)
        grad, losses = es_gradient(L, self.theta_, self.cfg.sigma, self.cfg.population, self.generator,
                                   self.cfg.shaping)
        self.theta_ = self.theta_ + _adam(self.adam, grad, self.cfg.lr)
        self.forward_passes += self.cfg.population
        self._population_loss = float(losses.mean())

    def measure(self):
        return {"population_loss": self._population_loss}


class ForwardForward(Learner):
    """Hinton 2022. Layer l sees its input detached: every gradient is local to its layer.

    The label enters the first layer through an extra matrix U (zero at the start, so the run
    starts at θ₀ exactly); under the neutral label (every class at label_scale/K) U adds a
    constant to the first bias, which is how the network appears in the shared space.
    """

    rule = "forward_forward"

    def __init__(self, model, theta0, config):
        super().__init__(model, theta0, config)
        dev = theta0.device
        self.params = [torch.nn.Parameter(t.detach().clone()) for W, b in _layers(theta0, self.shapes) for t in (W, b)]
        self.U = torch.nn.Parameter(torch.zeros(self.shapes[0][0], self.n_classes, device=dev))
        self.adam: dict = {}  # one Adam over all of them (each gets only its own layer's gradient)
        self.generator = torch.Generator().manual_seed(int(self.cfg.negative_seed))

    def _pairs(self):
        return [(self.params[2 * i], self.params[2 * i + 1]) for i in range(len(self.shapes))]

    def hidden(self, X: torch.Tensor, label_input: torch.Tensor, detach: bool = True) -> list[torch.Tensor]:
        """Activities of every hidden layer for inputs with `label_input` (N, K) embedded.

        As Hinton's, a hidden layer passes on only the direction of its activity, h/‖h‖ (each
        example's vector of length 1): its goodness Σh² lives in the length, so the next layer
        cannot read the answer off it and has to find features of its own."""
        acts, h = [], X
        for i, (W, b) in enumerate(self._pairs()[:-1]):
            if i > 0:
                h = self.normalise(h)
            a = (h.detach() if detach else h) @ W.T + b
            if i == 0:
                a = a + label_input @ self.U.T
            h = self.phi(a)
            acts.append(h)
        return acts

    @staticmethod
    def normalise(h: torch.Tensor) -> torch.Tensor:
        """Each row divided by its length (a zero row stays zero)."""
        return h / h.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def outputs(self, X: torch.Tensor) -> torch.Tensor:
        """The read-out's logits on the last hidden layer's activity under the neutral label, with
        the layer-to-layer normalisation (for one hidden layer, the plain network at `theta()`)."""
        with torch.no_grad():
            h = self.hidden(X, self._neutral(len(X), X.device))[-1]
            W_out, b_out = self._pairs()[-1]
            return h @ W_out.T + b_out

    def thresholds(self) -> list[float]:
        return [self.cfg.threshold * n_out for n_out, _ in self.shapes[:-1]]

    def _labels(self, y: torch.Tensor) -> torch.Tensor:
        return self.cfg.label_scale * F.one_hot(y, self.n_classes).float()

    def _neutral(self, n: int, device) -> torch.Tensor:
        return torch.full((n, self.n_classes), self.cfg.label_scale / self.n_classes, device=device)

    def step(self, X, y):
        K = self.n_classes
        shift = torch.randint(1, K, (len(y),), generator=self.generator).to(y.device)
        y_neg = (y + shift) % K  # a wrong label for every example
        pos = self.hidden(X, self._labels(y))
        neg = self.hidden(X, self._labels(y_neg))
        loss = X.new_zeros(())
        for hp, hn, tau in zip(pos, neg, self.thresholds()):
            g_pos, g_neg = hp.pow(2).sum(1), hn.pow(2).sum(1)
            loss = loss + (F.softplus(tau - g_pos) + F.softplus(g_neg - tau)).mean()
        W_out, b_out = self._pairs()[-1]
        features = self.hidden(X, self._neutral(len(y), X.device))[-1].detach()
        loss = loss + F.cross_entropy(features @ W_out.T + b_out, y)
        tensors = self.params + [self.U]
        grads = torch.autograd.grad(loss, tensors)
        step = _adam(self.adam, torch.cat([g.reshape(-1) for g in grads]), self.cfg.lr)
        with torch.no_grad():
            offset = 0
            for t in tensors:
                t.add_(step[offset : offset + t.numel()].view_as(t))
                offset += t.numel()
        self.forward_passes += 6  # three forward passes, each with its local backward
        self._loss = float(loss.detach())

    def measure(self):
        return {"ff_loss": self._loss}

    def theta(self) -> torch.Tensor:
        with torch.no_grad():
            layers = [(W.detach(), b.detach()) for W, b in self._pairs()]
            neutral = self._neutral(1, self.U.device)[0]
            W1, b1 = layers[0]
            layers[0] = (W1, b1 + self.U.detach() @ neutral)
            return _flatten(layers).clone()

    @torch.no_grad()
    def goodness_scores(self, X: torch.Tensor) -> torch.Tensor:
        """(N, K): total goodness Σₗ Gₗ of each input with each label embedded."""
        K, N = self.n_classes, len(X)
        labels = self._labels(torch.arange(K, device=X.device)).repeat(N, 1)
        acts = self.hidden(X.repeat_interleave(K, 0), labels)
        return sum(h.pow(2).sum(1) for h in acts).view(N, K)

    def extras(self, data):
        pred = self.goodness_scores(data.X_test).argmax(1)
        return {"goodness_test_acc": float((pred == data.y_test).float().mean())}


class Hebbian(Learner):
    """Sanger's rule on each hidden layer, ΔW = η (y x̃ᵀ − LT(y yᵀ) W) with y = W x̃ and x̃ the
    centred input; its first row is exactly Oja's rule Δw = η y (x̃ − y w), whose weight
    converges to the first principal component. The bias −W μ makes the network compute
    y = W (x − μ). The read-out learns by the delta rule on the (fixed) features."""

    rule = "hebbian"

    def __init__(self, model, theta0, config):
        super().__init__(model, theta0, config)
        self.means: list[torch.Tensor | None] = [None] * (len(self.shapes) - 1)

    def step(self, X, y):
        layers = [(W.clone(), b.clone()) for W, b in self.layers()]
        eta, rate = self.cfg.lr, self.cfg.mean_rate
        h = X
        for i in range(len(layers) - 1):
            W, _ = layers[i]
            batch_mean = h.mean(0)
            mu = batch_mean if self.means[i] is None else (1 - rate) * self.means[i] + rate * batch_mean
            self.means[i] = mu
            xc = h - mu
            out = xc @ W.T
            W = W + eta * (out.T @ xc - torch.tril(out.T @ out) @ W) / len(X)
            b = -(W @ mu)
            layers[i] = (W, b)
            h = self.phi(h @ W.T + b)
        W_out, b_out = layers[-1]
        z = h @ W_out.T + b_out
        e = (torch.softmax(z, 1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / len(y)
        layers[-1] = (W_out - self.cfg.readout_lr * e.T @ h, b_out - self.cfg.readout_lr * e.sum(0))
        self.theta_ = _flatten(layers)
        self.forward_passes += 2

    def extras(self, data):
        # Oja's claim: the first unit's weight becomes the first principal component (unit
        # length, either sign); Sanger's: the H units span the top-H principal subspace.
        W1 = self.layers()[0][0]
        top = data.components[: W1.shape[0]]
        return {"pc1_cosine": abs(float(F.cosine_similarity(W1[0], data.components[0], dim=0))),
                "pc1_norm": float(W1[0].norm()),
                "subspace": float((W1 @ top.T).pow(2).sum() / W1.pow(2).sum().clamp_min(1e-30))}


LEARNERS: dict[str, type[Learner]] = {
    "backprop": Backprop,
    "feedback_alignment": FeedbackAlignment,
    "evolution": Evolution,
    "forward_forward": ForwardForward,
    "hebbian": Hebbian,
}


# -- evaluation -------------------------------------------------------------------------------
@dataclass
class EvalData:
    """The splits on the run's device, the loss functions of θ, and the inputs' first PC."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    components: torch.Tensor  # (k, d) principal directions of the centred training inputs, largest first

    @classmethod
    def from_dataset(cls, dataset: Dataset, device) -> EvalData:
        Xtr = dataset.X_train.reshape(len(dataset.X_train), -1).to(device)
        Xte = dataset.X_test.reshape(len(dataset.X_test), -1).to(device)
        centred = (Xtr - Xtr.mean(0)).double()
        # Right singular vectors of the centred inputs: their principal components, in order.
        components = torch.linalg.svd(centred, full_matrices=False)[2].to(Xtr.dtype)
        return cls(Xtr, dataset.y_train.to(device), Xte, dataset.y_test.to(device), components)


def _outputs_loss_acc(out: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    return float(F.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())


@dataclass
class RuleEvent:
    """One evaluated step of one rule (the full splits, the rule's network in the shared space)."""

    rule: str
    step: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    extras: dict[str, float] = field(default_factory=dict)  # e.g. angle (FA), goodness_test_acc (FF)
    theta: np.ndarray | None = None  # at recorded steps
    diverged: bool = False
    message: str = ""
    seconds: float = 0.0  # time this rule has spent in its steps so far
    forward_passes: int = 0  # network evaluations per training example so far


def _check_dataset(dataset: Dataset) -> None:
    if dataset.is_images and len(dataset.input_shape) == 3:
        raise ValueError("the paradigms compare fully connected networks: use flat inputs (digits or a 2-D toy set)")


class Run:
    """Several learners from one θ₀, stepped in turn on the same minibatches."""

    def __init__(self, dataset: Dataset, config: ParadigmsConfig, model: nn.Module | None = None):
        config.check()
        _check_dataset(dataset)
        self.config = config
        self.dataset = dataset
        self.device = pick_device(config.device)
        if model is None:
            model = build_network(dataset.in_features, config.hidden, dataset.n_classes, config.activation,
                                  config.seed)
        self.model = model.to(self.device)
        self.theta0 = flat_params(self.model)
        self.data = EvalData.from_dataset(dataset, self.device)
        self.learners = {r: LEARNERS[r](self.model, self.theta0, config) for r in config.rules}
        # torch.func's first call sets itself up; keep that out of the first rule's timing.
        _derivative(ACTIVATIONS[config.activation](), torch.zeros(1, 1, device=self.device))
        self.alive = {r: True for r in config.rules}
        self.seconds = {r: 0.0 for r in config.rules}
        self.pending: dict[str, dict[str, list[float]]] = {r: {} for r in config.rules}
        self.start_loss: dict[str, float] = {}
        n = len(self.data.y_train)
        self.batch_size = n if config.batch_size in (0, None) or config.batch_size >= n else int(config.batch_size)
        self.generator = torch.Generator().manual_seed(int(config.seed))
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self.step_count = 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.data.y_train)
        if self.batch_size >= n:
            return self.data.X_train, self.data.y_train
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(n, generator=self.generator).to(self.device)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return self.data.X_train[idx], self.data.y_train[idx]

    def evaluate(self, rule: str, with_theta: bool) -> RuleEvent:
        learner = self.learners[rule]
        theta = learner.theta()
        tl, ta = _outputs_loss_acc(learner.outputs(self.data.X_train), self.data.y_train)
        vl, va = _outputs_loss_acc(learner.outputs(self.data.X_test), self.data.y_test)
        extras = {k: float(np.mean(v)) for k, v in self.pending[rule].items() if v}
        self.pending[rule] = {}
        extras.update(learner.extras(self.data))
        event = RuleEvent(rule, self.step_count, tl, ta, vl, va, extras,
                          theta.detach().cpu().numpy().copy() if with_theta else None,
                          seconds=self.seconds[rule], forward_passes=learner.forward_passes)
        start = self.start_loss.setdefault(rule, tl)
        if not math.isfinite(tl) or tl > 50 * max(start, 1.0) or not bool(torch.isfinite(theta).all()):
            self.alive[rule] = False
            event.diverged = True
            event.message = (f"{RULE_LABELS[rule]} diverged at step {self.step_count} (training loss "
                             f"{tl:.3g}); lower its learning rate")
        return event

    def initial_events(self) -> list[RuleEvent]:
        return [self.evaluate(r, True) for r in self.config.rules]

    def step(self) -> list[RuleEvent]:
        """One minibatch for every live rule; evaluated events at eval/record steps."""
        X, y = self.next_batch()
        self.step_count += 1
        s = self.step_count
        events = []
        for rule, learner in self.learners.items():
            if not self.alive[rule]:
                continue
            t0 = time.perf_counter()
            learner.step(X, y)
            self.seconds[rule] += time.perf_counter() - t0
            extras = learner.measure()
            for k, v in extras.items():
                self.pending[rule].setdefault(k, []).append(v)
            record = s % self.config.record_every == 0 or s == self.config.steps
            if s % self.config.eval_every == 0 or record:
                events.append(self.evaluate(rule, record))
        return events


def _threads(config: ParadigmsConfig):
    return intra_op_threads(config.threads)


def train(rule: str, model: nn.Module, dataset: Dataset, config: ParadigmsConfig | None = None
          ) -> Iterator[RuleEvent]:
    """Train `model`'s architecture from its current parameters θ₀ with one rule.

    The module is a template and is left unchanged; each event carries the rule's network as
    a flat θ (at recorded steps). The first event is step 0. A run that diverges ends with an
    event whose `diverged` is True. Stop early by closing the generator.
    """
    config = replace(config or ParadigmsConfig(dataset=dataset.name), rules=(rule,))
    run = Run(dataset, config, model)
    with _threads(config):
        yield from run.initial_events()
        for _ in range(config.steps):
            events = run.step()
            yield from events
            if not run.alive[rule]:
                return


# -- the comparison ---------------------------------------------------------------------------
@dataclass
class CompareProgress:
    """What the comparison is doing and how far it is (0 … 1 overall)."""

    stage: str  # "training", "plane", "surface", "maps", "curvature"
    fraction: float
    text: str
    step: int = 0


@dataclass
class SharedPlane:
    """The plane through θ₀ spanned by the two principal directions of all paths together."""

    d1: np.ndarray
    d2: np.ndarray
    explained: np.ndarray  # share of the (equally weighted) displacements' squares along d₁, d₂
    paths: dict[str, np.ndarray]  # rule -> (T, 2) coordinates, θ₀ at the origin
    steps: dict[str, np.ndarray]  # rule -> (T,) steps of those snapshots
    in_plane: dict[str, float]  # rule -> share of its path's Σ‖θ_t − θ₀‖² inside the plane
    distance: dict[str, float]  # rule -> ‖θ_T − θ₀‖
    alphas: np.ndarray | None = None
    betas: np.ndarray | None = None
    Z: np.ndarray | None = None  # Z[i, j] = L(θ₀ + αᵢ d₁ + βⱼ d₂), partial (NaN rows) until done
    rows_done: int = 0
    surface_samples: int = 0
    contours: Contours | None = None  # of log₁₀ Z, once the surface is complete


@dataclass
class RuleMap:
    """How one rule's final network classifies: a decision map (2-D data) or a confusion matrix."""

    rule: str
    step: int
    probs: np.ndarray | None = None  # (res, res, C), rows along y
    extent: tuple[float, float, float, float] | None = None
    confusion: np.ndarray | None = None  # (C, C) test counts, rows: true class
    test_acc: float = float("nan")
    points: np.ndarray | None = None  # 2-D data: the training inputs (N, 2) to draw on the map
    labels: np.ndarray | None = None  # and their classes (N,)


@dataclass
class Curvature:
    """λmax of the training-loss Hessian at each rule's final weights (and at θ₀)."""

    lambda_max: dict[str, float]
    lambda_max_start: float


@dataclass
class CompareDone:
    seconds: float
    stopped_rules: list[str]


def shared_plane(theta0: torch.Tensor, paths: Mapping[str, np.ndarray], steps: Mapping[str, np.ndarray]
                 ) -> SharedPlane:
    """PCA of every rule's displacements θ_t − θ₀ together, and each path on that plane."""
    rules = [r for r in paths if len(paths[r]) > 0]
    if not rules:
        raise ValueError("no path was recorded: train for at least one recorded step")
    theta0 = theta0.detach().cpu()
    # Each path is scaled to the same root-mean-square displacement before the PCA, so a rule
    # that travels far (ES with Adam, say) does not claim both directions for itself.
    weighted = []
    for r in rules:
        rows = torch.from_numpy(paths[r]).to(theta0.dtype) - theta0
        scale = float(rows.pow(2).sum(1).mean().sqrt())
        if scale > 0:
            weighted.append(rows / scale)
    if not weighted:
        raise ValueError("no rule has moved from θ₀ yet: train a few steps first")
    d1, d2, explained = pca_directions(torch.cat(weighted), center=torch.zeros_like(theta0), centred=False)
    # A principal direction has no sign of its own: orient both so the paths end, on average,
    # at positive coordinates (training then reads left to right, bottom to top).
    ends = torch.stack([torch.from_numpy(paths[r][-1]).to(theta0.dtype) - theta0 for r in rules]).mean(0)
    d1 = d1 if float(ends @ d1) >= 0 else -d1
    d2 = d2 if float(ends @ d2) >= 0 else -d2
    coords, in_plane, distance = {}, {}, {}
    for r in rules:
        traj = torch.from_numpy(paths[r]).to(theta0.dtype)
        proj = path_projection(traj, steps[r], theta0, d1, d2)
        coords[r], in_plane[r] = proj.coords, proj.explained
        distance[r] = float((traj[-1] - theta0).norm())
    return SharedPlane(d1.numpy(), d2.numpy(), explained, coords, {r: np.asarray(steps[r]) for r in rules},
                       in_plane, distance)


def plane_grid(plane: SharedPlane, resolution: int, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A grid over the box that holds every path and θ₀, with a margin on each side; neither
    side shorter than a third of the other, so a nearly straight bundle of paths still shows
    the loss on both sides of it."""
    pts = np.concatenate([c for c in plane.paths.values()] + [np.zeros((1, 2))])
    lo, hi = pts.min(0), pts.max(0)
    centre = (lo + hi) / 2
    half = np.maximum((hi - lo) / 2, 1e-3)
    half = np.maximum(half, half.max() / 3) * (1 + 2 * margin)
    return (np.linspace(centre[0] - half[0], centre[0] + half[0], resolution),
            np.linspace(centre[1] - half[1], centre[1] + half[1], resolution))


def rule_map(run: Run, rule: str, resolution: int, step: int = 0) -> RuleMap:
    theta = run.learners[rule].theta()
    f = functional_forward(run.model)
    with torch.no_grad():
        if run.dataset.is_points:
            from .probes import grid_points

            extent = run.dataset.bounds()
            pts = grid_points(extent, resolution).to(run.device)
            probs = torch.softmax(f(theta, pts), 1).cpu().numpy().reshape(resolution, resolution, -1)
            acc = float((f(theta, run.data.X_test).argmax(1) == run.data.y_test).float().mean())
            return RuleMap(rule, step, probs=probs.astype(np.float32), extent=extent, test_acc=acc,
                           points=run.dataset.X_train.numpy(), labels=run.dataset.y_train.numpy())
        pred = f(theta, run.data.X_test).argmax(1).cpu().numpy()
        true = run.data.y_test.cpu().numpy()
        K = run.dataset.n_classes
        confusion = np.bincount(true * K + pred, minlength=K * K).reshape(K, K)
        return RuleMap(rule, step, confusion=confusion, test_acc=float((pred == true).mean()))


def compare(config: ParadigmsConfig, dataset: Dataset | None = None) -> Iterator[
        RuleEvent | CompareProgress | SharedPlane | RuleMap | Curvature | CompareDone]:
    """Train the chosen rules side by side, then draw them on one plane.

    Yields: `RuleEvent`s (every rule at step 0, then at evaluated steps, the rules in turn),
    `CompareProgress` while it works, after training a `SharedPlane` without surface, then the
    same plane with the surface filled in row block by row block (`loss_surface` on the
    plane through θ₀), a `RuleMap` per rule and `Curvature`, and last `CompareDone`. Close the
    generator to stop at the next yield.
    """
    config.check()
    t_start = time.perf_counter()
    with _threads(config):
        if dataset is None:
            dataset = toy_dataset(config.dataset, config.n, config.noise, config.test_fraction, config.data_seed)
        run = Run(dataset, config)
        paths: dict[str, list[np.ndarray]] = {r: [] for r in config.rules}
        path_steps: dict[str, list[int]] = {r: [] for r in config.rules}

        def keep(ev: RuleEvent) -> None:
            if ev.theta is not None and not ev.diverged:
                paths[ev.rule].append(ev.theta)
                path_steps[ev.rule].append(ev.step)

        for ev in run.initial_events():
            keep(ev)
            yield ev
        last_note = 0.0
        for rule in config.rules:
            yield rule_map(run, rule, config.map_resolution, step=0)
        for _ in range(config.steps):
            if not any(run.alive.values()):
                break
            for ev in run.step():
                keep(ev)
                yield ev
            if config.map_every and run.step_count % config.map_every == 0 and run.step_count < config.steps:
                for rule in config.rules:
                    if run.alive[rule]:
                        yield rule_map(run, rule, config.map_resolution, step=run.step_count)
            now = time.perf_counter()
            if now - last_note > 0.1 or run.step_count == config.steps:
                last_note = now
                yield CompareProgress("training", 0.8 * run.step_count / config.steps,
                                      f"training step {run.step_count:,}/{config.steps:,}", run.step_count)

        # The shared plane: PCA of all displacements from θ₀, then the loss over it.
        yield CompareProgress("plane", 0.8, "fitting the shared plane (PCA of all paths)")
        arrays = {r: np.stack(p) for r, p in paths.items() if len(p) >= 1}
        steps_arr = {r: np.asarray(path_steps[r]) for r in arrays}
        plane = shared_plane(run.theta0, arrays, steps_arr)
        yield plane
        res = config.surface_resolution
        alphas, betas = plane_grid(plane, res)
        m = config.surface_samples
        n_train = len(run.data.y_train)
        X, y = run.data.X_train, run.data.y_train
        if 0 < m < n_train:
            X, y = X[:m], y[:m]  # the split is shuffled already: a fixed, representative subset
        L = loss_function(run.model, X, y)
        dev = run.device
        theta0 = run.theta0
        d1 = torch.from_numpy(plane.d1).to(dev, theta0.dtype)
        d2 = torch.from_numpy(plane.d2).to(dev, theta0.dtype)
        Z = np.full((res, res), np.nan)
        b = torch.from_numpy(betas).to(dev, theta0.dtype)
        rows = max(1, 256 // res)  # about 256 grid points per batched call
        for i in range(0, res, rows):
            a = torch.from_numpy(alphas[i : i + rows]).to(dev, theta0.dtype)
            Z[i : i + rows] = loss_surface(L, theta0, d1, d2, a, b).cpu().numpy()
            done = min(res, i + rows)
            yield CompareProgress("surface", 0.8 + 0.15 * done / res, f"loss surface: row {done}/{res}")
        contours = grid_contours(SurfaceGrid(alphas, betas, Z, 0, 1, res * res, res * res), log_scale=True)
        plane = replace(plane, alphas=alphas, betas=betas, Z=Z, rows_done=res, surface_samples=len(y),
                        contours=contours)
        yield plane

        for rule in config.rules:
            yield rule_map(run, rule, config.map_resolution, step=run.step_count)
        yield CompareProgress("maps", 0.96, "decision maps" if dataset.is_points else "confusion matrices")

        if config.curvature:
            from .hessian import top_eigenvalues

            L_full = loss_function(run.model, run.data.X_train, run.data.y_train)
            lam: dict[str, float] = {}
            for k, rule in enumerate(config.rules):
                yield CompareProgress("curvature", 0.96 + 0.04 * k / len(config.rules),
                                      f"λmax at the end of {RULE_LABELS[rule]}")
                vals, _ = top_eigenvalues(L_full, run.learners[rule].theta(), k=1, iters=60, seed=0)
                lam[rule] = float(vals[0])
            vals, _ = top_eigenvalues(L_full, theta0, k=1, iters=60, seed=0)
            yield Curvature(lam, float(vals[0]))
        yield CompareProgress("done", 1.0, "done", run.step_count)
        yield CompareDone(time.perf_counter() - t_start, [r for r, ok in run.alive.items() if not ok])


__all__ = ["RULES", "RULE_LABELS", "RULE_SHORT", "ParadigmsConfig", "BackpropConfig", "FeedbackAlignmentConfig",
           "EvolutionConfig", "ForwardForwardConfig", "HebbianConfig", "build_network", "error_signals",
           "es_gradient", "centered_ranks", "angle_degrees", "Learner", "LEARNERS", "Run", "RuleEvent", "train",
           "compare", "CompareProgress", "SharedPlane", "RuleMap", "Curvature", "CompareDone", "shared_plane",
           "plane_grid", "EvalData"]
