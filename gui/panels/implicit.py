"""The Implicit regularisation tab: which of many solutions gradient descent picks.

Three pages, each its own small computation (no shared experiment):
(a) least squares with more unknowns than equations: GD from zero lands on the minimum-norm
    solution, from a random start on another interpolant;
(b) logistic regression on separable points: ‖w‖ grows like log t, the direction turns to the
    hard-margin SVM, the decision line animated;
(c) matrix sensing with X = UUᵀ from U₀ = αI: small α finds the least nuclear norm.
Each page's widgets and drawing live in their own file (implicit_least_squares,
implicit_max_margin, implicit_factorization); this module runs the jobs and keeps their results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
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

from ..jobs import PanelJobs
from ..panel_tools import lay_out_pages
from .base import HeadlessContext, Panel, page_attribute
from .implicit_factorization import FactorizationPage
from .implicit_least_squares import LeastSquaresPage
from .implicit_max_margin import MARGIN_STEPS, MaxMarginPage

SWEEP_ALPHAS = np.geomspace(1e-3, 3.0, 12)
FACTOR_STEPS = 3000


class ImplicitPanel(Panel):
    slug = "implicit"
    title = "Implicit regularisation"
    topic = "Implicit regularisation"
    uses_experiment = False

    VIEWS = ("least-squares", "max-margin", "factorization")

    # The pages' controls and plots, reachable from the tab as before the split.
    ls_seed = page_attribute("ls_page", "ls_seed")
    ls_unknowns = page_attribute("ls_page", "ls_unknowns")
    ls_summary = page_attribute("ls_page", "ls_summary")
    ls_view = page_attribute("ls_page", "ls_view")
    ls_picture = page_attribute("ls_page", "ls_picture")
    ls_dist = page_attribute("ls_page", "ls_dist")
    ls_d0 = page_attribute("ls_page", "ls_d0")
    ls_dr = page_attribute("ls_page", "ls_dr")
    ls_drl = page_attribute("ls_page", "ls_drl")
    margin_steps = page_attribute("margin_page", "margin_steps")
    margin_seed = page_attribute("margin_page", "margin_seed")
    margin_run = page_attribute("margin_page", "margin_run")
    margin_progress = page_attribute("margin_page", "margin_progress")
    margin_summary = page_attribute("margin_page", "margin_summary")
    margin_view = page_attribute("margin_page", "margin_view")
    margin_pic = page_attribute("margin_page", "margin_pic")
    margin_norm = page_attribute("margin_page", "margin_norm")
    margin_angle = page_attribute("margin_page", "margin_angle")
    alpha = page_attribute("factor_page", "alpha")
    factor_progress = page_attribute("factor_page", "factor_progress")
    factor_summary = page_attribute("factor_page", "factor_summary")
    factor_view = page_attribute("factor_page", "factor_view")
    factor_plot = page_attribute("factor_page", "factor_plot")
    factor_err = page_attribute("factor_page", "factor_err")
    factor_nuc = page_attribute("factor_page", "factor_nuc")
    factor_marker = page_attribute("factor_page", "factor_marker")
    factor_x = page_attribute("factor_page", "factor_x")
    factor_ref = page_attribute("factor_page", "factor_ref")

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
        self._margin_data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.ls_page = LeastSquaresPage()
        self.margin_page = MaxMarginPage()
        self.factor_page = FactorizationPage()
        self.pages = QtWidgets.QTabWidget()
        self.pages.addTab(self.ls_page, "(a) Least squares: minimum norm")
        self.pages.addTab(self.margin_page, "(b) Logistic regression: max margin")
        self.pages.addTab(self.factor_page, "(c) Matrix factorisation: nuclear norm")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)
        self._alpha_timer = QtCore.QTimer(self)
        self._alpha_timer.setSingleShot(True)
        self._alpha_timer.setInterval(60)
        self._alpha_timer.timeout.connect(self.run_factorization_alpha)
        self.ls_page.settings_changed.connect(self.run_least_squares)
        self.margin_run.clicked.connect(lambda: self.run_margin())
        self.margin_seed.valueChanged.connect(lambda _v: self.run_margin())
        self.margin_progress.cancel_requested.connect(self.cancel_margin)
        self.alpha.value_changed.connect(lambda _v: self._alpha_timer.start())
        self.factor_progress.cancel_requested.connect(self.cancel_factorization)

    # -- (a) least squares -------------------------------------------------------------------
    def run_least_squares(self) -> None:
        seed = self.ls_seed.value()
        d = int(self.ls_unknowns.value())

        def work():
            yield least_squares_demo(seed, d, n=20, steps=300, picture_steps=30)

        self.jobs.start("least-squares", work, lambda items: self._draw_least_squares(items[-1]),
                        on_error=lambda text: self.ls_summary.setText(text))

    def _draw_least_squares(self, demo: LeastSquaresDemo) -> None:
        self.ls_zero, self.ls_random = demo.zero, demo.random
        self.ls_page.draw(demo)

    # -- (b) max margin ----------------------------------------------------------------------
    def run_margin(self, steps: int | None = None) -> None:
        steps = steps or self.margin_page.steps()
        X, y = margin_data(seed=self.margin_seed.value())
        # The model has no bias, so the separator it turns to is the SVM through the origin.
        w_svm = svm_direction_through_origin(X, y)
        self._margin_data = (X, y, w_svm)
        self.margin_points = []
        self.margin_page.begin(X, y, w_svm, steps)
        lr = 1.0 / logistic_smoothness(X)
        self.margin_progress.start(f"gradient descent on the logistic loss, {steps:,} steps (η = {lr:.2f})", 100)
        self.jobs.start("margin", lambda: max_margin_direction(X, y, steps=steps, lr=lr, points=240),
                        self._margin_items, on_end=self.margin_progress.finish,
                        on_error=lambda text: self.margin_summary.setText(text))

    def _margin_items(self, items: list[MarginPoint]) -> None:
        self.margin_points.extend(items)
        self.margin_page.draw(self.margin_points)

    def cancel_margin(self) -> None:
        self.jobs.cancel("margin")
        self.margin_progress.finish()

    # -- (c) matrix factorisation ------------------------------------------------------------
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
                    self.factor_page.draw_sweep(point, min_nuc, frob)
            elif point.X is not None:
                self.factor_single = point
                self.factor_page.draw_single(point, reference, min_nuc, frob)

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
