"""What the Implicit regularisation tab's pages share: a line through a square."""

from __future__ import annotations

import numpy as np


def line_segment(normal: np.ndarray, offset: float, extent: float) -> tuple[np.ndarray, np.ndarray]:
    """Endpoints of {w : ⟨normal, w⟩ = offset} clipped to a square of half-width `extent`."""
    n = normal / np.linalg.norm(normal)
    base = n * offset / np.linalg.norm(normal)
    t = np.array([-1.0, 1.0]) * extent * 2
    direction = np.array([-n[1], n[0]])
    pts = base[None, :] + t[:, None] * direction[None, :]
    return pts[:, 0], pts[:, 1]
