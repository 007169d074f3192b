"""The Landscape tab: the loss surface around θ, live, with the training path drawn on it.

Two live modes. "Around θ": every refresh re-centres the plane on the newest θ and recomputes
the surface (newest θ wins: frames that arrive while a surface is computed are skipped).
"Fixed plane": the plane and its surface stay; the path is projected onto it as it grows.
Every computation runs as one of the tab's jobs (gui/jobs.py) on a copy of the network and on θ snapshots.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.device import intra_op_threads
from engine.landscape import (
    AXIS_LABELS,
    NORMS,
    Contours,
    LandscapeData,
    LandscapeEvent,
    LandscapeSettings,
    LineProfiles,
    PathProjection,
    PathRecorder,
    Plane,
    SamplesUsed,
    SurfaceGrid,
    grid_contours,
    hessian_available,
    landscape_events,
)
from engine.live import Frame
from engine.sweep import SavedSurface, saved_surface

from .. import plots
from ..jobs import PanelJobs, weak
from ..panel_tools import ProgressBar, RowFlow, fields_box, legend_under
from ..style import manager
from ..surface3d import Surface3D, opengl_problem
from .base import HeadlessContext, Panel

RESOLUTIONS = (21, 41, 61, 81, 101)
MIN_INTERVAL = 0.2  # s between live surface refreshes (≤ 5 per second leaves CPU for training)
PATH_INTERVAL = 0.1  # s between path-only refreshes in fixed-plane mode
BIG_MODEL = 50_000  # parameters above which the tab evaluates on a subset by default
BIG_SAMPLES = 128
FAR_OFF_PLANE = 0.5  # warn when less than this share of the path lies in the plane
AXIS_SHORT = {"filter": "Random, filter-norm.", "layer": "Random, layer-norm.", "none": "Random unit",
              "pca": "PCA of the path", "hessian": "Hessian top-2"}
PROGRESS_AFTER = 0.4  # s: show the progress bar only for computations longer than this


def opened_caption(name: str, info: dict, grid: SurfaceGrid) -> str:
    """What a surface from a file is: its grid, plane, network and how it was computed."""
    text = f"Opened {name}: {len(grid.alphas)}×{len(grid.betas)} points"
    if info.get("plane"):
        text += f" on a plane of {info['plane']}"
    exp = info.get("experiment") or {}
    if exp:
        text += f"; {exp.get('dataset', '?')} after {info.get('steps', '?')} training steps"
    if info.get("samples"):
        text += f", loss on {info['samples']:,} of {info.get('samples_total', info['samples']):,} training samples"
    if info.get("tiles"):
        where = (f"on {info.get('workers') or 'all'} Ray workers" if info.get("backend") == "ray"
                 else "in one process")
        text += f"; computed in {info['tiles']} tiles {where} in {info.get('seconds', 0):.1f} s"
    return text + ". Tick Live to return to the live surface."


class LandscapePanel(Panel):
    slug = "landscape"
    title = "Landscape"
    topic = "Loss landscape"

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self._fallback = False  # a random plane shown because there is no path yet for the PCA plane
        self._template = None  # the network's structure, copied per job (never the live model)
        self._latest: tuple[int, np.ndarray] | None = None  # newest (step, θ)
        self.jobs = PanelJobs(self)
        self._dirty = False
        self._need_plane = True
        self._need_surface = True
        self._plane: Plane | None = None
        self._span: float | None = None
        self._job_span: float | None = None
        self._job_started = 0.0
        self._last_start = -1e9
        self._shown: dict[str, Any] = {}
        self._grid: SurfaceGrid | None = None
        self._contours: Contours | None = None
        self._lines = None
        self._projection: PathProjection | None = None
        self._pinned = None
        self._error = ""
        self._samples_used: tuple[int, int] | None = None
        self._sync_go = False
        self._pin_at: int | None = None
        self.surfaces_done = 0
        self._roughness: tuple[SurfaceGrid, float] | None = None  # of the grid it was measured on
        self._opened: tuple[str, dict] | None = None  # (file name, its JSON) of a surface from a file
        self._surface_times: deque[float] = deque(maxlen=12)
        self._build()

    # -- widgets ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.axes = QtWidgets.QComboBox()
        for key, label in AXIS_SHORT.items():
            self.axes.addItem(label, key)
            self.axes.setItemData(self.axes.count() - 1, AXIS_LABELS[key], QtCore.Qt.ItemDataRole.ToolTipRole)
        self.hessian_ok = hessian_available()
        if not self.hessian_ok:
            item = self.axes.model().item(self.axes.findData("hessian"))
            item.setEnabled(False)
            item.setToolTip("Needs the curvature module (engine.hessian), which is not installed.")
        self.axes.setToolTip("The two directions d₁, d₂ that span the plane")
        # The plane that holds the path: a random plane holds a sliver of it (see the caption).
        self.axes.setCurrentIndex(self.axes.findData("pca"))
        self.mode = QtWidgets.QComboBox()
        self.mode.addItem("Around θ", "around")
        self.mode.addItem("Fixed plane", "fixed")
        self.mode.setToolTip("Around θ: the surface follows the current weights.\n"
                             "Fixed plane: the plane stays where it was set; the path is drawn onto it.")
        self.recentre = QtWidgets.QPushButton("Refresh")
        self.span = QtWidgets.QDoubleSpinBox(decimals=2, minimum=0.0, maximum=50.0, singleStep=0.1)
        self.span.setSpecialValueText("fit path")
        self.span.setValue(0.0)  # fit the path: on the default PCA plane it is longer than ±1
        self.span.setPrefix("± ")
        self.span.setToolTip("Half-width of the grid in units of d₁, d₂ ('fit path': wide enough for the path, "
                             "rounded up to 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10ᵏ so that the axes stay "
                             "put while it grows)")
        self.resolution = QtWidgets.QComboBox()
        for r in RESOLUTIONS:
            self.resolution.addItem(f"{r}×{r}", r)
        self.resolution.setCurrentIndex(RESOLUTIONS.index(41))
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000)
        self.seed.setToolTip("Seed of the random directions")
        self.samples = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000, singleStep=64)
        self.samples.setSpecialValueText("all")
        self.samples.setToolTip("Evaluate the loss on this many training samples (a fixed subset); "
                                "fewer is faster for big networks")
        self.live = QtWidgets.QCheckBox("Live")
        self.live.setChecked(True)
        self.live.setToolTip("Refresh while training runs")
        self.log_scale = QtWidgets.QCheckBox("Log scale")
        self.log_scale.setChecked(True)
        self.view3d = QtWidgets.QCheckBox("3-D")
        self.gl_problem = opengl_problem()
        self.gl_note = QtWidgets.QLabel("3-D: no OpenGL" if self.gl_problem else "")
        self.gl_note.setToolTip(f"The 3-D view is off: {self.gl_problem}." if self.gl_problem else "")
        self.gl_note.setProperty("role", "caption")
        self.view3d.setVisible(self.gl_problem is None)
        self.gl_note.setVisible(self.gl_problem is not None)
        self.pin = QtWidgets.QPushButton("Pin profile")
        self.pin.setCheckable(True)
        self.pin.setToolTip("Keep the current profile along d₁ as a dashed grey reference (click again to drop it)")
        self.progress = ProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMaximumWidth(190)
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.cancel.setToolTip("Stop this computation (and live refreshing)")
        self.progress.hide()
        self.cancel.hide()
        self.open_file = QtWidgets.QPushButton("Open surface…")
        self.open_file.setToolTip("Show a surface saved by `saddle-lab sweep surface` (.npz with its .json)")


        # The controls flow onto more rows when the window is narrow or the text large.
        self.controls = QtWidgets.QWidget()
        flow = RowFlow(self.controls)
        flow.setContentsMargins(0, 0, 0, 0)
        for w in (fields_box("Axes", self.axes), fields_box("Mode", self.mode), self.recentre,
                  fields_box("Range", self.span), fields_box("Grid", self.resolution), fields_box("Seed", self.seed),
                  fields_box("Samples", self.samples), self.live, self.log_scale, self.view3d, self.gl_note,
                  self.pin, self.progress, self.cancel, self.open_file):
            flow.addWidget(w)

        # Left: the surface (2-D map; the 3-D mesh when asked for and possible).
        self.map_view = plots.make_view()
        self.map = plots.ImagePlot(self.map_view, "Loss surface", "α  (along d₁)", "β  (along d₂)",
                                   cmap="viridis", bar_label="log₁₀ train loss")
        self.map.bar.axis.enableAutoSIPrefix(False)  # a log-loss bar must read in plain numbers
        # Contour lines come computed from the worker; the GUI only draws the segments.
        self.contours = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((255, 255, 255, 140), width=1))
        self.map.plot.addItem(self.contours)
        self.path_shadow = pg.PlotDataItem(pen=pg.mkPen((0, 0, 0, 170), width=4.5))
        self.path_line = pg.PlotDataItem(pen=pg.mkPen((255, 255, 255, 235), width=2.2))
        self.path_dots = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(255, 255, 255, 200))
        self.start_marker = pg.ScatterPlotItem(size=12, symbol="o", pen=pg.mkPen("k", width=1.5),
                                               brush=pg.mkBrush(255, 255, 255))
        self.theta_marker = pg.ScatterPlotItem(size=20, symbol="star", pen=pg.mkPen("w", width=1.5),
                                               brush=pg.mkBrush(230, 30, 30))
        for item in (self.path_shadow, self.path_line, self.path_dots, self.start_marker, self.theta_marker):
            self.map.plot.addItem(item)
        self.left = QtWidgets.QStackedWidget()
        self.left.addWidget(self.map_view)
        self.surface3d: Surface3D | None = None

        # Right: 1-D profiles and the path's distance from the plane.
        self.side_view = plots.make_view()
        self.line_plot = plots.add_plot(self.side_view, "1-D profiles", "α  (or β)",
                                        "log₁₀ loss", row=0, col=0)
        legend_under(self.side_view, self.line_plot, row=1, columns=4)
        self.line_d1 = plots.curve(self.line_plot, 0, "d₁")
        self.line_d2 = plots.curve(self.line_plot, 1, "d₂")
        self.line_test = plots.curve(self.line_plot, 0, "test, d₁", width=1.6, dashed=True)
        self.pin_d1 = plots.curve(self.line_plot, "plot_fg", None, width=1.4, dashed=True)
        self.pin_d1.setOpacity(0.55)
        # (no label: an InfiniteLine and its label hold each other and outlive the window)
        self.alpha_line = plots.guide_line(self.line_plot, 0.0, angle=90, key="error")
        self.alpha_key = plots.curve(self.line_plot, "error", "θ now", width=1.5, dashed=True)  # legend only
        self.dist_plot = plots.add_plot(self.side_view, "Path vs plane", "step",
                                        "distance (θ-space)", row=2, col=0)
        legend_under(self.side_view, self.dist_plot, row=3)
        self.dist_in = plots.curve(self.dist_plot, 2, "in plane")
        self.dist_off = plots.curve(self.dist_plot, "error", "off plane")
        self.map_note = plots.note(self.map.plot, "Computing the loss surface…")
        self.line_note = plots.note(self.line_plot, "Computing the 1-D profiles…")
        plots.note(self.dist_plot, "Press Play (Space) to train: the path's distance from the plane appears here")

        self.caption = plots.caption("")
        self.caption.setMinimumHeight(3 * QtGui.QFontMetrics(self.caption.font()).height())
        self.banner = plots.caption("", role="banner")
        self.banner.hide()

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.left)
        split.addWidget(self.side_view)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.split = split
        self.figure_box = QtWidgets.QWidget()
        fig = QtWidgets.QVBoxLayout(self.figure_box)
        fig.setContentsMargins(0, 0, 0, 0)
        fig.addWidget(split, 1)
        fig.addWidget(self.caption)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls)
        layout.addWidget(self.banner)
        layout.addWidget(self.figure_box, 1)

        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._kick)
        self._progress_timer = QtCore.QTimer(self)
        self._progress_timer.setInterval(150)
        self._progress_timer.timeout.connect(self._show_progress_if_slow)

        self.axes.currentIndexChanged.connect(lambda _: self._changed("plane"))
        self.seed.valueChanged.connect(lambda _: self._changed("plane"))
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.span.valueChanged.connect(lambda _: self._changed("surface"))
        self.resolution.currentIndexChanged.connect(lambda _: self._changed("surface"))
        self.samples.valueChanged.connect(lambda _: self._changed("surface"))
        self.live.toggled.connect(lambda on: on and self._changed("surface"))
        self.log_scale.toggled.connect(self._log_toggled)
        self.view3d.toggled.connect(self._toggle_3d)
        self.recentre.clicked.connect(lambda: self._changed("plane"))
        self.pin.toggled.connect(lambda on: self._pin() if on else self._unpin())
        self.cancel.clicked.connect(self.cancel_computation)
        self.open_file.clicked.connect(self._ask_open_surface)
        self._mode_changed()

    # -- settings -----------------------------------------------------------------------------
    def settings(self) -> LandscapeSettings:
        n = self.samples.value()
        return LandscapeSettings(axes=self.axes.currentData(), span=self.span.value() or None,
                                 resolution=int(self.resolution.currentData()),
                                 seed=self.seed.value(), max_samples=n or None,
                                 log_scale=self.log_scale.isChecked())

    @property
    def fixed(self) -> bool:
        return self.mode.currentData() == "fixed"

    def _mode_changed(self, *_):
        self.recentre.setText("Re-centre here" if self.fixed else "Refresh")
        self.recentre.setToolTip("Set the plane again, centred at the current θ" if self.fixed
                                 else "Recompute the surface now")
        self._changed("plane")

    def _changed(self, what: str) -> None:
        """A setting changed: recompute what it touches, stopping a stale computation."""
        if what == "plane":
            self._need_plane = True
            self._plane = None
        self._need_surface = True
        self._error = ""
        self.jobs.cancel("surface")  # what the stopped job still delivers is stale
        self._request()

    # -- live ---------------------------------------------------------------------------------
    def on_rebuilt(self) -> None:
        exp = self.lab.experiment
        self._template = exp.model_copy()
        big = exp.n_params > BIG_MODEL
        for w in (self.samples, self.resolution):
            w.blockSignals(True)
        self.samples.setValue(BIG_SAMPLES if big else 0)
        self.resolution.setCurrentIndex(RESOLUTIONS.index(21 if big else 41))
        for w in (self.samples, self.resolution):
            w.blockSignals(False)

    @property
    def recorder(self) -> PathRecorder:
        """The run's path θ_t, recorded by the Lab from step 0 whichever tab is open."""
        return self.lab.path

    def on_reset(self) -> None:
        self.jobs.cancel("surface")
        self._latest = None
        self._plane = None
        self._projection = None
        self._need_plane = self._need_surface = True
        self.banner.hide()
        for item in (self.path_shadow, self.path_line):
            item.setData([], [])
        for item in (self.path_dots, self.start_marker):
            item.setData([], [])
        self.dist_in.setData([], [])
        self.dist_off.setData([], [])

    def on_frames(self, frames: list[Frame]) -> None:
        for f in frames:
            if f.theta is not None and not f.diverged:
                self._latest = (f.step, f.theta)
        if self._fallback and len(self.recorder) >= 3:
            self._need_plane = True  # a path at last: from the stand-in random plane to its PCA plane
        if frames[-1].diverged:
            self.banner.setText("Training diverged: the surface stays at the last finite weights.")
            self.banner.show()
            return
        if self.lab.sync:
            return  # headless: computed once at the end
        if self.active and (self.live.isChecked() or self._need_surface):
            if not self.fixed:
                self._need_surface = True
            self._request()

    def set_active(self, active: bool) -> None:
        # A surface under way finishes after the tab is left (the tab stays marked busy); the
        # next one starts when the tab is shown again (_kick waits for it).
        super().set_active(active)
        if active:
            self._request()

    def _request(self) -> None:
        self._dirty = True
        self._kick()

    def _kick(self) -> None:
        """Start the next computation if one is wanted, none runs, and the pace allows."""
        if not self._dirty or self._template is None:
            return
        if self.jobs.running("surface"):
            return  # newest θ wins: the next one starts when this one is done
        if not self.active or (self.lab.sync and not self._sync_go):
            return  # headless computes only when asked, after training
        latest = self._latest
        if latest is None and self.lab.last_frame is not None and self.lab.last_frame.theta is not None:
            latest = (self.lab.last_frame.step, self.lab.last_frame.theta)
        if latest is None:
            return
        surface = self._need_surface or self._need_plane or not self.fixed
        if not self.lab.sync:
            wait = (MIN_INTERVAL if surface else PATH_INTERVAL) - (time.perf_counter() - self._last_start)
            if wait > 0:
                if not self._timer.isActive():
                    self._timer.start(int(wait * 1000) + 1)
                return
        self._dirty = False
        self._start(latest, surface)

    def _start(self, latest: tuple[int, np.ndarray], surface: bool) -> None:
        settings = self.settings()
        problems = settings.problems()
        if problems:
            self._show_error("; ".join(problems.values()))
            return
        step, theta = latest
        keep_plane = self.fixed and not self._need_plane and self._plane is not None
        self._fallback = not keep_plane and settings.axes == "pca" and len(self.recorder) < 3
        if self._fallback:
            # No path to fit yet: a random filter-normalised plane stands in, and the caption says so.
            settings = replace(settings, axes="filter")
        plane = self._plane if keep_plane else None
        span = self._span if keep_plane and settings.span is None and not self._need_surface else None
        steps, path = self.recorder.snapshot()
        if not steps.size or steps[-1] != step:
            steps, path = np.append(steps, step), path + [theta]
        # Refreshing a picture that is on screen and fresh: skip the coarse levels (they would
        # not be drawn) and go straight to the full grid.
        same = self._shown.get("key") == self._picture_key(settings, self._span, self.fixed)
        settings.refine = not (same and self._fresh() and surface)
        model = copy.deepcopy(self._template)
        ds = self.lab.experiment.dataset
        loss = self.lab.experiment.config.train_config().loss

        threads = 1 if self.lab.running else None  # leave a core to the training thread

        def work():
            with intra_op_threads(threads):
                data = LandscapeData.from_split(model, ds.X_train, ds.y_train, ds.X_test, ds.y_test, loss,
                                                settings.max_samples)
                yield data.samples_used()
                yield from landscape_events(data, theta, settings, steps, path, plane=plane,
                                            surface=surface, span=span, step=step)

        self._need_plane = False
        self._need_surface = False
        self._last_start = self._job_started = time.perf_counter()
        self._job_settings = settings
        self._job_fixed = self.fixed
        if surface:
            self._progress_timer.start()
        self.jobs.start("surface", work, self._items, self._done, self._failed, on_exit=self._job_exited)

    def _items(self, items: list) -> None:
        grids = []
        for item in items:
            if isinstance(item, SamplesUsed):
                self._samples_used = (item.used, item.total)
                continue
            ev: LandscapeEvent = item
            if ev.roughness is not None:
                self._roughness = (ev.grid, ev.roughness)
            if ev.plane is not None:
                self._plane = ev.plane
                self._error = ""
            if ev.path is not None:
                self._draw_path(ev.path)
            if ev.span is not None:
                self._job_span = ev.span
            if ev.lines is not None and ev.grid is None and self._lines is ev.lines:
                self._draw_lines()  # the test profile, after the surface: same object, now filled in
            if ev.progress is not None:
                p = ev.progress
                self.progress.setMaximum(p.total)
                self.progress.setValue(p.done)
                self.progress.setFormat(f"{p.resolution[0]}×{p.resolution[1]}: %p %")
                self.progress.setToolTip(f"{p.done:,} of {p.total:,} grid points computed")
                self.map_note.set_text(f"Computing the loss surface, {p.resolution[0]}×{p.resolution[1]} points: "
                                       f"{100 * p.done // max(1, p.total)} %")
            if ev.grid is not None:
                grids.append((ev.grid, ev.contours, ev.lines))
        if grids:
            self._maybe_draw_grid(*grids[-1])

    def _maybe_draw_grid(self, grid: SurfaceGrid, contours: Contours | None, lines: LineProfiles) -> None:
        """Draw a finished level unless a finer picture of the same plane is fresh on screen
        (while refreshing live, coarse levels would make the picture flicker)."""
        key = self._picture_key(self._job_settings, self._job_span, self._job_fixed)
        shown = self._shown
        res = len(grid.alphas)
        if shown.get("key") == key and res < shown.get("res", 0) and self._fresh() and not grid.final:
            return
        self._grid = grid
        self._contours = contours
        self._lines = lines
        self._span = self._job_span
        self._shown = {"key": key, "res": res, "time": time.perf_counter()}
        if grid.final:
            self.surfaces_done += 1
            self._surface_times.append(time.perf_counter())
        self._redraw()

    @staticmethod
    def _picture_key(settings: LandscapeSettings, span: float | None, fixed: bool) -> tuple:
        return (settings.axes, settings.seed, span, fixed, settings.max_samples, settings.resolution)

    def _fresh(self) -> bool:
        return time.perf_counter() - self._shown.get("time", -1e9) < 1.0

    def _done(self) -> None:
        self._finish_progress()
        self._check_path_fits()
        self._update_caption()
        if self.live.isChecked() and self.lab.running and not self.fixed:
            self._dirty = True

    def _failed(self, text: str) -> None:
        self._finish_progress()
        # Try again at the next frame or settings change, not in a loop.
        self._need_plane = self._need_surface = True
        self._dirty = False
        self._show_error(text)

    def _job_exited(self, error: str | None) -> None:
        """After every surface job, also a stopped one: start the request that waited for it."""
        if error is not None:
            self._finish_progress()
        self._kick()

    def roughness(self) -> float | None:
        """The roughness (engine.landscape.roughness) of the surface on screen, once measured."""
        r = self._roughness
        return r[1] if r is not None and r[0] is self._grid else None

    # -- a surface from a file ----------------------------------------------------------------
    def _ask_open_surface(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open surface", "", "Surfaces (*.npz)")
        if path:
            self.open_surface(path)

    def open_surface(self, path: str) -> None:
        """Show a saved surface (a sweep's .npz + .json) instead of the live one; live refreshing
        stops so that it stays. Read and contoured in a job; a bad file gets its reason."""
        self.live.setChecked(False)
        self.jobs.cancel("surface")
        log = self.log_scale.isChecked()

        def read():
            yield saved_surface(path, log)

        self.jobs.start("open", read, weak(self._surface_opened, path), on_error=self._show_error)

    def _surface_opened(self, path: str, items: list) -> None:
        from pathlib import Path

        opened: SavedSurface = items[-1]
        info, grid, contours = opened.info, opened.grid, opened.contours
        self._roughness = (grid, opened.roughness)
        self._need_plane = self._need_surface = self._dirty = False
        self._plane = None
        self._projection = None
        for item in (self.path_shadow, self.path_line, self.path_dots, self.start_marker):
            item.setData([], [])
        self._grid, self._contours, self._span = grid, contours, float(np.abs(grid.alphas).max())
        self._lines = LineProfiles.from_grid(grid)
        self._opened = (Path(path).name, info)
        self._samples_used = None
        self._error = ""
        self._redraw()

    def _show_error(self, text: str) -> None:
        self._error = text
        self.lab.message.emit(f"Landscape: {text}", 8000)
        self._update_caption()

    def cancel_computation(self) -> None:
        """Stop the running computation; live refreshing stops with it."""
        self.jobs.stop("surface")
        self.live.setChecked(False)
        self._dirty = False
        self._finish_progress()
        self.lab.message.emit("Landscape: stopped (tick Live to refresh again)", 5000)

    def _show_progress_if_slow(self) -> None:
        if not self.jobs.running("surface"):
            self._finish_progress()
        elif time.perf_counter() - self._job_started > PROGRESS_AFTER:
            self.progress.show()
            self.cancel.show()

    def _finish_progress(self) -> None:
        self._progress_timer.stop()
        self.progress.hide()
        self.cancel.hide()

    def shutdown(self) -> None:
        self._timer.stop()
        self._progress_timer.stop()
        self._dirty = False
        self.jobs.stop_all(drop=False)

    def _check_path_fits(self) -> None:
        """Fixed plane, range 'fit path': widen the grid once the path walks off it."""
        p = self._projection
        if (self.fixed and self.span.value() == 0 and p is not None and self._span is not None
                and len(p.coords) and float(np.abs(p.coords).max()) > self._span):
            self._need_surface = True
            self._span = None
            self._dirty = True

    # -- drawing ------------------------------------------------------------------------------
    def _marker_xy(self) -> tuple[float, float]:
        p = self._projection
        if self._plane is not None and self._job_fixed and p is not None and len(p.coords):
            return float(p.coords[-1, 0]), float(p.coords[-1, 1])
        return 0.0, 0.0

    def _draw_path(self, p: PathProjection) -> None:
        self._projection = p
        x, y = p.coords[:, 0], p.coords[:, 1]
        self.path_shadow.setData(x, y)
        self.path_line.setData(x, y)
        self.path_dots.setData(x, y)
        self.start_marker.setData(x[:1], y[:1])
        mx, my = (x[-1], y[-1]) if self.fixed else (0.0, 0.0)
        self.theta_marker.setData([mx], [my])
        self.alpha_line.setValue(mx)
        self.dist_in.setData(p.steps, p.in_plane)
        self.dist_off.setData(p.steps, p.off_plane)
        self._update_caption()

    def _display(self, z: np.ndarray) -> np.ndarray:
        if self.log_scale.isChecked():
            return np.log10(np.clip(z, 1e-12, None))
        return z

    def _redraw(self) -> None:
        log = self.log_scale.isChecked()
        bar_label = "log₁₀ train loss" if log else "train loss"
        if self.map.bar.axis.labelText != bar_label:  # the same label again would repaint the whole view
            self.map.bar.axis.setLabel(bar_label)
        # The profiles show log₁₀ values on a plain axis, like the colour bar: a log axis has no
        # tick labels when the values span less than a decade.
        self.line_plot.setLabel("left", "log₁₀ loss" if log else "loss")
        g = self._grid
        if g is not None:
            z = self._display(g.Z).T  # rows along β
            extent = (float(g.alphas[0]), float(g.alphas[-1]), float(g.betas[0]), float(g.betas[-1]))
            finite = z[np.isfinite(z)]
            levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if levels[1] - levels[0] < 1e-9:
                levels = (levels[0] - 0.5, levels[1] + 0.5)
            self.map.set_image(z, extent, levels)
            c = self._contours
            if c is not None and c.log_scale == log and len(c.segments):
                self.contours.setData(c.segments[:, 0], c.segments[:, 1])
            else:
                self.contours.setData([], [])
            unit = self._plane is not None and self._plane.unit
            self.map.plot.setLabel("bottom", "α  (distance along d₁)" if unit else "α  (× filter norms, along d₁)")
            self.map.plot.setLabel("left", "β  (distance along d₂)" if unit else "β  (× filter norms, along d₂)")
            if self._projection is None or not self.fixed:
                self.theta_marker.setData([0.0], [0.0])
            if self.surface3d is not None and self.view3d.isChecked():
                self.surface3d.set_surface(g.alphas, g.betas, self._display(g.Z), self._marker_xy())
        self._draw_lines()
        self._update_caption()

    def _log_toggled(self, log: bool) -> None:
        """Redraw in the new scale; the contour levels of the shown surface follow in a small job."""
        self._redraw()
        grid = self._grid
        if grid is None or self.lab.sync:
            return

        def contours():
            yield grid_contours(grid, log)

        self.jobs.start("contours", contours, weak(self._contours_arrived, grid, log))

    def _contours_arrived(self, grid: SurfaceGrid, log: bool, items: list) -> None:
        if self._grid is grid and self.log_scale.isChecked() == log:
            self._contours = items[-1]
            self._redraw()

    def _draw_lines(self) -> None:
        ln = self._lines
        if ln is None:
            return
        self.line_d1.setData(ln.alphas, self._display(ln.train_d1))
        self.line_d2.setData(ln.alphas, self._display(ln.train_d2))
        if ln.test_d1 is not None:
            self.line_test.setData(ln.alphas, self._display(ln.test_d1))
        if self._pinned is not None:
            a, v = self._pinned[0], self._pinned[1]
            self.pin_d1.setData(a, self._display(v))

    def _pin(self) -> None:
        if self._lines is None:
            self.lab.message.emit("Landscape: nothing to pin yet", 4000)
            self.pin.setChecked(False)
            return
        step = self._plane.step if self._plane is not None else 0
        self._pinned = (self._lines.alphas.copy(), self._lines.train_d1.copy(), step)
        self.line_plot.legend.removeItem(self.pin_d1)
        self.line_plot.legend.addItem(self.pin_d1, f"d₁ at step {step:,}")
        manager().register_plot(self.line_plot)
        self.pin.blockSignals(True)
        self.pin.setChecked(True)
        self.pin.blockSignals(False)
        self._draw_lines()

    def _unpin(self) -> None:
        self._pinned = None
        self.pin_d1.setData([], [])
        self.line_plot.legend.removeItem(self.pin_d1)

    def _toggle_3d(self, on: bool) -> None:
        if on and self.surface3d is None:
            try:
                self.surface3d = Surface3D()
                self.left.addWidget(self.surface3d)
            except Exception as exc:  # no context after all: hide the option, say why
                self.surface3d = None
                self._hide_3d(f"OpenGL failed ({exc.__class__.__name__}: {exc})"[:160])
                return
            # Reported from inside a paint: act once the paint is over.
            self.surface3d.failed.connect(self._hide_3d, QtCore.Qt.ConnectionType.QueuedConnection)
        self.left.setCurrentWidget(self.surface3d if on and self.surface3d is not None else self.map_view)
        if on:
            self._redraw()
            QtCore.QTimer.singleShot(300, self._check_3d)

    def _check_3d(self) -> None:
        """A context can also fail when first drawn: then hide the 3-D view and say so."""
        view = self.surface3d
        if view is None or not self.view3d.isChecked():
            return
        if not view.view.isValid():
            self._hide_3d("OpenGL could not start on this display")

    def _hide_3d(self, why: str) -> None:
        self.gl_problem = why
        self.gl_note.setText(f"3-D off: {why.split(' (')[0]}")  # the exception's text in the tooltip
        self.gl_note.setToolTip(f"The 3-D view is off: {why}. The 2-D map shows the same surface.")
        self.view3d.blockSignals(True)
        self.view3d.setChecked(False)
        self.view3d.blockSignals(False)
        self.view3d.hide()
        self.gl_note.show()
        self.left.setCurrentWidget(self.map_view)

    def _rate(self) -> float:
        t = self._surface_times
        if len(t) < 3 or time.perf_counter() - t[-1] > 2.0:
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0])

    def _update_caption(self) -> None:
        lines = []
        if self._error:
            lines.append(str(self._error))
        if self._fallback and self._plane is not None and self._plane.axes != "pca":
            lines.append("No training path yet: a random filter-normalised plane is shown. Once the network "
                         "has trained a few steps, the plane becomes the path's own PCA plane.")
        if self._opened is not None and self._plane is None and self._grid is not None:
            lines.append(opened_caption(*self._opened, self._grid))
            self.caption.setText("\n".join(lines))
            return
        pl, g = self._plane, self._grid
        first = []
        if pl is not None:
            where = "the current θ" if not self.fixed else f"θ at step {pl.step:,}"
            first.append(f"Plane: {pl.describe()}, centred at {where}.")
        if g is not None:
            used = self._samples_used
            if used and used[0] < used[1]:
                data = f"a fixed subset of {used[0]:,} of {used[1]:,} training samples"
            else:
                data = f"all {used[0]:,} training samples" if used else "the training set"
            text = f"Surface: {len(g.alphas)}×{len(g.betas)} points on {data}"
            n_bad = int((~np.isfinite(g.Z)).sum())
            if n_bad:
                text += f"; {n_bad} points without a finite loss (drawn at the top of the scale)"
            r = self.roughness()
            if r is not None:
                text += f"; roughness Σ|Δ²L| / Σ|ΔL| = {r:.3f}"
            rate = self._rate()
            if rate > 0 and self.lab.running:
                text += f"; {rate:.1f} refreshes per second"
            first.append(text + ".")
        if first:
            lines.append(" ".join(first))
        p = self._projection
        if p is not None and len(p.coords) > 1:
            text = (f"Path ({len(p.coords)} snapshots): {100 * p.explained:.1f} % of its squared displacement "
                    f"lies in the plane; it strays up to {float(p.off_plane.max()):.3g} off it "
                    f"({float(p.in_plane.max()):.3g} within it).")
            if p.explained < FAR_OFF_PLANE:
                text += " Most of the path lies off this plane: the curve drawn is only its shadow."
            if (pl is not None and pl.axes == "pca" and self.fixed
                    and pl.path_points < 0.5 * len(p.coords)):
                text += " Re-centre to fit the plane to the whole path."
            lines.append(text)
        self.caption.setText("\n".join(lines))

    # -- presets and export -------------------------------------------------------------------
    OPTIONS = ("axes", "mode", "range", "resolution", "seed", "samples", "live", "log", "view3d",
               "pin_at_step")

    def apply_options(self, options: dict[str, Any]) -> None:
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"the Landscape tab has no options {sorted(unknown)}; it knows {list(self.OPTIONS)}")
        if "axes" in options:
            i = self.axes.findData(options["axes"])
            if i < 0:
                raise ValueError(f"unknown axes {options['axes']!r}; choose one of {list(AXIS_LABELS)}")
            self.axes.setCurrentIndex(i)
        if "mode" in options:
            i = self.mode.findData(options["mode"])
            if i < 0:
                raise ValueError(f"unknown mode {options['mode']!r}; choose 'around' or 'fixed'")
            self.mode.setCurrentIndex(i)
        if "range" in options:
            r = options["range"]
            self.span.setValue(0.0 if r == "fit" else float(r))
        if "resolution" in options:
            r = int(options["resolution"])
            if r not in RESOLUTIONS:
                raise ValueError(f"resolution must be one of {RESOLUTIONS}")
            self.resolution.setCurrentIndex(RESOLUTIONS.index(r))
        if "seed" in options:
            self.seed.setValue(int(options["seed"]))
        if "samples" in options:
            self.samples.setValue(int(options["samples"]))
        if "live" in options:
            self.live.setChecked(bool(options["live"]))
        if "log" in options:
            self.log_scale.setChecked(bool(options["log"]))
        if "view3d" in options and self.gl_problem is None:
            self.view3d.setChecked(bool(options["view3d"]))
        self._pin_at = options.get("pin_at_step")

    def options(self) -> dict[str, Any]:
        span = self.span.value()
        return {"axes": self.axes.currentData(), "mode": self.mode.currentData(),
                "range": "fit" if span == 0 else span, "resolution": int(self.resolution.currentData()),
                "seed": self.seed.value(), "samples": self.samples.value(), "live": self.live.isChecked(),
                "log": self.log_scale.isChecked(), "view3d": self.view3d.isChecked(), "pin_at_step": self._pin_at}

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {"landscape": self.figure_box}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"settings": self.settings(), "mode": self.mode.currentData(),
                               "log_scale": self.log_scale.isChecked()}
        g = self._grid
        if g is not None:
            out.update(alphas=g.alphas, betas=g.betas, loss=g.Z, span=self._span)
            if self.roughness() is not None:
                out["roughness"] = self.roughness()
        pl = self._plane
        if pl is not None:
            out["plane"] = pl.describe()
            out["center_step"] = pl.step
            if pl.explained is not None:
                out["pca_explained"] = np.asarray(pl.explained)
            if pl.axes in NORMS:
                out["cosine_before_orthogonalising"] = pl.cosine
        p = self._projection
        if p is not None:
            out.update(path_steps=p.steps, path_coords=p.coords, path_in_plane=p.in_plane,
                       path_off_plane=p.off_plane, path_explained=p.explained)
        if self._lines is not None:
            ln = self._lines
            out.update(line_alphas=ln.alphas, line_train_d1=ln.train_d1, line_train_d2=ln.train_d2)
            if ln.test_d1 is not None:
                out["line_test_d1"] = ln.test_d1
        if self._opened is not None and self._plane is None:
            out["opened_surface"] = self._opened[0]
        if self._pinned is not None:
            out.update(pinned_alphas=self._pinned[0], pinned_train_d1=self._pinned[1], pinned_step=self._pinned[2])
        return out

    HEADLESS_DEFAULTS = {"axes": "pca", "mode": "fixed", "range": "fit"}

    def headless(self, ctx: HeadlessContext) -> None:
        """Train (recording the path), optionally pin the profile at an early step, then compute
        the surface once for the final θ. Without options: the path on its PCA plane (Li et al.)."""
        if not ctx.options:
            self.apply_options(self.HEADLESS_DEFAULTS)
        self.set_active(True)
        pin_at = self._pin_at
        if ctx.quick and self.resolution.currentData() > 41:
            self.resolution.setCurrentIndex(RESOLUTIONS.index(21))
        total = max(0, int(ctx.steps))
        chunk = max(1, total // 80)
        done = 0
        if pin_at is not None and pin_at <= total:
            while done < pin_at:
                n = min(chunk, pin_at - done)
                ctx.lab.train_sync(n)
                done += n
            self._compute_now()
            self._pin()
        while done < total:
            n = min(chunk, total - done)
            ctx.lab.train_sync(n)
            done += n
        self._need_plane = True
        self._compute_now()

    def _compute_now(self) -> None:
        self._need_surface = True
        self._dirty = True
        self._sync_go = True
        try:
            self._kick()
        finally:
            self._sync_go = False
        QtWidgets.QApplication.processEvents()

    # -- for tests and the rate check -----------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A surface is computing, or one is due and waits for its pace timer."""
        return self.jobs.running("surface") or (self._dirty and self._timer.isActive())

