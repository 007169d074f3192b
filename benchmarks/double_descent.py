"""Random-features sweep: the batched solver against one pseudo-inverse per feature count.

Both fit the same 60 feature counts × 5 draws (n = 100, d = 20, minimum-norm fits) on the same
data and features; prints one JSON line with the speed ratio and whether the errors agree.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from engine.double_descent import random_features_sweep, random_features_sweep_loop  # noqa: E402


def main(repeats: int = 3) -> dict:
    kw = dict(n_train=100, noise=0.1, ridge=0.0, seed=0)
    random_features_sweep(**kw)  # warm up (first calls load LAPACK kernels)
    project = min(_timed(random_features_sweep, kw) for _ in range(repeats))
    baseline = min(_timed(random_features_sweep_loop, kw) for _ in range(max(1, repeats - 1)))
    fast, loop = random_features_sweep(**kw), random_features_sweep_loop(**kw)
    rel = float(np.max(np.abs(fast.test_error_draws - loop.test_error_draws) / np.abs(loop.test_error_draws)))
    out = {"name": "random_features_sweep", "project_s": project, "baseline_s": baseline,
           "ratio": baseline / project, "agree": bool(rel < 1e-6), "max_relative_difference": rel,
           "feature_counts": int(len(fast.counts)), "draws": fast.draws, "peak_at": fast.peak_count}
    print(json.dumps(out))
    return out


def _timed(fn, kw) -> float:
    t0 = time.perf_counter()
    fn(**kw)
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
