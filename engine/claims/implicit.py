"""Claims of the implicit-regularisation presets: minimum norm, max margin, least nuclear norm."""

from __future__ import annotations

import numpy as np
import torch

from ..implicit import (
    factorization_gd,
    logistic_smoothness,
    margin_data,
    max_margin_direction,
    min_norm_gd,
    min_nuclear_norm_psd,
    sensing_problem,
    underdetermined_problem,
)
from . import Claim, Numbers, register


def measure_min_norm(seed: int) -> Numbers:
    """20 equations, 100 unknowns (drawn by the seed): GD from zero and from a random start."""
    X, y = underdetermined_problem(n=20, d=100, seed=seed)
    w0 = torch.randn(100, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    zero = list(min_norm_gd(X, y, steps=300, every=300))[-1]
    rand = list(min_norm_gd(X, y, steps=300, every=300, w0=w0))[-1]
    return {"zero_distance": zero.distance_to_min_norm, "zero_loss": zero.loss,
            "random_distance": rand.distance_to_min_norm, "random_loss": rand.loss,
            "zero_norm": zero.norm, "random_norm": rand.norm}


register(Claim(
    name="implicit-min-norm",
    text=("On least squares with more unknowns than equations, gradient descent from zero converges to the "
          "pseudo-inverse solution X⁺y; from a random start it converges to a different exact fit, of "
          "larger norm."),
    measure=measure_min_norm,
    holds=lambda n: (n["zero_loss"] < 1e-10 and n["random_loss"] < 1e-10 and n["zero_distance"] < 1e-6
                     and n["random_distance"] > 1.0 and n["random_norm"] > n["zero_norm"]),
    summary=lambda n: (f"‖w − X⁺y‖ from zero {n['zero_distance']:.1e}, from a random start "
                       f"{n['random_distance']:.2f} (losses {n['zero_loss']:.0e}, {n['random_loss']:.0e})"),
))

MARGIN_DECADES = (1, 10, 100, 1_000, 10_000, 100_000)


def measure_max_margin(seed: int) -> Numbers:
    """GD on the logistic loss of `margin_data(seed)` for 10⁵ steps (as the preset): ‖w‖ and the
    angle to the SVM without intercept at every decade of steps."""
    X, y = margin_data(seed=seed)
    points = {p.step: p for p in max_margin_direction(X, y, steps=MARGIN_DECADES[-1],
                                                       lr=1.0 / logistic_smoothness(X), points=40)}
    out: Numbers = {}
    for t in MARGIN_DECADES:
        out[f"angle_{t}"] = points[t].angle_to_svm
        out[f"norm_{t}"] = points[t].norm
    return out


def _margin_holds(n: Numbers) -> bool:
    angles = [n[f"angle_{t}"] for t in MARGIN_DECADES]
    gains = [n[f"norm_{10 * t}"] - n[f"norm_{t}"] for t in MARGIN_DECADES[3:-1]]
    # ‖w‖ ~ log t: once the loss is small (from 10³ steps on) each decade adds about the same.
    steady = all(g > 0 for g in gains) and max(gains) < 1.2 * min(gains)
    return all(b < a for a, b in zip(angles, angles[1:])) and steady


register(Claim(
    name="implicit-max-margin",
    text=("On separable data, gradient descent on the logistic loss of a model without bias: the angle "
          "between w and the hard-margin SVM through the origin shrinks with every tenfold of steps (to "
          "under 2° at 10⁵), and from 10³ steps on each tenfold adds about the same to ‖w‖: it grows like "
          "log t."),
    measure=measure_max_margin,
    holds=_margin_holds,
    summary=lambda n: ("angle " + " → ".join(f"{n[f'angle_{t}']:.1f}°" for t in MARGIN_DECADES)
                       + "; ‖w‖ " + " → ".join(f"{n[f'norm_{t}']:.2f}" for t in MARGIN_DECADES)),
))

FACTOR_ALPHAS = (1.0, 0.1, 0.01)


def measure_factorization(seed: int) -> Numbers:
    """Matrix sensing (d = 12, rank 1, drawn by the seed) from U₀ = αI for α = 1, 0.1, 0.01."""
    problem = sensing_problem(d=12, rank=1, seed=seed)
    reference = min_nuclear_norm_psd(problem)
    last = list(factorization_gd(problem, FACTOR_ALPHAS, steps=2000, reference=reference, every=2000))[-1]
    out: Numbers = {"min_nuclear": float(torch.trace(reference))}
    for a, err, nuc, loss in zip(FACTOR_ALPHAS, last.error, last.nuclear_norm, last.loss):
        out[f"error_{a:g}"], out[f"nuclear_{a:g}"], out[f"loss_{a:g}"] = float(err), float(nuc), float(loss)
    return out


def _factor_holds(n: Numbers) -> bool:
    errors = [n[f"error_{a:g}"] for a in FACTOR_ALPHAS]
    nuclear = [n[f"nuclear_{a:g}"] for a in FACTOR_ALPHAS]
    fitted = all(n[f"loss_{a:g}"] < 1e-4 for a in FACTOR_ALPHAS)
    return (fitted and bool(np.all(np.diff(errors) < 0)) and bool(np.all(np.diff(nuclear) < 0))
            and min(nuclear) >= n["min_nuclear"] - 1e-3)


register(Claim(
    name="implicit-factorization",
    text=("Matrix sensing with X = UUᵀ and gradient descent from U₀ = αI: every α fits the measurements, "
          "and the smaller α, the closer the fit to the solution of least nuclear norm, and the smaller "
          "its nuclear norm."),
    measure=measure_factorization,
    holds=_factor_holds,
    summary=lambda n: ("α = 1, 0.1, 0.01: error " + ", ".join(f"{n[f'error_{a:g}']:.3f}" for a in FACTOR_ALPHAS)
                       + "; ‖X‖_* " + ", ".join(f"{n[f'nuclear_{a:g}']:.3f}" for a in FACTOR_ALPHAS)
                       + f" (least {n['min_nuclear']:.3f})"),
))
