"""Claims of the saddle presets: how long gradient descent and momentum take to leave x² − y², and
how the index of a tiny network's critical points follows their loss."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..critical import SURFACES, NetworkCriticalConfig, descent_paths, network_critical_points_iter
from ..device import intra_op_threads
from ..hessian import last
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


# -- the tiny network's critical points (Dauphin et al.): index against loss ------------------------
def measure_index_vs_loss(seed: int) -> Numbers:
    """The Saddles tab's search (`network_critical_points_iter`, its default settings) with the seed
    drawing the data, the initial weights and the starts: how the index follows the loss."""
    with intra_op_threads(1):  # 32 parameters and many tiny solves: one thread is fastest
        result = last(network_critical_points_iter(replace(NetworkCriticalConfig(), seed=seed)))
    points = result.points  # sorted by loss
    index = [p.index for p in points]
    return {"points": float(len(points)), "minima": float(sum(p.kind == "minimum" for p in points)),
            "spearman": result.index_loss_correlation(), "lowest_loss_index": index[0] if index else float("nan"),
            "smallest_index": min(index, default=float("nan"))}


register(Claim(
    name="curvature-index-vs-loss",
    text=("Critical points of a 2-6-2 tanh network (32 parameters), found by minimising ‖∇L‖² from many "
          "starts: the higher the loss, the larger the index, the fraction of negative Hessian eigenvalues "
          "(Spearman ρ ≥ 0.3), and none has a smaller index than the lowest-loss one. Most, often all, "
          "are saddles."),
    measure=measure_index_vs_loss,
    holds=lambda n: (n["points"] >= 5 and n["spearman"] >= 0.3 and n["lowest_loss_index"] <= n["smallest_index"]
                     and n["minima"] < n["points"] / 2),
    summary=lambda n: (f"{n['points']:.0f} critical points, {n['minima']:.0f} minima; Spearman ρ(index, loss) "
                       f"{n['spearman']:.2f}; index at the lowest loss {n['lowest_loss_index']:.3f}, "
                       f"smallest {n['smallest_index']:.3f}"),
))
