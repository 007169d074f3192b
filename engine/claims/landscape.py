"""Claims of the loss-landscape presets: skip connections smooth a deep network's surface."""

from __future__ import annotations

from ..skip_connections import compare_skip_connections
from . import Claim, Numbers, register

RATIO = 1.5  # the plain surface's roughness over the residual one's, at least


def measure_skip_connections(seed: int) -> Numbers:
    """Both 20-layer networks trained from one seed; their surfaces' roughness and its ratio."""
    n = compare_skip_connections(seed)
    n["ratio"] = n["plain_roughness"] / n["residual_roughness"]
    return n


register(Claim(
    name="landscape-skip-connections",
    text=("A 20-layer tanh network on the moons, trained 200 Adam steps: on a ±1 filter-normalised plane the "
          "roughness Σ|Δ²L| / Σ|ΔL| of its loss surface is at least 1.5 times that of the same network with "
          "skip connections, trained from the same initial weights."),
    measure=measure_skip_connections,
    holds=lambda n: n["ratio"] >= RATIO,
    summary=lambda n: (f"roughness plain {n['plain_roughness']:.3f} vs residual {n['residual_roughness']:.3f} "
                       f"(×{n['ratio']:.2f}); train loss {n['plain_train_loss']:.3f} vs "
                       f"{n['residual_train_loss']:.3f}"),
))
