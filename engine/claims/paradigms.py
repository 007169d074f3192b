"""Claims of the paradigms presets: feedback alignment, forward-forward, evolution strategies and
Hebbian learning against backpropagation, each from one θ₀ on the same minibatches, and all five
rules on one shared plane. A seed draws the data split, θ₀ and the batches."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..data import toy_dataset
from ..paradigms import RULE_SHORT, ParadigmsConfig, RuleEvent, Run, SharedPlane, compare
from . import Claim, Numbers, register

# One run per seed serves every digits claim (the rules share θ₀ and the minibatches).
DIGITS_RULES = ("backprop", "feedback_alignment", "forward_forward", "evolution")


@lru_cache(maxsize=8)
def _run(dataset: str, rules: tuple[str, ...], seed: int) -> dict[str, dict[str, float]]:
    """The presets' run (600 steps, batch 64, one 32-unit tanh layer) with the seed drawing the
    data split, θ₀ and the batches; each rule's numbers at step 1 and at the end."""
    kw = {"n": 600, "noise": 0.1} if dataset == "moons" else {}
    cfg = ParadigmsConfig(rules=rules, dataset=dataset, seed=seed, data_seed=seed, curvature=False,
                          eval_every=100, record_every=600, **kw)
    ds = toy_dataset(cfg.dataset, cfg.n, cfg.noise, cfg.test_fraction, cfg.data_seed)
    run = Run(ds, cfg)
    out: dict[str, dict[str, float]] = {r: {} for r in rules}
    for _ in range(cfg.steps):
        events = run.step()
        for e in events:
            out[e.rule].update({"test_acc": e.test_acc, "train_loss": e.train_loss,
                                "passes": float(e.forward_passes), **e.extras})
            out[e.rule][f"train_loss_{e.step}"] = e.train_loss
        if run.step_count == 1 and "feedback_alignment" in rules:
            out["feedback_alignment"]["angle_first"] = run.learners["feedback_alignment"].measure()["angle"]
    return out


def measure_feedback_alignment(seed: int) -> Numbers:
    r = _run("digits", DIGITS_RULES, seed)
    fa, bp = r["feedback_alignment"], r["backprop"]
    return {"angle_first": fa["angle_first"], "angle_end": fa["angle"], "fa_test_acc": fa["test_acc"],
            "bp_test_acc": bp["test_acc"]}


register(Claim(
    name="paradigms-feedback-alignment",
    text=("Sent back through fixed random matrices, the error first gives updates at about 90° to the "
          "gradient; within 600 steps on the digits the angle falls below 45°, and the network's test "
          "accuracy comes within 3 points of backpropagation's."),
    measure=measure_feedback_alignment,
    holds=lambda n: (80 <= n["angle_first"] <= 100 and n["angle_end"] < 45
                     and n["fa_test_acc"] > n["bp_test_acc"] - 0.03),
    summary=lambda n: (f"angle {n['angle_first']:.0f}° → {n['angle_end']:.0f}°, test accuracy FA "
                       f"{100 * n['fa_test_acc']:.1f}% vs BP {100 * n['bp_test_acc']:.1f}%"),
))


def measure_forward_forward(seed: int) -> Numbers:
    r = _run("digits", DIGITS_RULES, seed)
    ff, bp = r["forward_forward"], r["backprop"]
    return {"ff_readout_acc": ff["test_acc"], "ff_goodness_acc": ff["goodness_test_acc"],
            "bp_test_acc": bp["test_acc"]}


register(Claim(
    name="paradigms-forward-forward",
    text=("Taught only to tell inputs with the right label from inputs with a wrong one, by its goodness "
          "Σh², the hidden layer carries a linear read-out to within 3 points of backpropagation's test "
          "accuracy on the digits, and picking the label of largest goodness does as well."),
    measure=measure_forward_forward,
    holds=lambda n: (n["ff_readout_acc"] > n["bp_test_acc"] - 0.03
                     and n["ff_goodness_acc"] > n["bp_test_acc"] - 0.03),
    summary=lambda n: (f"FF read-out {100 * n['ff_readout_acc']:.1f}%, by goodness "
                       f"{100 * n['ff_goodness_acc']:.1f}%, BP {100 * n['bp_test_acc']:.1f}%"),
))


def measure_evolution(seed: int) -> Numbers:
    r = _run("digits", DIGITS_RULES, seed)
    es, bp = r["evolution"], r["backprop"]
    return {"es_loss_100": es["train_loss_100"], "bp_loss_100": bp["train_loss_100"],
            "es_loss_end": es["train_loss"], "bp_loss_end": bp["train_loss"],
            "passes_ratio": es["passes"] / bp["passes"]}


register(Claim(
    name="paradigms-evolution-strategies",
    text=("Evolution strategies, 100 antithetic perturbations a step and no derivative, lower the digits "
          "loss about as fast per step as backpropagation (within a factor 1.5 at steps 100 and 600), "
          "but at 50 times the passes through the network (x axis: passes, log scale)."),
    measure=measure_evolution,
    holds=lambda n: (n["passes_ratio"] == 50 and all(
        1 / 1.5 < n[f"es_loss_{t}"] / n[f"bp_loss_{t}"] < 1.5 for t in ("100", "end"))),
    summary=lambda n: (f"train loss at step 100 ES {n['es_loss_100']:.3f} vs BP {n['bp_loss_100']:.3f}, at "
                       f"600 {n['es_loss_end']:.3f} vs {n['bp_loss_end']:.3f}; passes ×{n['passes_ratio']:.0f}"),
))


def measure_hebbian(seed: int) -> Numbers:
    r = _run("moons", ("backprop", "hebbian"), seed)
    hb, bp = r["hebbian"], r["backprop"]
    return {"pc1_cosine": hb["pc1_cosine"], "hebb_test_acc": hb["test_acc"], "bp_test_acc": bp["test_acc"]}


register(Claim(
    name="paradigms-hebbian",
    text=("On the moons Oja's rule turns the first hidden unit into the inputs' first principal component "
          "(cos∠ above 0.98), but a principal direction is not a class boundary: the read-out's test "
          "accuracy stays at least 5 points below backpropagation's."),
    measure=measure_hebbian,
    holds=lambda n: n["pc1_cosine"] > 0.98 and n["hebb_test_acc"] < n["bp_test_acc"] - 0.05,
    summary=lambda n: (f"cos∠(w₁, PC1) {n['pc1_cosine']:.3f}, test accuracy Hebbian "
                       f"{100 * n['hebb_test_acc']:.1f}% vs BP {100 * n['bp_test_acc']:.1f}%"),
))


# -- the shared plane: all five rules from one θ₀ on the moons --------------------------------------
PLANE_STEPS = 300  # the preset's run


def measure_shared_plane(seed: int) -> Numbers:
    """The tab's comparison (`compare`) of all five rules on the preset's moons, without λmax: each
    rule's training loss at θ₀ and at the end, the angle between every two rules' displacements
    θ_T − θ₀, and the share of the (equally weighted) paths' squared displacement in the plane."""
    cfg = ParadigmsConfig(dataset="moons", n=600, noise=0.1, steps=PLANE_STEPS, seed=seed, data_seed=seed,
                          curvature=False, map_every=0, map_resolution=10)
    start_loss: dict[str, float] = {}
    end: dict[str, RuleEvent] = {}
    theta0: np.ndarray | None = None
    plane: SharedPlane | None = None
    for item in compare(cfg):
        if isinstance(item, RuleEvent):
            if item.step == 0:
                start_loss[item.rule] = item.train_loss
                theta0 = item.theta
            end[item.rule] = item
        elif isinstance(item, SharedPlane):
            plane = item
    assert plane is not None and theta0 is not None
    rules = list(cfg.rules)
    moves = np.stack([end[r].theta - theta0 for r in rules])
    unit = moves / np.linalg.norm(moves, axis=1, keepdims=True)
    angles = np.degrees(np.arccos(np.clip(unit @ unit.T, -1.0, 1.0)))
    out: Numbers = {f"loss_ratio_{r}": end[r].train_loss / start_loss[r] for r in rules}
    out["min_angle"] = float(angles[np.triu_indices(len(rules), 1)].min())
    out["plane_share"] = float(plane.explained.sum())
    out["steps"] = float(min(end[r].step for r in rules))
    return out


register(Claim(
    name="paradigms-shared-plane",
    text=("From one θ₀ on the moons, in 300 steps each of the five rules lowers the training loss by at least "
          "40%, yet they leave in different directions: seen from θ₀, every two end points lie at least 30° "
          "apart. The plane of their paths holds over 65% of the paths' squared displacement."),
    measure=measure_shared_plane,
    holds=lambda n: (n["steps"] == PLANE_STEPS and n["min_angle"] >= 30 and n["plane_share"] > 0.65
                     and all(v <= 0.6 for k, v in n.items() if k.startswith("loss_ratio_"))),
    summary=lambda n: ("loss at the end / at θ₀: " + ", ".join(
        f"{RULE_SHORT[k[11:]]} {v:.2f}" for k, v in n.items() if k.startswith("loss_ratio_"))
        + f"; smallest angle between end points {n['min_angle']:.0f}°; plane holds {100 * n['plane_share']:.0f}%"),
))
