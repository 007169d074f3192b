"""The networks the lab trains. Layers carry names (fc1, act1, …) that panels can list."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "linear": nn.Identity,
}


class ResidualMLP(nn.Module):
    """A fully connected network with skip connections: h ← h + act(fc(h)) wherever a layer keeps
    the width of the one before it (He et al. 2016, with dense layers).

    Modules, in the order they run: fc1, act1, then per later layer fc_k, act_k and — where the
    widths match — skip_k, an identity applied to the sum (so hooks on a layer's last module see
    the block's output, the skip included), then out. Parameters are laid out exactly as in the
    plain `mlp` of the same widths, so one θ fits both.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh"):
        super().__init__()
        width = in_dim
        self._skips: list[bool] = []
        for i, h in enumerate(hidden, start=1):
            self.add_module(f"fc{i}", nn.Linear(width, h))
            self.add_module(f"act{i}", ACTIVATIONS[activation]())
            skip = i > 1 and h == width
            if skip:
                self.add_module(f"skip{i}", nn.Identity())
            self._skips.append(skip)
            width = h
        self.out = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, skip in enumerate(self._skips, start=1):
            branch = getattr(self, f"act{i}")(getattr(self, f"fc{i}")(h))
            h = getattr(self, f"skip{i}")(h + branch) if skip else branch
        return self.out(h)


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh",
        residual: bool = False) -> nn.Module:
    """A fully connected network: fc1, act1, fc2, act2, …, out. `residual=True`: the same layers
    with skip connections around every layer that keeps its width (see `ResidualMLP`)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    hidden = [int(h) for h in hidden]
    if any(h < 1 for h in hidden):
        raise ValueError(f"every hidden layer needs at least 1 unit, got {hidden}")
    if in_dim < 1 or out_dim < 1:
        raise ValueError("input and output sizes must be positive")
    if residual:
        return ResidualMLP(in_dim, hidden, out_dim, activation)
    layers: list[tuple[str, nn.Module]] = []
    width = in_dim
    for i, h in enumerate(hidden, start=1):
        layers.append((f"fc{i}", nn.Linear(width, h)))
        layers.append((f"act{i}", ACTIVATIONS[activation]()))
        width = h
    layers.append(("out", nn.Linear(width, out_dim)))
    return nn.Sequential(OrderedDict(layers))


class SmallCNN(nn.Module):
    """Three conv blocks, then dense layers fc1 and fc2 (256 units), then the classifier.

    fc2's 256 outputs are the feature space the lessons talk about.
    """

    forward_runs_layer_chain = True  # `forward` is `layer_chain()` applied in turn

    def __init__(self, in_channels: int, n_classes: int, size: int = 64, channels=(16, 32, 64)):
        super().__init__()
        if size < 8:
            raise ValueError(f"images must be at least 8 pixels wide, got {size}")
        blocks: list[tuple[str, nn.Module]] = []
        c_in, s = in_channels, size
        for i, c in enumerate(channels, start=1):
            blocks.append((f"conv{i}", nn.Conv2d(c_in, c, 3, padding=1)))
            blocks.append((f"relu{i}", nn.ReLU()))
            blocks.append((f"pool{i}", nn.MaxPool2d(2)))
            c_in, s = c, s // 2
        self.features = nn.Sequential(OrderedDict(blocks))
        self.pool = nn.AdaptiveAvgPool2d(4 if s >= 4 else s)
        self.flatten = nn.Flatten(1)
        flat = c_in * min(s, 4) ** 2
        self.fc1 = nn.Linear(flat, 256)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(256, 256)
        self.act2 = nn.ReLU()
        self.out = nn.Linear(256, n_classes)
        # He initialisation suits ReLU: with PyTorch's default the activations shrink layer by
        # layer and the untrained network answers the same for every image, so Adam idles for
        # hundreds of steps before learning starts.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.out.weight, std=0.01)

    def layer_chain(self) -> list[nn.Module]:
        """The layers in the order the forward pass applies them (read by the layer-wise Hessian)."""
        return [*self.features, self.pool, self.flatten, self.fc1, self.act1, self.fc2, self.act2, self.out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layer_chain():
            x = layer(x)
        return x


def small_cnn(in_channels: int, n_classes: int, size: int = 64) -> nn.Module:
    """The default image classifier (see `SmallCNN`)."""
    return SmallCNN(in_channels, n_classes, size)


DEFAULT_HIDDEN = (16, 16)


def model_for(dataset, **kw) -> nn.Module:
    """The default model for a dataset: a CNN for image tensors, otherwise an MLP.

    Keyword arguments: `hidden` and `activation` for MLPs.
    """
    shape = tuple(dataset.input_shape)
    if len(shape) == 3:
        return small_cnn(shape[0], dataset.n_classes, shape[-1])
    hidden = kw.get("hidden", (64, 64) if dataset.in_features > 2 else DEFAULT_HIDDEN)
    return mlp(dataset.in_features, hidden, dataset.n_classes, kw.get("activation", "tanh"))
