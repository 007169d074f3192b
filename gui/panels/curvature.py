"""The Curvature tab: the Hessian spectrum of the network while it trains.

Left, the spectrum at the newest step: a histogram of the exact eigenvalues (up to a few thousand
parameters) or the smoothed density from stochastic Lanczos quadrature, negative part in red.
Right, λmax and λmin over training steps with the stability line 2/η, and the trace below.
Every spectrum is computed in a worker on a copy of the model and a θ snapshot of a frame; while
one is computing, newer frames only replace the θ waiting in line (the newest wins), and new
computations start at most a few times a second, only while this tab is visible.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.progress import Progress
from engine.sharpness import stability_threshold
from engine.spectrum import (
    SpectrumSettings,
    SpectrumSnapshot,
    analysis_subset,
    choose_method,
    spectrum_snapshot,
)

from .. import plots
from ..jobs import PanelJobs
from ..panel_tools import TaskBar, fmt, labelled, legend_under, set_title
from ..plots import TidyAxis
from .base import HeadlessContext, Panel

MIN_INTERVAL_S = 0.3  # at most ~3 spectra a second
SERIES_DELAY_MS = 60  # after a new spectrum is painted, its points join the series plots
PROGRESS_AFTER_S = 0.8  # show the progress bar for computations that take longer than this

METHOD_LABELS = {"auto": "Auto", "exact": "Exact", "slq": "SLQ"}
SYMLOG_BINS = 60


def symlog(x, c: float):
    """sign(λ)·log₁₀(1 + |λ|/c): linear within ±c, logarithmic beyond, on both sides of zero."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log10(1.0 + np.abs(x) / c)


def symlog_inverse(u, c: float):
    u = np.asarray(u, dtype=float)
    return np.sign(u) * c * (10.0 ** np.abs(u) - 1.0)


def symlog_scale(snap: SpectrumSnapshot) -> float:
    """The linear half-width c: a power of ten below the spectrum's resolution near zero (the
    numerical zeros of exact eigenvalues, the smoothing width of SLQ), so the bulk is one bump
    and the negative eigenvalues beyond it get their own decades."""
    top = max(abs(snap.lambda_max), abs(snap.lambda_min), 1e-30)
    return 10.0 ** np.floor(np.log10(top * (1e-3 if snap.exact else 1e-2)))


class SymlogAxis(TidyAxis):
    """A λ axis drawn in symlog coordinates and labelled in real eigenvalues."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.scale_c: float | None = None  # None: a plain linear axis

    def tickValues(self, minVal, maxVal, size):
        c = self.scale_c
        if c is None:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = float(symlog_inverse(minVal, c)), float(symlog_inverse(maxVal, c))
        major, minor = [0.0], []
        k = int(np.floor(np.log10(c)))
        while 10.0 ** k <= max(abs(lo), abs(hi)) * 1.0001:
            for sign in (1, -1):
                major.append(sign * 10.0 ** k)
                minor += [sign * m * 10.0 ** k for m in (2, 5)]
            k += 1

        def inside(values):
            u = [float(symlog(v, c)) for v in values]
            return sorted(x for x in u if minVal <= x <= maxVal)

        # Labels only where they fit: every decade when few, every other one when crowded.
        majors = inside(major)
        if len(majors) > max(3, int(size / 70)):
            majors = [u for u in majors if abs(round(np.log10(max(float(symlog_inverse(abs(u), c)), c)))) % 2 == 0
                      or u == 0.0]
        return [(1.0, majors), (0.5, inside(minor))]

    def tickStrings(self, values, scale, spacing):
        c = self.scale_c
        if c is None:
            return super().tickStrings(values, scale, spacing)
        if spacing < 1.0:
            return ["" for _ in values]
        return [_lambda_label(float(symlog_inverse(v, c))) for v in values]


def _lambda_label(x: float) -> str:
    if x == 0:
        return "0"
    a = abs(x)
    text = f"{a:g}" if 1e-3 <= a < 1e4 else f"{a:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return ("−" if x < 0 else "") + text


class CurvaturePanel(Panel):
    slug = "curvature"
    title = "Curvature"
    topic = "Curvature"

    OPTIONS = ("log_scale", "method", "track_every", "exact_limit", "image_samples", "probes", "lanczos_steps",
               "live", "symlog")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.settings = SpectrumSettings()
        self.track_every: int | None = None  # headless: measure every this many steps

        # -- controls ---------------------------------------------------------------------
        self.live = QtWidgets.QCheckBox("Live")
        self.live.setChecked(True)
        self.live.setToolTip("Recompute the spectrum while training runs (a few times a second at most)")
        self.log_scale = QtWidgets.QCheckBox("Log density")
        self.log_scale.setChecked(True)
        self.log_scale.setToolTip("Log or linear vertical axis of the spectrum: log shows the few large outliers "
                                  "beside the bulk near zero")
        self.symlog = QtWidgets.QCheckBox("Symlog λ")
        self.symlog.setChecked(True)
        self.symlog.setToolTip("Symmetric-log eigenvalue axis, sign(λ)·log(1 + |λ|/c): the few negative "
                               "eigenvalues get as much room as the large positive ones (ticks in real λ)")
        self.method = QtWidgets.QComboBox()
        for key, text in METHOD_LABELS.items():
            self.method.addItem(text, key)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setToolTip("Compute the spectrum of the current weights now")
        self.info = plots.caption("")
        self.task = TaskBar()
        self.banner = plots.caption("", role="banner")
        self.banner.hide()

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.live)
        top.addWidget(self.log_scale)
        top.addWidget(self.symlog)
        top.addWidget(labelled("Method", self.method,
                               "Auto: exact eigenvalues (full Hessian + eigvalsh) up to 2,500 parameters, "
                               "SLQ (stochastic Lanczos quadrature density) above"))
        top.addWidget(self.refresh_button)
        # The progress of a long computation takes the place of the info line (no layout jump).
        self.status = QtWidgets.QStackedWidget()
        self.status.addWidget(self.info)
        self.status.addWidget(self.task)
        self.task.visibility_changed.connect(self._task_shown)
        top.addWidget(self.status, 1)

        # -- spectrum ----------------------------------------------------------------------
        self.spectrum_view = plots.make_view()
        self.lambda_axis = SymlogAxis("bottom")
        self.spectrum_plot = plots.add_plot(self.spectrum_view, "Hessian spectrum", "eigenvalue λ", "density",
                                            legend=True, axisItems={"left": TidyAxis("left"),
                                                                    "bottom": self.lambda_axis})
        self.hist_pos = plots.curve(self.spectrum_plot, 0, "λ ≥ 0", width=1.5, stepMode="center")
        self.hist_neg = plots.curve(self.spectrum_plot, "error", "λ &lt; 0", width=1.5, stepMode="center")
        self.dens_pos = plots.curve(self.spectrum_plot, 0, None, width=2.0)
        self.dens_neg = plots.curve(self.spectrum_plot, "error", None, width=2.0)
        self.zero_line = plots.guide_line(self.spectrum_plot, 0.0, angle=90)
        self.spectrum_plot.setLogMode(y=True)

        # -- λ over steps -------------------------------------------------------------------
        self.series_view = plots.make_view()
        self.lambda_plot = plots.add_plot(self.series_view, "Extreme eigenvalues", "", "λ", row=0, col=0)
        # In its own row: inside the plot it sat on λmax's curve late in a run, wherever it was put.
        legend_under(self.series_view, self.lambda_plot, row=1)
        # Lines: the run's history, recorded from step 0 whichever tab was open; dots: this tab's spectra.
        self.lmax_history = plots.curve(self.lambda_plot, 0, "λmax", width=1.6)
        self.lmin_history = plots.curve(self.lambda_plot, "error", "λmin", width=1.6)
        # Width 0, dots only: the history draws the line between the spectra's dots.
        self.lmax_curve = plots.curve(self.lambda_plot, 0, None, width=0, symbol="o", symbolSize=6)
        self.lmin_curve = plots.curve(self.lambda_plot, "error", None, width=0, symbol="o", symbolSize=5)
        # Built here rather than with plots.guide_line: registered with the style manager, a line
        # with a label outlived its window; it is restyled in changeEvent instead.
        self.threshold_line = pg.InfiniteLine(pos=0.0, angle=0, movable=False, label="2/η",
                                              labelOpts={"position": 0.08,  # the label near the line's left end
                                                         "color": plots.manager().color("accent"),
                                                         "fill": (255, 255, 255, 190)},
                                              pen=plots.manager().pen("accent", 1.5, QtCore.Qt.PenStyle.DashLine))
        self.lambda_plot.addItem(self.threshold_line)
        self.trace_plot = plots.add_plot(self.series_view, "Trace of the Hessian", "step", "tr H", row=2, col=0)
        self.trace_plot.setXLink(self.lambda_plot)
        self.trace_history = plots.curve(self.trace_plot, 2, None, width=1.6)
        self.trace_curve = plots.curve(self.trace_plot, 2, None, width=0, symbol="o", symbolSize=5)
        self.series_note = plots.caption("")
        self.spectrum_note = plots.note(self.spectrum_plot, "Computing the Hessian spectrum…")
        plots.note(self.lambda_plot, "λmax and λmin appear here once the network trains")
        plots.note(self.trace_plot, "The trace of the Hessian appears here once the network trains")

        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.series_view, 1)
        rl.addWidget(self.series_note)

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.spectrum_view)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        self.stats = plots.caption("")

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        layout.addWidget(self.stats)

        # -- state ---------------------------------------------------------------------------
        self._model = None
        self._model_of = None  # the experiment's module that _model is a copy of
        self._data: tuple | None = None
        self.jobs = PanelJobs(self)
        self._job_started = 0.0
        self._last_start = -1e9
        self._pending: tuple[int, np.ndarray] | None = None
        self._requested = False  # Refresh pressed: compute the pending θ even with Live off
        self._retry = QtCore.QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._maybe_start)
        self.snapshot: SpectrumSnapshot | None = None
        self.series: dict[str, list[float]] = _empty_series()
        self.snapshots_drawn = 0
        self._series_due = False
        self._series_timer = QtCore.QTimer(self, singleShot=True, interval=SERIES_DELAY_MS)
        self._series_timer.timeout.connect(self._draw_series)
        self._history_stale = True
        self._history_note = ""

        self.log_scale.toggled.connect(self._set_log)
        self.symlog.toggled.connect(lambda _: self._draw_spectrum())
        self.method.currentIndexChanged.connect(self._method_changed)
        self.refresh_button.clicked.connect(self.refresh_now)
        self.live.toggled.connect(self._live_toggled)
        self.task.cancelled.connect(self.cancel)
        lab.diverged.connect(self._diverged)

    def changeEvent(self, event) -> None:
        if event.type() == QtCore.QEvent.Type.PaletteChange:  # a new theme: restyle the 2/η line
            self.threshold_line.setPen(plots.manager().pen("accent", 1.5, QtCore.Qt.PenStyle.DashLine))
            self.threshold_line.label.setColor(plots.manager().color("accent"))
        super().changeEvent(event)

    def _task_shown(self, shown: bool) -> None:
        self.status.setCurrentWidget(self.task if shown else self.info)

    # -- the shared experiment --------------------------------------------------------------
    def on_rebuilt(self) -> None:
        self._stop_job()
        exp = self.lab.experiment
        self._model = exp.model_copy()
        self._model_of = exp.model
        ds = exp.dataset
        images = len(tuple(ds.input_shape)) == 3
        X, y = analysis_subset(exp.trainer.X_train, exp.trainer.y_train, images, self.settings)
        self._data = (X, y, images, exp.trainer.config.loss)
        self.on_reset()

    def on_reset(self) -> None:
        self._stop_job()
        self._pending = None
        self.series = _empty_series()
        self.snapshot = None
        for c in (self.hist_pos, self.hist_neg, self.dens_pos, self.dens_neg, self.lmax_curve, self.lmin_curve,
                  self.trace_curve):
            c.setData([], [])
        self.banner.hide()
        self.stats.setText("")
        self._update_info()
        for c in (self.lmax_history, self.lmin_history, self.trace_history):
            c.setData([], [])
        self._history_stale = True
        self._draw_history()  # a tab built late: the run so far is in the Lab's history already
        self._update_threshold()

    def set_active(self, active: bool) -> None:
        # A spectrum under way finishes after the tab is left (its tab stays marked busy); only
        # new ones wait until the tab is shown again (_maybe_start).
        super().set_active(active)
        if active:
            self._draw_history()

    def _check_model(self) -> None:
        # A frame delivered just before a rebuild can carry its "rebuilt" notice, so the copy made
        # then is of the old network: copy again when the experiment's model is not the one copied.
        if self._model is None or self._model_of is not self.lab.experiment.model:
            self.on_rebuilt()

    def on_frames(self, frames) -> None:
        self._check_model()
        if any(p.name == "curvature" for f in frames for p in f.history):
            self._history_stale = True
        self._draw_history()
        self._update_threshold()
        if self.lab.sync or not self.active:
            return
        frame = next((f for f in reversed(frames) if f.theta is not None and not f.diverged), None)
        if frame is None:
            return
        self._pending = (frame.step, frame.theta)
        if self.live.isChecked() or self.snapshot is None and not self._is_heavy():
            self._maybe_start()

    def refresh_now(self) -> None:
        """Compute for the current weights, now (the button)."""
        self._check_model()
        if self.lab.last_frame is not None and self.lab.last_frame.theta is not None:
            self._pending = (self.lab.last_frame.step, self.lab.last_frame.theta)
        if self._pending is None:
            return
        if self.lab.sync:
            self._run_sync()
        else:
            self._last_start = -1e9
            self._requested = True  # start as soon as a job still finishing is done, Live or not
            self._maybe_start()

    def cancel(self) -> None:
        """Stop the computation in progress; live updates pause until Refresh or Live."""
        self._pending = None
        self._requested = False
        self.live.setChecked(False)
        self._stop_job()
        self.task.finish()
        self.lab.message.emit("Spectrum cancelled; press Refresh (or tick Live) to compute again", 5000)

    def shutdown(self) -> None:
        self._retry.stop()
        self._stop_job()

    # -- jobs ---------------------------------------------------------------------------------
    def _is_heavy(self) -> bool:
        return self._data is not None and self._data[2]

    def _busy(self) -> bool:
        return self.jobs.running("spectrum") or self._series_due

    def _stop_job(self) -> None:
        self.jobs.cancel("spectrum")
        self.task.finish()

    def _maybe_start(self) -> None:
        if self._pending is None or self._model is None or not self.active or self.lab.sync:
            return
        if self._busy():
            return  # the pending θ waits; the newest one wins when this job ends
        # At most a few a second, and a slow spectrum (a CNN's) takes at most half the CPU time.
        interval = max(MIN_INTERVAL_S, 2.0 * self.snapshot.seconds) if self.snapshot is not None else MIN_INTERVAL_S
        wait = interval - (time.perf_counter() - self._last_start)
        if wait > 0:
            if not self._retry.isActive():
                self._retry.start(int(1000 * wait) + 1)
            return
        step, theta = self._pending
        self._pending = None
        self._requested = False
        self._last_start = self._job_started = time.perf_counter()
        model, (X, y, _images, loss) = self._model, self._data
        settings = self.settings

        def work():
            yield from spectrum_snapshot(model, X, y, theta, step, settings, loss)

        self.jobs.start("spectrum", work, self._items, self._job_done, self._job_failed, on_exit=self._job_exited)

    def _run_sync(self) -> None:
        """Headless: one snapshot of the pending θ, inline."""
        if self._pending is None or self._model is None:
            return
        step, theta = self._pending
        self._pending = None
        X, y, _images, loss = self._data
        model, settings = self._model, self.settings
        self.jobs.start("spectrum", lambda: spectrum_snapshot(model, X, y, theta, step, settings, loss),
                        self._items, on_error=self._job_failed)

    def _items(self, items: list) -> None:
        for item in items:
            if isinstance(item, Progress):
                self.spectrum_note.set_text(plots.progress_text(f"Hessian spectrum — {item.what}",
                                                                item.done / max(1, item.total)))
                if time.perf_counter() - self._job_started > PROGRESS_AFTER_S or self._is_heavy():
                    self.task.show_progress(item.done / max(1, item.total), item.what)
            elif isinstance(item, SpectrumSnapshot):
                self._draw(item)

    def _job_done(self) -> None:
        self.task.finish()

    def _job_exited(self, error: str | None) -> None:
        # Also after a stopped job: the θ that waited for it is computed now.
        if error is None and (self.live.isChecked() or self._requested):
            self._maybe_start()

    def _job_failed(self, text: str) -> None:
        self.task.finish()
        self.banner.setText(f"The spectrum could not be computed: {text}")
        self.banner.show()

    # -- drawing ------------------------------------------------------------------------------
    def _draw(self, snap: SpectrumSnapshot) -> None:
        self.snapshot = snap
        self.banner.hide()
        self._draw_spectrum()
        s = self.series
        if s["step"] and snap.step <= s["step"][-1]:
            # A refresh of the same step (e.g. after switching method) replaces the last point.
            while s["step"] and snap.step <= s["step"][-1]:
                for v in s.values():
                    v.pop()
        s["step"].append(snap.step)
        s["lambda_max"].append(snap.lambda_max)
        s["lambda_min"].append(snap.lambda_min)
        s["trace"].append(snap.trace)
        s["residual_max"].append(snap.residual_max)
        s["residual_min"].append(snap.residual_min)
        s["negative_fraction"].append(snap.negative_fraction)
        self._update_stats()
        if self.lab.sync or not self.active:
            self._draw_series()
        else:
            # The spectrum paints in this turn, the two series plots after it: a snapshot's three
            # plot views painted in one event-loop turn were the tab's largest turns.
            self._series_due = True
            self._series_timer.start()
        self.snapshots_drawn += 1

    def _draw_series(self) -> None:
        """The full-spectrum dots on the λ plot, then (a turn later, when the window is live) on
        the trace plot: one plot view painted per turn."""
        s = self.series
        x = np.asarray(s["step"], dtype=float)
        self.lmax_curve.setData(x, np.asarray(s["lambda_max"]))
        self.lmin_curve.setData(x, np.asarray(s["lambda_min"]))
        self._update_threshold()
        if self._series_due and not self.lab.sync:
            QtCore.QTimer.singleShot(SERIES_DELAY_MS, self, self._draw_trace_series)
        else:
            self._draw_trace_series()

    def _draw_trace_series(self) -> None:
        was_due, self._series_due = self._series_due, False
        s = self.series
        self.trace_curve.setData(np.asarray(s["step"], dtype=float), np.asarray(s["trace"]))
        if was_due and (self.live.isChecked() or self._requested):
            self._maybe_start()  # a θ that came (or a Refresh pressed) while the series were due

    def _draw_spectrum(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        log = self.log_scale.isChecked()
        c = symlog_scale(snap) if self.symlog.isChecked() else None
        self.lambda_axis.scale_c = c
        self.spectrum_plot.setLabel("bottom", "eigenvalue λ" if c is None else
                                    f"λ, symmetric log (linear in ±{_lambda_label(c)})")
        self.spectrum_plot.setLabel("left", "density" if c is None else "density per axis unit (area = share)")
        thr = snap.negative_threshold  # red: the eigenvalues the title counts as negative
        if snap.exact:
            edges, dens = spectrum_histogram(snap, c)
            floor = _floor(dens) if log else 0.0
            d = np.maximum(dens, floor) if log else dens
            k = int(np.searchsorted(edges, -thr if c is None else float(symlog(-thr, c)), side="right")) - 1
            k = max(0, min(k, len(d)))
            self.hist_neg.setData(edges[: k + 1], d[:k]) if k > 0 else self.hist_neg.setData([], [])
            self.hist_pos.setData(edges[k:], d[k:])
            self.dens_pos.setData([], [])
            self.dens_neg.setData([], [])
        else:
            g, dens = snap.grid, snap.density
            if c is not None:  # density per unit of u = symlog(λ): p(λ)·dλ/du, so area is still mass
                g, dens = symlog(g, c), dens * np.log(10.0) * (c + np.abs(g))
            d = np.maximum(dens, _floor(dens)) if log else dens
            neg = snap.grid < -thr
            self.dens_neg.setData(g[neg], d[neg]) if neg.any() else self.dens_neg.setData([], [])
            self.dens_pos.setData(g[~neg], d[~neg])
            self.hist_pos.setData([], [])
            self.hist_neg.setData([], [])
        self.zero_line.setValue(0.0)
        self.spectrum_plot.enableAutoRange(axis="x")
        if log:
            # Empty bins sit on the floor: put the floor on the bottom axis so they read as empty.
            top = float(np.max(dens))
            floor = _floor(dens)
            self.spectrum_plot.setYRange(np.log10(floor), np.log10(max(top, floor * 10)) + 0.2, padding=0)
        else:
            self.spectrum_plot.enableAutoRange(axis="y")
        self.lambda_axis.picture = None  # ticks depend on c: redraw them
        self.lambda_axis.update()
        kind = "exact" if snap.exact else "SLQ"
        share = f"{100 * snap.negative_fraction:.0f}% negative" if snap.negative_fraction >= 0.01 or \
            snap.negative_fraction == 0 else f"{100 * snap.negative_fraction:.1g}% negative"
        title = f"Spectrum, step {snap.step:,} ({kind}): {share}"
        if self.spectrum_plot._lab_title != title:
            set_title(self.spectrum_plot, title)

    def _update_stats(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        neg = (f"{int(snap.negative_count):,} of {snap.n_params:,}" if snap.exact
               else f"≈ {snap.negative_count:,.0f} of {snap.n_params:,}")
        how = "exact eigvalsh" if snap.exact else f"SLQ, {snap.matvecs} Hessian-vector products"
        self.stats.setText(
            f"λmax = {fmt(snap.lambda_max, 4)} (‖Hv − λv‖ = {fmt(snap.residual_max, 2)})   "
            f"λmin = {fmt(snap.lambda_min, 4)} (‖Hv − λv‖ = {fmt(snap.residual_min, 2)})   "
            f"tr H = {fmt(snap.trace, 4)} ({snap.trace_method})\n"
            f"negative eigenvalues: {neg} ({100 * snap.negative_fraction:.1f}%, counting λ < "
            f"−{fmt(snap.negative_threshold, 2)})   {how}, {snap.n_samples:,} samples, {snap.seconds:.2f} s")

    def _update_info(self) -> None:
        exp = self.lab.experiment
        P = exp.n_params
        method = choose_method(P, self.settings)
        images = self._data is not None and self._data[2]
        where = f"{len(self._data[1]):,} fixed training samples" if self._data is not None else ""
        self.info.setText(f"{P:,} parameters: {'exact eigenvalues' if method == 'exact' else 'SLQ density'}"
                          f"{' (image model: Lanczos on a subset)' if images else ''}, Hessian of the loss on {where}")

    def history(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """λmax, λmin, tr H recorded from step 0 (whichever tab was open): steps, values."""
        return self.lab.run_history.series("curvature")

    def _draw_history(self) -> None:
        """The run's recorded curvature as lines; redrawn only when new points came and the
        tab is visible (or exported)."""
        if not self._history_stale or not (self.active or self.lab.sync or self.lab.replaying):
            return
        self._history_stale = False
        steps, v = self.history()
        x = steps.astype(float)
        for curve, key in ((self.lmax_history, "lambda_max"), (self.lmin_history, "lambda_min"),
                           (self.trace_history, "trace")):
            if key in v and len(x):
                curve.setData(x, v[key])
            else:
                curve.setData([], [])
        if len(x) > 1:
            self._history_note = (f"Lines: λmax, λmin and tr H at {len(x)} steps from step 0, spaced so that "
                                  "measuring takes a few percent of the training time (warm-started Lanczos; "
                                  "λmin is an upper bound); dots: full spectra.")
        else:
            self._history_note = ""

    def _update_threshold(self) -> None:
        cfg = self.lab.experiment.config
        # Called with every frame: only new settings or new points can move the line or λmax.
        recorded_points = self.lab.run_history.points.get("curvature", [])
        key = (cfg.optimizer, cfg.lr, cfg.momentum, len(self.series["lambda_max"]),
               recorded_points[-1].step if recorded_points else -1, len(recorded_points))
        if key == getattr(self, "_threshold_key", None):
            return
        self._threshold_key = key
        if cfg.optimizer != "sgd":
            self.threshold_line.hide()
            self.series_note.setText("No 2/η line for Adam: it rescales each parameter's step.")
            return
        t = stability_threshold(cfg.lr, cfg.momentum)
        label = f"2/η = {fmt(t)}" if cfg.momentum == 0 else f"(2+2β)/η = {fmt(t)}"
        self.threshold_line.setValue(t)
        self.threshold_line.label.setFormat(label)
        recorded = self.history()[1].get("lambda_max", np.empty(0))
        top = max(list(self.series["lambda_max"]) + [float(x) for x in recorded if np.isfinite(x)], default=None)
        far = top is not None and top > 0 and t > 4 * top
        # A line far above every point would squash the curves flat: leave it out and say where it is.
        self.threshold_line.setVisible(not far)
        # The title says where a left-out line is, so every export says it too.
        title = f"Extreme eigenvalues  ({label} far above ↑)" if far else "Extreme eigenvalues"
        if self.lambda_plot._lab_title != title:  # restyling the plot every snapshot would be wasted work
            set_title(self.lambda_plot, title)
        self.series_note.setText(f"Stability limit {label}" + (", far above λmax (off the plot)" if far else
                                                               " (dashed)") + ": see the lesson (F1). "
                                 + getattr(self, "_history_note", ""))

    def _set_log(self, on: bool) -> None:
        self.spectrum_plot.setLogMode(y=on)
        self._draw_spectrum()

    def _method_changed(self) -> None:
        from dataclasses import replace

        self.settings = replace(self.settings, method=self.method.currentData())
        self._update_info()
        self.refresh_now()

    def _live_toggled(self, on: bool) -> None:
        if on:
            self.refresh_now()

    def _diverged(self, text: str) -> None:
        self._stop_job()
        self.banner.setText("The run diverged: there is no spectrum of weights that are not finite. "
                            "Lower the learning rate and press Reset.")
        self.banner.show()

    # -- presets and export -----------------------------------------------------------------
    def apply_options(self, options: dict[str, Any]) -> None:
        from dataclasses import replace

        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"the Curvature tab has no options {sorted(unknown)}; it has {list(self.OPTIONS)}")
        if "log_scale" in options:
            self.log_scale.setChecked(bool(options["log_scale"]))
        if "symlog" in options:
            self.symlog.setChecked(bool(options["symlog"]))
        if "live" in options:
            self.live.setChecked(bool(options["live"]))
        if "track_every" in options:
            k = options["track_every"]  # None: a few measurements per run, chosen from its length
            if k is not None:
                k = int(k)
                if k < 1:
                    raise ValueError(f"track_every must be at least 1 step, got {k}")
            self.track_every = k
        changes = {}
        if "method" in options:
            if options["method"] not in METHOD_LABELS:
                raise ValueError(f"method must be one of {list(METHOD_LABELS)}, got {options['method']!r}")
            changes["method"] = options["method"]
        for key, field in (("exact_limit", "exact_limit"), ("image_samples", "image_samples"),
                           ("probes", "n_probes"), ("lanczos_steps", "lanczos_steps")):
            if key in options:
                changes[field] = int(options[key])
        if changes:
            new = replace(self.settings, **changes)
            problems = new.problems()
            if problems:
                raise ValueError("; ".join(problems.values()))
            if new != self.settings:  # unchanged settings keep the spectra on screen
                self.settings = new
                self.method.blockSignals(True)
                self.method.setCurrentIndex(self.method.findData(self.settings.method))
                self.method.blockSignals(False)
                self.on_rebuilt()

    def options(self) -> dict[str, Any]:
        s = self.settings
        return {"log_scale": self.log_scale.isChecked(), "symlog": self.symlog.isChecked(),
                "live": self.live.isChecked(),
                "track_every": self.track_every, "method": s.method, "exact_limit": s.exact_limit,
                "image_samples": s.image_samples, "probes": s.n_probes, "lanczos_steps": s.lanczos_steps}

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {"curvature-spectrum": self.spectrum_view, "curvature-lambda": self.series_view}

    def data(self) -> dict[str, Any]:
        cfg = self.lab.experiment.config
        out: dict[str, Any] = {"config": cfg.to_dict(), "n_params": self.lab.experiment.n_params,
                               "series": {k: list(v) for k, v in self.series.items()},
                               "stability_threshold": stability_threshold(cfg.lr, cfg.momentum)
                               if cfg.optimizer == "sgd" else None,
                               "settings": {k: getattr(self.settings, k) for k in self.settings.__dataclass_fields__}}
        snap = self.snapshot
        if snap is not None:
            out["last"] = {"step": snap.step, "method": snap.method, "lambda_max": snap.lambda_max,
                           "lambda_min": snap.lambda_min, "trace": snap.trace, "residual_max": snap.residual_max,
                           "residual_min": snap.residual_min, "negative_count": snap.negative_count,
                           "negative_fraction": snap.negative_fraction, "n_samples": snap.n_samples,
                           "seconds": snap.seconds}
            out["density_grid"] = np.asarray(snap.grid)
            out["density"] = np.asarray(snap.density)
            if snap.eigenvalues is not None:
                out["eigenvalues"] = np.asarray(snap.eigenvalues)
        for k, v in self.series.items():
            out[f"series_{k}"] = np.asarray(v, dtype=float)
        steps, recorded = self.history()
        out["history_step"] = steps
        for k, v in recorded.items():
            out[f"history_{k}"] = v
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        """Train the shared experiment, measuring the spectrum every few steps, inline."""
        self.set_active(True)
        lab = ctx.lab
        every = self.track_every or max(1, ctx.steps // (4 if ctx.quick else 30))
        self._measure_now()
        done = 0
        while done < ctx.steps and not lab.experiment.diverged:
            k = min(every, ctx.steps - done)
            lab.train_sync(k)
            done += k
            if not lab.experiment.diverged:
                self._measure_now()

    def _measure_now(self) -> None:
        exp = self.lab.experiment
        self._pending = (exp.step_count, exp.theta().cpu().numpy())
        self._run_sync()


def _empty_series() -> dict[str, list[float]]:
    return {k: [] for k in ("step", "lambda_max", "lambda_min", "trace", "residual_max", "residual_min",
                            "negative_fraction")}


def spectrum_histogram(snap: SpectrumSnapshot, c: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of exact eigenvalues: the snapshot's own (linear λ), or with bins even in
    u = symlog(λ), as a density per unit of u (a bin's area is its share of the eigenvalues)."""
    if c is None:
        return snap.hist_edges, snap.hist_density
    u = symlog(snap.eigenvalues, c)
    lo, hi = float(u.min()), float(u.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    # A bin edge at −symlog(threshold): the red bins hold exactly what the title counts.
    cut = -float(symlog(snap.negative_threshold, c))
    width = (hi - lo) / SYMLOG_BINS
    if lo < cut:
        n_neg = max(1, int(round((cut - lo) / width)))
        n_pos = max(1, int(round((hi - cut) / width)))
        edges = np.concatenate([np.linspace(lo, cut, n_neg + 1), np.linspace(cut, hi, n_pos + 1)[1:]])
    else:
        edges = np.linspace(lo, hi, SYMLOG_BINS + 1)
    counts, _ = np.histogram(u, edges)
    return edges, counts / (len(u) * np.diff(edges))


def _floor(d: np.ndarray) -> float:
    """The smallest density a log axis shows (zero bins sit on it)."""
    top = float(np.max(d)) if len(d) else 1.0
    return max(top * 1e-5, 1e-300)
