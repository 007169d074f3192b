"""Claims of the lottery-ticket presets, measured on a shortened IMP run that still shows them.

Four rounds at 45% per round (output layer 22.5%) leave 9% of the weights, as the presets' 13
rounds at 20% leave 6%; each round trains 150 steps instead of 500, on one thread (the small
batched ensemble runs faster so, and a busy machine costs it less). `round_numbers` reads one
seed's last round from the tab's PruneRounds, so the tab's spread caption uses the same `holds`.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.device import intra_op_threads
from engine.pruning import LotteryConfig, PruneRound, lottery_run

from . import Claim, Numbers, register

SHORT = dict(rounds=4, prune_fraction=0.45, output_fraction=0.225, steps=150)


def round_numbers(rounds: Sequence[PruneRound], seed: int, n_test: int) -> Numbers:
    """One seed's last round: test accuracy of the dense net, the ticket and each control, the
    share of weights left and of each layer, and the test set's size (to count images)."""
    mine = [r for r in rounds if r.seed == seed]
    last = max(r.round for r in mine)
    out: Numbers = {"remaining": float("nan"), "n_test": float(n_test)}
    for r in mine:
        if r.round == 0 and r.control == "ticket":
            out["dense"] = r.test_acc
        if r.round == last:
            out[r.control] = r.test_acc
            if r.control == "ticket":
                out["remaining"] = r.remaining
                out.update({f"left_{name.removesuffix('.weight')}": v for name, v in r.layer_remaining.items()})
    return out


def _run(seed: int, **settings) -> Numbers:
    cfg = LotteryConfig(seeds=(seed,), device="cpu", **{**SHORT, **settings})
    dataset = cfg.build_dataset()
    with intra_op_threads(1):
        rounds = [r for r in lottery_run(cfg, dataset, progress=False) if isinstance(r, PruneRound)]
    return round_numbers(rounds, seed, len(dataset.y_test))


def margin_images(n: Numbers) -> int:
    """The ticket's lead over the better control, in test images."""
    return round((n["ticket"] - max(n["reinit"], n["random"])) * n["n_test"])


def ticket_beats_controls(n: Numbers) -> bool:
    """Under 10% of the weights left, the ticket classifies at least one more test image right
    than each control."""
    return all(c in n for c in ("ticket", "reinit", "random")) and n["remaining"] < 0.10 and margin_images(n) >= 1


def ticket_summary(n: Numbers) -> str:
    return (f"{100 * n['remaining']:.1f}% left: ticket {100 * n['ticket']:.1f}%, new weights "
            f"{100 * n['reinit']:.1f}%, random mask {100 * n['random']:.1f}% (dense {100 * n['dense']:.1f}%); "
            f"lead {margin_images(n)} of {n['n_test']:.0f} test images")


DIGITS = register(Claim(
    "lottery-digits",
    "Pruned in rounds to under 10% of its weights, with the survivors rewound to an early step each time, "
    "the ticket classifies more test digits right than both controls: the same mask with new weights, "
    "and a random mask on the same weights.",
    measure=lambda seed: _run(seed),
    holds=ticket_beats_controls,
    summary=ticket_summary,
))

REWIND_TO_INIT = register(Claim(
    "lottery-rewind-to-init",
    "Frankle & Carbin's original recipe: survivors reset to their initial values θ₀. With under 10% "
    "of the weights left the ticket still classifies more test digits right than both controls.",
    measure=lambda seed: _run(seed, rewind="init"),
    holds=ticket_beats_controls,
    summary=ticket_summary,
))


def global_layers_part(n: Numbers) -> bool:
    """fc2 (300×100, the biggest layer) keeps less than half the share fc1 (64×300) keeps."""
    return n["left_fc2"] < 0.5 * n["left_fc1"]


GLOBAL = register(Claim(
    "lottery-global",
    "Ranking all weights together prunes the layers unevenly: the biggest, fc2 (300×100), keeps less "
    "than half the share of weights that fc1 (64×300) keeps, so the layer bars part ways.",
    measure=lambda seed: _run(seed, scope="global", controls=("ticket",), steps=100),
    holds=global_layers_part,
    summary=lambda n: (f"{100 * n['remaining']:.1f}% left: fc1 keeps {100 * n['left_fc1']:.1f}%, "
                       f"fc2 {100 * n['left_fc2']:.1f}%, out {100 * n['left_out']:.1f}%; ticket "
                       f"{100 * n['ticket']:.1f}% (dense {100 * n['dense']:.1f}%)"),
))
