"""The Representations tab's Probes page: a logistic-regression probe on every layer's frozen
features, fitted in a job on a copy of the network, drawn as train/test accuracy by depth; with
× N seeds, the same settings trained from further seeds and probed, drawn as a band over layers."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from engine.claims import Claim, Numbers, verdict
from engine.claims import representations as rep_claims
from engine.progress import Progress
from engine.representations import ProbeResult, SeedProbes, fixed_subset, probe_layers, probes_over_seeds

from .. import plots
from ..jobs import PanelJobs, weak
from ..lab import Lab
from ..panel_tools import ProgressBar
from ..spread import SeedBand, SeedCount, caption_label, seed_results, spread_caption
from ..style import manager
from .representations_common import fill_page, layer_ticks, legend_outside

PROBE_TRAIN, PROBE_TEST = 1500, 1000  # samples the probes train and score on (at most)
PROBE_NOTE = "Press Fit probes, or train: probes are fitted when training stops"


class ProbesPage(QtWidgets.QWidget):
    """Fits through the tab's `jobs` (keys "probes", and "probe-seeds" for × N seeds); the newest
    weights come from `lab`."""

    def __init__(self, lab: Lab, jobs: PanelJobs, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.lab, self.jobs = lab, jobs
        self.fit_button = QtWidgets.QPushButton("Fit probes")
        self.fit_button.setToolTip("Train a logistic-regression probe on every layer's features now")
        self.probe_progress = ProgressBar()
        self.probe_progress.setTextVisible(True)
        self.probe_cancel = QtWidgets.QPushButton("Cancel")
        self.probe_status = plots.caption("")
        self.probe_seeds = SeedCount("Also train the same settings from the next seeds, as many steps as this run, "
                                     "and probe each; dots: every seed's test accuracy, band: their mean ± s.d.")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.fit_button)
        row.addWidget(self.probe_seeds)
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
        # Dark dots and band: in the test bars' own colour they would vanish into the bars.
        self.probe_band = SeedBand(self.probe_plot, "plot_fg", "test, each seed")
        self.probe_verdict = caption_label()
        fill_page(self, row, self.probe_verdict, self.probe_view, self.probe_caption)
        self.fit_button.clicked.connect(self.fit_probes)
        self.probe_cancel.clicked.connect(self._cancel_probes)
        self.probe_seeds.valueChanged.connect(lambda _v: self._seed_count_changed())

        self.template = None  # a copy of the network, copied again for each fit
        self.inputs: tuple | None = None  # (X train, y train, X test, y test) the probes use
        self.chance = 0.0
        self.again = False
        self.results: list[ProbeResult] = []
        self.step: int | None = None
        self.layer_names: list[str] = []
        self._pending: list[ProbeResult] = []
        self.seed_probes: list[SeedProbes] = []  # the further seeds' probes (the run itself is `results`)
        self.seed_settings: tuple | None = None  # (first seed, step, seeds wanted) they were fitted for
        self.seed_dataset = ""

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
        self._forget_seeds()
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
            if full and not self.again:
                self.fit_seeds()
        if self.again:
            self.again = False
            self.fit_probes()

    def _cancel_probes(self) -> None:
        if self.jobs.running("probes"):
            self.again = False
            self.jobs.stop("probes")
            self.probe_progress.setFormat("stopping after this layer…")

    # -- × N seeds -----------------------------------------------------------------------------
    def fit_seeds(self) -> None:
        """Train the run's settings from seeds s + 1 … s + N − 1 (s: the run's seed) for as many
        steps as the probed run, probe each, and draw every seed with the band (a job)."""
        self.jobs.cancel("probe-seeds", forget=True)
        self.seed_probes = []
        self.probe_band.clear()
        n_seeds = int(self.probe_seeds.value())
        if n_seeds == 1:
            self.seed_settings = None
            self.probe_verdict.hide()
            return
        full = bool(self.results) and len(self.results) == self.results[-1].n_layers
        if not full or self.step is None or self.inputs is None:
            self.seed_settings = None
            self.probe_verdict.setText("The other seeds are trained and probed once this run's probes are fitted.")
            self.probe_verdict.show()
            return
        exp = self.lab.experiment
        config, dataset, step = exp.config, exp.dataset, int(self.step)
        first = int(config.seed)
        seeds = [first + k for k in range(1, n_seeds)]
        self.seed_settings = (first, step, n_seeds)
        self.seed_dataset = config.dataset
        which = f"seeds {seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
        self.probe_verdict.setText(f"training {which} for {step:,} steps each, then probing …")
        self.probe_verdict.show()
        Xtr, ytr, Xte, yte = self.inputs
        self._draw_seeds()
        self.jobs.start("probe-seeds", lambda: probes_over_seeds(config, dataset, seeds, step, Xtr, ytr, Xte, yte),
                        weak(self._seed_items), on_error=weak(self._seed_failed))

    def _seed_count_changed(self) -> None:
        if self.jobs.running("probes"):
            return  # the fit under way starts the other seeds when it ends
        self.fit_seeds()

    def _forget_seeds(self) -> None:
        """A new fit: the other seeds' probes were for the previous one."""
        self.jobs.cancel("probe-seeds", forget=True)
        self.seed_probes, self.seed_settings = [], None
        self.probe_band.clear()
        if int(self.probe_seeds.value()) > 1:
            self.probe_verdict.setText("The other seeds are trained and probed once this run's probes are fitted.")
        else:
            self.probe_verdict.hide()

    def _seed_items(self, items: list) -> None:
        for item in items:
            if isinstance(item, SeedProbes):
                self.seed_probes.append(item)
            elif isinstance(item, Progress) and not self.seed_probes_done():
                self.probe_status.setText(f"× seeds: {item.what} ({100 * item.fraction:.0f}%)")
        self._draw_seeds()
        self._update_verdict()
        if self.seed_probes_done():
            self.probe_status.setText(f"fitted at step {self.step:,} on seeds {self.seed_settings[0]}–"
                                      f"{self.seed_settings[0] + self.seed_settings[2] - 1}")

    def _seed_failed(self, text: str) -> None:
        self.probe_verdict.setText(f"The other seeds failed: {text}")
        self.probe_verdict.show()

    def seed_probes_done(self) -> bool:
        return self.seed_settings is not None and len(self.seed_probes) == self.seed_settings[2] - 1

    def probes_by_seed(self) -> list[tuple[int, list[ProbeResult]]]:
        """(seed, probes) of the run itself and of every further seed fitted so far."""
        if self.seed_settings is None or not self.results:
            return []
        return [(self.seed_settings[0], list(self.results))] + [(s.seed, s.results) for s in self.seed_probes]

    def _draw_seeds(self) -> None:
        runs = self.probes_by_seed()
        if not runs:
            self.probe_band.clear()
            return
        n_layers = self.results[-1].n_layers
        acc = np.full((self.seed_settings[2], n_layers), np.nan)
        for k, (_, results) in enumerate(runs):
            for r in results:
                acc[k, r.index] = r.test_acc
        fitted = np.isfinite(acc).any(0)
        self.probe_band.set_data((np.arange(n_layers) + 0.19)[fitted], acc[:, fitted])  # on the test bars

    def claim(self) -> Claim | None:
        """The preset's claim speaks of two spirals: none for other data."""
        return rep_claims.PROBES if self.seed_dataset == "spirals" else None

    def seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """Each seed's probe on the inputs and on the last hidden layer, judged by the claim record."""
        claim = self.claim()
        if claim is None:
            return []
        return seed_results(claim, [(s, rep_claims.probe_numbers(r)) for s, r in self.probes_by_seed()])

    def _update_verdict(self) -> None:
        if self.seed_settings is None:
            return
        claim, wanted = self.claim(), self.seed_settings[2]
        if claim is None:
            self.probe_verdict.setText("No claim is stated for this data (the preset's is for two spirals); "
                                       "the dots show each seed's test accuracy.")
            self.probe_verdict.show()
            return
        results = self.seed_results()
        text = spread_caption(claim, results)
        if len(results) < wanted:
            text = f"{len(results)} of {wanted} seeds done so far. " + text
        self.probe_verdict.setText(text)
        self.probe_verdict.show()

    def stop_job(self) -> None:
        self._forget_seeds()
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
        out: dict[str, Any] = {}
        runs = self.probes_by_seed()
        if len(runs) > 1:
            out["probe_seeds"] = {str(s): [r.test_acc for r in results] for s, results in runs}
        results = self.seed_results()
        if results and len(runs) > 1:
            claim = self.claim()
            out["probe_claim"] = {"name": claim.name, "verdict": verdict(claim, results),
                                  "seeds": [{"seed": sd, **n, "holds": ok} for sd, n, ok in results]}
        return out | {"probes": {"step": self.step, "chance": self.chance,
                           "layers": [r.layer for r in self.results],
                           "train_acc": [r.train_acc for r in self.results],
                           "test_acc": [r.test_acc for r in self.results]}}
