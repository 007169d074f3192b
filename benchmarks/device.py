"""The CNN on the chosen device (pick_device) against the CPU: training, a loss surface, Lanczos.

On the MRI phantoms (64×64, 17 classes) with the default SmallCNN, the same work on both sides:

- training: Adam steps per second, batch 32 (from benchmarks/cnn_training.py);
- landscape: a 9×9 loss surface on 64 images along two filter-normalised directions;
- Hessian: the top eigenvalue by Lanczos (10 steps) on 64 images.

Both sides start from the same weights and data, so the numbers must agree. On a machine
without a GPU both sides run on the CPU and every ratio is about 1. Prints one JSON line.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.cnn_training import steps_per_second  # noqa: E402
from engine.data import mri_phantoms  # noqa: E402
from engine.device import describe, pick_device  # noqa: E402
from engine.hessian import eigenpairs  # noqa: E402
from engine.landscape import loss_surface, points_per_chunk, random_direction  # noqa: E402
from engine.models import model_for  # noqa: E402
from engine.params import flat_params, loss_function  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int = 1):
    if device.type != "cpu":
        fn()  # warm-up: kernels, allocator
    best, out = float("inf"), None
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, out


def surface_and_lanczos(model, X, y, device: torch.device) -> dict:
    model = copy.deepcopy(model).to(device)
    X, y = X.to(device), y.to(device)  # once, not per evaluation
    L = loss_function(model, X, y)
    theta = flat_params(model).detach()
    d1 = random_direction(model, "filter", seed=1).to(device)
    d2 = random_direction(model, "filter", seed=2).to(device)
    grid = torch.linspace(-1, 1, 9, device=device)
    chunk = points_per_chunk(model, X)
    t_surface, Z = timed(lambda: loss_surface(L, theta, d1, d2, grid, grid, chunk), device)
    t_lanczos, r = timed(lambda: eigenpairs(L, theta, k=1, which="top", iters=10, tol=1e-12), device)
    return {"surface_s": t_surface, "Z": Z.detach().cpu(), "lanczos_s": t_lanczos,
            "lambda_max": float(r.values[0])}


def main(steps: int = 20) -> dict:
    ds = mri_phantoms(n_per_class=40, size=64, seed=0)
    torch.manual_seed(0)
    model = model_for(ds)
    device = pick_device("auto")
    cpu = torch.device("cpu")
    train_cpu, loss_cpu = steps_per_second(copy.deepcopy(model), ds, "cpu", steps)
    train_dev, loss_dev = steps_per_second(copy.deepcopy(model), ds, str(device), steps)
    X, y = ds.X_train[:64], ds.y_train[:64]
    on_cpu = surface_and_lanczos(model, X, y, cpu)
    on_dev = surface_and_lanczos(model, X, y, device)
    z_diff = float(((on_dev["Z"] - on_cpu["Z"]).abs() / on_cpu["Z"].abs().clamp_min(1e-6)).max())
    lam_diff = abs(on_dev["lambda_max"] - on_cpu["lambda_max"]) / max(abs(on_cpu["lambda_max"]), 1e-12)
    out = {
        "name": "cnn_device_vs_cpu",
        "device": describe(device),
        "train_steps_per_second_device": train_dev,
        "train_steps_per_second_cpu": train_cpu,
        "train_ratio": train_dev / train_cpu,
        "surface_9x9_s_device": on_dev["surface_s"],
        "surface_9x9_s_cpu": on_cpu["surface_s"],
        "surface_ratio": on_cpu["surface_s"] / on_dev["surface_s"],
        "lanczos_10_s_device": on_dev["lanczos_s"],
        "lanczos_10_s_cpu": on_cpu["lanczos_s"],
        "lanczos_ratio": on_cpu["lanczos_s"] / on_dev["lanczos_s"],
        "lambda_max": on_cpu["lambda_max"],
        "surface_max_rel_diff": z_diff,
        "lambda_rel_diff": lam_diff,
        # float32 on different hardware: agreement to a few parts in a thousand.
        "agree": bool(abs(loss_dev - loss_cpu) < 1e-2 * max(1.0, abs(loss_cpu)) and z_diff < 5e-3
                      and lam_diff < 5e-3),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
