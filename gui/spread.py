"""Spread over seeds: the "× N seeds" control, a mean ± s.d. band with a point per seed, and the
caption that states a comparison only when it held on every seed.

A tab that shows a claim reruns its comparison on N seeds, measures each seed with the same
numbers its claim record (engine/claims) checks, and passes them through the record's `holds`:
what the caption says and what the claims suite asserts come from one function.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.claims import Claim, Numbers, verdict

from .style import manager

MAX_SEEDS = 5


class SeedCount(QtWidgets.QSpinBox):
    """How many seeds a comparison is run on: 1 to 5 ("× 3 seeds")."""

    def __init__(self, tip: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setRange(1, MAX_SEEDS)
        self.setValue(1)
        self.setPrefix("× ")
        self.setSuffix(" seeds")
        self.setToolTip(tip + " With more than one seed the caption states the comparison only if it "
                        "holds on every seed.")
        self.valueChanged.connect(lambda v: self.setSuffix(" seed" if v == 1 else " seeds"))
        self.setSuffix(" seed")


def seed_results(claim: Claim, numbers: Sequence[tuple[int, Numbers]]) -> list[tuple[int, Numbers, bool]]:
    """(seed, numbers, holds) for each seed, judged by the claim record's own `holds`."""
    return [(int(s), n, bool(claim.holds(n))) for s, n in numbers]


def spread_caption(claim: Claim, results: Sequence[tuple[int, Numbers, bool]]) -> str:
    """The verdict over the seeds, then what each seed measured."""
    lines = [verdict(claim, results)]
    lines += [f"seed {s}: {claim.summary(n)}{'' if ok else ' (does not hold)'}" for s, n, ok in results]
    return "\n".join(lines)


def mean_sd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds (axis 0), ignoring NaN (seeds still running)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    count = finite.sum(0)
    total = np.where(finite, values, 0.0).sum(0)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    sq = np.where(finite, (values - mean) ** 2, 0.0).sum(0)
    sd = np.where(count > 0, np.sqrt(sq / np.maximum(count, 1)), np.nan)
    return mean, sd


class SeedBand:
    """A mean ± s.d. band over seeds and one small point per seed, on an existing plot.

    Works on log axes too: the band is drawn between the curves mean − s.d. and mean + s.d.,
    kept within the seeds' range and above `floor` (so a log axis can show it).
    """

    def __init__(self, plot: pg.PlotItem, key: str | int, name: str | None = None, floor: float | None = None):
        self.key = key
        self.floor = floor
        self.low = pg.PlotDataItem([], [])
        self.high = pg.PlotDataItem([], [])
        for c in (self.low, self.high):
            plot.addItem(c)
            c.setVisible(False)
        self.fill = pg.FillBetweenItem(self.low, self.high)
        plot.addItem(self.fill)
        self.points = pg.ScatterPlotItem(size=6, symbol="o", name=name)
        plot.addItem(self.points)  # a named item joins the plot's legend by itself
        self._restyle()
        # The style manager outlives every window: hold this band weakly, and let go once its
        # plot items are gone with their window.
        ref = weakref.WeakMethod(self._restyle)

        def restyle() -> None:
            method = ref()
            try:
                if method is not None:
                    method()
                    return
            except RuntimeError:  # the C++ items were deleted with their plot
                pass
            manager().changed.disconnect(restyle)

        manager().changed.connect(restyle)

    def _restyle(self) -> None:
        color = manager().color(self.key)
        fill = color.__class__(color)
        fill.setAlpha(60)
        self.fill.setBrush(pg.mkBrush(fill))
        edge = color.__class__(color)
        edge.setAlpha(170)
        self.points.setBrush(pg.mkBrush(edge))
        self.points.setPen(pg.mkPen(None))

    def set_data(self, x: np.ndarray, per_seed: np.ndarray) -> None:
        """x (m,), per_seed (seeds, m). One seed: no band, only its points."""
        x = np.asarray(x, dtype=np.float64)
        per_seed = np.atleast_2d(np.asarray(per_seed, dtype=np.float64))
        mean, sd = mean_sd(per_seed)
        # Kept within the seeds' own range: near a sharp peak the s.d. exceeds the mean, and a
        # band reaching below every seed would claim values no seed had.
        with np.errstate(all="ignore"):
            lo = np.maximum(mean - sd, np.nanmin(np.where(np.isfinite(per_seed), per_seed, np.nan), 0))
            hi = np.minimum(mean + sd, np.nanmax(np.where(np.isfinite(per_seed), per_seed, np.nan), 0))
        if self.floor is not None:
            lo, hi = np.maximum(lo, self.floor), np.maximum(hi, self.floor)
        ok = np.isfinite(mean)
        banded = bool(len(per_seed) > 1 and ok.any())
        self.low.setData(x[ok], lo[ok])
        self.high.setData(x[ok], hi[ok])
        self.fill.setVisible(banded)
        xs = np.broadcast_to(x, per_seed.shape).ravel()
        ys = per_seed.ravel()
        keep = np.isfinite(ys)
        if self.floor is not None:
            ys = np.maximum(ys, self.floor)
        log_x, log_y = self._log_mode()
        px, py = xs[keep], ys[keep]
        # A scatter item does not follow the plot's log mode: give it log10 coordinates.
        self.points.setData(np.log10(px) if log_x else px, np.log10(py) if log_y else py)

    def _log_mode(self) -> tuple[bool, bool]:
        vb = self.points.getViewBox()
        plot = vb.parentItem() if vb is not None else None
        if isinstance(plot, pg.PlotItem):
            return bool(plot.ctrl.logXCheck.isChecked()), bool(plot.ctrl.logYCheck.isChecked())
        return False, False

    def clear(self) -> None:
        self.low.setData([], [])
        self.high.setData([], [])
        self.fill.setVisible(False)
        self.points.setData([], [])


def caption_label() -> QtWidgets.QLabel:
    """Where a tab writes its verdict over seeds (hidden until there is one)."""
    label = QtWidgets.QLabel("")
    label.setWordWrap(True)
    label.setProperty("role", "caption")
    label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


__all__ = ["SeedCount", "SeedBand", "seed_results", "spread_caption", "mean_sd", "caption_label", "MAX_SEEDS"]
