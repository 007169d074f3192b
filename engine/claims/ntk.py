"""Claims of the neural-tangent-kernel presets, on the 1-D task of the NTK tab.

The data are fixed (the tab's data seed 0); a seed draws the network's initial weights. The
measures train 300–400 steps instead of the presets' 1,500 and use narrower widths, which still
show each comparison. `drift_numbers` and `fit_numbers` are shared with the tab's spread view.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.ntk import NTKConfig, WidthResult, compare_at_width, regression_1d

from . import Claim, Numbers, register

DATA_SEED = 0
DRIFT_WIDTHS = (16, 64, 256, 1024)


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def _fit(width: int, seed: int, steps: int, target: str = "sine", **settings) -> WidthResult:
    dataset = regression_1d(10, target, seed=DATA_SEED)
    config = NTKConfig(steps=steps, device="cpu", **settings)
    return [r for r in compare_at_width(width, dataset, config, seed) if isinstance(r, WidthResult)][-1]


def drift_numbers(widths: Sequence[int], relative_change: Sequence[float],
                  linearized_gap: Sequence[float]) -> Numbers:
    """Log–log slope of the kernel's relative change against width, and the linearisation gap
    at the narrowest and the widest width."""
    w = np.log(np.asarray(widths, dtype=float))
    slope = float(np.polyfit(w, np.log(np.asarray(relative_change, dtype=float)), 1)[0])
    return {"slope": slope, "change_narrow": float(relative_change[0]), "change_wide": float(relative_change[-1]),
            "gap_narrow": float(linearized_gap[0]), "gap_wide": float(linearized_gap[-1])}


def _drift(seed: int) -> Numbers:
    results = [_fit(w, seed, 300) for w in DRIFT_WIDTHS]
    return drift_numbers(DRIFT_WIDTHS, [r.relative_change for r in results], [r.linearized_gap for r in results])


DRIFT = register(Claim(
    "ntk-kernel-change-vs-width",
    "Trained the same way, wider networks change their NTK less: ‖K_T − K₀‖/‖K₀‖ falls faster than "
    "the 1/√width bound (log–log slope below −½), and the gap to the linearised model falls with it.",
    measure=_drift,
    holds=lambda n: n["slope"] < -0.5 and n["gap_wide"] < n["gap_narrow"],
    summary=lambda n: (f"slope {n['slope']:.2f} (change {n['change_narrow']:.3g} → {n['change_wide']:.3g}); "
                       f"gap to the linearisation {n['gap_narrow']:.3g} → {n['gap_wide']:.3g}"),
))


def fit_numbers(r: WidthResult) -> Numbers:
    """One width's comparison: kernel change, training losses, and RMS gaps (relative to the target's RMS)."""
    scale = _rms(r.y_true)
    return {"width": float(r.width), "relative_change": r.relative_change, "train_loss": r.train_loss,
            "linearized_train_loss": r.linearized_train_loss, "linearized_gap": r.linearized_gap / scale,
            "kernel_gap": r.kernel_gap / scale, "to_ntk_ridge": _rms(r.f_network - r.f_ntk_ridge) / scale,
            "to_rbf_ridge": _rms(r.f_network - r.f_rbf_ridge) / scale,
            "ntk_vs_rbf": _rms(r.f_ntk_ridge - r.f_rbf_ridge) / scale}


NARROW = register(Claim(
    "ntk-narrow-net-moves-features",
    "A 4-unit network reshapes its NTK during training (compare the two heat maps: the kernel changes "
    "by a fifth or more) and reaches a lower training loss than its frozen-kernel linearisation in the same steps.",
    measure=lambda seed: fit_numbers(_fit(4, seed, 400)),
    holds=lambda n: n["relative_change"] > 0.2 and n["train_loss"] < n["linearized_train_loss"],
    summary=lambda n: (f"kernel change {n['relative_change']:.2f}; training loss {n['train_loss']:.3g} vs "
                       f"linearised {n['linearized_train_loss']:.3g}"),
))

WIDE = register(Claim(
    "ntk-wide-net-is-kernel-regression",
    "A wide network trained by gradient descent ends on its linearisation at θ₀ (RMS gap under 2% of "
    "the target's) and near the kernel-regression prediction K₀(x, X) K₀⁻¹ y (under 10%).",
    measure=lambda seed: fit_numbers(_fit(1024, seed, 400)),
    holds=lambda n: n["linearized_gap"] < 0.02 and n["kernel_gap"] < 0.10,
    summary=lambda n: (f"width {n['width']:.0f}: RMS gap to the linearisation {100 * n['linearized_gap']:.1f}%, "
                       f"to kernel regression {100 * n['kernel_gap']:.1f}% of the target"),
))

RBF = register(Claim(
    "ntk-vs-rbf-kernel-ridge",
    "On the same points, kernel ridge with an RBF kernel (ℓ = 0.15) and with the network's NTK give "
    "different fits; the wide trained network follows the NTK fit, not the RBF one.",
    measure=lambda seed: fit_numbers(_fit(1024, seed, 400, "two tones", kernel_ridge=0.001, rbf_length=0.15)),
    holds=lambda n: n["to_ntk_ridge"] < 0.5 * n["to_rbf_ridge"] and n["ntk_vs_rbf"] > 0.05,
    summary=lambda n: (f"network to NTK ridge {100 * n['to_ntk_ridge']:.1f}%, to RBF ridge "
                       f"{100 * n['to_rbf_ridge']:.1f}%; the two fits differ by {100 * n['ntk_vs_rbf']:.1f}% "
                       f"of the target"),
))
