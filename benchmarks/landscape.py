"""Loss surface: the engine's batched 41×41 surface against the per-point loop.

The baseline is what loss-landscape tools do: for each grid point, write θ + α·d₁ + β·d₂ into
the model and run one forward pass. Both evaluate the default toy network (2-16-16-2 tanh, the
420 training points of 600 moons). Also reports the FLOP rate the batched surface reaches and
this machine's sgemm rate, measured here, for scale. Prints one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.experiment import Experiment  # noqa: E402
from engine.landscape import loss_surface, orthogonal_directions, points_per_chunk  # noqa: E402
from engine.params import set_flat_params  # noqa: E402


def median_time(fn, repeats: int = 3) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def sgemm_gflops(n: int = 1024, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    t, _ = median_time(lambda: a @ b, repeats)
    return 2 * n**3 / t / 1e9


def mlp_flops_per_point(model: torch.nn.Module, n_samples: int) -> int:
    """Multiply-adds of the dense layers, ×2: the FLOPs of one forward pass over the data."""
    macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    return 2 * macs * n_samples


def main(resolution: int = 41, train_steps: int = 300) -> dict:
    torch.manual_seed(0)
    exp = Experiment()  # the default: moons, 2-16-16-2 tanh, SGD
    for _ in range(train_steps):  # a trained network, as in the lessons' pictures
        exp.step()
    model = exp.model_copy()
    theta = exp.theta()
    X, y = exp.trainer.X_train, exp.trainer.y_train
    loss_fn = exp.loss_fn(model)
    d1, d2 = orthogonal_directions(model, "filter", seed=0, theta=theta)
    grid = torch.linspace(-1.0, 1.0, resolution)
    chunk = points_per_chunk(model, X)

    loss_surface(loss_fn, theta, d1, d2, grid, grid, chunk)  # warm-up
    project_s, Z = median_time(lambda: loss_surface(loss_fn, theta, d1, d2, grid, grid, chunk))

    loop_model = exp.model_copy()

    @torch.no_grad()
    def per_point_loop() -> torch.Tensor:
        Zl = torch.empty(resolution, resolution)
        for i, a in enumerate(grid):
            for j, b in enumerate(grid):
                set_flat_params(loop_model, theta + a * d1 + b * d2)
                Zl[i, j] = F.cross_entropy(loop_model(X), y)
        return Zl

    baseline_s, Z_loop = median_time(per_point_loop)
    rel = float(((Z - Z_loop).abs() / Z_loop.abs().clamp_min(1e-12)).max())
    flops = mlp_flops_per_point(model, len(y)) * resolution**2
    out = {
        "name": "landscape_surface_41x41",
        "project_s": project_s,
        "baseline_s": baseline_s,
        "ratio": baseline_s / project_s,
        "agree": rel < 1e-5,
        "max_rel_diff": rel,
        "grid_points": resolution**2,
        "points_per_chunk": chunk,
        "surfaces_per_second": 1 / project_s,
        "achieved_gflops": flops / project_s / 1e9,
        "sgemm_gflops": sgemm_gflops(),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    r = main()
    sys.exit(0 if r["agree"] and r["ratio"] > 1 else 1)
