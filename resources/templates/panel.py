"""A new tab, from the template: the loss along one random filter-normalised direction through
the current weights, L(θ + α·d); computed when the tab is first shown or the weights are reset,
and again with Refresh.

Copy this file to gui/panels/<module>.py, rename the class and set `slug`, `title` and `topic`
(plain strings: the registry reads them without importing the module); list the module in
`PANELS` (gui/panels/__init__.py). CONTRIBUTING.md lists the other files a tab needs.

The pattern every tab follows: the engine computes (`profile` only sequences engine calls, off
the GUI thread, yielding typed items); the panel starts it through its `PanelJobs` and only draws.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PySide6 import QtWidgets

from engine.landscape import loss_line, random_direction
from engine.progress import Progress
from gui import plots
from gui.jobs import PanelJobs
from gui.panel_tools import TaskBar
from gui.panels.base import HeadlessContext, Panel

ALPHAS = np.linspace(-1.0, 1.0, 41)


@dataclass
class LossProfile:
    """The loss at θ + α·d for each α, and the step it was measured at."""

    step: int
    alphas: np.ndarray
    losses: np.ndarray


def profile(model: torch.nn.Module, loss_fn, theta: torch.Tensor, step: int,
            seed: int) -> Iterator[Progress | LossProfile]:
    """Progress, then the profile. Runs in a worker, on a copy of the model and of θ taken when
    the job started (training may move the live weights meanwhile)."""
    yield Progress(0, 1, "choosing a direction")
    direction = random_direction(model, "filter", seed=seed, theta=theta)
    losses = loss_line(loss_fn, theta, direction, torch.as_tensor(ALPHAS, dtype=theta.dtype))
    yield LossProfile(step, ALPHAS.copy(), losses.detach().cpu().numpy())


class ExamplePanel(Panel):
    slug = "example"
    title = "Example"
    topic = "Loss landscape"

    def __init__(self, lab, parent: QtWidgets.QWidget | None = None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self.last: LossProfile | None = None
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 9999)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.task = TaskBar()
        view = plots.make_view()
        self.plot = plots.add_plot(view, "Loss along a random direction", "α", "L(θ + α·d)")
        self.curve = plots.curve(self.plot, 0)
        plots.note(self.plot, "Computing the loss along a random direction…")
        self.caption = plots.caption("")
        controls = QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("Direction seed"), self.seed, self.refresh_button):
            controls.addWidget(w)
        controls.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.task)
        layout.addWidget(view, 1)
        layout.addWidget(self.caption)
        self.refresh_button.clicked.connect(self.refresh)
        self.task.cancelled.connect(lambda: self.jobs.cancel("profile"))

    # -- computing: a job per request, the newest wins --------------------------------------
    def refresh(self) -> None:
        experiment, seed = self.lab.experiment, self.seed.value()
        model = experiment.model_copy()
        loss_fn, theta, step = experiment.loss_fn(model), experiment.theta().detach().clone(), experiment.step_count
        self.jobs.start("profile", lambda: profile(model, loss_fn, theta, step, seed),
                        self._items, on_end=self.task.finish)

    def _items(self, items: list) -> None:
        for item in items:
            if isinstance(item, Progress):
                self.task.show_progress(item.fraction, item.what)
            elif isinstance(item, LossProfile):
                self.last = item
                self.curve.setData(item.alphas, item.losses)
                self.caption.setText(f"Step {item.step}: L(θ) = {item.losses[len(item.alphas) // 2]:.4g}, "
                                     f"from {item.losses.min():.4g} to {item.losses.max():.4g} along d.")

    # -- following the shared experiment -----------------------------------------------------
    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active and self.last is None:
            self.refresh()

    def on_reset(self) -> None:
        self.last = None
        self.curve.setData([], [])
        if self.active:
            self.refresh()

    def shutdown(self) -> None:
        self.jobs.stop_all()

    # -- presets, sessions and export --------------------------------------------------------
    def apply_options(self, options: dict[str, Any]) -> None:
        unknown = set(options) - {"seed"}
        if unknown:
            raise ValueError(f"the {self.title} tab has no options {sorted(unknown)}")
        if "seed" in options:
            self.seed.setValue(int(options["seed"]))

    def options(self) -> dict[str, Any]:
        return {"seed": self.seed.value()}

    def data(self) -> dict[str, Any]:
        if self.last is None:
            return {}
        return {"step": self.last.step, "alphas": self.last.alphas, "losses": self.last.losses}

    def headless(self, ctx: HeadlessContext) -> None:
        super().headless(ctx)  # trains the shared experiment inline
        self.refresh()  # headless jobs run inline
