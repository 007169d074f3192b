"""Probes the Train view refreshes while a network trains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .experiment import Experiment


@dataclass
class DecisionMap:
    probs: np.ndarray  # (res, res, C): class probabilities, rows are y, columns are x
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax


def grid_points(extent: tuple[float, float, float, float], res: int) -> torch.Tensor:
    xmin, xmax, ymin, ymax = extent
    xs = torch.linspace(xmin, xmax, res)
    ys = torch.linspace(ymin, ymax, res)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)


@torch.no_grad()
def decision_map(model: torch.nn.Module, extent: tuple[float, float, float, float], res: int = 120,
                 device: torch.device | None = None) -> DecisionMap:
    """Softmax probabilities of a 2-D classifier on a res×res grid over `extent`."""
    pts = grid_points(extent, res)
    if device is not None:
        pts = pts.to(device)
    probs = torch.softmax(model(pts).float(), dim=1).cpu().numpy()
    return DecisionMap(probs.reshape(res, res, -1).astype(np.float32), extent)


def decision_probe(res: int = 120):
    """A probe function for `engine.live.Probe`: the decision map of the experiment's model."""

    def fn(experiment: Experiment) -> DecisionMap | None:
        ds = experiment.dataset
        if not ds.is_points:
            return None
        return decision_map(experiment.model, ds.bounds(), res, experiment.device)

    return fn
