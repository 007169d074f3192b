"""The linear-probe preset's claim: on two spirals the classes are not linearly separable in the
inputs, and are after training in the last hidden layer. Measured after 600 training steps
(the preset trains 1,500), which already show it; a seed draws the network's initial weights.
`probe_numbers` is shared with the tab.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from engine.device import intra_op_threads
from engine.experiment import ExperimentConfig, build_dataset, build_model
from engine.representations import ProbeResult, probe_layers
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
