"""The Implicit regularisation tab: which of many solutions gradient descent picks.

Three pages, each its own small computation (no shared experiment):
(a) least squares with more unknowns than equations: GD from zero lands on the minimum-norm
    solution, from a random start on another interpolant;
(b) logistic regression on separable points: ‖w‖ grows like log t, the direction turns to the
    hard-margin SVM, the decision line animated;
(c) matrix sensing with X = UUᵀ from U₀ = αI: small α finds the least nuclear norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.implicit import (
    FactorPoint,
    GDPoint,
    LeastSquaresDemo,
    MarginPoint,
    SensingDemo,
    factorization_gd,
    least_squares_demo,
    logistic_smoothness,
    margin_data,
    max_margin_direction,
    sensing_demo,
    svm_direction_through_origin,
)

from .. import plots
from ..jobs import PanelJobs
from ..panel_tools import (
    JobProgress,
    ValueSlider,
    lay_out_pages,
    legend_below,
    log_axes,
    place_legend,
    set_title,
)
from ..style import manager
from .base import HeadlessContext, Panel

# 1, 1.5, 2, 3, 5, 7 per decade, from 0.001 to 3
ALPHA_VALUES = [v for v in np.round([m * 10.0 ** k for k in range(-3, 1) for m in (1, 1.5, 2, 3, 5, 7)], 6) if v <= 3]
SWEEP_ALPHAS = np.geomspace(1e-3, 3.0, 12)
FACTOR_STEPS = 3000
MARGIN_STEPS = (1_000, 10_000, 100_000, 1_000_000)


def _line_segment(normal: np.ndarray, offset: float, extent: float) -> tuple[np.ndarray, np.ndarray]:
    """Endpoints of {w : ⟨normal, w⟩ = offset} clipped to a square of half-width `extent`."""
    n = normal / np.linalg.norm(normal)
    base = n * offset / np.linalg.norm(normal)
    t = np.array([-1.0, 1.0]) * extent * 2
    direction = np.array([-n[1], n[0]])
    pts = base[None, :] + t[:, None] * direction[None, :]
    return pts[:, 0], pts[:, 1]


class ImplicitPanel(Panel):
    slug = "implicit"
    title = "Implicit regularisation"
    topic = "Implicit regularisation"
    uses_experiment = False

    VIEWS = ("least-squares", "max-margin", "factorization")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self._started = False
        self.ls_zero: list[GDPoint] = []
        self.ls_random: list[GDPoint] = []
        self.margin_points: list[MarginPoint] = []
        self.factor_sweep: FactorPoint | None = None
        self.factor_single: FactorPoint | None = None
        self.factor_reference: np.ndarray | None = None
        self._problem: SensingDemo | None = None
        self._factor_demo: SensingDemo | None = None  # the problem the factor jobs' points belong to
        self.pages = QtWidgets.QTabWidget()
        self.pages.addTab(self._build_least_squares(), "(a) Least squares: minimum norm")
        self.pages.addTab(self._build_margin(), "(b) Logistic regression: max margin")
        self.pages.addTab(self._build_factorization(), "(c) Matrix factorisation: nuclear norm")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)
        self._alpha_timer = QtCore.QTimer(self)
        self._alpha_timer.setSingleShot(True)
        self._alpha_timer.setInterval(60)
        self._alpha_timer.timeout.connect(self.run_factorization_alpha)

    # -- (a) least squares -------------------------------------------------------------------
    def _build_least_squares(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.ls_seed = QtWidgets.QSpinBox()
        self.ls_seed.setRange(0, 9999)
        self.ls_seed.setToolTip("seed of the random starting point")
        self.ls_unknowns = ValueSlider("Unknowns d", np.arange(30, 401, 10), 100, lambda v: f"{int(v)}",
                                       "number of unknowns of the right-hand problem (20 equations)")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Random start: seed"))
        row.addWidget(self.ls_seed)
        row.addWidget(self.ls_unknowns, 1)
        self.ls_summary = plots.caption("")
        self.ls_view = plots.make_view()
        self.ls_picture = plots.add_plot(self.ls_view, "One equation, two unknowns", "w₁", "w₂", row=0, col=0)
        self.ls_picture.setAspectLocked(True)
        self.ls_picture.legend = legend_below(self.ls_view, row=1, col=0, columns=2, colspan=2)
        self.ls_line = plots.curve(self.ls_picture, "plot_fg", "all exact fits  ⟨x, w⟩ = y", width=2.0)
        self.ls_circle = plots.curve(self.ls_picture, "plot_fg", "‖w‖ = ‖X⁺y‖", width=1.0, dashed=True)
        self.ls_path0 = plots.curve(self.ls_picture, 0, "GD from 0 → X⁺y", width=2.0, symbol="o", symbolSize=5,
                                    symbolBrush=manager().color(0), symbolPen=None)
        self.ls_pathr = plots.curve(self.ls_picture, 1, "GD from a random start", width=2.0, symbol="o",
                                    symbolSize=5, symbolBrush=manager().color(1), symbolPen=None)
        self.ls_points = pg.ScatterPlotItem(size=12, pen=pg.mkPen("k", width=1.2))
        self.ls_picture.addItem(self.ls_points)
        self.ls_dist = plots.add_plot(self.ls_view, "20 equations, 100 unknowns", "step",
                                      "distance", row=0, col=1, legend=True, axisItems=log_axes("left"))
        self.ls_dist.setLogMode(x=False, y=True)
        place_legend(self.ls_dist, "right")
        self.ls_d0 = plots.curve(self.ls_dist, 0, "from 0: ‖w − X⁺y‖")
        self.ls_dr = plots.curve(self.ls_dist, 1, "random start: ‖w − X⁺y‖")
        self.ls_drl = plots.curve(self.ls_dist, 1, "random start: ‖w − w∞‖", dashed=True)
        plots.note(self.ls_picture, "Computing gradient descent on one equation…")
        plots.note(self.ls_dist, "Computing gradient descent on 20 equations…")
        self.ls_view.ci.layout.setColumnStretchFactor(0, 1)
        self.ls_view.ci.layout.setColumnStretchFactor(1, 1)
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(self.ls_summary)
        layout.addWidget(self.ls_view, 1)
        self.ls_seed.valueChanged.connect(lambda _v: self.run_least_squares())
        self.ls_unknowns.value_changed.connect(lambda _v: self.run_least_squares())
        return page

    def run_least_squares(self) -> None:
        seed = self.ls_seed.value()
        d = int(self.ls_unknowns.value())

        def work():
            yield least_squares_demo(seed, d, n=20, steps=300, picture_steps=30)

        self.jobs.start("least-squares", work, lambda items: self._draw_least_squares(items[-1]),
                        on_error=lambda text: self.ls_summary.setText(text))

    def _draw_least_squares(self, demo: LeastSquaresDemo) -> None:
        x2, y2, pic0, picr = demo.x2, demo.y2, demo.picture_zero, demo.picture_random
        zero, rand = demo.zero, demo.random
        self.ls_zero, self.ls_random = zero, rand
        set_title(self.ls_dist, f"20 equations, {demo.d} unknowns")
        w_min = demo.w_min2
        r = float(np.linalg.norm(w_min))
        ends = [p.w for p in picr] + [p.w for p in pic0] + [np.zeros(2)]
        extent = max(2.0, float(np.abs(np.array(ends)).max()) * 1.25)
        lx, ly = _line_segment(x2[0], float(y2[0]), extent)
        self.ls_line.setData(lx, ly)
        theta = np.linspace(0, 2 * np.pi, 200)
        self.ls_circle.setData(r * np.cos(theta), r * np.sin(theta))
        p0 = np.array([p.w for p in pic0])
        pr = np.array([p.w for p in picr])
        self.ls_path0.setData(p0[:, 0], p0[:, 1])
        self.ls_pathr.setData(pr[:, 0], pr[:, 1])
        brushes = [pg.mkBrush(manager().color("plot_fg")), pg.mkBrush(manager().color(0)),
                   pg.mkBrush(manager().color(1))]
        self.ls_points.setData([0.0, w_min[0], pr[-1, 0]], [0.0, w_min[1], pr[-1, 1]], brush=brushes,
                               symbol=["+", "star", "o"], size=[14, 18, 12])
        self.ls_picture.setRange(xRange=(-extent, extent), yRange=(-extent, extent), padding=0.02)
        steps = np.array([p.step for p in zero], dtype=np.float64)
        self.ls_d0.setData(steps, np.maximum([p.distance_to_min_norm for p in zero], 1e-17))
        self.ls_dr.setData(steps, np.maximum([p.distance_to_min_norm for p in rand], 1e-17))
        self.ls_drl.setData(steps, np.maximum([p.distance_to_limit for p in rand], 1e-17))
        z, rr = zero[-1], rand[-1]
        self.ls_summary.setText(
            f"After {z.step} steps: from 0, loss {z.loss:.1e} and ‖w − X⁺y‖ = {z.distance_to_min_norm:.1e} "
            f"(the minimum-norm fit, ‖w‖ = {z.norm:.3f}); from a random start, loss {rr.loss:.1e} but "
            f"‖w − X⁺y‖ = {rr.distance_to_min_norm:.3f} (a different fit, ‖w‖ = {rr.norm:.3f}): the start's "
            "part orthogonal to the rows of X never moves.")

    # -- (b) max margin ----------------------------------------------------------------------
    def _build_margin(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.margin_steps = QtWidgets.QComboBox()
        self.margin_steps.addItems([f"{s:,}" for s in MARGIN_STEPS])
        self.margin_steps.setCurrentIndex(2)
        self.margin_seed = QtWidgets.QSpinBox()
        self.margin_seed.setRange(0, 9999)
        self.margin_run = QtWidgets.QPushButton("Run again")
        self.margin_progress = JobProgress()
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Steps"))
        row.addWidget(self.margin_steps)
        row.addWidget(QtWidgets.QLabel("Data seed"))
        row.addWidget(self.margin_seed)
        row.addWidget(self.margin_run)
        row.addStretch(1)
        self.margin_summary = plots.caption("")
        self.margin_view = plots.make_view()
        self.margin_pic = plots.add_plot(self.margin_view, "Separable points", "x₁", "x₂", row=0, col=0,
                                         rowspan=2)
        self.margin_pic.setAspectLocked(True)
        # The lines cross every free corner of the picture: the legend goes below it.
        self.margin_pic.legend = legend_below(self.margin_view, row=2, col=0, columns=3)
        self.margin_pts = pg.ScatterPlotItem(size=9, pen=pg.mkPen((255, 255, 255, 220), width=1.0))
        self.margin_pic.addItem(self.margin_pts)
        self.margin_svm = plots.curve(self.margin_pic, "plot_fg", "hard-margin SVM, no intercept", width=2.0,
                                      dashed=True)
        self.margin_mean = plots.curve(self.margin_pic, 3, "after step 1", width=1.5, dashed=True)
        self.margin_gd = plots.curve(self.margin_pic, 2, "GD now", width=3.0)
        manager().register_plot(self.margin_pic)
        self.margin_norm_plot = plots.add_plot(self.margin_view, "‖w‖ grows like log t", "step t", "‖w‖",
                                               row=0, col=1, axisItems=log_axes("bottom"))
        self.margin_norm_plot.setLogMode(x=True, y=False)
        self.margin_norm = plots.curve(self.margin_norm_plot, 0, "‖w‖")
        self.margin_angle_plot = plots.add_plot(self.margin_view, "Angle to the SVM direction", "step t",
                                                "angle (degrees)", row=1, col=1, axisItems=log_axes("bottom"))
        self.margin_angle_plot.setLogMode(x=True, y=False)
        self.margin_angle = plots.curve(self.margin_angle_plot, 1, "angle")
        for plot in (self.margin_pic, self.margin_norm_plot, self.margin_angle_plot):
            plots.note(plot, "Computing gradient descent on the logistic loss…")
        self.margin_view.ci.layout.setColumnStretchFactor(0, 3)
        self.margin_view.ci.layout.setColumnStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(self.margin_progress)
        layout.addWidget(self.margin_summary)
        layout.addWidget(self.margin_view, 1)
        self.margin_run.clicked.connect(lambda: self.run_margin())
        self.margin_seed.valueChanged.connect(lambda _v: self.run_margin())
        self.margin_progress.cancel_requested.connect(self.cancel_margin)
        self._margin_data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        return page

    def run_margin(self, steps: int | None = None) -> None:
        steps = steps or MARGIN_STEPS[self.margin_steps.currentIndex()]
        X, y = margin_data(seed=self.margin_seed.value())
        # The model has no bias, so the separator it turns to is the SVM through the origin.
        w_svm = svm_direction_through_origin(X, y)
        self._margin_data = (X, y, w_svm)
        self.margin_points = []
        colours = plots.class_brushes((y > 0).astype(int), 2)
        self.margin_pts.setData(X[:, 0], X[:, 1], brush=colours)
        extent = float(np.abs(X).max()) * 1.1
        self._margin_extent = extent
        self.margin_svm.setData(*_line_segment(w_svm, 0.0, extent))
        mean_dir = (y[:, None] * X).mean(0)
        self.margin_mean.setData(*_line_segment(mean_dir, 0.0, extent))
        self.margin_gd.setData([], [])
        self.margin_norm.setData([], [])
        self.margin_angle.setData([], [])
        self.margin_pic.setRange(xRange=(-extent, extent), yRange=(-extent, extent), padding=0.02)
        lr = 1.0 / logistic_smoothness(X)
        self._margin_steps = steps
        self.margin_progress.start(f"gradient descent on the logistic loss, {steps:,} steps (η = {lr:.2f})", 100)
        self.jobs.start("margin", lambda: max_margin_direction(X, y, steps=steps, lr=lr, points=240),
                        self._margin_items, on_end=self.margin_progress.finish,
                        on_error=lambda text: self.margin_summary.setText(text))

    def _margin_items(self, items: list[MarginPoint]) -> None:
        self.margin_points.extend(items)
        pts = self.margin_points
        t = np.array([p.step for p in pts], dtype=np.float64)
        self.margin_norm.setData(t, [p.norm for p in pts])
        self.margin_angle.setData(t, [p.angle_to_svm for p in pts])
        last = pts[-1]
        self.margin_gd.setData(*_line_segment(last.w, 0.0, self._margin_extent))
        self.margin_progress.set_value(int(100 * np.log(last.step) / np.log(max(self._margin_steps, 2))))
        first = pts[0]
        self.margin_summary.setText(
            f"step {last.step:,}: ‖w‖ = {last.norm:.2f}, angle to the SVM normal {last.angle_to_svm:.2f}° "
            f"(after step 1: {first.angle_to_svm:.1f}°), normalised margin {last.margin:.3f}, "
            f"loss {last.loss:.2e}. Each tenfold more steps adds about the same to ‖w‖.")

    def cancel_margin(self) -> None:
        self.jobs.cancel("margin")
        self.margin_progress.finish()

    # -- (c) matrix factorisation ------------------------------------------------------------
    def _build_factorization(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.alpha = ValueSlider("Initial scale α (U₀ = αI)", ALPHA_VALUES, 0.01, lambda v: f"{v:g}",
                                 "gradient descent on X = UUᵀ starts from U₀ = αI")
        self.factor_progress = JobProgress()
        self.factor_summary = plots.caption("")
        self.factor_view = plots.make_view()
        self.factor_plot = plots.add_plot(self.factor_view, "Where GD lands, against α", "initial scale α",
                                          "distance / nuclear norm", row=0, col=0, rowspan=2,
                                          axisItems=log_axes("left", "bottom"))
        self.factor_plot.setLogMode(x=True, y=True)
        self.factor_plot.legend = legend_below(self.factor_view, row=2, col=0, columns=2, colspan=2)
        self.factor_err = plots.curve(self.factor_plot, 1, "relative distance to X_min", symbol="o",
                                      symbolSize=6, symbolBrush=manager().color(1), symbolPen=None)
        self.factor_nuc = plots.curve(self.factor_plot, 0, "‖X_α‖_* (nuclear norm)", symbol="s", symbolSize=6,
                                      symbolBrush=manager().color(0), symbolPen=None)
        self.factor_min_line = plots.curve(self.factor_plot, 0, "least possible ‖X‖_*", width=1.2, dashed=True)
        self.factor_frob_line = plots.curve(self.factor_plot, 3, "‖X‖_* of the least-Frobenius fit",
                                            width=1.2, dashed=True)
        self.factor_marker = plots.guide_line(self.factor_plot, 0.0, angle=90, key="accent")
        plots.curve(self.factor_plot, "accent", "slider's α", width=1.5, dashed=True)  # legend entry
        self.factor_x = plots.ImagePlot(self.factor_view, "X_α found by GD", "", "", cmap="CET-D1",
                                        bar_label="entry", row=0, col=1)
        self.factor_ref = plots.ImagePlot(self.factor_view, "least nuclear norm X_min", "", "", cmap="CET-D1",
                                          bar_label="entry", row=1, col=1)
        for img in (self.factor_x, self.factor_ref):
            img.plot.setAspectLocked(True)
            img.plot.hideAxis("left")
            img.plot.hideAxis("bottom")
            img.plot.invertY(True)
            img.bar.axis.enableAutoSIPrefix(False)
        plots.note(self.factor_plot, "Computing gradient descent from each initial scale α…")
        for img in (self.factor_x, self.factor_ref):
            plots.note(img.plot, "Computing…")
        self.factor_view.ci.layout.setColumnStretchFactor(0, 3)
        self.factor_view.ci.layout.setColumnStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.alpha)
        layout.addWidget(self.factor_progress)
        layout.addWidget(self.factor_summary)
        layout.addWidget(self.factor_view, 1)
        self.alpha.value_changed.connect(lambda _v: self._alpha_timer.start())
        self.factor_progress.cancel_requested.connect(self.cancel_factorization)
        return page

    def _sensing(self) -> SensingDemo:
        if self._problem is None:
            self._problem = sensing_demo(d=12, rank=1, seed=0)
        return self._problem

    def run_factorization_sweep(self, steps: int = FACTOR_STEPS) -> None:
        """GD for a range of α at once (a batch): error and nuclear norm against α."""
        self.factor_progress.start(f"gradient descent on UUᵀ for {len(SWEEP_ALPHAS)} values of α …", steps)

        def work():
            demo = self._sensing()
            yield demo
            yield from factorization_gd(demo.problem, SWEEP_ALPHAS, steps=steps, reference=demo.reference, every=100)

        self.jobs.start("factor-sweep", work, lambda items: self._factor_items(items, "sweep", steps),
                        on_end=self._factor_sweep_ended,
                        on_error=lambda text: self.factor_summary.setText(text))

    def run_factorization_alpha(self, steps: int = FACTOR_STEPS) -> None:
        """GD for the slider's α alone: the matrix it finds."""
        alpha = self.alpha.value()
        self.factor_marker.setValue(float(np.log10(alpha)))
        self.factor_summary.setText(f"α = {alpha:.3g}: running gradient descent from U₀ = αI …")

        def work():
            demo = self._sensing()
            yield demo
            yield from factorization_gd(demo.problem, [alpha], steps=steps, reference=demo.reference, every=250)

        self.jobs.start("factor-alpha", work, lambda items: self._factor_items(items, "single", steps),
                        on_error=lambda text: self.factor_summary.setText(text))

    def _factor_items(self, items: list[SensingDemo | FactorPoint], kind: str, steps: int) -> None:
        """`kind`: "sweep" (every α of the sweep) or "single" (the slider's α); each job yields its
        problem first, then the points of GD."""
        for point in items:
            if isinstance(point, SensingDemo):
                self._factor_demo = point
                self.factor_reference = point.reference.numpy()
                continue
            demo = self._factor_demo
            min_nuc, frob, reference = demo.min_nuclear_norm, demo.frobenius_nuclear_norm, self.factor_reference
            if kind == "sweep":
                self.factor_progress.set_value(point.step, f"α sweep: step {point.step:,} of {steps:,}")
                if point.X is not None:
                    self.factor_sweep = point
                    a = point.alphas
                    self.factor_err.setData(a, np.maximum(point.error, 1e-6))
                    self.factor_nuc.setData(a, point.nuclear_norm)
                    self.factor_min_line.setData(a[[0, -1]], [min_nuc, min_nuc])
                    self.factor_frob_line.setData(a[[0, -1]], [frob, frob])
            elif point.X is not None:
                self.factor_single = point
                lim = float(np.abs(reference).max())
                extent = (1, len(reference), 1, len(reference))  # rows and columns numbered from 1
                for img, z in ((self.factor_x, point.X[0]), (self.factor_ref, reference)):
                    img.set_image(z, extent, levels=(-lim, lim))
                    img.plot.setRange(xRange=(0.5, len(z) + 0.5), yRange=(0.5, len(z) + 0.5), padding=0)
                self.factor_summary.setText(
                    f"α = {point.alphas[0]:.3g}: after {point.step:,} steps loss {point.loss[0]:.1e}, nuclear norm "
                    f"‖X_α‖_* = {point.nuclear_norm[0]:.3f} (least possible {min_nuc:.3f}; the least-Frobenius fit "
                    f"has {frob:.3f}), distance to X_min {100 * point.error[0]:.1f}%. The smaller α, the closer.")

    def _factor_sweep_ended(self) -> None:
        self.factor_progress.finish()

    def cancel_factorization(self) -> None:
        self.jobs.cancel("factor-sweep")
        self.factor_progress.finish()

    # -- panel protocol ----------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active and not self._started and not self.lab.sync:  # headless computes in headless()
            self._started = True
            self.run_least_squares()
            self.run_margin()
            self.run_factorization_sweep()
            self.run_factorization_alpha()

    def show_view(self, view: str) -> None:
        if view not in self.VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {', '.join(self.VIEWS)}")
        self.pages.setCurrentIndex(self.VIEWS.index(view))

    def apply_options(self, options: dict[str, Any]) -> None:
        known = {"view", "alpha", "margin_steps", "margin_seed", "start_seed", "unknowns"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"the {self.title} tab has no options {sorted(unknown)}")
        if "view" in options:
            self.show_view(options["view"])
        if "alpha" in options:
            self.alpha.set_value(float(options["alpha"]))
        if "margin_steps" in options:
            steps = int(options["margin_steps"])
            if steps not in MARGIN_STEPS:
                raise ValueError(f"margin_steps must be one of {', '.join(map(str, MARGIN_STEPS))}")
            self.margin_steps.setCurrentIndex(MARGIN_STEPS.index(steps))
        if "margin_seed" in options:
            self.margin_seed.setValue(int(options["margin_seed"]))
        if "start_seed" in options:
            self.ls_seed.setValue(int(options["start_seed"]))
        if "unknowns" in options:
            self.ls_unknowns.set_value(float(options["unknowns"]))

    def options(self) -> dict[str, Any]:
        return {"view": self.VIEWS[self.pages.currentIndex()], "alpha": self.alpha.value(),
                "margin_steps": MARGIN_STEPS[self.margin_steps.currentIndex()],
                "margin_seed": self.margin_seed.value(), "start_seed": self.ls_seed.value(),
                "unknowns": int(self.ls_unknowns.value())}

    def shutdown(self) -> None:
        self._alpha_timer.stop()
        self.jobs.stop_all(wait=1.5)

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        lay_out_pages(self.pages)
        out: dict[str, QtWidgets.QWidget] = {}
        if self.ls_zero:
            out["implicit-least-squares"] = self.ls_view
        if self.margin_points:
            out["implicit-max-margin"] = self.margin_view
        if self.factor_sweep is not None or self.factor_single is not None:
            out["implicit-factorization"] = self.factor_view
        return out or {self.slug: self}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ls_zero:
            out["least_squares"] = {
                "from_zero_final_distance_to_min_norm": self.ls_zero[-1].distance_to_min_norm,
                "random_start_final_distance_to_min_norm": self.ls_random[-1].distance_to_min_norm,
                "random_start_final_distance_to_its_limit": self.ls_random[-1].distance_to_limit}
            out["ls_steps"] = np.array([p.step for p in self.ls_zero])
            out["ls_distance_from_zero"] = np.array([p.distance_to_min_norm for p in self.ls_zero])
            out["ls_distance_random_start"] = np.array([p.distance_to_min_norm for p in self.ls_random])
        if self.margin_points:
            out["margin_steps"] = np.array([p.step for p in self.margin_points])
            out["margin_norm"] = np.array([p.norm for p in self.margin_points])
            out["margin_angle_degrees"] = np.array([p.angle_to_svm for p in self.margin_points])
            out["margin_final"] = {"step": self.margin_points[-1].step, "norm": self.margin_points[-1].norm,
                                   "angle_degrees": self.margin_points[-1].angle_to_svm}
        if self.factor_sweep is not None:
            out["factor_alphas"] = self.factor_sweep.alphas
            out["factor_error"] = self.factor_sweep.error
            out["factor_nuclear_norm"] = self.factor_sweep.nuclear_norm
        if self.factor_single is not None:
            out["factor_alpha"] = float(self.factor_single.alphas[0])
            out["factor_X"] = self.factor_single.X[0]
        if self.factor_reference is not None:
            out["factor_X_min_nuclear"] = self.factor_reference
        return out

    def run_preset(self, preset) -> None:
        """Compute the picture the preset names (all of them when it names none)."""
        self._started = True
        view = preset.options().get("view")
        if view in (None, "least-squares"):
            self.run_least_squares()
        if view in (None, "max-margin"):
            self.run_margin()
        if view in (None, "factorization"):
            self.run_factorization_sweep()
            self.run_factorization_alpha()
        self._alpha_timer.stop()

    def headless(self, ctx: HeadlessContext) -> None:
        self._started = True
        view = ctx.options.get("view")
        if view in (None, "least-squares"):
            self.run_least_squares()
        if view in (None, "max-margin"):
            self.run_margin(10_000 if ctx.quick and "margin_steps" not in ctx.options else None)
        if view in (None, "factorization"):
            steps = 1500 if ctx.quick else FACTOR_STEPS
            self.run_factorization_sweep(steps)
            self.run_factorization_alpha(steps)
        if view is not None:
            self.show_view(view)
        self._alpha_timer.stop()
