"""CNN training throughput on the MRI phantoms: the chosen device (pick_device) against the CPU.

Both train the same SmallCNN from the same weights on the same minibatches (Adam, batch 32,
64×64 pictures); the data moves to the device once. On a machine without a GPU both sides run
on the CPU and the ratio is about 1. Prints one JSON line.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.data import mri_phantoms  # noqa: E402
from engine.device import describe, pick_device  # noqa: E402
from engine.models import model_for  # noqa: E402
from engine.training import TrainConfig, Trainer  # noqa: E402


def steps_per_second(model, ds, device: str, steps: int) -> tuple[float, float]:
    trainer = Trainer(model, ds, TrainConfig(optimizer="adam", lr=1e-3, batch_size=32, eval_every=10**9,
                                             device=device, seed=0))
    for _ in range(10):  # warm-up (kernels, allocator)
        trainer.step()
    best = float("inf")
    for _ in range(3):  # best of three: a busy machine only ever slows a run down
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            event = trainer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return steps / best, event.batch_loss


def main(steps: int = 40) -> dict:
    ds = mri_phantoms(n_per_class=40, size=64, seed=0)
    torch.manual_seed(0)
    model = model_for(ds)
    device = pick_device("auto")
    baseline, loss_cpu = steps_per_second(copy.deepcopy(model), ds, "cpu", steps)
    project, loss_dev = steps_per_second(copy.deepcopy(model), ds, str(device), steps)
    out = {"name": "cnn_training_steps", "project_s": 1 / project, "baseline_s": 1 / baseline,
           "ratio": project / baseline, "agree": abs(loss_dev - loss_cpu) < 1e-2 * max(1.0, abs(loss_cpu)),
           "device": describe(device), "device_steps_per_second": project, "cpu_steps_per_second": baseline}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
