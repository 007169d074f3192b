"""What an image classifier gets right and wrong: predictions on sample test images, the
confusion matrix and the accuracy of each class (the Train tab's image mode).

The probe runs in the training thread on the live model, on the test split that the trainer
already holds on its device, and returns numpy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .experiment import Experiment

MAX_EVAL = 1024  # test images used for the confusion matrix (all of them, up to this many)


@dataclass
class ImagePredictions:
    step: int
    sample_index: np.ndarray  # (k,) indices into the test split
    true: np.ndarray  # (k,) true classes of the samples
    predicted: np.ndarray  # (k,) predicted classes
    confidence: np.ndarray  # (k,) softmax probability of the predicted class
    confusion: np.ndarray  # (C, C) counts, rows: true class, columns: predicted class
    per_class_accuracy: np.ndarray  # (C,) NaN for a class without test images
    accuracy: float
    n_evaluated: int


def sample_indices(y: np.ndarray | torch.Tensor, k: int, seed: int = 0) -> np.ndarray:
    """k test indices, round-robin over classes (each class appears before any repeats)."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    per_class = [list(rng.permutation(np.flatnonzero(y == c))) for c in np.unique(y)]
    out: list[int] = []
    while len(out) < min(k, len(y)):
        for idx in per_class:
            if idx and len(out) < k:
                out.append(int(idx.pop(0)))
    return np.asarray(out, dtype=np.int64)


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(true * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    totals = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)


@torch.no_grad()
def predict_classes(model: torch.nn.Module, X: torch.Tensor, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted class, its probability) for every row of X, in chunks."""
    preds, confs = [], []
    for i in range(0, len(X), chunk):
        p = torch.softmax(model(X[i : i + chunk]).float(), dim=1)
        c, k = p.max(1)
        preds.append(k)
        confs.append(c)
    return torch.cat(preds), torch.cat(confs)


def image_predictions(model: torch.nn.Module, X_test: torch.Tensor, y_test: torch.Tensor, n_classes: int,
                      samples: np.ndarray, step: int = 0) -> ImagePredictions:
    """Predictions for the sample images and the confusion matrix over (up to MAX_EVAL) test images.

    X_test and y_test should already be on the model's device; nothing moves but the answers.
    """
    n = min(len(y_test), MAX_EVAL)
    pred, conf = predict_classes(model, X_test[:n])
    pred_np = pred.cpu().numpy()
    conf_np = conf.cpu().numpy()
    true_np = y_test[:n].cpu().numpy()
    cm = confusion_matrix(true_np, pred_np, n_classes)
    samples = np.asarray(samples, dtype=np.int64)
    inside = samples < n
    s_pred = np.full(len(samples), -1, dtype=np.int64)
    s_conf = np.zeros(len(samples), dtype=np.float32)
    s_pred[inside], s_conf[inside] = pred_np[samples[inside]], conf_np[samples[inside]]
    if (~inside).any():  # samples beyond the evaluated part (very large test sets)
        extra = torch.as_tensor(samples[~inside], device=X_test.device)
        p, c = predict_classes(model, X_test[extra])
        s_pred[~inside], s_conf[~inside] = p.cpu().numpy(), c.cpu().numpy()
    return ImagePredictions(
        step=step, sample_index=samples, true=y_test[torch.as_tensor(samples, device=y_test.device)].cpu().numpy(),
        predicted=s_pred, confidence=s_conf, confusion=cm, per_class_accuracy=per_class_accuracy(cm),
        accuracy=float(np.trace(cm) / max(cm.sum(), 1)), n_evaluated=n)


def prediction_probe(n_samples: int = 18, seed: int = 0):
    """A probe function for `engine.live.Probe`: predictions of the experiment's model on
    sample test images (the same ones until the data changes), and the confusion matrix."""
    state: dict = {}

    def fn(experiment: Experiment) -> ImagePredictions | None:
        ds = experiment.dataset
        if not ds.is_images:
            return None
        trainer = experiment.trainer
        if state.get("dataset") is not ds:
            state["dataset"] = ds
            state["samples"] = sample_indices(ds.y_test.numpy(), n_samples, seed)
        return image_predictions(experiment.model, trainer.X_test, trainer.y_test, ds.n_classes,
                                 state["samples"], experiment.step_count)

    return fn
