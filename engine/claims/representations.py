"""The linear-probe preset's claim: on two spirals the classes are not linearly separable in the
inputs, and are after training in the last hidden layer. Measured after 600 training steps
(the preset trains 1,500), which already show it; a seed draws the network's initial weights.
`probe_numbers` is shared with the tab.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import torch

from engine.device import intra_op_threads
from engine.experiment import ExperimentConfig, build_dataset, build_model
from engine.params import flat_params
from engine.representations import (
    ProbeResult,
    RepresentationWatcher,
    components_for_variance,
    fixed_subset,
    probe_layers,
    single_threaded_blas,
)
from engine.training import Trainer

from . import Claim, Numbers, register

SPIRALS = {"dataset": "spirals", "n": 600, "noise": 0.1, "hidden": [32, 32], "activation": "tanh",
           "optimizer": "adam", "lr": 0.01, "batch_size": 32, "seed": 0}


def probe_numbers(results: Sequence[ProbeResult]) -> Numbers:
    """Test accuracy of the probe on the inputs and on the last hidden layer."""
    hidden = [r for r in results if r.layer not in ("input", results[-1].layer)]
    return {"input": results[0].test_acc, "last_hidden": hidden[-1].test_acc if hidden else float("nan")}


def _measure(seed: int) -> Numbers:
    config = replace(ExperimentConfig.from_dict(SPIRALS), seed=seed)
    dataset = build_dataset(config)
    trainer = Trainer(build_model(config, dataset), dataset, config.train_config())
    with intra_op_threads(1):  # a 32-unit network: one thread is fastest
        for _ in range(600):
            trainer.step()
    model = trainer.model.eval()
    return probe_numbers(list(probe_layers(model, dataset.X_train, dataset.y_train, dataset.X_test, dataset.y_test)))


PROBES = register(Claim(
    "representations-probes",
    "On two interleaved spirals a linear probe on the inputs gets under 75% of the test points right "
    "(chance: 50%); after training, the same probe on the last hidden layer gets over 95%.",
    measure=_measure,
    holds=lambda n: n["input"] < 0.75 and n["last_hidden"] > 0.95,
    summary=lambda n: (f"probe on the inputs {100 * n['input']:.1f}%, on the last hidden layer "
                       f"{100 * n['last_hidden']:.1f}%"),
))


# -- the digits presets: CKA, intrinsic dimension, neural collapse --------------------------------
# Each trains the preset's network on a held-out seed and measures with the tab's own watcher,
# on the tab's class-balanced subset of training digits.
def _digits_run(preset: dict, seed: int, steps: int, points: int, every: int = 0):
    """Train the preset's network for `steps`; return (frames at 0 and at each `every`, accuracy)."""
    config = replace(ExperimentConfig.from_dict(preset), seed=seed)
    dataset = build_dataset(config)
    trainer = Trainer(build_model(config, dataset), dataset, config.train_config())
    idx = fixed_subset(dataset.y_train, points, seed=0)
    theta0 = flat_params(trainer.model).detach().numpy().copy()
    watcher = RepresentationWatcher(copy.deepcopy(trainer.model), dataset.X_train[idx], dataset.y_train[idx],
                                    theta0=theta0)
    frames = {0: watcher.frame(theta0, 0)}
    accuracy = {}
    with intra_op_threads(1), single_threaded_blas():
        for step in range(1, steps + 1):
            trainer.step()
            if step == steps or (every and step % every == 0):
                frames[step] = watcher.frame(flat_params(trainer.model).detach().numpy(), step)
                with torch.no_grad():
                    logits = trainer.model(dataset.X_train)
                accuracy[step] = float((logits.argmax(1) == dataset.y_train).float().mean())
    return frames, accuracy


DIGITS_64 = {"dataset": "digits", "n": 1797, "noise": 0.0, "hidden": [64, 64, 64], "activation": "relu",
             "optimizer": "adam", "lr": 0.003, "batch_size": 32, "seed": 0}


def _cka_measure(seed: int) -> Numbers:
    frames, _ = _digits_run(DIGITS_64, seed, steps=600, points=400)
    last = frames[600]
    names = [lay.name for lay in last.layers]
    out = {f"start_{n}": float(last.cka_to_start[i]) for i, n in enumerate(names) if n != "input"}
    for i in range(len(names) - 2):  # each layer against its neighbour and the layer after that
        out[f"next_{names[i]}"] = float(last.cka[i, i + 1])
        out[f"skip_{names[i]}"] = float(last.cka[i, i + 2])
    return out


def _cka_holds(n: Numbers) -> bool:
    start = [v for k, v in n.items() if k.startswith("start_")]
    falls = all(a > b for a, b in zip(start, start[1:]))
    near = all(n[k] > n["skip_" + k[5:]] for k in n if k.startswith("next_"))
    return falls and near


CKA = register(Claim(
    "representations-cka",
    "After training, each layer's linear CKA with itself at θ₀ falls with depth: the first hidden "
    "layer has changed least and the logits most; and every layer is more like its neighbour than "
    "like the layer two further on.",
    measure=_cka_measure,
    holds=_cka_holds,
    summary=lambda n: "CKA with θ₀ " + ", ".join(f"{k[6:]} {v:.2f}" for k, v in n.items() if k.startswith("start_")),
))


def _dimension_measure(seed: int) -> Numbers:
    frames, _ = _digits_run(DIGITS_64, seed, steps=600, points=800)
    last = frames[600]
    out: Numbers = {}
    for lay in last.layers:
        out[f"pca_{lay.name}"] = float(components_for_variance(last.spectra[lay.name], 0.95))
        out[f"twonn_{lay.name}"] = float(last.twonn[lay.name])
    return out


def _dimension_holds(n: Numbers) -> bool:
    hidden = [k for k in n if k.startswith("pca_") and k not in ("pca_input", "pca_out")]
    counts = [n[k] for k in hidden]
    return (25 <= n["pca_input"] <= 31 and 8.0 <= n["twonn_input"] <= 9.5
            and all(a >= b for a, b in zip(counts, counts[1:])) and counts[-1] <= 8)


DIMENSION = register(Claim(
    "representations-intrinsic-dimension",
    "Handwritten digits fill 64 pixels, but 800 of them need about 28 principal axes for 95% of "
    "their variance, and TwoNN finds about 8.7 dimensions; after training, the count of axes falls "
    "with depth, to 8 or fewer in the last hidden layer, of width 64.",
    measure=_dimension_measure,
    holds=_dimension_holds,
    summary=lambda n: ", ".join(f"{k[4:]} {v:.0f} axes" for k, v in n.items() if k.startswith("pca_"))
    + f"; TwoNN of the inputs {n['twonn_input']:.1f}",
))

DIGITS_COLLAPSE = {"dataset": "digits", "n": 600, "noise": 0.0, "hidden": [64, 64, 64], "activation": "tanh",
                   "optimizer": "adam", "lr": 0.01, "batch_size": 0, "seed": 0}


def _collapse_measure(seed: int) -> Numbers:
    frames, accuracy = _digits_run(DIGITS_COLLAPSE, seed, steps=1000, points=400, every=100)
    last = frames[1000].layers[-2].name  # the last hidden layer
    out = {"train_acc_100": accuracy[100]}
    for step in (100, 400, 1000):
        out[f"nc1_{step}"] = float(frames[step].nc1[last])
    return out


COLLAPSE = register(Claim(
    "representations-neural-collapse",
    "Every training digit is classified correctly within 100 steps, yet the last hidden layer's NC1 "
    "keeps falling afterwards, to less than two thirds of its value by step 1,000: each class is "
    "pulled further towards its mean.",
    measure=_collapse_measure,
    holds=lambda n: (n["train_acc_100"] == 1.0 and n["nc1_100"] > n["nc1_400"] > n["nc1_1000"]
                     and n["nc1_1000"] < (2 / 3) * n["nc1_100"]),
    summary=lambda n: (f"training accuracy at step 100 {100 * n['train_acc_100']:.1f}%; NC1 "
                       f"{n['nc1_100']:.3f} → {n['nc1_400']:.3f} → {n['nc1_1000']:.3f} (steps 100, 400, 1,000)"),
))
