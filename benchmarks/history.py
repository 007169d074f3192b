"""What recording the run's history costs: training steps per second with and without it.

The always-on analyses (λmax, λmin, tr H and NC1 of every layer) run in the training thread at
strides chosen from their measured cost. Trains two runs of the same experiment, with and
without them, in alternate chunks, so that both see the same machine load, on the default
experiment (minibatch SGD) and on the edge-of-stability one (full batch, η = 0.5). Also checks
the tracked λmax against the exact top eigenvalue. Prints one JSON line; exits non-zero when
the cost exceeds 10% of the throughput or the tracked λmax disagrees.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.experiment import Experiment, ExperimentConfig  # noqa: E402
from engine.hessian import full_hessian  # noqa: E402
from engine.history import HistoryRecorder, RunHistory, default_probes  # noqa: E402
from engine.live import live_training  # noqa: E402

LIMIT = 0.10
SETTINGS = {
    "default": ExperimentConfig(device="cpu"),
    "edge_of_stability": ExperimentConfig(noise=0.3, lr=0.5, batch_size=0, device="cpu"),
}


def timed_chunk(exp: Experiment, steps: int, recorder: HistoryRecorder | None, history: RunHistory) -> float:
    t0 = time.perf_counter()
    for frame in live_training(exp, None, max_steps=steps, history=recorder):
        history.extend(frame.history)
    return time.perf_counter() - t0


def measure(config: ExperimentConfig, chunk: int, rounds: int) -> dict:
    """Two runs of the same experiment, one recording the history and one not, trained in
    alternate chunks of `chunk` steps: both see the same machine load, and each is one
    continuous run (a run's first, cold measurement is paid in the warm-up)."""
    plain_exp, exp = Experiment(config), Experiment(config)
    recorder = HistoryRecorder(default_probes())
    history = RunHistory()
    timed_chunk(plain_exp, 300, None, RunHistory())  # warm-up: first calls, the recorder's estimates
    timed_chunk(exp, 300, recorder, history)
    plain = with_history = 0.0
    probe0, train0 = recorder.probe_seconds, recorder.train_seconds
    for _ in range(rounds):
        plain += timed_chunk(plain_exp, chunk, None, RunHistory())
        with_history += timed_chunk(exp, chunk, recorder, history)
    sps_plain = rounds * chunk / plain
    sps_history = rounds * chunk / with_history
    # The tracked λmax against the exact top eigenvalue, at the current weights.
    tracked = recorder.probes["curvature"].fn(exp)["lambda_max"]
    exact = float(torch.linalg.eigvalsh(full_hessian(exp.loss_fn(), exp.theta().detach()).double())[-1])
    return {"steps_per_second": sps_plain, "steps_per_second_with_history": sps_history,
            "cost": 1 - sps_history / sps_plain,
            "probe_share": (recorder.probe_seconds - probe0) / (recorder.train_seconds - train0),
            "strides": recorder.strides(), "curvature_points": len(history.series("curvature")[0]),
            "nc1_points": len(history.series("nc1")[0]), "lambda_max_rel_error": abs(tracked - exact) / abs(exact)}


def main(chunk: int = 600, rounds: int = 6) -> dict:
    torch.set_num_threads(1)
    results = {name: measure(cfg, chunk, rounds) for name, cfg in SETTINGS.items()}
    worst = max(r["cost"] for r in results.values())
    agree = all(r["lambda_max_rel_error"] < 0.02 for r in results.values())
    d = results["default"]
    out = {"name": "history_recording", "project_s": 1 / d["steps_per_second_with_history"],
           "baseline_s": 1 / d["steps_per_second"], "ratio": d["steps_per_second_with_history"] / d["steps_per_second"],
           "agree": agree, "cost": worst, "limit": LIMIT, "settings": results}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result["agree"] and result["cost"] <= LIMIT else 1)
