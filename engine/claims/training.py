"""Claims of the Train tab's presets: the moons boundary, divergence at a huge learning rate, and
the small CNN on the MRI phantoms (learning with 40 scans per class, overfitting with 20).

Each trains the preset's network with the tab's own `Trainer` on the preset's data; a held-out
seed draws the initial weights and the batch order. The runs stop where the claim already shows,
before the preset's end: the moons at step 600 (the preset trains 1,500), the MRI CNN at step
250 (the preset trains 600, about a minute on a laptop, too long for the claims suite). The texts
name those steps.

The MRI claims keep the preset's phantoms (data seed 0), so every seed and both claims share one
drawing of the pictures: `engine.phantoms` caches them, and the 20-per-class set is a prefix of
the 40-per-class one.
"""

from __future__ import annotations

from dataclasses import replace

from engine.device import intra_op_threads
from engine.experiment import ExperimentConfig, build_dataset, build_model
from engine.hessian import top_eigenvalues
from engine.params import flat_params, loss_function
from engine.representations import linear_probe
from engine.training import Trainer, evaluate

from . import Claim, Numbers, register


def _trainer(preset: dict, seed: int) -> Trainer:
    config = replace(ExperimentConfig.from_dict(preset), seed=seed)
    dataset = build_dataset(config)
    return Trainer(build_model(config, dataset), dataset, config.train_config())


# -- train-moons ------------------------------------------------------------------------------------
MOONS = {"dataset": "moons", "n": 600, "noise": 0.1, "hidden": [16, 16], "activation": "tanh",
         "optimizer": "sgd", "lr": 0.3, "batch_size": 32, "seed": 0}
MOONS_STEPS = 600


def _moons_measure(seed: int) -> Numbers:
    trainer = _trainer(MOONS, seed)
    ds = trainer.dataset
    with intra_op_threads(1):  # a 16-unit network: one thread is fastest
        start_loss, *_ = trainer.evaluate()
        for _ in range(MOONS_STEPS):
            trainer.step()
        end_loss, _, _, net_acc = trainer.evaluate()
    # The best straight boundary: logistic regression on the two input coordinates.
    _, line_acc = linear_probe(ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    return {"start_loss": start_loss, "end_loss": end_loss, "net_test_acc": net_acc, "line_test_acc": line_acc}


register(Claim(
    "train-moons",
    "A small tanh network on the two moons: within 600 SGD steps the training loss falls at least "
    "tenfold, and the network's test accuracy beats the best straight boundary's (logistic "
    "regression on the inputs) by 5 points or more, so its boundary has bent.",
    measure=_moons_measure,
    holds=lambda n: n["end_loss"] < n["start_loss"] / 10 and n["net_test_acc"] >= n["line_test_acc"] + 0.05,
    summary=lambda n: (f"training loss {n['start_loss']:.3f} → {n['end_loss']:.4f}; test accuracy network "
                       f"{100 * n['net_test_acc']:.1f}% vs straight boundary {100 * n['line_test_acc']:.1f}%"),
))


# -- train-divergence -------------------------------------------------------------------------------
DIVERGENCE = {"dataset": "spirals", "n": 600, "noise": 0.1, "hidden": [32, 32], "activation": "tanh",
              "optimizer": "sgd", "lr": 200.0, "batch_size": 32, "seed": 0}


def _divergence_measure(seed: int) -> Numbers:
    trainer = _trainer(DIVERGENCE, seed)
    ds = trainer.dataset
    with intra_op_threads(1):
        L = loss_function(trainer.model, trainer.X_train, trainer.y_train, trainer.config.loss)
        values, _ = top_eigenvalues(L, flat_params(trainer.model).detach(), k=1, iters=30)
        lambda_max = float(values[0])
        event = None
        for _ in range(300):  # the preset's run length
            event = trainer.step()
            if event.diverged:
                break
    assert event is not None and len(ds.y_train) > 0
    return {"lambda_max": lambda_max, "lr_over_stable": trainer.config.lr / (2 / lambda_max),
            "stopped": float(trainer.diverged and bool(event.message)), "steps_taken": float(event.step),
            "loss_over_start": event.batch_loss / trainer.start_loss}


register(Claim(
    "train-divergence",
    "With η = 200, over 100 times the stable step 2/λmax at θ₀, the minibatch loss passes 50 times "
    "its start within 5 steps; the app stops the run there and says so.",
    measure=_divergence_measure,
    holds=lambda n: n["lr_over_stable"] > 100 and n["stopped"] == 1 and n["steps_taken"] < 5
    and n["loss_over_start"] > 50,
    summary=lambda n: (f"λmax(θ₀) {n['lambda_max']:.2f}, η = {n['lr_over_stable']:.0f} × 2/λmax; stopped after "
                       f"{n['steps_taken']:.0f} steps, the loss at {n['loss_over_start']:.0f} × its start"
                       if n["stopped"] else "the run was not stopped"),
))


# -- the MRI CNN ------------------------------------------------------------------------------------
def _mri(n: int) -> dict:
    return {"dataset": "mri", "n": n, "noise": 0.05, "test_fraction": 0.2, "image_size": 64,
            "optimizer": "adam", "lr": 0.001, "momentum": 0.0, "batch_size": 32, "eval_every": 25, "seed": 0}


MRI_STEPS = 250
CHANCE = 1 / 17


def _mri_run(n: int, seed: int) -> tuple[Trainer, float]:
    """The preset's CNN after `MRI_STEPS` steps, and its test accuracy at θ₀."""
    # Only the accuracy after the last step is read: no evaluations on the way (they take a
    # third of the time and leave the training as it is).
    trainer = _trainer({**_mri(n), "eval_every": MRI_STEPS + 1}, seed)
    # All the caller's threads: convolutions on 64-pixel scans gain from a second core (16 s a
    # seed against 27 s on one, on a 2-core machine).
    _, start_acc = evaluate(trainer.model.eval(), trainer.X_test, trainer.y_test)
    for _ in range(MRI_STEPS):
        trainer.step()
    trainer.model.eval()
    return trainer, start_acc


def _mri_cnn_measure(seed: int) -> Numbers:
    trainer, start_acc = _mri_run(680, seed)
    _, test_acc = evaluate(trainer.model, trainer.X_test, trainer.y_test)
    return {"start_test_acc": start_acc, "test_acc": test_acc}


def _mri_overfit_measure(seed: int) -> Numbers:
    trainer, _ = _mri_run(340, seed)
    _, train_acc, _, test_acc = trainer.evaluate()
    return {"train_acc": train_acc, "test_acc": test_acc}


register(Claim(
    "mri-cnn",
    "On synthetic brain MRI slices with 40 scans per lesion type, the small CNN's test accuracy "
    "climbs from chance (1 in 17, 6%) to over twice chance within 250 steps; the confusion matrix "
    "shows which lesion types it still mixes up.",
    measure=_mri_cnn_measure,
    holds=lambda n: n["start_test_acc"] < 1.5 * CHANCE and n["test_acc"] > 2 * CHANCE,
    summary=lambda n: (f"test accuracy {100 * n['start_test_acc']:.1f}% at θ₀, {100 * n['test_acc']:.1f}% at step "
                       f"{MRI_STEPS}"),
))

register(Claim(
    "mri-overfit",
    "With only 20 scans per lesion type, after 250 steps the CNN gets over 45% of its training scans "
    "right but under 30% of its test scans: the gap between the two curves is overfitting.",
    measure=_mri_overfit_measure,
    holds=lambda n: n["train_acc"] > 0.45 and n["test_acc"] < 0.30,
    summary=lambda n: f"train accuracy {100 * n['train_acc']:.1f}%, test {100 * n['test_acc']:.1f}%",
))
