"""Claims of the curvature presets: the edge of stability under full-batch gradient descent, and the
Hessian spectrum of a small network as SGD trains it (exact spectra every 250 steps; the tab's
headless run takes one every 50)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from ..device import intra_op_threads
from ..experiment import ExperimentConfig, build_dataset, build_model
from ..hessian import last
from ..params import flat_params
from ..sharpness import EdgeOfStabilityConfig, edge_of_stability
from ..spectrum import SpectrumSettings, analysis_subset, spectrum_snapshot
from ..training import Trainer
from . import Claim, Numbers, register


def measure_edge_of_stability(seed: int) -> Numbers:
    """λmax at θ₀ and over the second half of a 600-step full-batch run (η = 0.5, noisy moons,
    2-16-16-2 tanh, cross-entropy), as fractions of 2/η; the seed draws the data and θ₀."""
    cfg = EdgeOfStabilityConfig(dataset="moons", n=600, noise=0.3, hidden=(16, 16), lr=0.5, steps=600,
                                track_every=30, seed=seed)
    points = list(edge_of_stability(cfg))
    steps = np.array([p.step for p in points])
    lam = np.array([p.lambda_max for p in points]) / cfg.threshold
    loss = np.array([p.train_loss for p in points])
    late = steps >= cfg.steps // 2
    return {"start": float(lam[0]), "late_min": float(lam[late].min()), "late_max": float(lam[late].max()),
            "loss_mid": float(loss[late][0]), "loss_end": float(loss[-1])}


register(Claim(
    name="edge-of-stability",
    text=("Full-batch gradient descent at η = 0.5 on the noisy moons: λmax starts well below the stability "
          "limit 2/η = 4, climbs to it within a few hundred steps, and over steps 300–600 stays within "
          "10% of it while the loss keeps falling."),
    measure=measure_edge_of_stability,
    holds=lambda n: (n["start"] < 0.6 and 0.9 <= n["late_min"] and n["late_max"] <= 1.1
                     and n["loss_end"] < n["loss_mid"]),
    summary=lambda n: (f"λmax/(2/η) {n['start']:.2f} at θ₀, {n['late_min']:.2f}–{n['late_max']:.2f} late; "
                       f"loss {n['loss_mid']:.3f} → {n['loss_end']:.3f}"),
))


# -- the Hessian spectrum while a small network trains (the live-spectrum preset) -----------------
LIVE_SPECTRUM = {"dataset": "moons", "n": 600, "noise": 0.1, "hidden": [16, 16], "activation": "tanh",
                 "optimizer": "sgd", "lr": 0.1, "batch_size": 32, "seed": 0}
SPECTRUM_EVERY = 250  # steps between spectra (the tab's headless run takes one every 50)


def measure_live_spectrum(seed: int) -> Numbers:
    """The preset's 1,500 SGD steps with the seed drawing θ₀ and the batches; the tab's exact spectrum
    (`spectrum_snapshot`, 354 parameters) at θ₀ and every 250 steps."""
    config = replace(ExperimentConfig.from_dict(LIVE_SPECTRUM), seed=seed, eval_every=10**9)
    dataset = build_dataset(config)
    trainer = Trainer(build_model(config, dataset), dataset, config.train_config())
    settings = SpectrumSettings()
    X, y = analysis_subset(trainer.X_train, trainer.y_train, False, settings)
    reader = copy.deepcopy(trainer.model)
    snaps = []
    with intra_op_threads(1):  # a 16-unit network: one thread is fastest
        for step in range(1501):
            if step:
                trainer.step()
            if step % SPECTRUM_EVERY == 0:
                theta = flat_params(trainer.model).detach().numpy().copy()
                snaps.append(last(spectrum_snapshot(reader, X, y, theta, step, settings, config.train_config().loss)))
    first, end = snaps[0], snaps[-1]
    lam = end.eigenvalues
    return {"negative_start": first.negative_fraction, "negative_end": end.negative_fraction,
            "lambda_min_start": first.lambda_min, "lambda_min_end": end.lambda_min,
            "lambda_max_start": first.lambda_max, "lambda_max_peak": max(s.lambda_max for s in snaps),
            "lambda_max_end": end.lambda_max,
            "bulk_end": float(np.mean(np.abs(lam) < 0.01 * end.lambda_max)),
            "outliers_end": float(np.sum(lam > 0.1 * end.lambda_max))}


register(Claim(
    name="curvature-live-spectrum",
    text=("At θ₀ 20–30% of the Hessian's eigenvalues are negative; training pushes them towards zero "
          "(|λmin| shrinks over fiftyfold by step 1,500) and leaves a tall bulk, over 90% of the eigenvalues "
          "within λmax/100 of zero, and at most three outliers above λmax/10. λmax first grows, then falls "
          "below its start."),
    measure=measure_live_spectrum,
    holds=lambda n: (0.2 <= n["negative_start"] <= 0.3 and n["negative_end"] < n["negative_start"]
                     and abs(n["lambda_min_end"]) * 50 < abs(n["lambda_min_start"])
                     and n["bulk_end"] > 0.9 and 1 <= n["outliers_end"] <= 3
                     and n["lambda_max_peak"] > n["lambda_max_start"] > n["lambda_max_end"]),
    summary=lambda n: (f"negative {100 * n['negative_start']:.1f}% → {100 * n['negative_end']:.1f}%, λmin "
                       f"{n['lambda_min_start']:.3f} → {n['lambda_min_end']:.4f}; λmax {n['lambda_max_start']:.2f} "
                       f"→ peak {n['lambda_max_peak']:.2f} → {n['lambda_max_end']:.2f}; bulk "
                       f"{100 * n['bulk_end']:.0f}%, {n['outliers_end']:.0f} outliers"),
))
