"""The Double descent tab: test error against model size (random features, networks) and
against training time (epoch-wise).

Everything here is the panel's own computation (no shared experiment): the random-features
sweep re-runs on every slider change (it is batched and takes a fraction of a second), the
network sweep runs on request with progress and Cancel, the epoch-wise curve is exact and cheap.
Each page's widgets and drawing live in their own file (double_descent_random_features,
double_descent_networks, double_descent_epoch_wise); this module runs the jobs and keeps their results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from engine.claims import Claim, Numbers, verdict
from engine.claims import double_descent as dd_claims
from engine.data import TOY_NAMES, toy_dataset
from engine.device import intra_op_threads
from engine.double_descent import (
    EpochPoint,
    EpochWiseConfig,
    SweepPoint,
    SweepProgress,
    SweepResult,
    epoch_wise_curve,
    epoch_wise_shape,
    one_hidden_layer_params,
    random_features_sweep,
    width_sweep,
)
from engine.training import TrainConfig

from ..jobs import PanelJobs
from ..panel_tools import lay_out_pages
from ..run_log import RunLog
from ..spread import seed_results, spread_caption
from .base import HeadlessContext, Panel, page_attribute
from .double_descent_epoch_wise import EpochWisePage
from .double_descent_networks import DEFAULT_WIDTHS, NetworksPage, parse_widths
from .double_descent_random_features import RandomFeaturesPage

QUICK_WIDTHS = (4, 12, 64)


@dataclass
class SeedWidth:
    """What the network sweep of a further seed (1 … N−1) delivered: a trained width or progress."""

    seed: int
    item: SweepPoint | SweepProgress


@dataclass
class SeedCurve:
    """One seed's epoch-wise curve."""

    seed: int
    points: list[EpochPoint]


@dataclass
class SeedSweep:
    """One seed's random-features sweep (and, for the label-noise claim, the same seed at σ = 0.1)."""

    seed: int
    result: SweepResult
    low_noise: SweepResult | None = None


class DoubleDescentPanel(Panel):
    slug = "double-descent"
    title = "Double descent"
    topic = "Double descent"
    uses_experiment = False

    VIEWS = ("random-features", "networks", "epoch-wise")

    # The pages' controls and plots, reachable from the tab as before the split.
    noise = page_attribute("rf_page", "noise")
    ridge = page_attribute("rf_page", "ridge")
    samples = page_attribute("rf_page", "samples")
    features = page_attribute("rf_page", "features")
    rf_seeds = page_attribute("rf_page", "rf_seeds")
    rf_summary = page_attribute("rf_page", "rf_summary")
    rf_verdict = page_attribute("rf_page", "rf_verdict")
    rf_view = page_attribute("rf_page", "rf_view")
    rf_plot = page_attribute("rf_page", "rf_plot")
    rf_band = page_attribute("rf_page", "rf_band")
    net_dataset = page_attribute("networks_page", "net_dataset")
    net_n = page_attribute("networks_page", "net_n")
    net_noise = page_attribute("networks_page", "net_noise")
    net_steps = page_attribute("networks_page", "net_steps")
    net_widths = page_attribute("networks_page", "net_widths")
    net_error = page_attribute("networks_page", "net_error")
    net_run = page_attribute("networks_page", "net_run")
    net_progress = page_attribute("networks_page", "net_progress")
    net_summary = page_attribute("networks_page", "net_summary")
    net_view = page_attribute("networks_page", "net_view")
    net_plot = page_attribute("networks_page", "net_plot")
    net_test_err = page_attribute("networks_page", "net_test_err")
    net_train_err = page_attribute("networks_page", "net_train_err")
    slow_scale = page_attribute("epoch_page", "slow_scale")
    epoch_noise = page_attribute("epoch_page", "epoch_noise")
    fast_count = page_attribute("epoch_page", "fast_count")
    epoch_summary = page_attribute("epoch_page", "epoch_summary")
    epoch_view = page_attribute("epoch_page", "epoch_view")
    epoch_plot = page_attribute("epoch_page", "epoch_plot")
    epoch_test = page_attribute("epoch_page", "epoch_test")
    epoch_train = page_attribute("epoch_page", "epoch_train")
    epoch_fast = page_attribute("epoch_page", "epoch_fast")
    epoch_slow = page_attribute("epoch_page", "epoch_slow")
    epoch_marks = page_attribute("epoch_page", "epoch_marks")
    epoch_seeds = page_attribute("epoch_page", "epoch_seeds")
    epoch_band = page_attribute("epoch_page", "epoch_band")
    epoch_verdict = page_attribute("epoch_page", "epoch_verdict")
    net_seeds = page_attribute("networks_page", "net_seeds")
    net_band = page_attribute("networks_page", "net_band")
    net_verdict = page_attribute("networks_page", "net_verdict")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self.run_log = RunLog()  # what the three computations delivered, for recordings
        self.sweep: SweepResult | None = None
        self.net_points: list[SweepPoint] = []
        self.net_threshold: tuple[int, int] = (0, 0)
        self.epoch_points: list[EpochPoint] = []
        self.sweeps_drawn = 0
        self._started = False
        self.rf_seed_sweeps: list[SeedSweep] = []
        self.net_seed_points: dict[int, list[SweepPoint]] = {}  # seeds 1 … N−1 (seed 0 is net_points)
        self.net_seed_count = 1
        self.epoch_seed_curves: list[SeedCurve] = []
        self.epoch_seed_count = 1
        self.net_settings: dict[str, Any] = {}
        self.net_counts: list[int] = []
        self.rf_page = RandomFeaturesPage()
        self.networks_page = NetworksPage()
        self.epoch_page = EpochWisePage()
        self.pages = QtWidgets.QTabWidget()
        self.pages.addTab(self.rf_page, "Random features")
        self.pages.addTab(self.networks_page, "Networks")
        self.pages.addTab(self.epoch_page, "Epoch-wise")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)
        self._rerun = QtCore.QTimer(self)
        self._rerun.setSingleShot(True)
        self._rerun.setInterval(30)  # coalesce a dragged slider into one sweep per ~frame
        self._rerun.timeout.connect(self.run_sweep)
        self._rerun_epoch = QtCore.QTimer(self)
        self._rerun_epoch.setSingleShot(True)
        self._rerun_epoch.setInterval(30)
        self._rerun_epoch.timeout.connect(self.run_epoch_wise)
        self.rf_page.settings_changed.connect(self._rerun.start)
        self.epoch_page.settings_changed.connect(self._rerun_epoch.start)
        self.net_run.clicked.connect(lambda: self.run_networks())
        self.net_progress.cancel_requested.connect(self.cancel_networks)

    # -- random features ---------------------------------------------------------------------
    def sweep_settings(self) -> dict[str, Any]:
        return self.rf_page.settings()

    def run_sweep(self) -> None:
        """Re-run the random-features sweep for the current sliders (newest request wins)."""
        settings = self.sweep_settings()
        self.rf_summary.setText(f"computing the sweep for n = {settings['n_train']} …")
        self.run_log.begin("sweep", settings)
        self.jobs.start("sweep", lambda: iter([random_features_sweep(**settings)]), self._sweep_items,
                        on_error=lambda text: self.rf_summary.setText(text))
        self.run_seed_sweeps(settings)

    # -- the claim over seeds ----------------------------------------------------------------
    def rf_claim(self, settings: dict[str, Any] | None = None) -> Claim | None:
        """The claim record these settings test: the peak at p = n (min-norm), no peak (ridge 1),
        or a taller peak with σ = 0.5 (against σ = 0.1); none for other settings."""
        settings = settings or self.sweep_settings()
        if settings["features"] != "relu":
            return None
        if settings["ridge"] == 0:
            return dd_claims.LABEL_NOISE if settings["noise"] == 0.5 else dd_claims.PEAK
        return dd_claims.RIDGE if settings["ridge"] == 1.0 else None

    def run_seed_sweeps(self, settings: dict[str, Any]) -> None:
        """The sweep on seeds 0 … N−1 (and, for the label-noise claim, each seed at σ = 0.1 too)."""
        self.rf_seed_sweeps = []
        self.rf_band.clear()
        n_seeds = int(self.rf_seeds.value())
        claim = self.rf_claim(settings)
        if n_seeds == 1 and claim is not dd_claims.LABEL_NOISE:
            self.jobs.cancel("seeds")
            self.rf_verdict.setVisible(False)  # judged from the sweep itself once it is drawn
            return
        self.rf_verdict.setText(f"computing the sweep on {n_seeds} seed{'s' if n_seeds > 1 else ''} …")
        self.rf_verdict.setVisible(True)

        def work():
            for seed in range(n_seeds):
                low = (random_features_sweep(**{**settings, "noise": 0.1}, seed=seed)
                       if claim is dd_claims.LABEL_NOISE else None)
                yield SeedSweep(seed, random_features_sweep(**settings, seed=seed), low)

        self.jobs.start("seeds", work, self._seed_sweep_items,
                        on_error=lambda text: self.rf_verdict.setText(text))

    def _seed_sweep_items(self, items: list) -> None:
        self.rf_seed_sweeps.extend(items)
        runs = self.rf_seed_sweeps
        if len(runs) > 1:
            self.rf_band.set_data(runs[0].result.counts, np.stack([r.result.test_error for r in runs]))
        self._update_rf_verdict()

    def rf_seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """Each seed's numbers for the settings' claim, judged by the claim record's `holds`."""
        claim = self.rf_claim()
        if claim is None:
            return []
        if self.rf_seed_sweeps:
            if claim is dd_claims.LABEL_NOISE:
                numbers = [(r.seed, dd_claims.label_noise_numbers(r.low_noise, r.result)) for r in self.rf_seed_sweeps
                           if r.low_noise is not None]
            else:
                numbers = [(r.seed, dd_claims.sweep_numbers(r.result)) for r in self.rf_seed_sweeps]
        elif self.sweep is not None and claim is not dd_claims.LABEL_NOISE:
            numbers = [(0, dd_claims.sweep_numbers(self.sweep))]
        else:
            numbers = []
        return seed_results(claim, numbers)

    def _update_rf_verdict(self) -> None:
        claim, results = self.rf_claim(), self.rf_seed_results()
        if claim is None:
            self.rf_verdict.setText("No claim is stated for these settings (the presets use ReLU features "
                                    "with ridge 0 or 1).")
            self.rf_verdict.setVisible(True)
            return
        if not results:
            return
        wanted = int(self.rf_seeds.value()) if self.rf_seed_sweeps else 1
        text = spread_caption(claim, results)
        if len(results) < wanted:
            text = f"{len(results)} of {wanted} seeds done so far. " + text
        self.rf_verdict.setText(text)
        self.rf_verdict.setVisible(True)

    def _sweep_items(self, items: list) -> None:
        self.run_log.add("sweep", items)
        self.run_log.end("sweep")
        self._draw_sweep(items[-1])

    def _draw_sweep(self, result: SweepResult) -> None:
        self.sweep = result
        self.rf_page.draw(result)
        self.sweeps_drawn += 1
        if not self.rf_seed_sweeps and int(self.rf_seeds.value()) == 1:
            self._update_rf_verdict()

    # -- networks ----------------------------------------------------------------------------
    def network_settings(self) -> dict[str, Any] | None:
        """The sweep's settings, or None (with the reason shown) when the widths do not parse."""
        return self.networks_page.settings()

    def run_networks(self, settings: dict[str, Any] | None = None) -> None:
        """Train the sweep from seed 0, then (× N seeds) from seeds 1 … N−1, in one job: every
        seed's widths appear as they finish."""
        settings = settings or self.network_settings()
        if settings is None:
            return
        name = settings["dataset"]
        n = settings["n_train"]
        ds = toy_dataset(name, n=2 * n, noise=0.0 if name == "digits" else 0.1, test_fraction=0.5, seed=0)
        n_train, k = len(ds.y_train), ds.n_classes
        config = TrainConfig(optimizer="adam", lr=3e-3, batch_size=0, steps=settings["steps"], loss="mse",
                             device="cpu")
        widths = settings["widths"]
        n_seeds = int(settings.get("seeds", 1))
        self.net_points = []
        self.net_seed_points = {}
        self.net_seed_count = n_seeds
        self.net_settings = dict(settings)
        self.net_threshold = (n_train, k)
        # Fix the x range to every width to come (and the threshold); y follows the data.
        counts = [one_hidden_layer_params(ds.in_features, w, k) for w in widths] + [n_train * k]
        self.net_counts = counts[:-1]
        self.networks_page.begin(n_train * k, counts)
        total = n_seeds * len(widths) * settings["steps"]
        self.net_progress.start(f"training width {widths[0]} …", total)
        self.net_run.setEnabled(False)
        noise = settings["label_noise"]
        every = max(10, settings["steps"] // 20)
        self.net_summary.setText(f"{name}: n = {n_train} training samples, k = {k} classes, "
                                 f"{100 * noise:.0f}% of training labels wrong; the threshold "
                                 f"p = n·k = {n_train * k:,}.")
        self.run_log.begin("networks", {"settings": settings, "n_train": n_train, "k": k, "counts": counts,
                                        "summary": self.net_summary.text()})
        if n_seeds > 1:
            self.networks_page.show_verdict(f"training the sweep on {n_seeds} seeds, one after the other …")

        def work():
            # One thread: these networks are too small for a second one to help, and on a small
            # machine two thread teams slow each other down many times over. The seeds are not
            # batched: each is the engine's Trainer run exactly as the claim record measures it
            # (its own initial weights, wrong labels and Adam state), and the widths differ in shape.
            with intra_op_threads(1):
                yield from width_sweep(ds, widths, config, seed=0, label_noise=noise, progress_every=every)
                for seed in range(1, n_seeds):
                    for item in width_sweep(ds, widths, config, seed=seed, label_noise=noise, progress_every=every):
                        yield SeedWidth(seed, item)

        self.jobs.start("networks", work, self._network_items, on_end=self._networks_ended,
                        on_error=lambda text: self.net_summary.setText(text))

    def _network_items(self, items: list) -> None:
        seed_items = [i for i in items if isinstance(i, SeedWidth)]
        items = [i for i in items if not isinstance(i, SeedWidth)]
        if items:
            self.run_log.add("networks", items)  # a recording holds seed 0, the main curve
        steps = int(self.net_settings.get("steps", self.net_steps.value()))
        per_seed = len(self.net_counts) * steps
        for item in items:
            if isinstance(item, SweepProgress):
                self.networks_page.show_progress(item)
            else:
                self.net_points.append(item)
                self.net_progress.set_value((item.index + 1) * steps,
                                            f"width {item.width} done ({item.index + 1}/{item.total})")
        for wrapped in seed_items:
            item, seed = wrapped.item, wrapped.seed
            if isinstance(item, SweepProgress):
                self.net_progress.set_value(seed * per_seed + item.index * item.steps + item.step,
                                            f"seed {seed}: training width {item.width} "
                                            f"({item.index + 1}/{item.total}), step {item.step:,}")
            else:
                self.net_seed_points.setdefault(seed, []).append(item)
                self.net_progress.set_value(seed * per_seed + (item.index + 1) * item.steps,
                                            f"seed {seed}: width {item.width} done ({item.index + 1}/{item.total})")
        if items:
            self._draw_networks()
        if self.net_seed_count > 1:
            self._draw_network_seeds()

    def _draw_networks(self) -> None:
        self.networks_page.draw(self.net_points, self.net_threshold)

    def network_seed_points(self) -> dict[int, list[SweepPoint]]:
        """Each seed's trained widths so far: seed 0 is the main curve."""
        out = {0: list(self.net_points)} if self.net_points else {}
        out.update(self.net_seed_points)
        return out

    def _draw_network_seeds(self) -> None:
        by_seed = self.network_seed_points()
        if not by_seed or not self.net_counts:
            return
        loss = np.full((self.net_seed_count, len(self.net_counts)), np.nan)
        for seed, points in by_seed.items():
            for p in points:
                if not p.diverged:
                    loss[seed, p.index] = p.test_loss
        self.networks_page.draw_seeds(self.net_counts, loss)
        self._update_network_verdict()

    def network_claim(self, settings: dict[str, Any] | None = None) -> Claim | None:
        """The claim record of the sweep: the preset's data (100 digits, 20% wrong labels) from
        4 to 256 units; none for other settings, whose numbers it does not speak of."""
        s = settings if settings is not None else self.net_settings
        if not s:
            return None
        ok = (s["dataset"] == "digits" and s["n_train"] == 100 and abs(s["label_noise"] - 0.2) < 1e-9
              and s["widths"][0] == 4 and s["widths"][-1] == 256)
        return dd_claims.NETWORKS if ok else None

    def network_seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """The seeds whose every width is trained, measured and judged as the claim record does."""
        claim = self.network_claim()
        if claim is None:
            return []
        n, k = self.net_threshold
        numbers = [(seed, dd_claims.network_numbers(points, n * k))
                   for seed, points in sorted(self.network_seed_points().items())
                   if len(points) == len(self.net_counts)]
        return seed_results(claim, numbers)

    def _update_network_verdict(self) -> None:
        claim = self.network_claim()
        if claim is None:
            self.networks_page.show_verdict(
                "No claim is stated for these settings: the preset's is for 100 digits with 20% wrong labels, "
                "widths from 4 to 256.")
            return
        results = self.network_seed_results()
        if not results:
            return
        text = spread_caption(claim, results)
        if len(results) < self.net_seed_count:
            text = f"{len(results)} of {self.net_seed_count} seeds done so far. " + text
        self.networks_page.show_verdict(text)

    def _networks_ended(self) -> None:
        self.run_log.end("networks")
        self.networks_page.ended()
        diverged = sorted({p.width for points in self.network_seed_points().values() for p in points if p.diverged})
        if diverged:
            self.lab.message.emit(f"Widths {diverged} diverged and are not drawn.", 6000)

    def cancel_networks(self) -> None:
        self.jobs.cancel("networks")
        self._networks_ended()
        self.lab.message.emit(f"Network sweep cancelled after {len(self.net_points)} widths.", 4000)

    # -- epoch-wise --------------------------------------------------------------------------
    def epoch_config(self) -> EpochWiseConfig:
        return self.epoch_page.config()

    def run_epoch_wise(self) -> None:
        config = self.epoch_config()
        self.epoch_points = []
        self.run_log.begin("epoch", config)
        self.jobs.start("epoch", lambda: epoch_wise_curve(config), self._epoch_items,
                        on_error=lambda text: self.epoch_summary.setText(text))
        self.run_epoch_seeds(config)

    def _epoch_items(self, items: list[EpochPoint]) -> None:
        self.run_log.add("epoch", items)
        self.epoch_points.extend(items)
        self.epoch_page.draw(self.epoch_points)

    def run_epoch_seeds(self, config: EpochWiseConfig) -> None:
        """The same gradient descent on seeds 0 … N−1 (each a new draw of data, teacher and noise)."""
        self.epoch_seed_curves = []
        self.epoch_band.clear()
        n_seeds = int(self.epoch_page.epoch_seeds.value())
        self.epoch_seed_count = n_seeds
        if n_seeds == 1:
            self.jobs.cancel("epoch-seeds")
            self.epoch_page.show_verdict("")
            return
        self.epoch_page.show_verdict(f"computing the curve on {n_seeds} seeds …")

        def work():
            # One seed at a time, not batched: a seed's exact curve is one 70×70 eigendecomposition
            # and takes well under a second, so a batch would save little and the figure would no
            # longer fill in seed by seed.
            for seed in range(n_seeds):
                yield SeedCurve(seed, list(epoch_wise_curve(replace(config, seed=seed))))

        self.jobs.start("epoch-seeds", work, self._epoch_seed_items,
                        on_error=lambda text: self.epoch_page.show_verdict(text))

    def _epoch_seed_items(self, items: list[SeedCurve]) -> None:
        self.epoch_seed_curves.extend(items)
        curves = self.epoch_seed_curves
        steps = np.array([p.step for p in curves[0].points], dtype=np.float64)
        errors = np.full((self.epoch_seed_count, len(steps)), np.nan)
        for c in curves:
            errors[c.seed] = [p.test_error for p in c.points]
        self.epoch_page.draw_seeds(steps, errors)
        self._update_epoch_verdict()

    def epoch_seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """Each seed's first minimum, peak and second minimum, judged by the claim record."""
        return seed_results(dd_claims.EPOCH_WISE,
                            [(c.seed, dd_claims.epoch_numbers(c.points)) for c in self.epoch_seed_curves])

    def _update_epoch_verdict(self) -> None:
        results = self.epoch_seed_results()
        text = spread_caption(dd_claims.EPOCH_WISE, results)
        if len(results) < self.epoch_seed_count:
            text = f"{len(results)} of {self.epoch_seed_count} seeds done so far. " + text
        self.epoch_page.show_verdict(text)

    # -- panel protocol ----------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active and not self._started and not self.lab.sync:  # headless computes in headless()
            self._started = True  # first visit: compute the fast pictures
            self.run_sweep()
            self.run_epoch_wise()

    def run_preset(self, preset) -> None:
        """Compute the picture the preset names (all of them when it names none)."""
        self._started = True
        view = preset.options().get("view")
        if view in (None, "random-features"):
            self.run_sweep()
        if view in (None, "epoch-wise"):
            self.run_epoch_wise()
        if view in (None, "networks"):
            settings = self.network_settings()
            if settings is not None:
                self.run_networks(settings)
        self._rerun.stop()  # the option setters queued re-runs of what starts here
        self._rerun_epoch.stop()

    def show_view(self, view: str) -> None:
        if view not in self.VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {', '.join(self.VIEWS)}")
        self.pages.setCurrentIndex(self.VIEWS.index(view))

    def apply_options(self, options: dict[str, Any]) -> None:
        known = {"view", "noise", "ridge", "n_train", "features", "label_noise", "steps", "widths", "dataset",
                 "network_samples", "slow_scale", "epoch_noise", "fast_features"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"the {self.title} tab has no options {sorted(unknown)}")
        if "view" in options:
            self.show_view(options["view"])
        for key, slider in (("noise", self.noise), ("ridge", self.ridge), ("n_train", self.samples),
                            ("slow_scale", self.slow_scale), ("epoch_noise", self.epoch_noise),
                            ("fast_features", self.fast_count)):
            if key in options:
                slider.set_value(float(options[key]))
        if "features" in options:
            if options["features"] not in ("relu", "fourier"):
                raise ValueError("features must be 'relu' or 'fourier'")
            self.features.setCurrentIndex(0 if options["features"] == "relu" else 1)
        if "label_noise" in options:
            self.net_noise.setValue(int(round(100 * float(options["label_noise"]))))
        if "steps" in options:
            self.net_steps.setValue(int(options["steps"]))
        if "widths" in options:
            self.net_widths.setText(", ".join(str(int(w)) for w in options["widths"]))
        if "dataset" in options:
            if options["dataset"] not in TOY_NAMES:
                raise ValueError(f"dataset must be one of {', '.join(TOY_NAMES)}")
            self.net_dataset.setCurrentText(options["dataset"])
        if "network_samples" in options:
            self.net_n.setValue(int(options["network_samples"]))

    def options(self) -> dict[str, Any]:
        widths = sorted(set(parse_widths(self.net_widths.text())))
        if not widths or min(widths) < 1 or max(widths) > 4096:
            widths = list(DEFAULT_WIDTHS)  # what the field holds cannot be run: save the default
        return {"view": self.VIEWS[self.pages.currentIndex()], "noise": self.noise.value(),
                "ridge": self.ridge.value(), "n_train": int(self.samples.value()),
                "features": "relu" if self.features.currentIndex() == 0 else "fourier",
                "slow_scale": self.slow_scale.value(), "epoch_noise": self.epoch_noise.value(),
                "fast_features": int(self.fast_count.value()), "label_noise": self.net_noise.value() / 100,
                "steps": self.net_steps.value(), "widths": widths, "dataset": self.net_dataset.currentText(),
                "network_samples": self.net_n.value()}

    def shutdown(self) -> None:
        self._rerun.stop()
        self._rerun_epoch.stop()
        self.jobs.stop_all(wait=1.5)

    def replay_runs(self, runs: dict) -> None:
        """The recorded sweeps as they stood: random features, networks by width, epoch-wise."""
        self.jobs.stop_all(wait=1.5)
        sweep = runs.get("sweep")
        if sweep is not None and sweep.items:
            self._draw_sweep(sweep.items[-1])
        net = runs.get("networks")
        self.net_points = []
        self.net_seed_points, self.net_seed_count = {}, 1  # a recording holds seed 0 only
        self.net_plot.clear()
        if net is not None:
            s = net.settings
            n_train, k, counts = int(s["n_train"]), int(s["k"]), list(s["counts"])
            self.net_threshold = (n_train, k)
            self.net_counts, self.net_settings = counts[:-1], dict(s.get("settings", {}))
            self.networks_page.begin(n_train * k, counts)
            self.net_summary.setText(str(s.get("summary", "")))
            with self.run_log.muted():
                if net.items:
                    self._network_items(net.items)
                if net.ended:
                    self._networks_ended()
        epoch = runs.get("epoch")
        self.epoch_points = []
        if epoch is not None and epoch.items:
            with self.run_log.muted():
                self._epoch_items(epoch.items)

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        lay_out_pages(self.pages)
        out: dict[str, QtWidgets.QWidget] = {}
        if self.sweep is not None:
            out["double-descent-random-features"] = self.rf_view
        if self.net_points:
            out["double-descent-networks"] = self.net_view
        if self.epoch_points:
            out["double-descent-epoch-wise"] = self.epoch_view
        return out or {self.slug: self}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        results = self.rf_seed_results()
        if results:
            claim = self.rf_claim()
            out["rf_claim"] = {"name": claim.name, "verdict": verdict(claim, results),
                               "seeds": [{"seed": sd, **n, "holds": ok} for sd, n, ok in results]}
        if self.sweep is not None:
            out["random_features"] = self.sweep.as_dict()
            out["rf_counts"] = self.sweep.counts
            out["rf_test_error"] = self.sweep.test_error
            out["rf_train_error"] = self.sweep.train_error
            out["rf_weight_norm"] = self.sweep.weight_norm
        net_results = self.network_seed_results()
        if net_results and self.net_seed_count > 1:
            claim = self.network_claim()
            out["network_claim"] = {"name": claim.name, "verdict": verdict(claim, net_results),
                                    "seeds": [{"seed": sd, **n, "holds": ok} for sd, n, ok in net_results]}
        if self.net_seed_count > 1 and self.net_points:
            out["net_seed_test_loss"] = {str(seed): [p.test_loss for p in points]
                                         for seed, points in sorted(self.network_seed_points().items())}
        if self.net_points:
            out["networks"] = [vars(p) for p in self.net_points]
            out["network_threshold"] = {"n": self.net_threshold[0], "k": self.net_threshold[1]}
            for name in ("n_params", "train_error", "test_error", "train_loss", "test_loss", "weight_norm"):
                out[f"net_{name}"] = np.array([getattr(p, name) for p in self.net_points])
        epoch_results = self.epoch_seed_results()
        if epoch_results and self.epoch_seed_count > 1:
            claim = dd_claims.EPOCH_WISE
            out["epoch_claim"] = {"name": claim.name, "verdict": verdict(claim, epoch_results),
                                  "seeds": [{"seed": sd, **n, "holds": ok} for sd, n, ok in epoch_results]}
        if self.epoch_points:
            out["epoch_wise"] = epoch_wise_shape(self.epoch_points)
            out["epoch_steps"] = np.array([p.step for p in self.epoch_points])
            out["epoch_test_error"] = np.array([p.test_error for p in self.epoch_points])
            out["epoch_train_error"] = np.array([p.train_error for p in self.epoch_points])
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        """Compute the pictures inline: all three for a plain --tab run, only the preset's view
        when a preset names one."""
        self._started = True
        view = ctx.options.get("view")
        if view in (None, "random-features"):
            self.run_sweep()
        if view in (None, "epoch-wise"):
            self.run_epoch_wise()
        if view in (None, "networks"):
            settings = self.network_settings()
            if settings is not None:
                if ctx.quick and "widths" not in ctx.options:
                    settings["widths"] = list(QUICK_WIDTHS)
                if ctx.quick and "steps" not in ctx.options:
                    settings["steps"] = 150
                self.run_networks(settings)
        if view is not None:
            self.show_view(view)
        self._rerun.stop()  # the option setters queued re-runs; everything is computed already
        self._rerun_epoch.stop()
