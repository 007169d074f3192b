"""One snapshot of the Hessian spectrum of a training run, for the live Curvature view.

Exact eigenvalues (the full Hessian and `eigvalsh`) for models up to a few thousand parameters;
above that, the density by stochastic Lanczos quadrature, λmax/λmin from the extreme Ritz
pairs and the trace by Hutchinson. Image models (the CNN) are measured on a fixed subset of
training images. The computation is a generator that reports progress at every Lanczos step and
can be stopped there; it works on its own copy of the model and a θ snapshot, never on the
model that is training.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .hessian import (
    HessianOperator,
    density_from_nodes,
    full_hessian_iter,
    hessian_trace,
    slq_iter,
    symmetric_eigh,
)
from .params import loss_function
from .progress import Progress


@dataclass
class SpectrumSettings:
    """How a snapshot is computed.

    method: "auto" (exact up to `exact_limit` parameters, SLQ above), "exact" or "slq".
    The Hessian is that of the mean loss over a fixed subset of training samples: the first
    `max_samples` (vector inputs) or `image_samples` (images) of the training set.
    """

    method: str = "auto"
    exact_limit: int = 2500
    hessian_chunk: int = 128  # Hessian columns per batched product (and per progress report)
    max_samples: int = 2000
    image_samples: int = 64
    n_probes: int = 4
    lanczos_steps: int = 60
    image_probes: int = 2
    image_lanczos_steps: int = 30
    trace_probes: int = 32
    bins: int = 60
    grid_size: int = 400
    # An eigenvalue counts as negative below −tol·max|λ|: a numerical zero for exact eigenvalues;
    # for SLQ the resolution of its few Ritz values, which smear the bulk near zero over ±1%.
    negative_tol: float = 1e-5
    slq_negative_tol: float = 0.01
    seed: int = 0

    METHODS = ("auto", "exact", "slq")

    def problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.method not in self.METHODS:
            out["method"] = f"unknown method {self.method!r}; choose {', '.join(self.METHODS)}"
        for name in ("hessian_chunk", "max_samples", "image_samples", "n_probes", "lanczos_steps", "image_probes",
                     "image_lanczos_steps", "trace_probes", "bins", "grid_size"):
            if getattr(self, name) < 1:
                out[name] = f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}"
        return out


@dataclass
class SpectrumSnapshot:
    """The spectrum at one training step.

    method: "exact" or "slq". eigenvalues: all of them (exact only), ascending. hist_edges /
    hist_density: a histogram normalised to integrate to 1 (exact only). grid / density: the
    smoothed density (SLQ), or the histogram's centres (exact). residual_max / residual_min:
    ‖Hv − λv‖ of the extreme eigenpairs, measured with fresh Hessian-vector products.
    negative_count: exact count, or P × the estimated negative mass (SLQ).
    """

    step: int
    method: str
    n_params: int
    n_samples: int
    eigenvalues: np.ndarray | None
    hist_edges: np.ndarray | None
    hist_density: np.ndarray | None
    grid: np.ndarray
    density: np.ndarray
    lambda_max: float
    lambda_min: float
    trace: float
    trace_method: str
    residual_max: float
    residual_min: float
    negative_count: float
    negative_fraction: float
    negative_threshold: float  # eigenvalues below −negative_threshold were counted as negative
    seconds: float
    matvecs: int

    @property
    def exact(self) -> bool:
        return self.method == "exact"


def choose_method(n_params: int, settings: SpectrumSettings) -> str:
    if settings.method != "auto":
        return settings.method
    return "exact" if n_params <= settings.exact_limit else "slq"


def analysis_subset(X: torch.Tensor, y: torch.Tensor, is_images: bool,
                    settings: SpectrumSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed training samples the Hessian is measured on (the training set is already in a
    seeded random order, so its first k samples are a fixed random subset)."""
    k = settings.image_samples if is_images else settings.max_samples
    return X[:k], y[:k]


def spectrum_snapshot(model: nn.Module, X: torch.Tensor, y: torch.Tensor, theta, step: int = 0,
                      settings: SpectrumSettings | None = None, loss: str = "cross_entropy"
                      ) -> Iterator[Progress | SpectrumSnapshot]:
    """The Hessian spectrum of the mean loss over (X, y) at θ; yields progress, then the snapshot.

    `model` must be a module no one else is using (it is only read through functional_call).
    """
    s = settings or SpectrumSettings()
    problems = s.problems()
    if problems:
        raise ValueError("; ".join(problems.values()))
    t0 = time.perf_counter()
    p0 = next(model.parameters())
    theta = torch.as_tensor(np.asarray(theta) if not isinstance(theta, torch.Tensor) else theta)
    theta = theta.detach().to(p0.device, p0.dtype).reshape(-1)
    if not torch.isfinite(theta).all():
        raise ValueError("the weights are not finite numbers (the run diverged); reset it")
    P = int(theta.numel())
    L = loss_function(model, X, y, loss)
    method = choose_method(P, s)
    if method == "exact":
        limit = max(s.exact_limit, P) if s.method == "exact" else s.exact_limit
        H = None
        for item in full_hessian_iter(L, theta, max_params=limit, chunk=s.hessian_chunk):
            if isinstance(item, Progress):
                yield Progress(item.done, P + P // 4, f"full Hessian: column {item.done:,} of {P:,} "
                                                         f"(Hessian-vector products in batches of {s.hessian_chunk})")
            else:
                H = item.matrix
        yield Progress(P, P + P // 4, f"eigenvalues of the {P:,}×{P:,} Hessian (eigvalsh)")
        evals, evecs = symmetric_eigh(H)
        lam = evals.cpu().numpy()
        op = HessianOperator(L, theta)
        ends = torch.stack([evecs[:, -1], evecs[:, 0]]).to(theta.dtype)
        HV = op(ends)
        ends_val = torch.tensor([lam[-1], lam[0]], dtype=theta.dtype, device=theta.device)
        res = (HV - ends_val[:, None] * ends).norm(dim=1).cpu().numpy()
        scale = float(np.abs(lam).max(initial=0.0))
        neg = int((lam < -s.negative_tol * scale).sum())
        counts, edges = np.histogram(lam, bins=s.bins)
        widths = np.diff(edges)
        hist = counts / max(1, counts.sum()) / np.where(widths > 0, widths, 1.0)
        yield SpectrumSnapshot(step, "exact", P, len(y), lam, edges, hist, (edges[:-1] + edges[1:]) / 2, hist,
                               float(lam[-1]), float(lam[0]), float(lam.sum()), "exact, Σλ", float(res[0]),
                               float(res[1]), float(neg), neg / P, s.negative_tol * scale, time.perf_counter() - t0,
                               P + 2)
        return

    images = X.ndim == 4
    probes = s.image_probes if images else s.n_probes
    steps = min(s.image_lanczos_steps if images else s.lanczos_steps, P)
    op = HessianOperator(L, theta)
    total = steps + (0 if images else 1) + 1
    nodes = None
    for item in slq_iter(L, theta, probes, steps, s.seed, operator=op):
        if isinstance(item, Progress):
            yield Progress(item.done, total, f"stochastic Lanczos quadrature: step {item.done}/{steps} "
                                                f"({probes} probe vectors, {len(y)} samples)")
        else:
            nodes = item
    ends = torch.stack([nodes.top_vector, nodes.bottom_vector])
    ends_val = torch.tensor([nodes.top_value, nodes.bottom_value], dtype=theta.dtype, device=theta.device)
    res = (op(ends) - ends_val[:, None] * ends).norm(dim=1).cpu().numpy()
    if images:
        trace, trace_method = nodes.trace, f"Hutchinson, {probes} probes (shared with SLQ)"
    else:
        yield Progress(steps, total, f"trace: Hutchinson with {s.trace_probes} probe vectors")
        trace = hessian_trace(L, theta, s.trace_probes, s.seed + 1)
        trace_method = f"Hutchinson, {s.trace_probes} probes"
    scale = max(abs(nodes.top_value), abs(nodes.bottom_value))
    frac = nodes.negative_fraction(s.slq_negative_tol * scale)
    grid, density = density_from_nodes(nodes.nodes, nodes.weights, s.grid_size)
    yield SpectrumSnapshot(step, "slq", P, len(y), None, None, None, grid, density, nodes.top_value,
                           nodes.bottom_value, trace, trace_method, float(res[0]), float(res[1]), frac * P, frac,
                           s.slq_negative_tol * scale, time.perf_counter() - t0, op.matvecs)


__all__ = ["SpectrumSettings", "SpectrumSnapshot", "spectrum_snapshot", "analysis_subset",
           "choose_method"]
