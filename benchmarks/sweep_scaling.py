"""Sweep scaling: the same loss surface on 1 and on 2 Ray workers of a local cluster.

A 61×61 surface of the digits MLP (64-64-64-10, 1,257 training images), 49 tiles of 9×9
points, each tile a Ray task on one core. Both runs share one Ray session whose workers are
started and warmed up first, so the times are the sweep's own, not Ray's start-up. Reports both
times and their ratio (ideal: the number of workers), and whether both merged grids equal the
single-process surface. On a machine shared with other work the ratio falls short of 2: say how
loaded it was (the load average is printed). Prints one JSON line; exits non-zero on disagreement.

    .venv/bin/pip install -e ".[cluster]" && .venv/bin/python benchmarks/sweep_scaling.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from engine import sweep  # noqa: E402
from engine.experiment import ExperimentConfig  # noqa: E402


def timed_sweep(problem: sweep.SurfaceProblem, workers: int, tile: int) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    result = None
    for ev in sweep.surface_sweep(problem, tile=tile, workers=workers):
        if isinstance(ev, sweep.SweepFinished):
            result = ev.result
    return time.perf_counter() - t0, result.Z


def main(resolution: int = 61, tile: int = 9, steps: int = 100) -> dict:
    if not sweep.ray_available():
        print(json.dumps({"name": "sweep_scaling", "error": sweep.INSTALL_HINT}))
        sys.exit(2)
    import ray

    config = ExperimentConfig(dataset="digits", n=1797, noise=0.0, hidden=(64, 64), activation="relu", lr=0.1)
    problem = sweep.prepare_surface(config, steps=steps, resolution=resolution, span=1.0)
    reference = sweep.single_process_surface(problem)
    sweep.connect(num_cpus=2, object_store_mb=100)
    try:
        # Warm-up: start both workers and let each import the engine before anything is timed.
        small = sweep.prepare_surface(config, steps=0, resolution=5, span=1.0)
        for _ in range(2):
            list(sweep.surface_sweep(small, tile=1, workers=2))
        one_s, z1 = timed_sweep(problem, 1, tile)
        two_s, z2 = timed_sweep(problem, 2, tile)
    finally:
        ray.shutdown()
    agree = bool(np.allclose(z1, reference, rtol=1e-5, atol=1e-7) and np.allclose(z2, reference, rtol=1e-5, atol=1e-7))
    return {
        "name": f"sweep_scaling_{resolution}x{resolution}",
        "project_s": round(two_s, 3),  # 2 workers
        "baseline_s": round(one_s, 3),  # 1 worker, same grid, same tiles
        "ratio": round(one_s / two_s, 3),
        "agree": agree,
        "tiles": len(sweep.tiles(resolution, resolution, tile)),
        "n_params": problem.info["n_params"],
        "samples": problem.info["samples"],
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    out = main()
    print(json.dumps(out))
    sys.exit(0 if out["agree"] else 1)
