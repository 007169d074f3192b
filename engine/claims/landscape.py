"""Claims of the loss-landscape presets: skip connections smooth a deep network's surface; a small
network's surface early and late in training; its path on its PCA plane and on a random plane; and
a wide network's basin against the small one's.

The wide network trains 500 steps of the preset's 1,500 (its low-loss share grew from step 500 to
1,500 on every seed tried, so the check is the harder one) and both basins are measured on 15×15
points instead of 61×61. The seed also draws the random directions, as the tab's seed field does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from torch import nn

from ..dataset import Dataset
from ..device import intra_op_threads
from ..experiment import ExperimentConfig, build_dataset, build_model
from ..landscape import LandscapeData, LandscapeSettings, landscape_events
from ..params import flat_params
from ..skip_connections import compare_skip_connections
from ..training import Trainer
from . import Claim, Numbers, register

RATIO = 1.5  # the plain surface's roughness over the residual one's, at least


def measure_skip_connections(seed: int) -> Numbers:
    """Both 20-layer networks trained from one seed; their surfaces' roughness and its ratio."""
    n = compare_skip_connections(seed)
    n["ratio"] = n["plain_roughness"] / n["residual_roughness"]
    return n


register(Claim(
    name="landscape-skip-connections",
    text=("A 20-layer tanh network on the moons, trained 200 Adam steps: on a ±1 filter-normalised plane the "
          "roughness Σ|Δ²L| / Σ|ΔL| of its loss surface is at least 1.5 times that of the same network with "
          "skip connections, trained from the same initial weights."),
    measure=measure_skip_connections,
    holds=lambda n: n["ratio"] >= RATIO,
    summary=lambda n: (f"roughness plain {n['plain_roughness']:.3f} vs residual {n['residual_roughness']:.3f} "
                       f"(×{n['ratio']:.2f}); train loss {n['plain_train_loss']:.3f} vs "
                       f"{n['residual_train_loss']:.3f}"),
))


# -- the small network's presets (moons, 2-16-16-2 tanh, SGD) -------------------------------------
# Each trains the preset's network with the seed drawing θ₀ and the batches, and computes what the
# Landscape tab draws with its own engine call (`landscape_events`). The seed also draws the random
# filter-normalised directions (the tab's "seed" field), so a claim cannot rest on one lucky plane.
SMALL_MOONS = {"dataset": "moons", "n": 600, "noise": 0.1, "hidden": [16, 16], "activation": "tanh",
               "optimizer": "sgd", "lr": 0.1, "batch_size": 32, "seed": 0}
EARLY_LATE = {**SMALL_MOONS, "lr": 0.3}
WIDE = {**SMALL_MOONS, "hidden": [512, 512], "lr": 0.3}
PATH_EVERY = 5  # steps between recorded snapshots of the path (the tab keeps up to 400, evenly spread)
PIN_STEP = 10  # the early-late preset pins its profile at step 10


@dataclass(frozen=True)
class TrainedPath:
    dataset: Dataset
    template: nn.Module  # a copy of the network, read only through the landscape's functional calls
    steps: np.ndarray
    path: list[np.ndarray]  # θ at each of `steps`; the last is the final θ
    pinned: np.ndarray  # θ at step PIN_STEP


# Runs are kept for the claims suite's process: the early-late run is also the wide-flat claim's
# reference, and the PCA-path run the random-plane claim's (3 seeds × 3 set-ups, a few MB in all).
@lru_cache(maxsize=9)
def trained_path(preset: tuple[tuple[str, object], ...], seed: int, steps: int, every: int) -> TrainedPath:
    """Train the preset's network with `seed`, keeping θ every `every` steps, at the end and at PIN_STEP."""
    config = replace(ExperimentConfig.from_dict(dict(preset)), seed=seed, eval_every=10**9)
    dataset = build_dataset(config)
    trainer = Trainer(build_model(config, dataset), dataset, config.train_config())
    template = copy.deepcopy(trainer.model)
    kept_steps, path, pinned = [0], [flat_params(trainer.model).detach().numpy().copy()], None
    with intra_op_threads(1):  # up to 512 units on 600 points: one thread is fastest on a shared machine
        for step in range(1, steps + 1):
            if trainer.step().diverged:
                raise ValueError(f"training diverged at step {step}")
            if step % every == 0 or step == steps or step == PIN_STEP:
                theta = flat_params(trainer.model).detach().numpy().copy()
                if step == PIN_STEP:
                    pinned = theta
                if step % every == 0 or step == steps:
                    kept_steps.append(step)
                    path.append(theta)
    return TrainedPath(dataset, template, np.array(kept_steps), path, pinned)


def _run(preset: dict, seed: int, steps: int, every: int = PATH_EVERY) -> TrainedPath:
    return trained_path(tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in preset.items()), seed, steps,
                        every)


def landscape(run: TrainedPath, theta: np.ndarray, settings: LandscapeSettings, with_path: bool = False,
              surface: bool = True) -> dict[str, object]:
    """The tab's plane, path projection and final grid for `theta` (one level, no coarse refinement)."""
    ds = run.dataset
    data = LandscapeData.from_split(copy.deepcopy(run.template), ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    out: dict[str, object] = {}
    with intra_op_threads(1):
        for ev in landscape_events(data, theta, replace(settings, refine=False),
                                   run.steps if with_path else None, run.path if with_path else None,
                                   surface=surface):
            for key in ("plane", "path", "grid", "lines"):
                if getattr(ev, key) is not None:
                    out[key] = getattr(ev, key)
    return out


def measure_early_late(seed: int) -> Numbers:
    """The early-late preset: the profile along d₁ at step 10 and after 3,000 steps, ±1, 61 points."""
    run = _run(EARLY_LATE, seed, 3000)
    settings = LandscapeSettings(axes="filter", span=1.0, resolution=61, seed=seed)
    early = landscape(run, run.pinned, settings)["lines"].train_d1
    late = landscape(run, run.path[-1], settings)
    d1, Z = late["lines"].train_d1, late["grid"].Z
    c = len(d1) // 2
    return {"early_spread": float(early.max() / early.min()), "early_centre": float(early[c]),
            "late_centre": float(d1[c]), "late_rise": float(d1.max() / d1[c]),
            "late_floor": float(np.nanmin(Z) / Z[c, c])}


register(Claim(
    name="landscape-early-late",
    text=("At step 10 the loss along a filter-normalised direction (dashed grey profile) changes by less than "
          "a factor of 3 over ±1. After 3,000 steps the loss at θ is over 500 times lower and rises more than "
          "a thousandfold along d₁ within ±1: θ sits near the floor of a deep bowl, whose lowest point on "
          "the plane is within a factor of 2 of the loss at θ."),
    measure=measure_early_late,
    holds=lambda n: (n["early_spread"] < 3 and n["early_centre"] > 500 * n["late_centre"]
                     and n["late_rise"] > 1000 and n["late_floor"] > 0.5),
    summary=lambda n: (f"step 10: max/min {n['early_spread']:.2f} along d₁, loss {n['early_centre']:.3f}; "
                       f"step 3,000: loss {n['late_centre']:.2e}, rises ×{n['late_rise']:.0f}, plane's "
                       f"minimum ×{n['late_floor']:.2f} of it"),
))


def measure_pca_path(seed: int) -> Numbers:
    """The PCA-path preset: 1,500 steps, the path's PCA plane through the final θ, range fitted to the
    path, 61×61 points; where the plane's lowest loss lies relative to θ and to the path's start."""
    run = _run(SMALL_MOONS, seed, 1500)
    out = landscape(run, run.path[-1], LandscapeSettings(axes="pca", span=None, resolution=61, seed=seed),
                    with_path=True)
    grid, start = out["grid"], out["path"].coords[0]
    i, j = np.unravel_index(np.nanargmin(grid.Z), grid.Z.shape)
    lowest = np.array([grid.alphas[i], grid.betas[j]])
    c = len(grid.alphas) // 2
    return {"pc1_pc2": float(out["plane"].explained.sum()), "path_in_plane": out["path"].explained,
            "lowest_over_theta": float(grid.Z[i, j] / grid.Z[c, c]),
            "lowest_towards_start": float(lowest @ start / np.linalg.norm(start))}


register(Claim(
    name="landscape-pca-path",
    text=("The path SGD takes through 354 dimensions lies almost in a plane: its first two principal directions "
          "hold over 98% of its variance. On that plane the valley keeps falling beyond the final weights: the "
          "lowest loss in the picture lies past θ, on the side away from θ₀, under half the loss at θ."),
    measure=measure_pca_path,
    holds=lambda n: n["pc1_pc2"] > 0.98 and n["lowest_towards_start"] < 0 and n["lowest_over_theta"] < 0.5,
    summary=lambda n: (f"PC1 + PC2 {100 * n['pc1_pc2']:.1f}%; lowest point {n['lowest_towards_start']:+.2f} "
                       f"along θ → θ₀, loss ×{n['lowest_over_theta']:.2f} of θ's"),
))


def measure_random_plane(seed: int) -> Numbers:
    """The random-plane preset: 1,500 steps, the path projected onto a random filter-normalised plane
    through the final θ, and onto the path's own PCA plane for comparison (no surface needed)."""
    run = _run(SMALL_MOONS, seed, 1500)
    random = landscape(run, run.path[-1], LandscapeSettings(axes="filter", seed=seed), with_path=True,
                       surface=False)["path"]
    pca = landscape(run, run.path[-1], LandscapeSettings(axes="pca", span=None, seed=seed), with_path=True,
                    surface=False)["path"]
    return {"random_in_plane": random.explained, "pca_in_plane": pca.explained}


register(Claim(
    name="landscape-random-plane",
    text=("On a random filter-normalised plane through the final weights, less than a fifth of the training "
          "path's squared displacement lies in the plane (on the path's PCA plane, over 95%): the curve drawn "
          "is mostly a shadow, and the caption says so."),
    measure=measure_random_plane,
    holds=lambda n: n["random_in_plane"] < 0.2 and n["pca_in_plane"] > 0.95,
    summary=lambda n: (f"in the random plane {100 * n['random_in_plane']:.1f}%, in the PCA plane "
                       f"{100 * n['pca_in_plane']:.1f}%"),
))

WIDE_STEPS = 500  # the preset trains 1,500; from step 500 to 1,500 the low-loss share grew on every seed tried
AREA_RESOLUTION = 15  # the share below 0.1 on 15×15 points is within 0.02 of its value on 61×61
LOW_LOSS = 0.1


def measure_wide_flat(seed: int) -> Numbers:
    """The share of a ±1 filter-normalised plane where the training loss stays below 0.1: around the
    2-512-512-2 network after 500 steps, and around the early-late preset's 2-16-16-2 after 3,000."""
    settings = LandscapeSettings(axes="filter", span=1.0, resolution=AREA_RESOLUTION, seed=seed)
    share = {}
    # The wide network's path is not needed (and would take 1 MB a snapshot): only its final θ.
    runs = {"wide": _run(WIDE, seed, WIDE_STEPS, every=WIDE_STEPS), "small": _run(EARLY_LATE, seed, 3000)}
    for name, run in runs.items():
        Z = landscape(run, run.path[-1], settings)["grid"].Z
        share[name] = float(np.mean(Z < LOW_LOSS))
    return {"wide_share": share["wide"], "small_share": share["small"], "ratio": share["wide"] / share["small"]}


register(Claim(
    name="landscape-wide-flat",
    text=("A 2-512-512-2 network trained on the moons sits in a broader basin than the 2-16-16-2 network of the "
          "early-late preset: on a filter-normalised plane of the same range, the region where the training "
          "loss stays below 0.1 covers a larger share of the picture, by a fifth or more."),
    measure=measure_wide_flat,
    holds=lambda n: n["ratio"] >= 1.2,
    summary=lambda n: (f"loss < 0.1 on {100 * n['wide_share']:.0f}% of the wide network's plane vs "
                       f"{100 * n['small_share']:.0f}% of the small one's (×{n['ratio']:.2f})"),
))
