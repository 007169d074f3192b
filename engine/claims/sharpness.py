"""Claims of the sharpness preset: at equal training loss, full batch ends sharper than batch 16."""

from __future__ import annotations

from collections.abc import Sequence

from ..sharpness import MinimumReport, SharpnessConfig, seed_sweeps
from . import Claim, Numbers, register

# The preset's experiment (digits, 64-128-128-10 ReLU, SGD at η = 0.2, every run stopped at train
# loss 0.1, ε-sharpness over the ball ‖ε‖ ≤ 0.5), at its two ends: batch 16 and full batch.
PRESET = SharpnessConfig(lr=0.2, target_loss=0.1, rho=0.5, max_epochs=1000, batch_sizes=(16, 0))


def numbers_from_reports(reports: Sequence[MinimumReport]) -> Numbers:
    """The comparison of one sweep: its smallest batch against its largest (full batch)."""
    if len(reports) < 2:
        raise ValueError("the comparison needs at least two batch sizes")
    small = min(reports, key=lambda r: r.batch_size)
    large = max(reports, key=lambda r: r.batch_size)
    return {"lambda_small": small.lambda_max, "lambda_large": large.lambda_max,
            "sharpness_small": small.eps_sharpness, "sharpness_large": large.eps_sharpness,
            "gap_small": small.gap, "gap_large": large.gap,
            "reached": float(small.reached_target and large.reached_target)}


def measure_sharp_vs_flat(seed: int) -> Numbers:
    # The trace is not part of the claim: a few probes keep the run short.
    (sweep,) = [e for e in seed_sweeps(_fast(PRESET), [seed]) if not hasattr(e, "fraction")]
    return numbers_from_reports(sweep.reports)


def _fast(cfg: SharpnessConfig) -> SharpnessConfig:
    from dataclasses import replace

    return replace(cfg, trace_probes=2, slice_points=3)


def sharper_at_large_batch(n: Numbers) -> bool:
    return (n["reached"] == 1.0 and n["lambda_large"] > 1.5 * n["lambda_small"]
            and n["sharpness_large"] > n["sharpness_small"])


SHARP_VS_FLAT = register(Claim(
    name="sharp-vs-flat",
    text=("SGD at one learning rate from one θ₀, every run stopped at the same training loss: full-batch "
          "gradient descent ends at a sharper minimum than batch 16, with λmax more than 1.5 times as "
          "large and a larger ε-sharpness. The test − train gap is shown as measured, not claimed."),
    measure=measure_sharp_vs_flat,
    holds=sharper_at_large_batch,
    summary=lambda n: (f"λmax {n['lambda_small']:.2f} (small batch) vs {n['lambda_large']:.2f} (full), "
                       f"ε-sharpness {n['sharpness_small']:.3f} vs {n['sharpness_large']:.3f}, "
                       f"gap {n['gap_small']:+.3f} vs {n['gap_large']:+.3f}"),
))
