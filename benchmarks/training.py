"""Training throughput: the engine's minibatch step against a per-sample Python loop.

Both compute the same averaged gradient on the same minibatch; prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.data import toy_dataset  # noqa: E402
from engine.models import model_for  # noqa: E402
from engine.training import TrainConfig, Trainer  # noqa: E402


def main(steps: int = 300) -> dict:
    ds = toy_dataset("moons", n=600, seed=0)
    torch.manual_seed(0)
    model = model_for(ds)
    trainer = Trainer(model, ds, TrainConfig(batch_size=32, lr=0.1, device="cpu"))
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    project = (time.perf_counter() - t0) / steps

    # Baseline: the same minibatch gradient accumulated one sample at a time.
    Xb, yb = ds.X_train[:32], ds.y_train[:32]
    reps = max(10, steps // 10)
    t0 = time.perf_counter()
    for _ in range(reps):
        model.zero_grad()
        for x, y in zip(Xb, yb):
            (F.cross_entropy(model(x[None]), y[None]) / len(yb)).backward()
    baseline = (time.perf_counter() - t0) / reps
    loop_grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    model.zero_grad()
    F.cross_entropy(model(Xb), yb).backward()
    batch_grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    agree = bool(torch.allclose(loop_grad, batch_grad, rtol=1e-4, atol=1e-6))
    out = {"name": "training_step", "project_s": project, "baseline_s": baseline,
           "ratio": baseline / project, "agree": agree, "steps_per_second": 1 / project}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
