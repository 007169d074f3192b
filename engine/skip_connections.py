"""Skip connections and the roughness of loss surfaces (Li et al. 2018, Fig. 5).

A deep plain network's loss surface on a filter-normalised plane is rough and chaotic; the same
network with skip connections around its layers has a smooth, nearly convex basin. `roughness`
puts one number on the difference, and `compare_skip_connections` trains both variants from the
same seed and measures both surfaces on the same kind of plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .device import intra_op_threads
from .landscape import direction_pair, loss_surface, orthogonalise_normalised, roughness


@dataclass
class SkipSettings:
    """The comparison: moons, a 20-layer tanh MLP with and without skip connections, trained
    briefly with Adam from the same initial weights, surfaces on a ±1 filter-normalised plane."""

    depth: int = 20
    width: int = 16
    activation: str = "tanh"
    n: int = 400
    noise: float = 0.1
    steps: int = 200
    lr: float = 0.002
    batch_size: int = 64
    resolution: int = 31
    span: float = 1.0
    samples: int = 128  # training samples the surface is evaluated on


def surface_of(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, seed: int, resolution: int,
               span: float) -> np.ndarray:
    """Z on a ±span filter-normalised plane through the model's weights (directions from `seed`)."""
    from .params import flat_params, loss_function

    theta = flat_params(model)
    d1, d2 = direction_pair(model, "filter", seed, theta)
    d2, _ = orthogonalise_normalised(model, d1, d2, theta, "filter")
    grid = torch.linspace(-span, span, resolution)
    return loss_surface(loss_function(model, X, y), theta, d1, d2, grid, grid).cpu().numpy()


def compare_skip_connections(seed: int, settings: SkipSettings | None = None) -> dict[str, float]:
    """Train the plain and the residual network from one seed (same data, same θ₀, same batches)
    and measure both surfaces' roughness and the final training losses. One intra-op thread:
    on a small machine a second thread costs more than it gains for networks this narrow."""
    from .data import toy_dataset
    from .models import mlp
    from .training import TrainConfig, Trainer

    s = settings or SkipSettings()
    ds = toy_dataset("moons", n=s.n, noise=s.noise, seed=seed)
    out: dict[str, float] = {}
    with intra_op_threads(1):
        for name, residual in (("plain", False), ("residual", True)):
            torch.manual_seed(seed)
            model = mlp(ds.in_features, [s.width] * s.depth, ds.n_classes, s.activation, residual=residual)
            trainer = Trainer(model, ds, TrainConfig(optimizer="adam", lr=s.lr, batch_size=s.batch_size,
                                                     seed=seed, device="cpu", eval_every=10**9))
            for _ in range(s.steps):
                if trainer.step().diverged:
                    raise ValueError(f"the {name} network diverged at step {trainer.step_count}")
            out[f"{name}_train_loss"] = float(trainer.evaluate()[0])
            Z = surface_of(model, trainer.X_train[: s.samples], trainer.y_train[: s.samples], seed,
                           s.resolution, s.span)
            out[f"{name}_roughness"] = roughness(Z)
    return out


__all__ = ["roughness", "SkipSettings", "surface_of", "compare_skip_connections"]
