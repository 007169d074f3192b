"""The Representations tab: what every layer makes of the inputs, live while the network trains.

Left: the PCA scatter of one layer's features, coloured by class, with the explained variance
of its principal axes; below it, a strip of small scatters of every layer, input → output.
Right: linear probes by depth, intrinsic dimension by depth, neural collapse (NC1) over
training, and layer-to-layer CKA.

All measurements run in jobs on independent copies of the network (θ from the newest frame);
the GUI thread only draws what they yield.
"""

from __future__ import annotations

import copy
import functools
import html
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.history import COLLAPSE_POINTS
from engine.representations import (
    GeometryFrame,
    ProbeResult,
    RepresentationWatcher,
    components_for_variance,
    fixed_subset,
    probe_layers,
)

from .. import plots
from ..jobs import PanelJobs, weak
from ..style import manager
from .base import HeadlessContext, Panel

VIEWS = ("probes", "dimension", "collapse", "cka")
VIEW_TITLES = ("Probes", "Dimension", "Collapse", "CKA")
VIEW_TIPS = ("Linear probes: how linearly separable the classes are at each depth",
             "Intrinsic dimension of each layer: PCA count and TwoNN",
             "Neural collapse: NC1 of each layer over training",
             "Layer similarity: linear CKA between layers, and from the start of training")
POINT_CHOICES = (200, 400, 800, 1500)
LIVE_INTERVAL = 0.2  # seconds between live geometry updates (each one a job on a model copy)
PROBE_TRAIN, PROBE_TEST = 1500, 1000  # samples the probes train and score on (at most)
SCREE_AXES = 10


def depth_colors(n: int) -> list[str]:
    """One colour per layer, light (input) to dark (output), readable on white and dark."""
    cmap = pg.colormap.get("viridis")
    return [cmap.map(0.88 - 0.8 * i / max(n - 1, 1), mode="qcolor").name() for i in range(n)]


def _class_tip(name: str, x: float, y: float, data) -> str:
    return f"class {name}\n({x:.3g}, {y:.3g})"


PROBE_NOTE = "Press Fit probes, or train: probes are fitted when training stops"

class ClassScatter:
    """Points coloured by class, one scatter item per class.

    With one brush per item a live update only moves points; per-point brushes would cost
    more than the drawing itself. `points()` gives the last positions in the subset's order.
    """

    def __init__(self, plot: pg.PlotItem, size: float, outline: bool = True, hover: bool = False):
        self.plot, self.size, self.outline, self.hover = plot, size, outline, hover
        self.items: list[pg.ScatterPlotItem] = []
        self.index: list[np.ndarray] = []
        self.x = self.y = np.zeros(0)

    def set_classes(self, labels: np.ndarray, class_names: list[str]) -> None:
        for item in self.items:
            self.plot.removeItem(item)
        n = len(class_names)
        cols = plots.class_colors(n).astype(int)
        pen = pg.mkPen(255, 255, 255, 160, width=0.8) if self.outline else pg.mkPen(None)
        self.items = []
        for c in range(n):
            extra = dict(hoverable=True, hoverSize=self.size + 4, tip=functools.partial(_class_tip, class_names[c])) \
                if self.hover else {}
            item = pg.ScatterPlotItem(size=self.size, pen=pen, brush=pg.mkBrush(*cols[c]), **extra)
            self.plot.addItem(item)
            self.items.append(item)
        self.index = [np.flatnonzero(labels == c) for c in range(n)]
        self.x = self.y = np.zeros(0)

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y
        ok = np.isfinite(x) & np.isfinite(y)
        for item, idx in zip(self.items, self.index):
            idx = idx[ok[idx]]
            item.setData(x[idx], y[idx])

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x, self.y

    def count(self) -> int:
        return sum(len(item.data) for item in self.items)


class PlainLogAxis(pg.AxisItem):
    """Log-scale ticks written as plain numbers (0.1, 1, 20), easier to read from the back row."""

    def logTickStrings(self, values, scale, spacing):
        out = []
        for v in 10 ** np.asarray(values, dtype=float) * scale:
            lead = v / 10 ** np.floor(np.log10(v)) if v > 0 else 0.0
            out.append(f"{v:g}" if round(lead, 6) in (1.0, 2.0, 5.0) else "")  # 1 2 5 10 20 50 …
        return out


def log_axis(plot: pg.PlotItem, side: str = "left") -> None:
    label = plot.getAxis(side).labelText
    plot.setAxisItems({side: PlainLogAxis(orientation=side)})
    plot.getAxis(side).enableAutoSIPrefix(False)
    plot.setLabel(side, label)
    manager().register_plot(plot)


def legend_outside(view: pg.GraphicsLayoutWidget, plot: pg.PlotItem, row: int, col: int,
                   columns: int) -> pg.LegendItem:
    """A legend in its own row of the layout, so it never hides data."""
    legend = pg.LegendItem(colCount=columns, frame=False)
    view.addItem(legend, row=row, col=col)
    plot.legend = legend
    manager().register_plot(plot)
    return legend


class RangeFollower:
    """Keeps a scatter's view steady: grows at once when points leave it, shrinks only when the
    points fill less than `shrink_below` of it, so a live cloud does not jitter."""

    def __init__(self, pad: float = 0.08, shrink_below: float = 0.45):
        self.pad = pad
        self.shrink_below = shrink_below
        self.range: list[tuple[float, float]] | None = None

    def reset(self) -> None:
        self.range = None

    def update(self, x: np.ndarray, y: np.ndarray) -> bool:
        """True when the range changed."""
        out, changed = [], self.range is None
        for axis, v in enumerate((x, y)):
            v = v[np.isfinite(v)]
            if v.size == 0:
                return False
            lo, hi = float(v.min()), float(v.max())
            span = max(hi - lo, 1e-6 * max(abs(lo), abs(hi), 1.0))
            want = (lo - self.pad * span, hi + self.pad * span)
            if self.range is None:
                out.append(want)
                continue
            cur = self.range[axis]
            if want[0] < cur[0] or want[1] > cur[1] or span < self.shrink_below * (cur[1] - cur[0]):
                out.append(want)
                changed = True
            else:
                out.append(cur)
        self.range = out
        return changed


class RepresentationsPanel(Panel):
    slug = "representations"
    title = "Representations"
    topic = "Representations"

    geometry_shown = QtCore.Signal(object)  # each GeometryFrame, after it is drawn

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.pages: list[QtWidgets.QWidget] = []  # the analysis pages, in VIEWS order
        self._build_controls()
        self._build_main()
        self._build_strip()
        self._build_probes_page()
        self._build_dimension_page()
        self._build_collapse_page()
        self._build_cka_page()

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
        self.jobs = PanelJobs(self)
        self._latest: tuple[np.ndarray, int] | None = None  # newest θ and its step
        self._last_start = 0.0
        self._draw_cost = 0.0
        self._kick_timer = QtCore.QTimer(self)
        self._kick_timer.setSingleShot(True)
        self._kick_timer.timeout.connect(self._schedule)
        self._layer_names: list[str] = []
        self._nc_steps: list[int] = []
        self._nc_values: list[np.ndarray] = []
        self._probe_template = None  # a copy of the network, copied again for each fit
        self._probe_again = False
        self._probe_results: list[ProbeResult] = []
        self._probe_step: int | None = None
        self._probe_data: tuple | None = None
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

    def _build_main(self) -> None:
        self.main_view = plots.make_view()
        self.scatter_plot = plots.add_plot(self.main_view, "PCA of a layer", "axis 1", "axis 2", row=0, col=0)
        self.scatter_plot.setAspectLocked(True)
        # The class key is a wrapped line of text under the plot: it never covers points and
        # reflows for 2 or 17 classes and at any font size.
        self.class_key = QtWidgets.QLabel("")
        self.class_key.setWordWrap(True)
        self.class_key.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.main_box = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(self.main_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.main_view, 1)
        box.addWidget(self.class_key)
        self.main_view.setToolTip("Each layer's features projected on two principal axes; the axis labels give "
                                  "the share of the layer's variance along each. Hover a point for its class.")
        self.scatter = ClassScatter(self.scatter_plot, size=7, hover=True)
        self.scree_plot = plots.add_plot(self.main_view, "", "principal axis", "variance", row=1, col=0)
        self.scree_bars = pg.BarGraphItem(x=[0], height=[0], width=0.7, brush=manager().color(0),
                                          pen=pg.mkPen(None))
        self.scree_plot.addItem(self.scree_bars)
        self.scree_cum = plots.curve(self.scree_plot, 1, None, width=1.5, symbol="o", symbolSize=5)
        self.scree_plot.setYRange(0, 1.02)
        self.scree_plot.setMouseEnabled(x=False, y=False)
        self.main_view.ci.layout.setRowStretchFactor(0, 3)
        self.main_view.ci.layout.setRowStretchFactor(1, 1)
        self._follow = RangeFollower()

    def _build_strip(self) -> None:
        self.strip_view = plots.make_view()
        self.strip_view.setMinimumHeight(110)
        self.strip_plots: list[tuple[pg.PlotItem, ClassScatter, RangeFollower]] = []
        self.strip_view.scene().sigMouseClicked.connect(self._strip_clicked)
        self.strip_note = plots.caption("All layers, input → output (click one to show it above)")
        self.strip_box = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(self.strip_box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.strip_note)
        lay.addWidget(self.strip_view, 1)

    def _page(self, *widgets) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        lay.setContentsMargins(2, 4, 2, 2)
        for w in widgets:
            if isinstance(w, QtWidgets.QLayout):
                lay.addLayout(w)
            else:
                lay.addWidget(w, 1 if isinstance(w, pg.GraphicsView) else 0)
        self.pages.append(page)
        return page

    def _build_probes_page(self) -> None:
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
        self._page(row, self.probe_view, self.probe_caption)
        self.fit_button.clicked.connect(self.fit_probes)
        self.probe_cancel.clicked.connect(self._cancel_probes)

    def _build_dimension_page(self) -> None:
        self.variance_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.variance_slider.setRange(50, 99)
        self.variance_slider.setValue(95)
        self.variance_slider.setToolTip("Variance threshold of the PCA count")
        self.variance_label = QtWidgets.QLabel("")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("PCA count for"))
        row.addWidget(self.variance_slider, 1)
        row.addWidget(self.variance_label)
        self.id_view = plots.make_view()
        self.id_plot = plots.add_plot(self.id_view, "Intrinsic dimension by depth", "layer (input → output)",
                                      "dimension (log scale)", row=0, col=0)
        log_axis(self.id_plot)
        legend_outside(self.id_view, self.id_plot, row=1, col=0, columns=3)
        self.id_ambient = plots.curve(self.id_plot, "plot_fg", "layer width (ambient)", width=1.5, dashed=True,
                                      symbol="t", symbolSize=8)
        self.id_pca = plots.curve(self.id_plot, 0, "PCA count", symbol="o", symbolSize=9)
        self.id_twonn = plots.curve(self.id_plot, 1, "TwoNN", symbol="s", symbolSize=9)
        self.id_plot.setLogMode(y=True)
        self.id_plot.setMouseEnabled(x=False, y=False)
        plots.note(self.id_plot, "Computing the intrinsic dimension of each layer…")
        self.id_caption = plots.caption(
            "PCA count: principal axes needed for the chosen share of variance. TwoNN: from the ratio of "
            "each point's second- to first-nearest-neighbour distance (Facco et al. 2017).")
        self._page(row, self.id_view, self.id_caption)
        self.variance_slider.valueChanged.connect(self._variance_changed)
        self._variance_changed()

    def _build_collapse_page(self) -> None:
        self.nc_view = plots.make_view()
        self.nc_plot = plots.add_plot(self.nc_view, "Neural collapse: NC1 over training", "step",
                                      "NC1 = Tr(Σ_W Σ_B⁺)/C  (log)", row=0, col=0)
        log_axis(self.nc_plot)
        self.nc_plot.setLogMode(y=True)
        self.nc_legend = legend_outside(self.nc_view, self.nc_plot, row=1, col=0, columns=6)
        self.nc_curves: list[pg.PlotDataItem] = []
        self.zero_line: pg.PlotDataItem | None = None  # a vertical mark where training error first hit 0
        plots.note(self.nc_plot, "Press Play (Space) to train: NC1 is recorded at each step while this tab is open")
        self.nc_caption = plots.caption(
            "Spread within classes measured against the spread of the class means, per layer, on the "
            f"followed training points: recorded from step 0 whichever tab is open (on {COLLAPSE_POINTS} points), "
            "and at every update while this tab is open. Red dashes: training error first 0.")
        self._page(self.nc_view, self.nc_caption)

    def _build_cka_page(self) -> None:
        self.cka_view = plots.make_view()
        # A short title: on a 1280-pixel projector the page is narrow, and a title's width is
        # the plot's least width (a longer one pushed the colour bar out of sight).
        self.cka_map = plots.ImagePlot(self.cka_view, "CKA between layers", "", "", cmap="viridis",
                                       bar_label="CKA", row=0, col=0)
        self.cka_map.plot.invertY(True)
        self.cka_map.plot.setMouseEnabled(x=False, y=False)
        self.cka_start_view = plots.make_view()
        self.cka_start_plot = plots.add_plot(self.cka_start_view, "CKA(θ₀, now)", "layer", "", row=0, col=0)
        self.cka_start_bars = pg.BarGraphItem(x=[0], height=[0], width=0.6, brush=manager().color(2),
                                              pen=pg.mkPen(None))
        self.cka_start_bars.setOpts(x=[], height=[])
        self.cka_start_plot.addItem(self.cka_start_bars)
        self.cka_start_plot.setYRange(0, 1.05)
        self.cka_start_plot.setMouseEnabled(x=False, y=False)
        plots.note(self.cka_map.plot, "Computing the CKA of every pair of layers…")
        plots.note(self.cka_start_plot, "Computing how far each layer has moved from θ₀…")
        row = plots.SideBySide([self.cka_view, self.cka_start_view], [2, 1])
        self._cka_texts: list[pg.TextItem] = []
        self.cka_caption = plots.caption(
            "CKA is 1 for representations that differ only by a rotation and scale, near 0 for unrelated "
            "ones (Kornblith et al. 2019). Beside or below it: how far each layer has moved from its start.")
        self._page(row, self.cka_caption)
        self.pages[-1].layout().setStretch(0, 1)

    # -- run lifecycle ----------------------------------------------------------------------
    def on_rebuilt(self) -> None:
        self._stop_probe_job()
        exp = self.lab.experiment
        ds = exp.dataset
        self._probe_template = exp.model_copy()
        itr = fixed_subset(ds.y_train, PROBE_TRAIN, seed=1)
        ite = fixed_subset(ds.y_test, PROBE_TEST, seed=2)
        self._probe_data = (ds.X_train[itr], ds.y_train[itr], ds.X_test[ite], ds.y_test[ite])
        yte = ds.y_test[ite].numpy()
        self._chance = float(np.bincount(yte).max() / len(yte)) if len(yte) else 1.0 / ds.n_classes
        self._layer_names = []
        self._make_subset()
        self._class_legend(ds)

    def _make_subset(self) -> None:
        ds = self.lab.experiment.dataset
        idx = fixed_subset(ds.y_train, self._points, seed=0)
        self._subset_X = ds.X_train[idx]
        self._labels = ds.y_train[idx].numpy()
        for scatter in [self.scatter] + [s for _, s, _ in self.strip_plots]:
            scatter.set_classes(self._labels, ds.class_names)

    def _class_legend(self, ds) -> None:
        cols = plots.class_colors(ds.n_classes).astype(int)
        parts = [f'<span style="color:#{r:02x}{g:02x}{b:02x}; font-size:large">●</span>&nbsp;{html.escape(name)}'
                 for (r, g, b), name in zip(cols, ds.class_names)]
        self.class_key.setText("classes: " + " &nbsp; ".join(parts))

    def on_reset(self) -> None:
        """A new run (or the same θ₀ again): new copies, alignment and histories start over."""
        self._new_watcher()
        self._clear_probes()
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
        self._follow.reset()
        for _, _, f in self.strip_plots:
            f.reset()

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
                and any(p.name == "nc1" for f in frames for p in f.history)):
            self._draw_collapse()  # new points of the run's history
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
            self._set_layers(g)
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
        self._follow.reset()

        self.strip_view.clear()
        self.strip_plots = []
        for i, lay in enumerate(g.layers):
            p = plots.add_plot(self.strip_view, f"{lay.name} · {lay.dim:,}", row=0, col=i)
            p.hideAxis("left")
            p.hideAxis("bottom")
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            s = ClassScatter(p, size=3.5, outline=False)
            s.set_classes(self._labels, self.lab.experiment.dataset.class_names)
            self.strip_plots.append((p, s, RangeFollower(pad=0.05)))
        self._mark_selected()

        ticks = [[(i, n) for i, n in enumerate(g.names)]]
        for plot in (self.probe_plot, self.id_plot, self.cka_start_plot):
            plot.getAxis("bottom").setTicks(ticks)
            plot.setXRange(-0.6, len(g.names) - 0.4, padding=0)
        self.cka_map.plot.getAxis("bottom").setTicks(ticks)
        self.cka_map.plot.getAxis("left").setTicks(ticks)
        self._cka_size = len(g.names)

        for c in self.nc_curves:
            self.nc_plot.removeItem(c)
        self.nc_plot.legend.clear()
        self.nc_legend.setColumnCount(min(len(g.names), 6))
        colors = depth_colors(len(g.names))
        self.nc_curves = [plots.curve(self.nc_plot, colors[i], n, width=2.0) for i, n in enumerate(g.names)]
        if self.zero_line is not None:
            self.nc_plot.removeItem(self.zero_line)
        self.zero_line = plots.curve(self.nc_plot, "error", None, width=1.5, dashed=True)

        for t in self._cka_texts:
            self.cka_map.plot.removeItem(t)
        self._cka_texts = []
        if len(g.names) <= 9:
            for i in range(len(g.names)):
                for j in range(len(g.names)):
                    t = pg.TextItem("", anchor=(0.5, 0.5))
                    t.setPos(j, i)
                    self.cka_map.plot.addItem(t)
                    manager().register_text(t, 0.85)
                    self._cka_texts.append(t)

    def selected_layer(self) -> str | None:
        return self.layer_combo.currentData()

    def _mark_selected(self) -> None:
        name = self.selected_layer()
        for (p, _s, _f), n in zip(self.strip_plots, self._layer_names):
            p.getViewBox().setBorder(manager().pen("accent", 2.0) if n == name else None)

    def _draw_scatter(self) -> None:
        g, name = self._geometry, self.selected_layer()
        if g is None or name not in g.projections:
            return
        P = g.projections[name]
        x, y = P[:, 0], P[:, 1]
        self.scatter.set_points(x, y)
        if self._follow.update(x, y):
            (x0, x1), (y0, y1) = self._follow.range
            self.scatter_plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        ev = g.axis_explained[name]
        lay = g.layers[g.names.index(name)]
        self.scatter_plot.setTitle(f"{name} · {lay.dim:,} features · step {g.step:,}",
                                   color=manager().style.colors.plot_fg,
                                   size=f"{manager().style.point_size * 1.15:.1f}pt", bold=True)
        self.scatter_plot._lab_title = self.scatter_plot.titleLabel.text
        self.scatter_plot.setLabel("bottom", f"axis 1 · {100 * ev[0]:.0f}% of variance")
        self.scatter_plot.setLabel("left", f"axis 2 · {100 * ev[1]:.0f}%")
        spec = g.spectra[name][:SCREE_AXES]
        xs = np.arange(1, len(spec) + 1)
        self.scree_bars.setOpts(x=xs, height=spec, width=0.7)
        self.scree_cum.setData(xs, np.cumsum(spec))
        self.scree_plot.setXRange(0.4, SCREE_AXES + 0.6, padding=0)
        self.summary.setText(
            f"step {g.step:,} · {len(g.labels):,} training points · {name}: {lay.description}, "
            f"{lay.dim:,} features · TwoNN {g.twonn[name]:.1f}")

    def _draw_strip(self) -> None:
        g = self._geometry
        for (p, s, follow), name in zip(self.strip_plots, self._layer_names):
            P = g.projections.get(name)
            if P is None:
                continue
            s.set_points(P[:, 0], P[:, 1])
            if follow.update(P[:, 0], P[:, 1]):
                (x0, x1), (y0, y1) = follow.range
                p.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def _draw_dimension(self) -> None:
        g = self._geometry
        if g is None:
            return
        v = self.variance_slider.value() / 100
        xs = np.arange(len(g.names))
        dims = np.array([lay.dim for lay in g.layers], dtype=float)
        counts = np.array([max(components_for_variance(g.spectra[n], v), 0) for n in g.names], dtype=float)
        twonn = np.array([g.twonn[n] for n in g.names], dtype=float)
        self.id_ambient.setData(xs, dims)
        ok = counts > 0
        self.id_pca.setData(xs[ok], counts[ok])
        ok = np.isfinite(twonn) & (twonn > 0)
        self.id_twonn.setData(xs[ok], twonn[ok])
        finite = np.concatenate([dims, counts[counts > 0], twonn[np.isfinite(twonn) & (twonn > 0)]])
        self.id_plot.setYRange(np.log10(max(finite.min(), 0.5)) - 0.15, np.log10(finite.max()) + 0.2, padding=0)

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
        steps, vals = self.collapse_series()
        if not len(steps):
            for c in self.nc_curves:
                c.setData([], [])
            return
        for i, c in enumerate(self.nc_curves):
            col = vals[:, i] if i < vals.shape[1] else np.full(len(steps), np.nan)
            ok = np.isfinite(col) & (col > 0)
            c.setData(steps[ok], col[ok])
        zero = self._zero_error_step()
        shown = vals[np.isfinite(vals) & (vals > 0)]
        if zero is not None and shown.size:
            self.zero_line.setData([zero, zero], [shown.min(), shown.max()])
        else:
            self.zero_line.setData([], [])

    def _zero_error_step(self) -> int | None:
        h = self.lab.history
        for s, a in zip(h.eval_steps, h.train_acc):
            if a >= 1.0:
                return int(s)
        return None

    def _draw_cka(self) -> None:
        g = self._geometry
        L = len(g.names)
        M = np.nan_to_num(g.cka, nan=0.0)
        self.cka_map.set_image(M, (0.0, float(L - 1), 0.0, float(L - 1)), levels=(0.0, 1.0))
        self.cka_map.plot.setRange(xRange=(-0.5, L - 0.5), yRange=(-0.5, L - 0.5), padding=0)
        for t, v in zip(self._cka_texts, g.cka.ravel()):
            text = "–" if not np.isfinite(v) else f"{v:.2f}"
            if text != t.toPlainText():  # re-laying out rich text is the slow part: only on change
                t.setText(text)
                t.setColor((255, 255, 255) if (np.isfinite(v) and v < 0.6) else (20, 20, 20))
        s = g.cka_to_start
        ok = np.isfinite(s)
        self.cka_start_bars.setOpts(x=np.arange(L)[ok], height=s[ok], width=0.6)

    # -- probes -------------------------------------------------------------------------------
    def fit_probes(self) -> None:
        """Fit a probe on every layer at the newest weights (a job; progress and Cancel shown)."""
        f = self.lab.last_frame
        if self._probe_template is None or self._probe_data is None:
            return
        if f is None or f.theta is None:
            self.probe_status.setText("No finite weights to probe: reset the run first.")
            return
        if self.jobs.running("probes"):
            self._probe_again = True
            return
        # Each fit writes θ into its own copy: a stopped fit may still be finishing a layer.
        model = copy.deepcopy(self._probe_template)
        (Xtr, ytr, Xte, yte), theta, step = self._probe_data, f.theta, f.step
        self._probe_pending: list[ProbeResult] = []
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
        self._probe_pending.extend(results)
        last = results[-1]
        self.probe_progress.setRange(0, last.n_layers)
        self.probe_progress.setValue(last.index + 1)
        self.probe_progress.setFormat(f"probe {last.index + 1}/{last.n_layers}: {last.layer}")
        self.probe_note.set_text(PROBE_NOTE)
        self._probe_results = list(self._probe_pending)
        self._probe_step = step
        self._draw_probes()

    def _probe_finished(self, step: int, sizes: tuple[int, int], error: str) -> None:
        self.probe_note.set_text(PROBE_NOTE)
        self.fit_button.setEnabled(True)
        self.probe_progress.hide()
        self.probe_cancel.hide()
        if error:
            self.probe_status.setText(f"Probes failed: {error}")
        elif self._probe_results and self._probe_step == step:
            n = len(self._probe_results)
            full = n == self._probe_results[-1].n_layers
            self.probe_status.setText(f"fitted at step {step:,} on {sizes[0]:,} train / {sizes[1]:,} test inputs"
                                      + ("" if full else f" (cancelled after {n} layers)"))
        if self._probe_again:
            self._probe_again = False
            self.fit_probes()

    def _cancel_probes(self) -> None:
        if self.jobs.running("probes"):
            self._probe_again = False
            self.jobs.stop("probes")
            self.probe_progress.setFormat("stopping after this layer…")

    def _stop_probe_job(self) -> None:
        if self.jobs.running("probes"):
            self._probe_again = False
            self.jobs.cancel("probes", forget=True)  # a new fit may start while this one stops
            self.fit_button.setEnabled(True)
            self.probe_progress.hide()
            self.probe_cancel.hide()

    def _clear_probes(self) -> None:
        self._stop_probe_job()
        self._probe_results = []
        self._probe_step = None
        self._draw_probes()
        self.probe_status.setText("Press Fit probes, or train: probes are fitted when training stops.")

    def _maybe_fit_probes(self) -> None:
        """At the end of training (and when the tab opens on a trained network): refresh stale probes."""
        f = self.lab.last_frame
        if (self.active and not self.lab.running and self.lab.state == "idle" and f is not None
                and f.theta is not None and f.step > 0 and f.step != self._probe_step
                and not self.jobs.running("probes")):
            self.fit_probes()

    def _state_changed(self, state: str) -> None:
        if state == "idle":
            self._maybe_fit_probes()

    def _draw_probes(self) -> None:
        res = self._probe_results
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
        n = max(len(self._layer_names), int(idx.max()) + 1)
        self.chance_line.setData([-0.6, n - 0.4], [self._chance, self._chance])
        for i, a in zip(idx[ok], te[ok]):
            inside = a > 0.3  # the label sits inside tall bars, so it is never clipped at the top
            t = pg.TextItem(f"{100 * a:.0f}%", anchor=(0.5, 0.0 if inside else 1.0))
            t.setPos(i + 0.19, a - 0.01 if inside else a + 0.005)
            self.probe_plot.addItem(t)
            manager().register_text(t, 0.85)
            if inside:
                t.setColor((255, 255, 255))
            self._probe_labels.append(t)

    # -- controls ------------------------------------------------------------------------------
    def _layer_changed(self) -> None:
        self._follow.reset()
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

    def _variance_changed(self) -> None:
        v = self.variance_slider.value()
        self.variance_label.setText(f"{v}% of variance")
        for _sample, label in self.id_plot.legend.items:
            if label.text.startswith("PCA count"):
                label.setText(f"PCA count ({v}%)")
        if getattr(self, "_geometry", None) is not None:
            self._draw_dimension()

    def _strip_clicked(self, ev) -> None:
        pos = ev.scenePos()
        for (p, _s, _f), name in zip(self.strip_plots, self._layer_names):
            if p.sceneBoundingRect().contains(pos):
                self.layer_combo.setCurrentIndex(self._layer_names.index(name))
                return

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
        m = manager()
        self.scree_bars.setOpts(brush=m.color(0))
        self.probe_train_bars.setOpts(brush=m.color(0))
        self.probe_test_bars.setOpts(brush=m.color(1))
        self.cka_start_bars.setOpts(brush=m.color(2))
        for item, key in ((self.id_pca, 0), (self.id_twonn, 1), (self.id_ambient, "plot_fg"),
                          (self.scree_cum, 1)):
            item.setSymbolBrush(m.color(key))
            item.setSymbolPen(m.color(key))
        self._mark_selected()
        self._draw_probes()

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
                "points": int(self.points_combo.currentData()), "variance": self.variance_slider.value() / 100}

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
        v = self.variance_slider.value() / 100
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
        if self._probe_results:
            out["probes"] = {"step": self._probe_step, "chance": self._chance,
                             "layers": [r.layer for r in self._probe_results],
                             "train_acc": [r.train_acc for r in self._probe_results],
                             "test_acc": [r.test_acc for r in self._probe_results]}
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


__all__ = ["RepresentationsPanel", "RangeFollower", "depth_colors"]


def _first_layer_shown(names: list[str]) -> str:
    """The last hidden layer (input, hidden…, logits), where training's work is most visible."""
    return names[-2] if len(names) >= 3 else names[-1]
