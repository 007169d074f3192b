"""Claims of the curvature presets: the edge of stability under full-batch gradient descent."""

from __future__ import annotations

import numpy as np

from ..sharpness import EdgeOfStabilityConfig, edge_of_stability
from . import Claim, Numbers, register


def measure_edge_of_stability(seed: int) -> Numbers:
    """λmax at θ₀ and over the second half of a 600-step full-batch run (η = 0.5, noisy moons,
    2-16-16-2 tanh, cross-entropy), as fractions of 2/η; the seed draws the data and θ₀."""
    cfg = EdgeOfStabilityConfig(dataset="moons", n=600, noise=0.3, hidden=(16, 16), lr=0.5, steps=600,
                                track_every=30, seed=seed)
    points = list(edge_of_stability(cfg))
    steps = np.array([p.step for p in points])
    lam = np.array([p.lambda_max for p in points]) / cfg.threshold
    loss = np.array([p.train_loss for p in points])
    late = steps >= cfg.steps // 2
    return {"start": float(lam[0]), "late_min": float(lam[late].min()), "late_max": float(lam[late].max()),
            "loss_mid": float(loss[late][0]), "loss_end": float(loss[-1])}


register(Claim(
    name="edge-of-stability",
    text=("Full-batch gradient descent at η = 0.5 on the noisy moons: λmax starts well below the stability "
          "limit 2/η = 4, climbs to it within a few hundred steps, and over steps 300–600 stays within "
          "10% of it while the loss keeps falling."),
    measure=measure_edge_of_stability,
    holds=lambda n: (n["start"] < 0.6 and 0.9 <= n["late_min"] and n["late_max"] <= 1.1
                     and n["loss_end"] < n["loss_mid"]),
    summary=lambda n: (f"λmax/(2/η) {n['start']:.2f} at θ₀, {n['late_min']:.2f}–{n['late_max']:.2f} late; "
                       f"loss {n['loss_mid']:.3f} → {n['loss_end']:.3f}"),
))
