"""The Saddles tab: critical points seen on 2-D surfaces, and counted in a tiny network.

Left, a surface as a coloured contour map with every critical point marked by its class. Click
anywhere to see the gradient (arrow: the way down) and the Hessian's eigenvectors there (blue:
curving up, red: curving down); then run gradient descent with and without momentum from that
point and watch both linger near a saddle before escaping. Right, the value along the two runs,
and a tiny network's critical points: index (fraction of negative Hessian eigenvalues) against
loss. Every computation runs in a worker; the map only draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.critical import (
    SURFACES,
    CriticalPoint,
    NetworkCriticalConfig,
    NetworkCriticalResult,
    SaddleEscape,
    SurfaceCriticalPoints,
    SurfaceMap,
    network_critical_points_iter,
    point_info,
    saddle_escape,
    start_beside_saddle,
    surface_overview,
)
from engine.progress import Progress

from .. import plots
from ..jobs import PanelJobs, weak
from ..panel_tools import TaskBar, fmt, labelled
from .base import HeadlessContext, Panel

GRID_RES = 220
KIND_STYLE = {  # symbol, colour key, legend text
    "minimum": ("o", 2, "minimum"),
    "maximum": ("t", "error", "maximum"),
    "saddle": ("s", 1, "saddle"),
    "degenerate": ("d", 3, "degenerate"),
}
ANIMATION_S = 3.0
ESCAPE_FRACTION = 0.1  # a run has escaped once it is this fraction of the map's span out along the unstable axis
# The smallest search that still shows index rising with loss (tests and quick previews).
QUICK_NETWORK = NetworkCriticalConfig(inits=4, gd_steps=600, gd_lr=1.5, snapshots=6, newton_iters=40)


NETWORK_NOTE = "Press “Find critical points of a tiny network” below"

class SaddlesPanel(Panel):
    slug = "saddles"
    title = "Saddles"
    topic = "Curvature"
    uses_experiment = False

    OPTIONS = ("surface", "start", "lr", "momentum", "steps", "run", "network", "network_inits",
               "network_gd_steps", "network_newton_iters", "network_hidden", "animate")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.surface_name = "saddle"
        self.network_config = NetworkCriticalConfig()
        self.animate = True

        # -- controls ------------------------------------------------------------------------
        self.surface_box = QtWidgets.QComboBox()
        for name, s in SURFACES.items():
            self.surface_box.addItem(s.title, name)
        self.lr = QtWidgets.QDoubleSpinBox(decimals=4, minimum=0.0001, maximum=2.0, singleStep=0.005)
        self.momentum = QtWidgets.QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.99, singleStep=0.05)
        self.momentum.setValue(0.9)
        self.steps = QtWidgets.QSpinBox(minimum=10, maximum=5000, singleStep=50)
        self.steps.setValue(300)
        self.run_button = QtWidgets.QPushButton("Run GD")
        # Qt's own play icon: a ▶ glyph is missing from many Linux fonts and shows as a box.
        self.run_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay))
        self.run_button.setToolTip("Gradient descent with and without momentum from the marked start")
        self.near_saddle = QtWidgets.QPushButton("Start near a saddle")
        self.near_saddle.setToolTip("Put the start a hair's breadth from a saddle point, on its way down")
        self.error = QtWidgets.QLabel("")
        self.error.setProperty("role", "error")
        self.error.hide()

        row = QtWidgets.QHBoxLayout()
        row.addWidget(labelled("Surface", self.surface_box))
        row.addWidget(labelled("η", self.lr, "learning rate of both runs"))
        row.addWidget(labelled("β", self.momentum, "momentum of the second run (the first has none)"))
        row.addWidget(labelled("Steps", self.steps))
        row.addWidget(self.near_saddle)
        row.addWidget(self.run_button)
        row.addStretch(1)

        # -- the map ---------------------------------------------------------------------------
        self.map_view = plots.make_view()
        self.map = plots.ImagePlot(self.map_view, "", "x", "y", cmap="viridis", bar_label="f(x, y)", isolines=12)
        self.crit_items: dict[str, pg.ScatterPlotItem] = {}
        for kind, (symbol, key, text) in KIND_STYLE.items():
            item = pg.ScatterPlotItem(size=13, symbol=symbol, pen=pg.mkPen("w", width=1.5),
                                      brush=pg.mkBrush(plots.manager().color(key)), name=text)
            self.map.plot.addItem(item)
            self.crit_items[kind] = item
        self.path_gd = plots.curve(self.map.plot, "plot_fg", "GD", width=2.5)
        self.path_mom = plots.curve(self.map.plot, 4, "GD + momentum", width=2.5)
        self.heads = pg.ScatterPlotItem(size=9, pen=pg.mkPen("w", width=1), brush=pg.mkBrush(255, 255, 255))
        self.map.plot.addItem(self.heads)
        self.start_marker = pg.ScatterPlotItem(size=16, symbol="star", pen=pg.mkPen("k", width=1),
                                               brush=pg.mkBrush(255, 215, 0), name="start")
        self.map.plot.addItem(self.start_marker)
        # Arrows at the clicked point: −∇f (the way down) and the two eigenvector axes.
        self.eig_lines = [plots.curve(self.map.plot, "accent", None, width=3.0),
                          plots.curve(self.map.plot, "error", None, width=3.0)]
        self.grad_line = plots.curve(self.map.plot, "plot_fg", None, width=2.5)
        self.grad_head = pg.ArrowItem(angle=0, headLen=14, tipAngle=35, brush=pg.mkBrush("w"),
                                      pen=pg.mkPen("k", width=1))
        self.grad_head.setVisible(False)
        self.map.plot.addItem(self.grad_head)
        self.map.plot.scene().sigMouseClicked.connect(self._clicked)

        # -- right column ------------------------------------------------------------------------
        self.point_text = plots.caption("Click the map to inspect a point and set the start of gradient descent.")
        self.side_view = plots.make_view()
        self.run_plot = plots.add_plot(self.side_view, "f along the runs", "step", "f(pₜ)", row=0, col=0,
                                       legend=True)
        self.run_gd = plots.curve(self.run_plot, "plot_fg", "GD")
        self.run_mom = plots.curve(self.run_plot, 4, "GD + momentum")
        self.run_plot.legend.anchor((0, 1), (0, 1), offset=(8, -8))  # bottom left: the runs fall to the right
        self.index_plot = plots.add_plot(self.side_view, "Tiny network: critical points", "loss L(θ)",
                                         "index (fraction of λ &lt; 0)", row=1, col=0, legend=True)
        self.index_items: dict[str, pg.ScatterPlotItem] = {}
        for kind, (symbol, key, text) in KIND_STYLE.items():
            item = pg.ScatterPlotItem(size=10, symbol=symbol, pen=pg.mkPen(plots.manager().color("plot_fg"), width=1),
                                      brush=pg.mkBrush(plots.manager().color(key)), name=text)
            self.index_plot.addItem(item)
            self.index_items[kind] = item
        self.index_plot.legend.anchor((1, 1), (1, 1), offset=(-8, -8))  # bottom right: high loss has high index
        plots.note(self.run_plot, "Press Run GD (or click the map) to follow gradient descent")
        self.index_note = plots.note(self.index_plot, NETWORK_NOTE)
        plots.note(self.map.plot, "Computing the surface…", items=(self.map.image,))
        self.network_button = QtWidgets.QPushButton("Find critical points of a tiny network")
        self.network_button.setToolTip("Minimise ‖∇L‖² from many starts along training runs; takes a few seconds")
        self.network_text = plots.caption("Press the button to search a 2-6-2 tanh network (32 parameters) for "
                                          "critical points: a few seconds.")
        self.task = TaskBar()

        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.point_text)
        rl.addWidget(self.side_view, 1)
        rl.addWidget(self.network_button)
        rl.addWidget(self.task)
        rl.addWidget(self.network_text)

        self.map_key = QtWidgets.QLabel()
        self.map_key.setWordWrap(True)
        self._update_key()  # again on theme changes (changeEvent): no link from the global style manager
        left = QtWidgets.QWidget()
        ll = QtWidgets.QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.map_view, 1)
        ll.addWidget(self.map_key)

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 6)
        split.setStretchFactor(1, 5)
        self.run_text = plots.caption("")

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(split, 1)
        layout.addWidget(self.run_text)

        # -- state ----------------------------------------------------------------------------------
        self.critical: list[CriticalPoint] = []
        self.start: tuple[float, float] = SURFACES[self.surface_name].start
        self.run = None
        self.escapes: list[int | None] = []
        self.escape_threshold = float("nan")
        self.network: NetworkCriticalResult | None = None
        self._grid: np.ndarray | None = None
        self._shown = 0
        self._anim = QtCore.QTimer(self)
        self._anim.setInterval(30)
        self._anim.timeout.connect(self._animate_tick)
        self.jobs = PanelJobs(self)
        self._loaded = False

        self.surface_box.currentIndexChanged.connect(lambda _: self.set_surface(self.surface_box.currentData()))
        self.run_button.clicked.connect(self.run_descent)
        self.near_saddle.clicked.connect(self.start_near_saddle)
        self.network_button.clicked.connect(self.find_network_points)
        self.task.cancelled.connect(self._cancel_network)
        self._set_surface_controls(self.surface_name)

    def changeEvent(self, event) -> None:
        if event.type() in (QtCore.QEvent.Type.PaletteChange, QtCore.QEvent.Type.StyleChange):
            self._update_key()
        super().changeEvent(event)

    def _update_key(self) -> None:
        """The map's key as a line of coloured symbols (a legend inside would hide the surface)."""
        m = plots.manager()
        glyph = {"o": "●", "t": "▼", "s": "■", "d": "◆"}

        def span(text: str, key) -> str:
            return f'<span style="color:{m.color(key).name()}">{text}</span>'

        parts = [span(glyph[sym] + " " + text, key) for sym, key, text in KIND_STYLE.values()]
        parts += [span("━ GD", "plot_fg"), span("━ GD + momentum", 4), span("★ start", "#d4a000"),
                  span("━ eigenvector, λ &gt; 0", "accent"), span("━ eigenvector, λ &lt; 0", "error"), "➤ −∇f"]
        self.map_key.setText("&nbsp;&nbsp; ".join(parts))

    # -- surface ---------------------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active and not self._loaded and not self.lab.sync:  # headless() loads it itself
            self._loaded = True
            self.set_surface(self.surface_name)

    def _set_surface_controls(self, name: str) -> None:
        s = SURFACES[name]
        self.lr.setValue(s.lr)
        self.start = s.start
        self.surface_box.blockSignals(True)
        self.surface_box.setCurrentIndex(self.surface_box.findData(name))
        self.surface_box.blockSignals(False)

    def set_surface(self, name: str) -> None:
        if name not in SURFACES:
            raise ValueError(f"unknown surface {name!r}; choose one of {', '.join(SURFACES)}")
        self._loaded = True
        if name != self.surface_name:
            self.surface_name = name
            self._set_surface_controls(name)
        self._clear_runs()
        self._clear_arrows()
        self.critical = []
        for item in self.crit_items.values():
            item.setData([], [])
        s = SURFACES[name]
        plots.manager().set_title(self.map.plot, f"{s.title}:  {s.formula}")
        self.start_marker.setData([self.start[0]], [self.start[1]])

        def work():
            yield from surface_overview(s, GRID_RES, n_starts=64, seed=0)

        self.jobs.start("surface", work, weak(self._surface_items, name))

    def _surface_items(self, name: str, items) -> None:
        if name != self.surface_name:
            return
        s = SURFACES[name]
        for item in items:
            if isinstance(item, SurfaceMap):
                Z = np.asarray(item.Z)
                if s.log_colors:
                    Z = np.log10(1.0 + Z - np.nanmin(Z))
                    self.map.bar.axis.setLabel("log₁₀(1 + f − min f)")
                else:
                    self.map.bar.axis.setLabel("f(x, y)")
                self._grid = Z
                lo, hi = np.nanpercentile(Z, 1), np.nanpercentile(Z, 99)
                self.map.set_image(np.clip(Z, lo, hi), s.bounds, levels=(float(lo), float(hi)))
            elif isinstance(item, SurfaceCriticalPoints):
                self.critical = list(item.points)
                for k, item in self.crit_items.items():
                    pts = np.array([c.point for c in self.critical if c.kind == k]).reshape(-1, 2)
                    item.setData(pts[:, 0], pts[:, 1])
                counts = {k: sum(c.kind == k for c in self.critical) for k in KIND_STYLE}
                listed = ", ".join(f"{n} {k}{'s' if n != 1 else ''}"
                                   for k, n in counts.items() if n)
                self.point_text.setText(f"{len(self.critical)} critical points in view: {listed}. "
                                        "Click the map to inspect a point and set the start.")

    # -- clicking ----------------------------------------------------------------------------------
    def _clicked(self, ev) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        vb = self.map.plot.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        self.inspect(p.x(), p.y())

    def inspect(self, x: float, y: float) -> None:
        """Show ∇f and the Hessian's eigenpairs at (x, y) and make it the start of the runs."""
        s = SURFACES[self.surface_name]
        xmin, xmax, ymin, ymax = s.bounds
        if not (xmin <= x <= xmax and ymin <= y <= ymax):
            return
        self.start = (float(x), float(y))
        self.start_marker.setData([x], [y])
        self.jobs.start("point", lambda: iter([point_info(s, x, y)]), self._show_point)

    def _show_point(self, items) -> None:
        info = items[-1]
        s = SURFACES[self.surface_name]
        xmin, xmax, ymin, ymax = s.bounds
        L = 0.09 * max(xmax - xmin, ymax - ymin)
        x, y = info.point
        for i, line in enumerate(self.eig_lines):
            v = info.eigenvectors[i]
            key = "error" if info.eigenvalues[i] < 0 else "accent"
            plots.manager().register_curve(line, key, 3.0)
            line.setData([x - L * v[0], x + L * v[0]], [y - L * v[1], y + L * v[1]])
        g = info.gradient
        gn = float(np.linalg.norm(g))
        if gn > 1e-12:
            d = -g / gn
            self.grad_line.setData([x, x + 1.3 * L * d[0]], [y, y + 1.3 * L * d[1]])
            self.grad_head.setPos(x + 1.3 * L * d[0], y + 1.3 * L * d[1])
            self.grad_head.setStyle(angle=180 - math.degrees(math.atan2(d[1], d[0])))
            self.grad_head.setVisible(True)
        else:
            self.grad_line.setData([], [])
            self.grad_head.setVisible(False)
        lam = info.eigenvalues
        curv = ", ".join(f"λ{'₁₂'[i]} = {fmt(float(v_), 4)} ({'up' if v_ > 0 else 'down' if v_ < 0 else 'flat'})"
                         for i, v_ in enumerate(lam))
        self.point_text.setText(
            f"At ({fmt(x, 4)}, {fmt(y, 4)}): f = {fmt(info.value, 4)},  ∇f = ({fmt(g[0], 3)}, {fmt(g[1], 3)}),  "
            f"‖∇f‖ = {fmt(gn, 3)}.\nHessian eigenvalues: {curv}. Lines: eigenvector axes (blue curves up, "
            f"red curves down); arrow: −∇f, the way gradient descent goes. Start set here (★).")

    def _clear_arrows(self) -> None:
        for line in self.eig_lines:
            line.setData([], [])
        self.grad_line.setData([], [])
        self.grad_head.setVisible(False)

    # -- gradient descent ------------------------------------------------------------------------
    def start_near_saddle(self) -> None:
        saddles = [c for c in self.critical if c.kind in ("saddle", "degenerate")]
        if not saddles:
            self.lab.message.emit("This surface has no saddle in view; pick Saddle, Monkey saddle, Himmelblau "
                                  "or Sum of Gaussians", 5000)
            return
        p = start_beside_saddle(saddles[0], SURFACES[self.surface_name].bounds)
        self.inspect(float(p[0]), float(p[1]))

    def run_descent(self) -> None:
        s = SURFACES[self.surface_name]
        lr, beta, steps = float(self.lr.value()), float(self.momentum.value()), int(self.steps.value())
        try:
            if not lr > 0:
                raise ValueError("η must be positive")
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self.error.hide()
        start, critical = self.start, list(self.critical)

        def work():
            yield saddle_escape(s, start, lr, (0.0, beta), steps, critical, ESCAPE_FRACTION)

        self.jobs.start("descent", work, self._show_run, on_error=self._show_error)

    def _show_run(self, items: list[SaddleEscape]) -> None:
        found = items[-1]
        self.run, self.escapes, self.escape_threshold = found.run, found.escapes, found.threshold
        self._shown = 0
        if self.animate and not self.lab.sync:
            self._anim.start()
        else:
            self._shown = self.run.paths.shape[1]
            self._draw_run()
        run = self.run
        texts = []
        for label, esc, vals in zip(run.labels, self.escapes, run.values):
            finite = vals[np.isfinite(vals)]
            end = (f"ends at f = {fmt(float(finite[-1]), 4)}" if len(finite) == len(vals)
                   else f"leaves the map after {len(finite) - 1} steps, still falling")
            if esc is not None:
                texts.append(f"{label}: {esc} steps until it is {fmt(self.escape_threshold, 2)} "
                             f"from the saddle along the unstable axis, {end}")
            else:
                texts.append(f"{label}: {end}")
        self.run_text.setText(";   ".join(texts) + ".")

    def _animate_tick(self) -> None:
        if self.run is None:
            self._anim.stop()
            return
        n = self.run.paths.shape[1]
        per_tick = max(1, int(math.ceil(n / (ANIMATION_S / 0.03))))
        self._shown = min(n, self._shown + per_tick)
        self._draw_run()
        if self._shown >= n:
            self._anim.stop()

    def _draw_run(self) -> None:
        run, k = self.run, self._shown
        steps = np.arange(k)
        heads_x, heads_y = [], []
        for path, vals, curve, fcurve in zip(run.paths, run.values, (self.path_gd, self.path_mom),
                                             (self.run_gd, self.run_mom)):
            p = path[:k]
            ok = np.isfinite(p).all(1)
            curve.setData(p[ok, 0], p[ok, 1])
            fcurve.setData(steps[ok], vals[:k][ok])
            if ok.any():
                heads_x.append(p[ok][-1, 0])
                heads_y.append(p[ok][-1, 1])
        self.heads.setData(heads_x, heads_y)

    def _clear_runs(self) -> None:
        self._anim.stop()
        self.run = None
        for c in (self.path_gd, self.path_mom, self.run_gd, self.run_mom):
            c.setData([], [])
        self.heads.setData([], [])
        self.run_text.setText("")

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    # -- a tiny network --------------------------------------------------------------------------
    def find_network_points(self) -> None:
        if self.jobs.running("network"):
            return
        cfg = self.network_config
        self.network_button.setEnabled(False)
        self.task.show_progress(0.0, "starting")
        self.jobs.start("network", lambda: network_critical_points_iter(cfg), self._network_items,
                        self._network_done, self._network_failed)

    def _network_items(self, items) -> None:
        for item in items:
            if isinstance(item, Progress):
                self.task.show_progress(item.done / max(1, item.total), item.what)
                self.index_note.set_text(plots.progress_text(f"Critical points — {item.what}",
                                                             item.done / max(1, item.total)))
            elif isinstance(item, NetworkCriticalResult):
                self.network = item
                self._draw_network()

    def _network_done(self) -> None:
        self.index_note.set_text(NETWORK_NOTE)
        self.task.finish()
        self.network_button.setEnabled(True)

    def _network_failed(self, text: str) -> None:
        self._network_done()
        self.network_text.setText(f"The search failed: {text}")

    def _cancel_network(self) -> None:
        self.jobs.stop("network")
        self.task.finish()
        self.network_button.setEnabled(True)
        self.network_text.setText("Search cancelled.")

    def _draw_network(self) -> None:
        res = self.network
        for kind, item in self.index_items.items():
            pts = [(c.value, c.index) for c in res.points if c.kind == kind]
            item.setData([p[0] for p in pts], [p[1] for p in pts])
        cfg = res.config
        rho = res.index_loss_correlation()
        hidden = "-".join(str(h) for h in (2, *cfg.hidden, 2))
        self.network_text.setText(
            f"{len(res.points)} critical points (‖∇L‖ ≤ {cfg.tol:g}) of a {hidden} {cfg.activation} network "
            f"({res.n_params} parameters) on {cfg.dataset}, from {res.n_starts} starts. Rank correlation of "
            f"index with loss: {fmt(rho, 2)}. Minima: {sum(c.kind == 'minimum' for c in res.points)}.")

    def shutdown(self) -> None:
        self._anim.stop()
        self.jobs.stop_all(drop=False)

    # -- presets and export ------------------------------------------------------------------------
    def apply_options(self, options: dict[str, Any]) -> None:
        from dataclasses import replace

        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"the Saddles tab has no options {sorted(unknown)}; it has {list(self.OPTIONS)}")
        if "surface" in options:
            name = options["surface"]
            if name not in SURFACES:
                raise ValueError(f"unknown surface {name!r}; choose one of {', '.join(SURFACES)}")
            self.surface_name = name
            self._set_surface_controls(name)
        if "lr" in options:
            self.lr.setValue(float(options["lr"]))
        if "momentum" in options:
            self.momentum.setValue(float(options["momentum"]))
        if "steps" in options:
            self.steps.setValue(int(options["steps"]))
        if "start" in options:
            x, y = (float(v) for v in options["start"])
            self.start = (x, y)
        if "animate" in options:
            self.animate = bool(options["animate"])
        changes = {}
        for key, field in (("network_inits", "inits"), ("network_gd_steps", "gd_steps"),
                           ("network_newton_iters", "newton_iters")):
            if key in options:
                changes[field] = int(options[key])
        if "network_hidden" in options:
            changes["hidden"] = tuple(int(h) for h in options["network_hidden"])
        if changes:
            self.network_config = replace(self.network_config, **changes)
        self._run_on_headless = bool(options.get("run", True))
        self._network_on_headless = bool(options.get("network", True))
        if self._loaded and ("surface" in options or "start" in options):
            self.set_surface(self.surface_name)  # the map on screen shows the new surface and start

    def options(self) -> dict[str, Any]:
        """The tab's settings. η and the start are left out while they are the surface's own, which
        "surface" sets (so options merged over another tab state's keep the surface's η and start)."""
        s, c = SURFACES[self.surface_name], self.network_config
        out: dict[str, Any] = {"surface": self.surface_name}
        if abs(self.lr.value() - s.lr) > 0.5 * 10.0 ** -self.lr.decimals():
            out["lr"] = self.lr.value()
        if tuple(float(v) for v in self.start) != tuple(float(v) for v in s.start):
            out["start"] = [float(v) for v in self.start]
        return {**out, "momentum": self.momentum.value(), "steps": self.steps.value(),
                "run": getattr(self, "_run_on_headless", True), "network": getattr(self, "_network_on_headless", True),
                "network_inits": c.inits, "network_gd_steps": c.gd_steps, "network_newton_iters": c.newton_iters,
                "network_hidden": list(c.hidden), "animate": self.animate}

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {"saddles-surface": self.map_view, "saddles-side": self.side_view}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "surface": self.surface_name,
            "critical_points": [{"point": c.point.tolist(), "value": c.value, "kind": c.kind,
                                 "eigenvalues": c.eigenvalues.tolist(), "shape": c.shape} for c in self.critical],
            "start": list(self.start),
        }
        if self.run is not None:
            out["runs"] = {"labels": self.run.labels, "lr": self.run.lrs, "momentum": self.run.momenta,
                           "escape_steps": self.escapes,
                           "escape_threshold": self.escape_threshold}
            out["run_paths"] = self.run.paths
            out["run_values"] = self.run.values
        if self.network is not None:
            out["network"] = {"n_params": self.network.n_params, "n_starts": self.network.n_starts,
                              "index_loss_spearman": self.network.index_loss_correlation(),
                              "points": [{"loss": c.value, "index": c.index, "kind": c.kind,
                                          "grad_norm": c.grad_norm} for c in self.network.points]}
        return out

    def run_preset(self, preset) -> None:
        """Draw the preset's surface and start what it asks for (descent, network points)."""
        self.set_surface(self.surface_name)
        self.start_marker.setData([self.start[0]], [self.start[1]])
        if getattr(self, "_run_on_headless", True):
            self.run_descent()
        if getattr(self, "_network_on_headless", True):
            self.find_network_points()

    def headless(self, ctx: HeadlessContext) -> None:
        if not ctx.options:
            self._run_on_headless = self._network_on_headless = True
        if ctx.quick and "network_inits" not in ctx.options:
            self.network_config = QUICK_NETWORK
        self.set_surface(self.surface_name)  # inline: the jobs run synchronously headless
        self.start_marker.setData([self.start[0]], [self.start[1]])
        if getattr(self, "_run_on_headless", True):
            x, y = self.start
            s = SURFACES[self.surface_name]
            self.jobs.start("point", lambda: iter([point_info(s, x, y)]), self._show_point)
            self.run_descent()
        if getattr(self, "_network_on_headless", True):
            self.find_network_points()
