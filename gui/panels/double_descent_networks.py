"""The Double descent tab's Networks page: one-hidden-layer networks trained at each width of a
list, their losses and errors against parameter count, with progress and Cancel."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtWidgets

from engine.data import TOY_NAMES
from engine.double_descent import SweepPoint, SweepProgress

from .. import plots
from ..panel_tools import JobProgress
from ..spread import SeedBand, SeedCount, caption_label
from .double_descent_common import FLOOR, DescentPlot, positive

DEFAULT_WIDTHS = (2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64, 128, 256)
NETWORKS_NOTE = "Press Run sweep: each width trains in turn and appears as it finishes"


def parse_widths(text: str) -> list[int]:
    """The widths in a comma-separated field; [] when it does not parse."""
    try:
        return [int(w) for w in text.replace(";", ",").split(",") if w.strip()]
    except ValueError:
        return []


def _interpolates_from(points: list[SweepPoint]) -> str:
    """' Train error 0 … from width w' for the narrowest width from which every wider one fits
    its training labels, else ''."""
    first = None
    for q in reversed(points):
        if q.train_error > 0:
            break
        first = q
    if first is None:
        return ""
    return f" Train error 0 (drawn at 10⁻³) from width {first.width} (p = {first.n_params:,})."


class NetworksPage(QtWidgets.QWidget):
    """The tab connects `net_run.clicked` and `net_progress.cancel_requested` to its job."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.net_dataset = QtWidgets.QComboBox()
        self.net_dataset.addItems(list(TOY_NAMES))
        self.net_dataset.setCurrentText("digits")
        self.net_n = QtWidgets.QSpinBox()
        self.net_n.setRange(20, 1000)
        self.net_n.setSingleStep(10)
        self.net_n.setValue(100)
        self.net_noise = QtWidgets.QSpinBox()
        self.net_noise.setRange(0, 80)
        self.net_noise.setSuffix(" %")
        self.net_noise.setValue(20)
        self.net_noise.setToolTip("share of training labels replaced by a wrong class (test labels stay clean)")
        self.net_steps = QtWidgets.QSpinBox()
        self.net_steps.setRange(10, 100_000)
        self.net_steps.setSingleStep(100)
        self.net_steps.setValue(1500)
        self.net_steps.setToolTip("full-batch Adam steps per width (squared loss on one-hot labels)")
        self.net_widths = QtWidgets.QLineEdit(", ".join(str(w) for w in DEFAULT_WIDTHS))
        self.net_widths.setToolTip("hidden widths to train, comma separated")
        self.net_error = QtWidgets.QLabel("")
        self.net_error.setProperty("role", "error")
        self.net_error.setVisible(False)
        self.net_run = QtWidgets.QPushButton("Run sweep")
        self.net_seeds = SeedCount("Train the whole sweep again from seeds 1, 2, … (new initial weights and new "
                                   "wrong labels); the band is the mean ± s.d. of their test losses.")
        self.net_progress = JobProgress()
        form = QtWidgets.QGridLayout()
        for i, (label, w) in enumerate((("Data", self.net_dataset), ("Train samples", self.net_n),
                                        ("Label noise", self.net_noise), ("Steps per width", self.net_steps))):
            form.addWidget(QtWidgets.QLabel(label), i // 2, 2 * (i % 2))
            form.addWidget(w, i // 2, 2 * (i % 2) + 1)
        form.addWidget(QtWidgets.QLabel("Widths"), 2, 0)
        form.addWidget(self.net_widths, 2, 1, 1, 2)
        run_row = QtWidgets.QHBoxLayout()
        run_row.addWidget(self.net_seeds)
        run_row.addWidget(self.net_run, 1)
        form.addLayout(run_row, 2, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        self.net_summary = plots.caption("One hidden layer (ReLU), full-batch Adam on the squared loss, one network "
                                         "per width. Press Run sweep: each width trains in turn and appears as it "
                                         "finishes.")
        self.net_view = plots.make_view()
        self.net_plot = DescentPlot(self.net_view, "One-hidden-layer networks", "parameters p",
                                    "loss / error", "weight norm ‖θ‖", ("p = n·k (threshold: n samples, k outputs)",),
                                    names=("test loss", "train loss"), legend_corner="below")
        self.net_test_err = self.net_plot.add_curve("test_error", 3, "test error (0–1)")
        self.net_train_err = self.net_plot.add_curve("train_error", 4, "train error (0–1)")
        self.net_plot.plot.setRange(xRange=(2, 4.3), yRange=(-4, 0.2), padding=0)  # until the first width
        self.net_plot.note.set_text(NETWORKS_NOTE)
        self.net_band = SeedBand(self.net_plot.plot, 1, "test loss, each seed", floor=FLOOR)
        self.net_verdict = caption_label()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(form)
        layout.addWidget(self.net_error)
        layout.addWidget(self.net_progress)
        layout.addWidget(self.net_summary)
        layout.addWidget(self.net_verdict)
        layout.addWidget(self.net_view, 1)

    def settings(self) -> dict[str, Any] | None:
        """The sweep's settings, or None (with the reason shown) when the widths do not parse."""
        widths = parse_widths(self.net_widths.text())
        if not widths or min(widths) < 1 or max(widths) > 4096:
            self.net_error.setText("Widths: give whole numbers from 1 to 4096, separated by commas (e.g. 2, 8, 32).")
            self.net_error.setVisible(True)
            return None
        self.net_error.setVisible(False)
        return {"dataset": self.net_dataset.currentText(), "n_train": self.net_n.value(),
                "label_noise": self.net_noise.value() / 100.0, "steps": self.net_steps.value(),
                "widths": sorted(set(widths)), "seeds": int(self.net_seeds.value())}

    def begin(self, threshold: int, counts: list[int]) -> None:
        """Empty plot for a new sweep: the threshold p = n·k marked, x fixed to every count to come."""
        self.net_plot.clear()
        self.net_band.clear()
        self.net_verdict.setVisible(False)
        self.net_plot.set_thresholds(threshold)
        self.net_plot.plot.setXRange(np.log10(min(counts) / 1.3), np.log10(max(counts) * 1.3), padding=0)
        self.net_plot.plot.enableAutoRange(axis="y")

    def show_progress(self, item: SweepProgress) -> None:
        self.net_progress.set_value(item.index * item.steps + item.step,
                                    f"training width {item.width} ({item.index + 1}/{item.total}): "
                                    f"step {item.step:,}, loss {item.batch_loss:.3g}")
        self.net_plot.note.set_text(plots.progress_text(
            f"Training width {item.width}, the first of {item.total}: it appears when it is trained",
            item.step / max(1, item.steps)))

    def draw(self, points: list[SweepPoint], threshold: tuple[int, int]) -> None:
        """Losses, errors and weight norm of the widths trained so far; `threshold`: (n, k)."""
        pts = [p for p in points if not p.diverged]
        if not pts:
            return
        p = np.array([q.n_params for q in pts], dtype=np.float64)
        self.net_plot.test.setData(p, positive([q.test_loss for q in pts]))
        self.net_plot.train.setData(p, positive([q.train_loss for q in pts]))
        self.net_test_err.setData(p, positive([q.test_error for q in pts], 1e-3))
        self.net_train_err.setData(p, positive([q.train_error for q in pts], 1e-3))  # 0 (interpolant) at the floor
        self.net_plot.norm.setData(p, positive([q.weight_norm for q in pts]))
        worst = max(pts, key=lambda q: q.test_loss)
        n, k = threshold
        self.net_summary.setText(f"n = {n}, k = {k}: threshold p = n·k = {n * k:,}. Worst test loss "
                                 f"{worst.test_loss:.3g} at width {worst.width} (p = {worst.n_params:,}); "
                                 f"widest so far: test loss {pts[-1].test_loss:.3g}, test error "
                                 f"{100 * pts[-1].test_error:.0f}%." + _interpolates_from(pts))

    def draw_seeds(self, counts: list[int], test_loss: np.ndarray) -> None:
        """Each seed's test loss at every width (NaN where a seed has not reached it, or diverged)
        as points, with their mean ± s.d. band; `test_loss` is (seeds, widths)."""
        test_loss = np.asarray(test_loss, dtype=np.float64)
        reached = np.isfinite(test_loss).any(0)  # widths no seed has trained yet stay out
        self.net_band.set_data(np.asarray(counts, dtype=np.float64)[reached], test_loss[:, reached])

    def show_verdict(self, text: str) -> None:
        self.net_verdict.setText(text)
        self.net_verdict.setVisible(bool(text))

    def ended(self) -> None:
        self.net_plot.note.set_text(NETWORKS_NOTE)
        self.net_progress.finish()
        self.net_run.setEnabled(True)
