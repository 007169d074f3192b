"""The connectivity preset's claim: two trained networks, a ridge on the straight line between
them, and a trained Bezier curve that avoids it. Measured with 400 training steps per network
and 150 steps of fitting the bend (the preset: 1,500 and 500), which still show it.

A seed s trains the two networks from seeds s and s + 1. `path_numbers` is shared with the
tab's spread view.
"""

from __future__ import annotations

from engine.connectivity import ConnectivityConfig, Endpoints, PathResult, mode_connectivity
from engine.device import intra_op_threads
from engine.experiment import ExperimentConfig, build_dataset

from . import Claim, Numbers, register

MOONS = {"dataset": "moons", "n": 600, "noise": 0.1, "hidden": [16, 16], "activation": "tanh",
         "optimizer": "sgd", "lr": 0.1, "batch_size": 32, "seed": 0}


def path_numbers(ends: Endpoints, linear: PathResult, bezier: PathResult) -> Numbers:
    """Both networks' training accuracy and the loss barrier along each path."""
    return {"train_acc_a": ends.train_acc[0], "train_acc_b": ends.train_acc[1],
            "linear_barrier": linear.barrier_train, "bezier_barrier": bezier.barrier_train}


def _measure(seed: int) -> Numbers:
    experiment = ExperimentConfig.from_dict(MOONS)
    dataset = build_dataset(experiment)
    config = ConnectivityConfig(seeds=(seed, seed + 1), train_steps=400, bezier_steps=150, plane_resolution=0)
    found: dict[str, object] = {}
    with intra_op_threads(1):  # 16-unit networks: one thread is fastest
        for item in mode_connectivity(dataset, experiment, config):
            if isinstance(item, Endpoints):
                found["ends"] = item
            elif isinstance(item, PathResult) and item.final:
                found[item.kind] = item
    return path_numbers(found["ends"], found["linear"], found["bezier"])


def _holds(n: Numbers) -> bool:
    fit = min(n["train_acc_a"], n["train_acc_b"]) >= 0.85
    return fit and n["linear_barrier"] >= 0.05 and n["bezier_barrier"] <= 0.2 * n["linear_barrier"]


BEZIER = register(Claim(
    "connectivity-bezier",
    "Two networks trained from different seeds both fit the moons (over 85% of training points), yet "
    "the straight line between them crosses a ridge of high loss; a quadratic Bezier curve with one "
    "trained bend joins them with under a fifth of that barrier.",
    measure=_measure,
    holds=_holds,
    summary=lambda n: (f"train accuracy {100 * n['train_acc_a']:.0f}% and {100 * n['train_acc_b']:.0f}%; "
                       f"barrier {n['linear_barrier']:.3g} on the line, {n['bezier_barrier']:.3g} on the curve"),
))
