"""Claims of the paradigms presets: feedback alignment, forward-forward, evolution strategies and
Hebbian learning against backpropagation, each from one θ₀ on the same minibatches."""

from __future__ import annotations

from functools import lru_cache

from ..data import toy_dataset
from ..paradigms import ParadigmsConfig, Run
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
