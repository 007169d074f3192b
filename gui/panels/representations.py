"""The Representations tab: what every layer makes of the inputs, live while the network trains.

Left: the PCA scatter of one layer's features, coloured by class, with the explained variance
of its principal axes; below it, a strip of small scatters of every layer, input → output
(representations_scatter). Right, one page each: linear probes by depth (representations_probes),
intrinsic dimension by depth (_dimension), neural collapse (NC1) over training (_collapse), and
layer-to-layer CKA (_cka).

All measurements run in jobs on independent copies of the network (θ from the newest frame);
the GUI thread only draws what they yield.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from engine.history import COLLAPSE_POINTS
from engine.representations import (
    GeometryFrame,
    RepresentationWatcher,
    components_for_variance,
    fixed_subset,
)

from .. import plots
from ..jobs import PanelJobs, weak
from .base import HeadlessContext, Panel, page_attribute
from .representations_cka import CkaPage
from .representations_collapse import CollapsePage
from .representations_common import depth_colors
from .representations_dimension import DimensionPage
from .representations_probes import ProbesPage
from .representations_scatter import LiveScatter, RangeFollower

VIEWS = ("probes", "dimension", "collapse", "cka")
VIEW_TITLES = ("Probes", "Dimension", "Collapse", "CKA")
VIEW_TIPS = ("Linear probes: how linearly separable the classes are at each depth",
             "Intrinsic dimension of each layer: PCA count and TwoNN",
             "Neural collapse: NC1 of each layer over training",
             "Layer similarity: linear CKA between layers, and from the start of training")
POINT_CHOICES = (200, 400, 800, 1500)
LIVE_INTERVAL = 0.2  # seconds between live geometry updates (each one a job on a model copy)


class RepresentationsPanel(Panel):
    slug = "representations"
    title = "Representations"
    topic = "Representations"

    geometry_shown = QtCore.Signal(object)  # each GeometryFrame, after it is drawn

    # The pages' widgets and state that tests, presets and the lesson reach through the tab.
    scatter = page_attribute("live", "scatter")
    scatter_plot = page_attribute("live", "scatter_plot")
    main_box = page_attribute("live", "main_box")
    strip_box = page_attribute("live", "strip_box")
    strip_view = page_attribute("live", "strip_view")
    strip_plots = page_attribute("live", "strip_plots")
    fit_button = page_attribute("probes_page", "fit_button")
    probe_cancel = page_attribute("probes_page", "probe_cancel")
    probe_status = page_attribute("probes_page", "probe_status")
    probe_plot = page_attribute("probes_page", "probe_plot")
    probe_train_bars = page_attribute("probes_page", "probe_train_bars")
    probe_test_bars = page_attribute("probes_page", "probe_test_bars")
    _probe_results = page_attribute("probes_page", "results")
    _probe_step = page_attribute("probes_page", "step")
    _chance = page_attribute("probes_page", "chance")
    variance_slider = page_attribute("dimension_page", "variance_slider")
    id_plot = page_attribute("dimension_page", "id_plot")
    id_pca = page_attribute("dimension_page", "id_pca")
    id_twonn = page_attribute("dimension_page", "id_twonn")
    id_ambient = page_attribute("dimension_page", "id_ambient")
    nc_plot = page_attribute("collapse_page", "nc_plot")
    nc_curves = page_attribute("collapse_page", "nc_curves")
    zero_line = page_attribute("collapse_page", "zero_line")
    cka_map = page_attribute("cka_page", "cka_map")
    cka_start_plot = page_attribute("cka_page", "cka_start_plot")
    cka_start_bars = page_attribute("cka_page", "cka_start_bars")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self._build_controls()
        self.live = LiveScatter(self)
        self.live.layer_clicked.connect(self._layer_clicked)
        self.probes_page = ProbesPage(lab, self.jobs)
        self.dimension_page = DimensionPage()
        self.collapse_page = CollapsePage()
        self.cka_page = CkaPage()
        # The analysis pages, in VIEWS order.
        self.pages: list[QtWidgets.QWidget] = [self.probes_page, self.dimension_page, self.collapse_page,
                                               self.cka_page]
        self.dimension_page.threshold_changed.connect(self._draw_dimension)

        self.analysis = QtWidgets.QTabWidget()
        self.analysis.setDocumentMode(True)
        for i, (page, title) in enumerate(zip(self.pages, VIEW_TITLES)):
            self.analysis.addTab(page, title)
            self.analysis.setTabToolTip(i, VIEW_TIPS[i])
        self.analysis.currentChanged.connect(self._draw_page)

        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        top.addWidget(self.main_box)
        top.addWidget(self.analysis)
        top.setStretchFactor(0, 5)
        top.setStretchFactor(1, 6)
        top.setSizes([500, 600])  # by proportion, not by the views' size hints
        self.top_split = top
        vsplit = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        vsplit.addWidget(top)
        vsplit.addWidget(self.strip_box)
        vsplit.setStretchFactor(0, 4)
        vsplit.setStretchFactor(1, 1)
        vsplit.setSizes([460, 150])
        self.vsplit = vsplit

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.controls)
        layout.addWidget(self.banner)
        layout.addWidget(vsplit, 1)

        # State of the current run.
        self._watcher: RepresentationWatcher | None = None
        self._geometry: GeometryFrame | None = None
        self._latest: tuple[np.ndarray, int] | None = None  # newest θ and its step
        self._last_start = 0.0
        self._draw_cost = 0.0
        self._kick_timer = QtCore.QTimer(self)
        self._kick_timer.setSingleShot(True)
        self._kick_timer.timeout.connect(self._schedule)
        self._layer_names: list[str] = []
        self._setting_layers = False
        self._nc_steps: list[int] = []
        self._nc_values: list[np.ndarray] = []
        self._labels = np.zeros(0, dtype=np.int64)
        self._points = POINT_CHOICES[1]
        self._subset_X = None
        self.updates_drawn = 0

        lab.diverged.connect(self._diverged)
        lab.state_changed.connect(self._state_changed)
        self._restyle()

    # -- building ---------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setToolTip("The layer shown in the large scatter (or click a small one below)")
        self.layer_combo.setMinimumContentsLength(14)
        self.points_combo = QtWidgets.QComboBox()
        for n in POINT_CHOICES:
            self.points_combo.addItem(f"{n} points", n)
        self.points_combo.setCurrentIndex(1)
        self.points_combo.setToolTip("How many training inputs (a fixed, class-balanced subset) the views follow")
        self.summary = plots.caption("")
        self.controls = QtWidgets.QHBoxLayout()
        self.controls.addWidget(QtWidgets.QLabel("Layer"))
        self.controls.addWidget(self.layer_combo)
        self.controls.addWidget(self.points_combo)
        self.controls.addWidget(self.summary, 1)
        self.banner = plots.caption("", role="banner")
        self.banner.hide()
        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        self.points_combo.currentIndexChanged.connect(self._points_changed)

    # -- run lifecycle ----------------------------------------------------------------------
    def on_rebuilt(self) -> None:
        self.probes_page.rebuild()
        ds = self.lab.experiment.dataset
        self._layer_names = []
        self.live.layer_names = []
        self._make_subset()
        self.live.class_legend(ds.class_names)

    def _make_subset(self) -> None:
        ds = self.lab.experiment.dataset
        idx = fixed_subset(ds.y_train, self._points, seed=0)
        self._subset_X = ds.X_train[idx]
        self._labels = ds.y_train[idx].numpy()
        self.live.set_classes(self._labels, ds.class_names)

    def on_reset(self) -> None:
        """A new run (or the same θ₀ again): new copies, alignment and histories start over."""
        self._new_watcher()
        self.probes_page.clear()
        self.banner.hide()

    def _new_watcher(self) -> None:
        exp = self.lab.experiment
        if self._subset_X is None:
            self._make_subset()
        self._watcher = RepresentationWatcher(exp.model_copy(), self._subset_X, self._labels,
                                              theta0=exp.theta0.cpu().numpy())
        self.jobs.cancel("geometry")  # what an old job still delivers belongs to the old watcher
        self._geometry = None
        self._latest = None
        self._nc_steps, self._nc_values = [], []
        self.live.reset_ranges()

    def probes(self) -> dict:
        return {}  # everything runs on copies of the network, off the training thread

    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active:
            self._schedule()
            self._maybe_fit_probes()
        else:
            self._kick_timer.stop()

    def shutdown(self) -> None:
        self._kick_timer.stop()
        self.jobs.stop_all(drop=False)

    # -- live geometry ------------------------------------------------------------------------
    def on_frames(self, frames) -> None:
        if (self.active and self._geometry is not None and self.analysis.currentIndex() == 2
                and not self._setting_layers and any(p.name == "nc1" for f in frames for p in f.history)):
            self._draw_collapse()  # new points of the run's history (the layers' curves must exist)
        if self.lab.sync:  # headless: computed at checkpoints instead (see headless())
            return
        frame = next((f for f in reversed(frames) if f.theta is not None), None)
        if frame is None:
            return
        self._latest = (frame.theta, frame.step)
        self._schedule()

    def _schedule(self) -> None:
        """Start a geometry job for the newest θ: one at a time, at most every LIVE_INTERVAL s."""
        if not self.active or self._watcher is None:
            return
        if self._latest is None and self.lab.last_frame is not None and self.lab.last_frame.theta is not None \
                and self._geometry is None:
            self._latest = (self.lab.last_frame.theta, self.lab.last_frame.step)
        if self._latest is None:
            return
        if self.jobs.running("geometry"):
            return  # its end schedules again
        wait = max(LIVE_INTERVAL, 5 * self._draw_cost) - (time.perf_counter() - self._last_start)
        if wait > 0 and not self.lab.sync:
            if not self._kick_timer.isActive():
                self._kick_timer.start(int(wait * 1000) + 1)
            return
        theta, step = self._latest
        self._latest = None
        self._start_geometry(theta, step)

    def _start_geometry(self, theta: np.ndarray, step: int) -> None:
        watcher = self._watcher
        self._last_start = time.perf_counter()
        self.jobs.start("geometry", lambda: watcher.frames(theta, step), weak(self._geometry_items, watcher),
                        on_error=weak(self._show_problem, "Representations: "), on_exit=self._geometry_exited)

    def _geometry_items(self, watcher: RepresentationWatcher, frames: list[GeometryFrame]) -> None:
        if watcher is self._watcher:  # results of an older run are dropped
            self._show_geometry(frames[-1])

    def _geometry_exited(self, error: str | None) -> None:
        # Also after a job of an old watcher was stopped: the newest θ waited for it.
        if error is None:
            self._schedule()

    def compute_now(self) -> None:
        """Measure the current weights (headless, and after a change of settings)."""
        f = self.lab.last_frame
        if self._watcher is None or f is None or f.theta is None:
            return
        self._latest = None
        self._start_geometry(f.theta, f.step)

    # -- drawing ------------------------------------------------------------------------------
    def _show_geometry(self, g: GeometryFrame) -> None:
        t0 = time.perf_counter()
        self._geometry = g
        names = g.names
        if names != self._layer_names:
            # In one turn: the pages' own draws assume every layer's items exist (made in slices,
            # frames and job results arriving meanwhile drew into half-made pages).
            self._setting_layers = True
            try:
                self._set_layers(g)
            finally:
                self._setting_layers = False
        if self._nc_steps and self._nc_steps[-1] == g.step:
            self._nc_values[-1] = np.array([g.nc1[n] for n in names])
        elif not self._nc_steps or g.step > self._nc_steps[-1]:
            self._nc_steps.append(g.step)
            self._nc_values.append(np.array([g.nc1[n] for n in names]))
        self._draw_scatter()
        self._draw_strip()
        self._draw_page()
        if g.problems:
            self._show_problem("Some layers cannot be shown: " + "; ".join(g.problems))
        elif not self.lab.experiment.diverged:
            self.banner.hide()
        self.updates_drawn += 1
        # Drawing cost, smoothed: the live rate backs off so that drawing (and the painting it
        # triggers, about as much again) keeps well under half of the GUI thread.
        self._draw_cost = 0.7 * self._draw_cost + 0.3 * (time.perf_counter() - t0)
        self.geometry_shown.emit(g)

    def _draw_page(self, index: int | None = None) -> None:
        """Draw the analysis page in view (the others are drawn when they are opened)."""
        if self._geometry is None:
            return
        index = self.analysis.currentIndex() if index is None else index
        if index == 1:  # (probes are drawn when a fit delivers them)
            self._draw_dimension()
        elif index == 2:
            self._draw_collapse()
        elif index == 3:
            self._draw_cka()

    def _set_layers(self, g: GeometryFrame) -> None:
        """A new list of layers: refill the selector, rebuild the strip and the per-layer items."""
        previous = self.selected_layer()
        self._layer_names = g.names
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for lay in g.layers:
            self.layer_combo.addItem(f"{lay.name}  ({lay.dim:,})", lay.name)
            self.layer_combo.setItemData(self.layer_combo.count() - 1, lay.description,
                                         QtCore.Qt.ItemDataRole.ToolTipRole)
        default = previous if previous in g.names else _first_layer_shown(g.names)
        self.layer_combo.setCurrentIndex(g.names.index(default))
        self.layer_combo.blockSignals(False)
        self.live.set_layers(g, self._labels, self.lab.experiment.dataset.class_names)
        self._mark_selected()
        self.probes_page.set_layers(g.names)
        self.dimension_page.set_layers(g.names)
        # The NC1 curves and CKA labels are made when their page is drawn first (not all in the
        # turn the first measurement arrives).

    def _page_layers(self, page: CollapsePage | CkaPage) -> None:
        if page.layer_names != self._layer_names:
            page.set_layers(self._layer_names)

    def selected_layer(self) -> str | None:
        return self.layer_combo.currentData()

    def _mark_selected(self) -> None:
        self.live.mark_selected(self.selected_layer())

    def _draw_scatter(self) -> None:
        g, name = self._geometry, self.selected_layer()
        if g is None or name not in g.projections:
            return
        self.live.draw_scatter(g, name)
        lay = g.layers[g.names.index(name)]
        self.summary.setText(
            f"step {g.step:,} · {len(g.labels):,} training points · {name}: {lay.description}, "
            f"{lay.dim:,} features · TwoNN {g.twonn[name]:.1f}")

    def _draw_strip(self) -> None:
        self.live.draw_strip(self._geometry)

    def _draw_dimension(self) -> None:
        if self._geometry is not None:
            self.dimension_page.draw(self._geometry)

    def collapse_series(self) -> tuple[np.ndarray, np.ndarray]:
        """NC1 over steps, one column per layer: the run's history (from step 0, whichever tab
        was open, on the same points this tab follows by default) merged with this tab's own
        measurements; with another number of points, only the tab's own."""
        names = self._layer_names
        by_step: dict[int, dict[str, float]] = {}
        if self._points == COLLAPSE_POINTS:
            steps, values = self.lab.run_history.series("nc1")
            for i, s in enumerate(steps):
                by_step[int(s)] = {n: float(v[i]) for n, v in values.items()}
        for s, row in zip(self._nc_steps, self._nc_values):
            by_step[int(s)] = {n: float(x) for n, x in zip(names, row)}
        steps = np.array(sorted(by_step), dtype=float)
        vals = np.array([[by_step[int(s)].get(n, np.nan) for n in names] for s in steps])
        return steps, vals.reshape(len(steps), len(names))

    def _draw_collapse(self) -> None:
        self._page_layers(self.collapse_page)
        steps, vals = self.collapse_series()
        self.collapse_page.draw(steps, vals, self._zero_error_step() if len(steps) else None)

    def _zero_error_step(self) -> int | None:
        h = self.lab.history
        for s, a in zip(h.eval_steps, h.train_acc):
            if a >= 1.0:
                return int(s)
        return None

    def _draw_cka(self) -> None:
        self._page_layers(self.cka_page)
        self.cka_page.draw(self._geometry)

    # -- probes -------------------------------------------------------------------------------
    def fit_probes(self) -> None:
        """Fit a probe on every layer at the newest weights (a job; progress and Cancel shown)."""
        self.probes_page.fit_probes()

    def _maybe_fit_probes(self) -> None:
        """At the end of training (and when the tab opens on a trained network): refresh stale probes."""
        if self.active:
            self.probes_page.maybe_fit()

    def _state_changed(self, state: str) -> None:
        if state == "idle":
            self._maybe_fit_probes()

    # -- controls ------------------------------------------------------------------------------
    def _layer_changed(self) -> None:
        self.live.follow.reset()
        self._mark_selected()
        self._draw_scatter()

    def _points_changed(self) -> None:
        n = self.points_combo.currentData()
        if n == self._points:
            return
        self._points = int(n)
        if self.lab.experiment.dataset is None:
            return
        self._make_subset()
        self._new_watcher()
        self.compute_now()

    def _layer_clicked(self, name: str) -> None:
        self.layer_combo.setCurrentIndex(self._layer_names.index(name))

    def show_view(self, view: str) -> None:
        self.analysis.setCurrentIndex(VIEWS.index(view))

    def _show_problem(self, text: str, detail: str = "") -> None:
        self.banner.setText(text + detail)
        self.banner.show()

    def _diverged(self, text: str) -> None:
        self._show_problem(text + " The views keep the last finite state.")

    def changeEvent(self, event: QtCore.QEvent) -> None:
        # A new theme or font scale reaches every widget as a palette / font change. (Listening
        # here rather than to the style manager keeps no reference from that global to this tab.)
        if event.type() in (QtCore.QEvent.Type.PaletteChange, QtCore.QEvent.Type.FontChange):
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        self.live.restyle()
        self.dimension_page.restyle()
        self.cka_page.restyle()
        self._mark_selected()
        self.probes_page.restyle()

    # -- presets --------------------------------------------------------------------------------
    def apply_options(self, options: dict[str, Any]) -> None:
        known = {"view", "layer", "points", "variance", "probes", "checkpoints"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"the Representations tab has no options {sorted(unknown)}; "
                             f"it knows {sorted(known)}")
        if "view" in options:
            if options["view"] not in VIEWS:
                raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {options['view']!r}")
            self.show_view(options["view"])
        if "points" in options:
            n = options["points"]
            if n not in POINT_CHOICES:
                raise ValueError(f"points must be one of {', '.join(map(str, POINT_CHOICES))}, got {n!r}")
            self.points_combo.setCurrentIndex(POINT_CHOICES.index(n))
        if "variance" in options:
            v = options["variance"]
            if not isinstance(v, (int, float)) or not 0.5 <= v <= 0.99:
                raise ValueError(f"variance must be a share between 0.5 and 0.99, got {v!r}")
            self.variance_slider.setValue(int(round(100 * v)))
        if "layer" in options:
            want = options["layer"]  # None: the tab's own choice (the last hidden layer)
            if want is not None and (isinstance(want, bool) or not isinstance(want, (str, int))):
                raise ValueError(f"layer must be a layer name or an index, got {want!r}")
            self._wanted_layer = want
            names = self._layer_names
            if names and want is None:
                self.layer_combo.setCurrentIndex(names.index(_first_layer_shown(names)))
            elif names and (want in names or (isinstance(want, int) and -len(names) <= want < len(names))):
                self._apply_wanted_layer()  # a layer this network lacks is checked when it is built
        if "checkpoints" in options:
            c = options["checkpoints"]
            if not isinstance(c, int) or not 1 <= c <= 200:
                raise ValueError(f"checkpoints must be a whole number from 1 to 200, got {c!r}")
        if "probes" in options and not isinstance(options["probes"], bool):
            raise ValueError(f"probes must be true or false, got {options['probes']!r}")

    def options(self) -> dict[str, Any]:
        layer = self.selected_layer() if self._layer_names else getattr(self, "_wanted_layer", None)
        return {"view": VIEWS[self.analysis.currentIndex()], "layer": layer,
                "points": int(self.points_combo.currentData()), "variance": self.dimension_page.threshold()}

    def _apply_wanted_layer(self) -> None:
        want = getattr(self, "_wanted_layer", None)
        if want is None or not self._layer_names:
            return
        if isinstance(want, int):
            if not -len(self._layer_names) <= want < len(self._layer_names):
                raise ValueError(f"layer index {want} is out of range: {len(self._layer_names)} layers")
            name = self._layer_names[want]
        elif want in self._layer_names:
            name = want
        else:
            raise ValueError(f"no layer {want!r}; layers: {', '.join(self._layer_names)}")
        self.layer_combo.setCurrentIndex(self._layer_names.index(name))

    # -- export ---------------------------------------------------------------------------------
    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {
            "representations-scatter": self.main_box,
            "representations-layers": self.strip_box,
            "representations-probes": self.pages[0],
            "representations-dimension": self.pages[1],
            "representations-collapse": self.pages[2],
            "representations-cka": self.pages[3],
        }

    def data(self) -> dict[str, Any]:
        g = self._geometry
        out: dict[str, Any] = {"config": self.lab.experiment.config.to_dict(),
                               "dataset": self.lab.experiment.dataset.name}
        if g is None:
            return out
        v = self.dimension_page.threshold()
        out.update({
            "step": g.step,
            "points": int(len(g.labels)),
            "layers": [{"name": lay.name, "dim": lay.dim, "kind": lay.kind, "description": lay.description}
                       for lay in g.layers],
            "selected_layer": self.selected_layer(),
            "axis_explained": {n: [float(x) for x in g.axis_explained[n]] for n in g.names},
            "variance_threshold": v,
            "pca_dimension": {n: components_for_variance(g.spectra[n], v) for n in g.names},
            "twonn_dimension": {n: g.twonn[n] for n in g.names},
            "nc1": {n: g.nc1[n] for n in g.names},
            "nc1_recorded": {"steps": [int(s) for s in self.collapse_series()[0]],
                             **{n: [float(x) for x in self.collapse_series()[1][:, i]] for i, n in enumerate(g.names)}},
            "nc1_history": {"steps": list(self._nc_steps),
                            **{n: [float(row[i]) for row in self._nc_values] for i, n in enumerate(g.names)}},
            "train_error_zero_step": self._zero_error_step(),
            "cka": g.cka.tolist(),
            "cka_to_start": g.cka_to_start.tolist(),
            "problems": g.problems,
        })
        out.update(self.probes_page.data())
        out["labels"] = np.asarray(g.labels)
        for n in g.names:
            out[f"projection_{n}"] = g.projections[n]
            out[f"spectrum_{n}"] = np.asarray(g.spectra[n], dtype=np.float32)
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        """Train in chunks, measuring at checkpoints (for the NC1 curve), then fit the probes."""
        self.set_active(True)
        opts = ctx.options
        if ctx.quick and "points" not in opts:
            self.points_combo.setCurrentIndex(0)
        checkpoints = int(opts.get("checkpoints", 6 if ctx.quick else 20))
        self.compute_now()
        self._apply_wanted_layer()  # a wrong layer name is reported before any training
        done = 0
        for i in range(1, checkpoints + 1):
            target = int(round(ctx.steps * i / checkpoints))
            if target > done:
                ctx.lab.train_sync(target - done)
                done = target
                self.compute_now()
            if self.lab.experiment.diverged:
                break
        self._apply_wanted_layer()
        if opts.get("probes", True):
            self.fit_probes()
        if "view" in opts:
            self.show_view(opts["view"])
        self._grab_ready()

    def _grab_ready(self) -> None:
        """Draw and lay out every analysis page once, so that hidden pages render at their real size."""
        current = self.analysis.currentIndex()
        for i in range(self.analysis.count()):
            self.analysis.setCurrentIndex(i)
            self._draw_page(i)
            QtWidgets.QApplication.processEvents()
        self.analysis.setCurrentIndex(current)
        QtWidgets.QApplication.processEvents()


__all__ = ["RepresentationsPanel", "RangeFollower", "depth_colors"]  # re-exported from the pages


def _first_layer_shown(names: list[str]) -> str:
    """The last hidden layer (input, hidden…, logits), where training's work is most visible."""
    return names[-2] if len(names) >= 3 else names[-1]
