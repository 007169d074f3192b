"""Empirical NTK: `engine.ntk.empirical_ntk` (batched torch.func) against a per-sample gradient loop.

The task is the NTK tab's default: a width-256 tanh network in the NTK parameterisation on
the 1-D regression data, with the kernel over every input the tab uses (10 training points,
the 200-point prediction grid and the 64-point kernel grid: 274 × 274). The baseline takes
one `torch.autograd.grad` per sample and output, stacks the gradients into J and forms J Jᵀ.
Both run here, in the same process, after one warm-up call each, on one intra-op thread (the
comparison is batching against a loop, not threads; and on a shared 2-core machine a second
OpenMP thread makes small-tensor timings erratic); prints one JSON line, and exits non-zero
with a FAIL line when the kernels disagree or the batched one is under 5× faster.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.ntk import NTKConfig, _kernel_inputs, build_network, empirical_ntk, regression_1d  # noqa: E402

WIDTH = 256
REQUIRED_RATIO = 5.0  # the batched kernel must be at least this many times faster than the loop


def loop_ntk(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The obvious way: one backward pass per sample and output."""
    params = list(model.parameters())
    rows = []
    for xi in x:
        out = model(xi[None]).reshape(-1)
        for k in range(out.numel()):
            grads = torch.autograd.grad(out[k], params, retain_graph=k + 1 < out.numel())
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
    J = torch.stack(rows).reshape(len(x), -1)
    return J @ J.T


def timed(fn, repeats: int) -> tuple[float, torch.Tensor]:
    result = fn()  # warm-up (first torch.func call builds its machinery)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(repeats: int = 5, threads: int = 1) -> dict:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(repeats)
    finally:
        torch.set_num_threads(before)


def _run(repeats: int) -> dict:
    config = NTKConfig()
    ds = regression_1d(10, "sine")
    x = torch.cat([ds.X_train, ds.X_test, _kernel_inputs(ds, config.kernel_grid)])
    model = build_network(WIDTH, config, seed=0)
    project_s, k_project = timed(lambda: empirical_ntk(model, x), repeats)
    baseline_s, k_loop = timed(lambda: loop_ntk(model, x), max(1, repeats // 2))
    rel = float(torch.linalg.norm(k_project - k_loop) / torch.linalg.norm(k_loop))
    ratio = baseline_s / project_s
    out = {"name": "empirical_ntk", "project_s": project_s, "baseline_s": baseline_s,
           "ratio": ratio, "required_ratio": REQUIRED_RATIO, "fast_enough": ratio >= REQUIRED_RATIO,
           "agree": rel < 1e-5, "relative_difference": rel,
           "inputs": len(x), "parameters": sum(p.numel() for p in model.parameters()),
           "threads": torch.get_num_threads()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    r = main()
    if not r["agree"]:
        print(f"FAIL: the kernels differ by {r['relative_difference']:.1e} (relative), above 1e-5", file=sys.stderr)
    if not r["fast_enough"]:
        print(f"FAIL: {r['ratio']:.1f}× faster than the loop, below the required {REQUIRED_RATIO:g}×", file=sys.stderr)
    sys.exit(0 if r["agree"] and r["fast_enough"] else 1)
