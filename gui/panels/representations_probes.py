"""The Representations tab's Probes page: a logistic-regression probe on every layer's frozen
features, fitted in a job on a copy of the network, drawn as train/test accuracy by depth."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from engine.representations import ProbeResult, fixed_subset, probe_layers

from .. import plots
from ..jobs import PanelJobs, weak
from ..lab import Lab
from ..style import manager
from .representations_common import fill_page, layer_ticks, legend_outside

PROBE_TRAIN, PROBE_TEST = 1500, 1000  # samples the probes train and score on (at most)
PROBE_NOTE = "Press Fit probes, or train: probes are fitted when training stops"


class ProbesPage(QtWidgets.QWidget):
    """Fits through the tab's `jobs` (key "probes"); the newest weights come from `lab`."""

    def __init__(self, lab: Lab, jobs: PanelJobs, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.lab, self.jobs = lab, jobs
        self.fit_button = QtWidgets.QPushButton("Fit probes")
        self.fit_button.setToolTip("Train a logistic-regression probe on every layer's features now")
        self.probe_progress = QtWidgets.QProgressBar()
        self.probe_progress.setTextVisible(True)
        self.probe_cancel = QtWidgets.QPushButton("Cancel")
        self.probe_status = plots.caption("")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.fit_button)
        row.addWidget(self.probe_progress, 1)
        row.addWidget(self.probe_cancel)
        row.addWidget(self.probe_status, 2)
        self.probe_progress.hide()
        self.probe_cancel.hide()
        self.probe_view = plots.make_view()
        self.probe_plot = plots.add_plot(self.probe_view, "Linear probe accuracy by depth", "layer (input → output)",
                                         "accuracy", row=0, col=0)
        legend_outside(self.probe_view, self.probe_plot, row=1, col=0, columns=3)
        self.probe_train_bars = pg.BarGraphItem(x=[0], height=[0], width=0.36, brush=manager().color(0),
                                                pen=pg.mkPen(None))
        self.probe_test_bars = pg.BarGraphItem(x=[0], height=[0], width=0.36, brush=manager().color(1),
                                               pen=pg.mkPen(None))
        for bars, name in ((self.probe_train_bars, "train"), (self.probe_test_bars, "test")):
            bars.setOpts(x=[], height=[])
            self.probe_plot.addItem(bars)
            self.probe_plot.legend.addItem(bars, name)
        self.chance_line = plots.curve(self.probe_plot, "plot_fg", "chance (majority class)", width=1.5,
                                       dashed=True)
        self.probe_plot.setYRange(0, 1.05, padding=0)
        self.probe_plot.setMouseEnabled(x=False, y=False)
        self._probe_labels: list[pg.TextItem] = []
        self.probe_note = plots.note(self.probe_plot, PROBE_NOTE)
        self.probe_caption = plots.caption(
            "A probe is logistic regression on a layer's frozen features: train accuracy on the training "
            "inputs, test accuracy on held-out ones.")
        fill_page(self, row, self.probe_view, self.probe_caption)
        self.fit_button.clicked.connect(self.fit_probes)
        self.probe_cancel.clicked.connect(self._cancel_probes)

        self.template = None  # a copy of the network, copied again for each fit
        self.inputs: tuple | None = None  # (X train, y train, X test, y test) the probes use
        self.chance = 0.0
        self.again = False
        self.results: list[ProbeResult] = []
        self.step: int | None = None
        self.layer_names: list[str] = []
        self._pending: list[ProbeResult] = []

    def rebuild(self) -> None:
        """A new dataset or network: a new template and new probe inputs."""
        self.stop_job()
        exp = self.lab.experiment
        ds = exp.dataset
        self.template = exp.model_copy()
        itr = fixed_subset(ds.y_train, PROBE_TRAIN, seed=1)
        ite = fixed_subset(ds.y_test, PROBE_TEST, seed=2)
        self.inputs = (ds.X_train[itr], ds.y_train[itr], ds.X_test[ite], ds.y_test[ite])
        yte = ds.y_test[ite].numpy()
        self.chance = float(np.bincount(yte).max() / len(yte)) if len(yte) else 1.0 / ds.n_classes

    def set_layers(self, names: list[str]) -> None:
        self.layer_names = names
        self.probe_plot.getAxis("bottom").setTicks(layer_ticks(names))
        self.probe_plot.setXRange(-0.6, len(names) - 0.4, padding=0)

    def fit_probes(self) -> None:
        """Fit a probe on every layer at the newest weights (a job; progress and Cancel shown)."""
        f = self.lab.last_frame
        if self.template is None or self.inputs is None:
            return
        if f is None or f.theta is None:
            self.probe_status.setText("No finite weights to probe: reset the run first.")
            return
        if self.jobs.running("probes"):
            self.again = True
            return
        # Each fit writes θ into its own copy: a stopped fit may still be finishing a layer.
        model = copy.deepcopy(self.template)
        (Xtr, ytr, Xte, yte), theta, step = self.inputs, f.theta, f.step
        self._pending = []
        self.fit_button.setEnabled(False)
        self.probe_progress.setRange(0, 0)
        self.probe_progress.setFormat("computing features…")
        self.probe_note.set_text(f"Fitting a probe on each layer at step {step:,}…")
        self.probe_progress.show()
        self.probe_cancel.show()
        self.probe_status.setText(f"fitting probes at step {step:,}…")
        sizes = (len(ytr), len(yte))
        self.jobs.start("probes", lambda: probe_layers(model, Xtr, ytr, Xte, yte, theta=theta),
                        weak(self._probe_items, step), weak(self._probe_finished, step, sizes, ""),
                        weak(self._probe_finished, step, sizes))

    def _probe_items(self, step: int, results: list[ProbeResult]) -> None:
        self._pending.extend(results)
        last = results[-1]
        self.probe_progress.setRange(0, last.n_layers)
        self.probe_progress.setValue(last.index + 1)
        self.probe_progress.setFormat(f"probe {last.index + 1}/{last.n_layers}: {last.layer}")
        self.probe_note.set_text(PROBE_NOTE)
        self.results = list(self._pending)
        self.step = step
        self.draw()

    def _probe_finished(self, step: int, sizes: tuple[int, int], error: str) -> None:
        self.probe_note.set_text(PROBE_NOTE)
        self.fit_button.setEnabled(True)
        self.probe_progress.hide()
        self.probe_cancel.hide()
        if error:
            self.probe_status.setText(f"Probes failed: {error}")
        elif self.results and self.step == step:
            n = len(self.results)
            full = n == self.results[-1].n_layers
            self.probe_status.setText(f"fitted at step {step:,} on {sizes[0]:,} train / {sizes[1]:,} test inputs"
                                      + ("" if full else f" (cancelled after {n} layers)"))
        if self.again:
            self.again = False
            self.fit_probes()

    def _cancel_probes(self) -> None:
        if self.jobs.running("probes"):
            self.again = False
            self.jobs.stop("probes")
            self.probe_progress.setFormat("stopping after this layer…")

    def stop_job(self) -> None:
        if self.jobs.running("probes"):
            self.again = False
            self.jobs.cancel("probes", forget=True)  # a new fit may start while this one stops
            self.fit_button.setEnabled(True)
            self.probe_progress.hide()
            self.probe_cancel.hide()

    def clear(self) -> None:
        self.stop_job()
        self.results = []
        self.step = None
        self.draw()
        self.probe_status.setText("Press Fit probes, or train: probes are fitted when training stops.")

    def maybe_fit(self) -> None:
        """At the end of training (and when the tab opens on a trained network): refresh stale
        probes. The tab calls this only while it is shown."""
        f = self.lab.last_frame
        if (not self.lab.running and self.lab.state == "idle" and f is not None
                and f.theta is not None and f.step > 0 and f.step != self.step
                and not self.jobs.running("probes")):
            self.fit_probes()

    def draw(self) -> None:
        res = self.results
        for t in self._probe_labels:
            self.probe_plot.removeItem(t)
        self._probe_labels = []
        if not res:
            self.probe_train_bars.setOpts(x=[], height=[])
            self.probe_test_bars.setOpts(x=[], height=[])
            self.chance_line.setData([], [])
            return
        idx = np.array([r.index for r in res], dtype=float)
        tr = np.array([r.train_acc for r in res])
        te = np.array([r.test_acc for r in res])
        ok = np.isfinite(te)
        self.probe_train_bars.setOpts(x=idx[ok] - 0.19, height=tr[ok], width=0.36)
        self.probe_test_bars.setOpts(x=idx[ok] + 0.19, height=te[ok], width=0.36)
        n = max(len(self.layer_names), int(idx.max()) + 1)
        self.chance_line.setData([-0.6, n - 0.4], [self.chance, self.chance])
        for i, a in zip(idx[ok], te[ok]):
            inside = a > 0.3  # the label sits inside tall bars, so it is never clipped at the top
            t = pg.TextItem(f"{100 * a:.0f}%", anchor=(0.5, 0.0 if inside else 1.0))
            t.setPos(i + 0.19, a - 0.01 if inside else a + 0.005)
            self.probe_plot.addItem(t)
            manager().register_text(t, 0.85)
            if inside:
                t.setColor((255, 255, 255))
            self._probe_labels.append(t)

    def restyle(self) -> None:
        m = manager()
        self.probe_train_bars.setOpts(brush=m.color(0))
        self.probe_test_bars.setOpts(brush=m.color(1))
        self.draw()

    def data(self) -> dict[str, Any]:
        """The fitted probes, for the tab's export (empty before a fit)."""
        if not self.results:
            return {}
        return {"probes": {"step": self.step, "chance": self.chance,
                           "layers": [r.layer for r in self.results],
                           "train_acc": [r.train_acc for r in self.results],
                           "test_acc": [r.test_acc for r in self.results]}}
