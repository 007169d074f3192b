"""Claims of the saddle presets: how long gradient descent and momentum take to leave x² − y²."""

from __future__ import annotations

import numpy as np

from ..critical import SURFACES, descent_paths
from . import Claim, Numbers, register

# The preset's set-up: start near the stable axis of x² − y², η = 0.05, β = 0.9; a run has escaped
# once |y| (its distance from the saddle along the unstable eigenvector) exceeds a tenth of the map.
START_X, START_Y, LR, MOMENTUM, THRESHOLD = 1.8, 1e-3, 0.05, 0.9, 0.4


def measure_saddle_escape(seed: int) -> Numbers:
    """Steps to escape for GD and momentum from a start jittered by the seed (|y₀| within a factor 2
    of 0.001, x₀ within ±0.2 of 1.8)."""
    rng = np.random.default_rng(seed)
    start = (START_X + rng.uniform(-0.2, 0.2), START_Y * 2.0 ** rng.uniform(-1, 1) * rng.choice([-1, 1]))
    s = SURFACES["saddle"]
    run = descent_paths(s, start, LR, (0.0, MOMENTUM), 300, bounds=s.bounds)
    gd, mom = run.escape_steps((0.0, 0.0), (0.0, 1.0), THRESHOLD)
    gd_f, mom_f = float("nan") if gd is None else float(gd), float("nan") if mom is None else float(mom)
    return {"gd_steps": gd_f, "momentum_steps": mom_f, "ratio": mom_f / gd_f, "start_y": float(start[1])}


register(Claim(
    name="saddle-escape",
    text=("Started about 0.001 off the stable axis of x² − y² (η = 0.05), plain GD takes about 60 steps "
          "to get 0.4 away from the saddle along its unstable axis; with momentum 0.9 it takes about 25, "
          "roughly 0.4 times as many."),
    measure=measure_saddle_escape,
    holds=lambda n: 50 <= n["gd_steps"] <= 75 and 0.3 <= n["ratio"] <= 0.5,
    summary=lambda n: f"GD {n['gd_steps']:.0f} steps vs momentum {n['momentum_steps']:.0f} (×{n['ratio']:.2f})",
))
