"""Claims of the double-descent presets, measured on small sweeps that still show them.

The `*_numbers` helpers turn one seed's sweep into the numbers its claim compares; the tab's
spread view calls the same helpers and the same `holds`, so caption and check cannot drift.
"""

from __future__ import annotations

from engine.data import toy_dataset
from engine.device import intra_op_threads
from engine.double_descent import (
    EpochPoint,
    EpochWiseConfig,
    SweepPoint,
    SweepResult,
    epoch_wise_curve,
    epoch_wise_shape,
    random_features_sweep,
    width_sweep,
)
from engine.training import TrainConfig

from . import Claim, Numbers, register

N_TRAIN = 100
# Enough counts to place the peak, each side of p = n; a fraction of the tab's 60.
COUNTS = (5, 10, 25, 50, 70, 85, 100, 118, 140, 200, 400, 1000)


def sweep_numbers(result: SweepResult) -> Numbers:
    """Test error at p = n/20, n/2, n, 10n and the minimum; where the error and the norm peak (in units of n)."""
    n = result.n_train
    return {"n_20": result.test_error_at(max(1, n // 20)), "half_n": result.test_error_at(n // 2),
            "at_n": result.test_error_at(n), "ten_n": result.test_error_at(10 * n),
            "minimum": float(result.test_error.min()), "peak_at": result.peak_count / n,
            "norm_peak_at": float(result.counts[int(result.weight_norm.argmax())]) / n}


def _sweep(seed: int, noise: float = 0.1, ridge: float = 0.0) -> SweepResult:
    return random_features_sweep(N_TRAIN, COUNTS, noise=noise, ridge=ridge, seed=seed)


def _peak_holds(n: Numbers) -> bool:
    near = lambda at: 0.8 <= at <= 1.25  # noqa: E731  (the swept count next to p = n)
    return near(n["peak_at"]) and near(n["norm_peak_at"]) and n["at_n"] > n["half_n"] and n["at_n"] > n["ten_n"]


PEAK = register(Claim(
    "double-descent-random-features",
    "With minimum-norm least squares on p random ReLU features, the test error peaks where p equals "
    "the number of training samples n and falls again for p ≫ n; the weight norm peaks with it.",
    measure=lambda seed: sweep_numbers(_sweep(seed)),
    holds=_peak_holds,
    summary=lambda n: (f"peak at p = {n['peak_at']:.2f}·n (norm {n['norm_peak_at']:.2f}·n); error "
                       f"{n['half_n']:.3g} at n/2, {n['at_n']:.3g} at n, {n['ten_n']:.3g} at 10n"),
))


def label_noise_numbers(low: SweepResult, high: SweepResult) -> Numbers:
    """How much more label noise multiplies the error at p = n, and at p = n/20 (far from it)."""
    a, b = sweep_numbers(low), sweep_numbers(high)
    return {"ratio_at_n": b["at_n"] / a["at_n"], "ratio_n_20": b["n_20"] / a["n_20"],
            "low_at_n": a["at_n"], "high_at_n": b["at_n"]}


LABEL_NOISE = register(Claim(
    "double-descent-label-noise",
    "Raising the label noise from σ = 0.1 to σ = 0.5 makes the test-error peak at p = n at least "
    "four times taller, while far below the threshold (p = n/20) the error grows by less than half.",
    measure=lambda seed: label_noise_numbers(_sweep(seed, 0.1), _sweep(seed, 0.5)),
    holds=lambda n: n["ratio_at_n"] >= 4.0 and n["ratio_n_20"] < 1.5,
    summary=lambda n: (f"at p = n: {n['low_at_n']:.3g} → {n['high_at_n']:.3g} (×{n['ratio_at_n']:.1f}); "
                       f"at p = n/20: ×{n['ratio_n_20']:.2f}"),
))


RIDGE = register(Claim(
    "double-descent-ridge",
    "With ridge λ = 1 the same random-features sweep has no peak: the test error at p = n stays "
    "within twice the curve's minimum.",
    measure=lambda seed: sweep_numbers(_sweep(seed, 0.1, 1.0)),
    holds=lambda n: n["at_n"] < 2.0 * n["minimum"],
    summary=lambda n: f"error at p = n {n['at_n']:.3g}, minimum {n['minimum']:.3g} (×{n['at_n'] / n['minimum']:.2f})",
))


def epoch_numbers(points: list[EpochPoint]) -> Numbers:
    s = epoch_wise_shape(points)
    return {"first_min": s["first_min"], "peak": s["peak"], "second_min": s["second_min"]}


EPOCH_WISE = register(Claim(
    "double-descent-epoch-wise",
    "Gradient descent on fast and slow features: the test error falls, rises while the fast features "
    "overfit, and falls below its first minimum once the slow features are learned.",
    measure=lambda seed: epoch_numbers(list(epoch_wise_curve(EpochWiseConfig(
        slow_scale=0.03, noise=0.1, fast_features=60, points=120, seed=seed)))),
    holds=lambda n: n["peak"] > n["first_min"] > n["second_min"],
    summary=lambda n: f"first minimum {n['first_min']:.3g}, peak {n['peak']:.3g}, then {n['second_min']:.3g}",
))


# -- networks --------------------------------------------------------------------------------------
# The networks page's settings (digits: n = 100 training images, k = 10 classes, 20% of the labels
# wrong, full-batch Adam on the squared loss for 1,500 steps), on the widths around p = n·k = 1,000
# and two far from it; a seed draws the weights and which labels are wrong.
NETWORK_WIDTHS = (4, 8, 12, 14, 16, 24, 64, 256)


def network_numbers(points: list[SweepPoint], threshold: int) -> Numbers:
    """Where the test loss peaks (in units of p = n·k), the peak, and the widest and narrowest losses."""
    losses = [p.test_loss for p in points]
    worst = max(range(len(points)), key=lambda i: losses[i])
    return {"peak_at": points[worst].n_params / threshold, "peak_loss": losses[worst],
            "narrowest_loss": losses[0], "widest_loss": losses[-1],
            "widest_train_loss": points[-1].train_loss}


def _networks(seed: int) -> Numbers:
    ds = toy_dataset("digits", n=200, noise=0.0, test_fraction=0.5, seed=0)
    config = TrainConfig(optimizer="adam", lr=3e-3, batch_size=0, steps=1500, loss="mse", device="cpu")
    with intra_op_threads(1):
        points = [p for p in width_sweep(ds, NETWORK_WIDTHS, config, seed=seed, label_noise=0.2)
                  if isinstance(p, SweepPoint)]
    return network_numbers(points, len(ds.y_train) * ds.n_classes)


NETWORKS = register(Claim(
    "double-descent-networks",
    "One-hidden-layer networks on 100 digits with 20% wrong labels, trained to near zero training "
    "loss: the test loss is worst between 0.75 and 1.35 times p = n·k parameters, and the widest "
    "network (256 units) does better than both that peak and a 4-unit network.",
    measure=_networks,
    holds=lambda n: (0.75 <= n["peak_at"] <= 1.35 and n["widest_loss"] < n["peak_loss"]
                     and n["widest_loss"] < n["narrowest_loss"] and n["widest_train_loss"] < 0.01),
    summary=lambda n: (f"worst test loss {n['peak_loss']:.3f} at p = {n['peak_at']:.2f}·n·k; "
                       f"4 units {n['narrowest_loss']:.3f}, widest {n['widest_loss']:.3f}"),
))
