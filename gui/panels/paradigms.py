"""The Paradigms tab: learning rules without exact backpropagated gradients, side by side.

The chosen rules train the same network from the same θ₀ on the same minibatches in one job
(`engine.paradigms.compare`), with progress and Cancel. Page *Training*: the loss curves on one
plot (against steps, passes through the network, or seconds), feedback alignment's angle to the
true gradient, and each rule's decision map (2-D data) or confusion matrix (digits) side by side,
live. Page *Shared plane*: every path on one loss surface, the plane through θ₀ spanned by the
principal directions of all paths together, and λmax of the Hessian where each rule ended.
Page *Table*: the numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.data import TOY_NAMES
from engine.paradigms import (
    RULE_LABELS,
    RULE_SHORT,
    RULES,
    CompareDone,
    CompareProgress,
    Curvature,
    ParadigmsConfig,
    RuleEvent,
    RuleMap,
    SharedPlane,
    compare,
)

from .. import plots
from ..experiment_bar import parse_positive
from ..jobs import PanelJobs
from ..panel_tools import (
    FlowLayout,
    JobProgress,
    fields_box,
    fmt,
    lay_out_pages,
    legend_below,
    log_axes,
    place_legend,
)
from ..run_log import RunLog
from ..style import manager
from .base import HeadlessContext, Panel

COLOR = {rule: i for i, rule in enumerate(RULES)}
SYMBOL = {"backprop": "o", "feedback_alignment": "t", "evolution": "s", "forward_forward": "d", "hebbian": "star"}
DATASET_NAMES = {"digits": "Digits 8×8", "moons": "Moons", "circles": "Circles", "spirals": "Spirals",
                 "xor": "XOR", "blobs": "Blobs"}
# Sample counts and noise a toy set gets when chosen here (digits: all 1,797 images).
DATASET_DEFAULTS = {"digits": (1797, 0.0)}
TOY_DEFAULT = (600, 0.1)
X_AXES = {"step": "step", "passes": "passes through the network per example", "seconds": "seconds of compute"}
PAGES = ("training", "plane", "table")
EXTRA_OPTIONS = {"page", "x_axis"}
QUICK = {"steps": 150, "surface_resolution": 25, "map_resolution": 60}
TABLE_COLUMNS = ("Rule", "Train loss", "Test acc.", "λmax at end", "Path in plane", "Compute", "What it measures")


IDLE_NOTE = "Press Train side by side"

class ParadigmsPanel(Panel):
    slug = "paradigms"
    title = "Paradigms"
    topic = "Alternative training paradigms"
    uses_experiment = False

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self.run_log = RunLog()  # what the side-by-side run delivered, for recordings
        self._base = ParadigmsConfig()  # settings without a field on the tab come from here
        self.run_config: ParadigmsConfig | None = None  # the run on screen
        self.history: dict[str, dict[str, list[float]]] = {}
        self.last_event: dict[str, RuleEvent] = {}
        self.maps: dict[str, RuleMap] = {}
        self.plane: SharedPlane | None = None
        self.curvature: Curvature | None = None
        self.done: CompareDone | None = None
        self.diverged: dict[str, str] = {}
        self.running = False
        self.outcome = ""  # "done", "cancelled", "failed" after a run
        self._started = False
        self._map_rules: list[str] = []
        self._build_controls()
        self._build_training_page()
        self._build_plane_page()
        self._build_table_page()
        self.pages = QtWidgets.QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.training_page, "Training")
        self.pages.addTab(self.plane_page, "Shared plane")
        self.pages.addTab(self.table, "Table")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.controls)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.error)
        layout.addWidget(self.progress)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.summary)
        self._config_to_fields(ParadigmsConfig())
        self._set_map_mode("digits")
        self._layout_maps(list(RULES))
        manager().changed.connect(self._restyle)
        self._restyle()
        self._update_buttons()

    # -- building --------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        d = ParadigmsConfig()
        self.rule_boxes: dict[str, QtWidgets.QCheckBox] = {}
        tips = {
            "backprop": "backpropagation: the exact gradient, plain SGD (the reference)",
            "feedback_alignment": "feedback alignment: the error goes back through fixed random matrices",
            "evolution": "evolution strategies: the gradient estimated from the losses of random perturbations",
            "forward_forward": "forward-forward: each layer tells real (right label) from fake (wrong label) "
                               "inputs by its goodness Σh²; a linear read-out learns the classes",
            "hebbian": "Hebbian: Oja's rule makes the hidden weights principal components; a linear read-out "
                       "learns the classes",
        }
        for rule in RULES:
            box = QtWidgets.QCheckBox(RULE_SHORT[rule])
            box.setChecked(True)
            box.setToolTip(tips[rule])
            self.rule_boxes[rule] = box
        self.dataset = QtWidgets.QComboBox()
        for name in TOY_NAMES:
            self.dataset.addItem(DATASET_NAMES.get(name, name.capitalize()), name)
        self.dataset.setToolTip("Digits: scikit-learn's 1,797 8×8 digits (confusion matrices). The 2-D sets "
                                "show decision maps.")
        self.hidden = QtWidgets.QSpinBox(minimum=2, maximum=256, value=d.hidden[0])
        self.hidden.setToolTip("units of the one hidden layer (tanh), the same network for every rule")
        self.steps = QtWidgets.QSpinBox(minimum=10, maximum=50_000, singleStep=100, value=d.steps)
        self.steps.setToolTip("minibatch steps of every rule")
        self.batch = QtWidgets.QSpinBox(minimum=0, maximum=4096, value=d.batch_size)
        self.batch.setToolTip("minibatch size, the same batches for every rule (0: full batch)")
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000, value=d.seed)
        self.seed.setToolTip("seed of θ₀ and of the batch order")
        self.x_axis = QtWidgets.QComboBox()
        self.x_axis.addItem("steps", "step")
        self.x_axis.addItem("passes", "passes")
        self.x_axis.addItem("seconds", "seconds")
        self.x_axis.setToolTip("what the loss curves are drawn against: minibatch steps, passes through the "
                               "network per example (ES pays one per perturbation), or each rule's own "
                               "compute time")
        self.train_button = QtWidgets.QPushButton("Train side by side")
        self.train_button.setToolTip("train every ticked rule from the same θ₀ on the same batches, then draw "
                                     "their paths on one loss surface")
        self.settings_toggle = QtWidgets.QToolButton()
        self.settings_toggle.setText("Rule settings")
        self.settings_toggle.setCheckable(True)
        self.settings_toggle.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings_toggle.setArrowType(QtCore.Qt.ArrowType.RightArrow)
        self.settings_toggle.setToolTip("learning rates and the settings of each rule")

        flow = FlowLayout(hspacing=14, vspacing=4)

        def group(*parts: QtWidgets.QWidget | str, into: FlowLayout = flow) -> QtWidgets.QWidget:
            box = fields_box(*parts)
            into.addWidget(box)
            return box

        group("Rules", *self.rule_boxes.values())
        group("Data", self.dataset)
        group("Hidden", self.hidden)
        group("Steps", self.steps)
        group("Batch", self.batch)
        group("Seed", self.seed)
        group(self.train_button)
        group("Loss against", self.x_axis)
        group(self.settings_toggle)
        self.controls = QtWidgets.QWidget()
        self.controls.setLayout(flow)

        # Per-rule settings, folded away by default.
        self.fields: dict[str, QtWidgets.QLineEdit] = {}

        def edit(key: str, value: float, tip: str) -> QtWidgets.QLineEdit:
            e = QtWidgets.QLineEdit(f"{value:g}")
            e.setToolTip(tip)
            self.fields[key] = e
            return e

        sflow = FlowLayout(hspacing=14, vspacing=4)
        group("BP lr", edit("backprop.lr", d.backprop.lr, "backpropagation: SGD learning rate"), into=sflow)
        group("FA lr", edit("feedback_alignment.lr", d.feedback_alignment.lr, "feedback alignment: SGD learning rate"),
              into=sflow)
        group("ES σ", edit("evolution.sigma", d.evolution.sigma, "evolution strategies: perturbation size σ"),
              "pop.", edit("evolution.population", d.evolution.population,
                           "evolution strategies: perturbations per step (an even number: ±ε pairs)"),
              "lr", edit("evolution.lr", d.evolution.lr, "evolution strategies: Adam step size"), into=sflow)
        group("FF lr", edit("forward_forward.lr", d.forward_forward.lr, "forward-forward: Adam step size"),
              "τ/unit", edit("forward_forward.threshold", d.forward_forward.threshold,
                             "forward-forward: goodness threshold per hidden unit (τ = this × width)"), into=sflow)
        group("Hebb η", edit("hebbian.lr", d.hebbian.lr, "Hebbian: Oja/Sanger step η"),
              "read-out lr", edit("hebbian.readout_lr", d.hebbian.readout_lr,
                                  "Hebbian: learning rate of the read-out (delta rule)"), into=sflow)
        self.settings_box = QtWidgets.QWidget()
        self.settings_box.setLayout(sflow)
        self.settings_box.setVisible(False)

        self.error = plots.caption("", role="error")
        self.error.hide()
        self.progress = JobProgress()
        self.summary = plots.caption("Tick the rules and press Train side by side.", scale=0.95)

        self.train_button.clicked.connect(self.start)
        self.progress.cancel_requested.connect(self.cancel)
        self.settings_toggle.toggled.connect(self._toggle_settings)
        self.x_axis.currentIndexChanged.connect(lambda _i: self._draw_curves())
        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        for box in self.rule_boxes.values():
            box.toggled.connect(lambda _on: self._update_buttons())
        for e in self.fields.values():
            e.textEdited.connect(lambda _t: self.error.hide())

    def _build_training_page(self) -> None:
        # Loss curves, one per rule.
        self.loss_view = plots.make_view()
        # The legend in one row along the top right: the curves fall away from that corner.
        self.loss_plot = plots.add_plot(self.loss_view, "Training loss", "step", "cross-entropy",
                                        row=0, col=0, legend="top-right", axisItems=log_axes("left", "bottom"))
        self.loss_plot.setLogMode(x=False, y=True)
        place_legend(self.loss_plot, "top-right")
        self.loss_curves = {r: plots.curve(self.loss_plot, COLOR[r], RULE_SHORT[r], width=2.5 if r == "backprop"
                                           else 2.0) for r in RULES}

        # Feedback alignment: the angle between its step and the true gradient.
        self.angle_view = plots.make_view()
        self.angle_plot = plots.add_plot(self.angle_view, "FA: ∠(update, true gradient)", "step",
                                         "angle (°)", row=0, col=0)
        self.angle_plot.setYRange(0, 100, padding=0)
        orthogonal = plots.guide_line(self.angle_plot, 90.0, key="plot_fg", label="90°: unrelated")
        orthogonal.label.setPosition(0.5)
        manager().register_text(orthogonal.label, 0.9)
        self.angle_curve = plots.curve(self.angle_plot, COLOR["feedback_alignment"], "FA")
        self.angle_hint = pg.TextItem("", anchor=(0.5, 0.5))
        self.angle_plot.addItem(self.angle_hint, ignoreBounds=True)
        manager().register_text(self.angle_hint, 0.9)

        # Decision maps or confusion matrices, one per rule, one colour bar.
        self.maps_caption = plots.caption("", scale=0.9)
        self.maps_view = plots.make_view()
        self.map_plots: dict[str, pg.PlotItem] = {}
        self.map_images: dict[str, pg.ImageItem] = {}
        self.map_points: dict[str, pg.ScatterPlotItem] = {}
        for rule in RULES:
            plot = plots.add_plot(self.maps_view, RULE_SHORT[rule])
            plot._lab_grid = False
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            image = pg.ImageItem(axisOrder="row-major")
            plot.addItem(image)
            points = pg.ScatterPlotItem(size=4, pen=None)
            plot.addItem(points)
            self.maps_view.ci.removeItem(plot)  # placed by _layout_maps
            self.map_plots[rule], self.map_images[rule], self.map_points[rule] = plot, image, points
        for rule, plot in self.map_plots.items():
            plots.note(plot, "Waiting for the first picture…", items=(self.map_images[rule],))
        self.loss_note = plots.note(self.loss_plot, IDLE_NOTE)
        self.angle_note = plots.note(self.angle_plot, IDLE_NOTE, items=(self.angle_curve,))
        self.map_bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=14)
        self.map_bar.setImageItem(list(self.map_images.values()))
        manager().register_colorbar(self.map_bar)
        maps_box = QtWidgets.QWidget()
        mlay = QtWidgets.QVBoxLayout(maps_box)
        mlay.setContentsMargins(0, 0, 0, 0)
        mlay.setSpacing(2)
        mlay.addWidget(self.maps_caption)
        mlay.addWidget(self.maps_view, 1)
        self.maps_box = maps_box

        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        top.addWidget(self.loss_view)
        top.addWidget(self.angle_view)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setChildrenCollapsible(False)
        page = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        page.addWidget(top)
        page.addWidget(maps_box)
        page.setStretchFactor(0, 1)
        page.setStretchFactor(1, 1)
        page.setChildrenCollapsible(False)
        for view in (self.loss_view, self.angle_view, self.maps_view):
            view.setMinimumSize(160, 120)
        self.training_page = page

    def _build_plane_page(self) -> None:
        self.plane_view = plots.make_view()
        self.plane_map = plots.ImagePlot(self.plane_view, "Every path on one loss surface", "α  (along d₁)",
                                         "β  (along d₂)", cmap="viridis", bar_label="log₁₀ training loss",
                                         row=0, col=0)
        self.contours = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((255, 255, 255, 120), width=1))
        self.plane_map.plot.addItem(self.contours)
        self.plane_map.bar.axis.enableAutoSIPrefix(False)
        self.plane_map.plot.legend = legend_below(self.plane_view, row=1, col=0, columns=len(RULES))
        self.path_curves: dict[str, pg.PlotDataItem] = {}
        self.path_ends: dict[str, pg.ScatterPlotItem] = {}
        for rule in RULES:
            c = plots.curve(self.plane_map.plot, COLOR[rule], RULE_SHORT[rule], width=2.5)
            c.setShadowPen(pg.mkPen((255, 255, 255, 200), width=5))
            self.path_curves[rule] = c
            end = pg.ScatterPlotItem(size=13, symbol=SYMBOL[rule], pen=pg.mkPen("w", width=1.5))
            end.setZValue(5)
            self.plane_map.plot.addItem(end)
            self.path_ends[rule] = end
        self.start_marker = pg.ScatterPlotItem(size=14, symbol="o", pen=pg.mkPen("k", width=2),
                                               brush=pg.mkBrush(255, 255, 255))
        self.start_marker.setZValue(6)
        self.plane_map.plot.addItem(self.start_marker)
        # Black on a pale box: legible on every colour of the surface, in every theme.
        self.start_label = pg.TextItem("θ₀", color=(0, 0, 0), fill=pg.mkBrush(255, 255, 255, 190),
                                       anchor=(-0.35, 1.15))
        self.start_label.setZValue(6)
        self.plane_map.plot.addItem(self.start_label)

        self.curv_view = plots.make_view()
        # λmax: the largest eigenvalue of the Hessian of the training loss.
        self.curv_plot = plots.add_plot(self.curv_view, "λmax at the end", "", "λmax (dashed: θ₀)", row=0, col=0)
        self.curv_plot.setMouseEnabled(x=False, y=False)
        self.curv_bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.6)
        self.curv_plot.addItem(self.curv_bars)
        self.curv_start = plots.guide_line(self.curv_plot, 0.0, key="plot_fg")
        self.curv_start.setVisible(False)
        self.plane_caption = plots.caption("", scale=0.9)
        plots.note(self.plane_map.plot, "The plane through θ₀ and the rules' end points: computed after training",
                   items=(self.plane_map.image,))
        plots.note(self.curv_plot, "Each rule's λmax: measured after training")

        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        right.addWidget(self.plane_view)
        right.addWidget(self.curv_view)
        right.setStretchFactor(0, 5)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)
        self.plane_view.setMinimumSize(200, 160)
        self.curv_view.setMinimumSize(140, 120)
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(right, 1)
        lay.addWidget(self.plane_caption)
        self.plane_split = right
        self.plane_page = page

    def _build_table_page(self) -> None:
        self.table = QtWidgets.QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(TABLE_COLUMNS) - 1, QtWidgets.QHeaderView.ResizeMode.Stretch)

    # -- style -----------------------------------------------------------------------------------
    def _restyle(self) -> None:
        self.start_label.setFont(manager().font(1.0, bold=True))
        fm = self.fontMetrics()
        for key, e in self.fields.items():
            e.setFixedWidth(fm.horizontalAdvance("0" * (5 if key != "evolution.population" else 4)) + 14)
        for rule in RULES:
            col = manager().color(COLOR[rule])
            self.path_ends[rule].setBrush(pg.mkBrush(col))
            self.map_points[rule].setPen(pg.mkPen(manager().color("plot_bg"), width=0.6))
            box = self.rule_boxes[rule]
            box.setStyleSheet(f"QCheckBox {{ color: {col.name()}; font-weight: bold; }}")
        self._draw_curvature()

    def _toggle_settings(self, on: bool) -> None:
        self.settings_box.setVisible(on)
        self.settings_toggle.setArrowType(QtCore.Qt.ArrowType.DownArrow if on else QtCore.Qt.ArrowType.RightArrow)

    # -- settings --------------------------------------------------------------------------------
    def read_config(self) -> ParadigmsConfig:
        """The settings on the tab; raises ValueError naming the field at fault."""
        rules = tuple(r for r in RULES if self.rule_boxes[r].isChecked())
        name = self.dataset.currentData()
        n, noise = DATASET_DEFAULTS.get(name, TOY_DEFAULT)
        if name == self._base.dataset:
            n, noise = self._base.n, self._base.noise
        values: dict[str, dict[str, float]] = {}
        for key, e in self.fields.items():
            rule, field = key.split(".")
            what = f"{RULE_SHORT[rule]} {field.replace('_', ' ')}"
            v = parse_positive(e.text(), what)
            if field == "population":
                if v != int(v):
                    raise ValueError(f"{what} must be a whole number, got {e.text().strip()}")
                v = int(v)
            values.setdefault(rule, {})[field] = v
        cfg = replace(self._base, rules=rules, dataset=name, n=n, noise=noise, hidden=(int(self.hidden.value()),),
                      steps=int(self.steps.value()), batch_size=int(self.batch.value()), seed=int(self.seed.value()),
                      **{rule: replace(getattr(self._base, rule), **v) for rule, v in values.items()})
        cfg.check()
        return cfg

    def _config_to_fields(self, cfg: ParadigmsConfig) -> None:
        for rule, box in self.rule_boxes.items():
            box.setChecked(rule in cfg.rules)
        self.dataset.blockSignals(True)
        self.dataset.setCurrentIndex(max(0, self.dataset.findData(cfg.dataset)))
        self.dataset.blockSignals(False)
        self.hidden.setValue(int(cfg.hidden[0]))
        self.steps.setValue(int(cfg.steps))
        self.batch.setValue(int(cfg.batch_size))
        self.seed.setValue(int(cfg.seed))
        for key, e in self.fields.items():
            rule, field = key.split(".")
            e.setText(f"{getattr(getattr(cfg, rule), field):g}")
        self._base = cfg

    def _dataset_changed(self, _index: int = 0) -> None:
        name = self.dataset.currentData()
        n, noise = DATASET_DEFAULTS.get(name, TOY_DEFAULT)
        self._base = replace(self._base, dataset=name, n=n, noise=noise)

    def apply_options(self, options: dict[str, Any]) -> None:
        """Preset options: any `ParadigmsConfig` field (rule settings as nested objects), plus
        "page" (training, plane or table) and "x_axis" (step, passes or seconds)."""
        if not options:
            return
        extra = {k: options[k] for k in EXTRA_OPTIONS if k in options}
        settings = {k: v for k, v in options.items() if k not in EXTRA_OPTIONS}
        cfg = ParadigmsConfig.from_dict({**self._base.to_dict(), **settings}) if settings else self._base
        if len(cfg.hidden) != 1:
            raise ValueError("the Paradigms tab trains one hidden layer; give hidden as one width, e.g. [32]")
        problems = cfg.problems()
        if problems:
            raise ValueError("; ".join(problems.values()))
        if "page" in extra and extra["page"] not in PAGES:
            raise ValueError(f"page is one of {', '.join(PAGES)}, got {extra['page']!r}")
        if "x_axis" in extra and extra["x_axis"] not in X_AXES:
            raise ValueError(f"x_axis is one of {', '.join(X_AXES)}, got {extra['x_axis']!r}")
        self._config_to_fields(cfg)
        if "page" in extra:
            self.pages.setCurrentIndex(PAGES.index(extra["page"]))
        if "x_axis" in extra:
            self.x_axis.setCurrentIndex(self.x_axis.findData(extra["x_axis"]))

    def options(self) -> dict[str, Any]:
        try:
            cfg = self.read_config()
        except ValueError:
            cfg = self._base
        return {**cfg.to_dict(), "page": PAGES[self.pages.currentIndex()], "x_axis": self.x_axis.currentData()}

    # -- running ---------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        any_rule = any(b.isChecked() for b in self.rule_boxes.values())
        self.train_button.setEnabled(any_rule)
        self.train_button.setToolTip("train every ticked rule from the same θ₀ on the same batches, then draw "
                                     "their paths on one loss surface" if any_rule else "tick at least one rule")

    def start(self) -> None:
        """Train the ticked rules with the tab's settings (a new run replaces the one on screen)."""
        try:
            cfg = self.read_config()
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self.error.hide()
        self._clear(cfg)
        self.run_config = cfg
        self.run_log.begin("compare", cfg)
        self.running = True
        self.outcome = ""
        self.progress.start(f"training {len(cfg.rules)} rule{'s' if len(cfg.rules) > 1 else ''} side by side…", 1000)
        self.jobs.start("compare", lambda: compare(cfg), self._on_items, on_error=self._on_error,
                        on_end=self._on_end)

    def cancel(self) -> None:
        if self.running:
            self.jobs.stop("compare")
            self.progress.set_value(self.progress.bar.value(), "cancelling…")

    def shutdown(self) -> None:
        self.jobs.stop_all()

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.lab.message.emit(f"Paradigms: {text}", 8000)

    def _on_error(self, text: str) -> None:
        self.outcome = "failed"
        self._show_error(text)

    def _on_end(self) -> None:
        self.run_log.end("compare")
        self.running = False
        self.loss_note.set_text(IDLE_NOTE)
        if self.angle_note.text:  # no note while the plot asks for FA to be ticked
            self.angle_note.set_text(IDLE_NOTE)
        self.progress.finish()
        if not self.outcome:
            self.outcome = "done" if self.done is not None else "cancelled"
        if self.outcome == "cancelled":
            self.lab.message.emit("Paradigms: cancelled; the curves so far stay on screen", 6000)
        elif self.outcome == "done":
            self.lab.message.emit("Paradigms: " + self._summary_text(), 8000)
        self.summary.setText(self._summary_text() + ("" if self.outcome == "done" else f" ({self.outcome})"))
        self._fill_table()

    def _clear(self, cfg: ParadigmsConfig) -> None:
        self.history = {r: {k: [] for k in ("step", "train_loss", "test_loss", "train_acc", "test_acc", "seconds",
                                            "passes", "angle", "angle_all", "angle_step")} for r in cfg.rules}
        self.last_event, self.maps, self.diverged = {}, {}, {}
        self.plane = self.curvature = self.done = None
        for c in list(self.loss_curves.values()) + list(self.path_curves.values()) + [self.angle_curve, self.contours]:
            c.setData([], [])
        for s in self.path_ends.values():
            s.setData([], [])
        self.start_marker.setData([], [])
        self.start_label.setVisible(False)
        self.plane_map.image.clear()
        self.plane_caption.setText("The shared plane is fitted once every rule has finished.")
        self.curv_bars.setOpts(x=np.zeros(0), height=np.zeros(0))
        self.curv_start.setVisible(False)
        # The legends list the rules of this run only.
        for plot, curves in ((self.loss_plot, self.loss_curves), (self.plane_map.plot, self.path_curves)):
            plot.legend.clear()
            for rule in cfg.rules:
                plot.legend.addItem(curves[rule], RULE_SHORT[rule])
            manager().register_plot(plot)
        for rule in RULES:
            self.loss_curves[rule].setVisible(rule in cfg.rules)
            self.path_curves[rule].setVisible(rule in cfg.rules)
            self.map_images[rule].clear()
            self.map_points[rule].setData([], [])
        fa = "feedback_alignment" in cfg.rules
        self.angle_hint.setText("" if fa else "Tick FA to measure\nits angle to the gradient")
        self.angle_note.set_text("Waiting for FA's first step…" if fa else "")
        self.loss_note.set_text("Starting…")
        self.angle_hint.setPos(cfg.steps / 2, 50)
        self.angle_plot.setXRange(0, cfg.steps, padding=0.02)
        self.loss_plot.enableAutoRange()
        self._set_map_mode(cfg.dataset)
        self._layout_maps(list(cfg.rules))
        self.table.setRowCount(0)
        self.summary.setText("")

    # -- items from the job ----------------------------------------------------------------------
    def _on_items(self, items: list) -> None:
        self.run_log.add("compare", items)
        touched = False
        progress: CompareProgress | None = None
        maps: dict[str, RuleMap] = {}
        plane: SharedPlane | None = None
        for item in items:
            if isinstance(item, RuleEvent):
                self._add_event(item)
                touched = True
            elif isinstance(item, CompareProgress):
                progress = item
            elif isinstance(item, RuleMap):
                maps[item.rule] = item
            elif isinstance(item, SharedPlane):
                plane = item
            elif isinstance(item, Curvature):
                self.curvature = item
                self._draw_curvature()
            elif isinstance(item, CompareDone):
                self.done = item
        if touched:
            self._draw_curves()
            self._draw_angle()
        for m in maps.values():
            self.maps[m.rule] = m
            self._draw_map(m)
        if maps:
            step = max(m.step for m in maps.values())
            if self.run_config.dataset == "digits":
                self.maps_caption.setText(f"Confusion matrices on the test set at step {step:,}: row = true digit, "
                                          "colour = share of it predicted as each column; test accuracy in each title")
            else:
                self.maps_caption.setText(f"Decision maps at step {step:,} with the training points; test accuracy "
                                          "in each title")
        if plane is not None:
            self.plane = plane
            self._draw_plane()
        if progress is not None and self.running:
            self.progress.set_value(int(1000 * progress.fraction), progress.text)
            self.loss_note.set_text(plots.progress_text(progress.text, progress.fraction))
        if touched:
            self.summary.setText(self._summary_text())

    def _add_event(self, ev: RuleEvent) -> None:
        h = self.history.setdefault(ev.rule, {})
        if ev.diverged:
            self.diverged[ev.rule] = ev.message
            self._show_error(ev.message)
            return
        for key, value in (("step", ev.step), ("train_loss", ev.train_loss), ("test_loss", ev.test_loss),
                           ("train_acc", ev.train_acc), ("test_acc", ev.test_acc), ("seconds", ev.seconds),
                           ("passes", ev.forward_passes)):
            h[key].append(value)
        if "angle" in ev.extras:
            h["angle"].append(ev.extras["angle"])
            h["angle_all"].append(ev.extras.get("angle_all", np.nan))
            h["angle_step"].append(ev.step)
        self.last_event[ev.rule] = ev

    # -- drawing ---------------------------------------------------------------------------------
    def _x_values(self, rule: str) -> np.ndarray:
        mode = self.x_axis.currentData()
        return np.asarray(self.history[rule]["step" if mode == "step" else mode], dtype=float)

    def _draw_curves(self) -> None:
        mode = self.x_axis.currentData()
        log_x = mode == "passes"
        self.loss_plot.setLogMode(x=log_x, y=True)
        self.loss_plot.setLabel("bottom", X_AXES[mode] + (" (log scale)" if log_x else ""))
        shown = []
        for rule, h in self.history.items():
            x = self._x_values(rule)
            y = np.asarray(h["train_loss"], dtype=float)
            ok = np.isfinite(y) & (y > 0) & (x > 0 if log_x else np.isfinite(x))
            self.loss_curves[rule].setData(x[ok], y[ok])
            shown.append(y[ok])
        values = np.concatenate(shown) if shown else np.empty(0)
        if values.size:
            # Half a decade of room above the start, where the legend sits.
            lo, hi = float(values.min()), float(values.max())
            self.loss_plot.setYRange(np.log10(lo / 1.5), np.log10(hi * 4), padding=0)

    def _draw_angle(self) -> None:
        h = self.history.get("feedback_alignment")
        if h and h["angle"]:
            self.angle_curve.setData(np.asarray(h["angle_step"], dtype=float), np.asarray(h["angle"]))

    def _set_map_mode(self, dataset: str) -> None:
        self._map_mode = "confusion" if dataset == "digits" else "points"
        self._map_classes = 10 if dataset == "digits" else (3 if dataset == "blobs" else 2)
        K = self._map_classes
        if self._map_mode == "confusion":
            self.map_bar.setColorMap(pg.colormap.get("viridis"))
            self.map_bar.axis.setLabel("share of the row")
            self.map_bar.setLevels((0.0, 1.0))
        elif K == 2:
            self.map_bar.setColorMap(plots.binary_colormap())
            self.map_bar.axis.setLabel("P(class 1)")
            self.map_bar.setLevels((0.0, 1.0))
        else:
            self.map_bar.setColorMap(plots.class_band_colormap(K))
            self.map_bar.axis.setLabel("class (shade: confidence)")
            self.map_bar.setLevels((0.0, float(K)))
        ticks = [(float(i), str(i)) for i in range(0, K, 2 if K > 5 else 1)]
        for plot in self.map_plots.values():
            confusion = self._map_mode == "confusion"
            plot.setLabel("bottom", "predicted" if confusion else "")
            plot.setLabel("left", "true class" if confusion else "")
            # Decision maps are pictures of the input plane: the colour bar says what they show,
            # and small maps keep their room for the picture. (setLabel shows an axis: hide after.)
            plot.showAxis("left", confusion)
            plot.showAxis("bottom", confusion)
            plot.getAxis("bottom").setTicks([ticks] if confusion else None)
            plot.getAxis("left").setTicks([ticks] if confusion else None)
            plot.invertY(confusion)
            plot.setAspectLocked(True)
            manager().register_plot(plot)

    def _layout_maps(self, rules: list[str]) -> None:
        """One map per rule of the run, left to right, then the colour bar."""
        ci = self.maps_view.ci
        for item in [self.map_bar] + [self.map_plots[r] for r in self._map_rules]:
            if item in ci.items:
                ci.removeItem(item)
        for i, rule in enumerate(rules):
            ci.addItem(self.map_plots[rule], row=0, col=i)
            # Only the first confusion matrix names its rows: the others share them.
            if self._map_mode == "confusion":
                self.map_plots[rule].setLabel("left", "true class" if i == 0 else "")
        ci.addItem(self.map_bar, row=0, col=len(rules))
        for i in range(len(rules)):
            ci.layout.setColumnStretchFactor(i, 1)
        ci.layout.setColumnStretchFactor(len(rules), 0)
        self._map_rules = list(rules)

    def _draw_map(self, m: RuleMap) -> None:
        plot, image = self.map_plots[m.rule], self.map_images[m.rule]
        title = f"{RULE_SHORT[m.rule]} · {100 * m.test_acc:.1f}%"
        plot._lab_title = title
        manager().register_plot(plot)
        if m.confusion is not None:
            counts = m.confusion.astype(np.float64)
            share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
            K = share.shape[0]
            image.setImage(share.astype(np.float32), autoLevels=False)
            image.setRect(QtCore.QRectF(-0.5, -0.5, K, K))
            plot.setRange(xRange=(-0.5, K - 0.5), yRange=(-0.5, K - 0.5), padding=0)
        else:
            C = m.probs.shape[-1]
            if C == 2:
                z = m.probs[..., 1]
            else:
                conf = m.probs.max(-1)
                z = m.probs.argmax(-1) + 0.999 * (conf - 1.0 / C) / (1 - 1.0 / C)
            xmin, xmax, ymin, ymax = m.extent
            res = z.shape[0]
            dx, dy = (xmax - xmin) / max(res - 1, 1), (ymax - ymin) / max(res - 1, 1)
            image.setImage(z.astype(np.float32), autoLevels=False)
            image.setRect(QtCore.QRectF(xmin - dx / 2, ymin - dy / 2, dx * res, dy * res))
            plot.setRange(xRange=(xmin, xmax), yRange=(ymin, ymax), padding=0)
            if m.points is not None and not self.map_points[m.rule].data.size:
                # The training points, drawn once per run (they do not move).
                self.map_points[m.rule].setData(m.points[:, 0], m.points[:, 1],
                                                brush=plots.class_brushes(m.labels, C))
        self.map_bar.setLevels(self.map_bar.levels())  # new images take the bar's levels and colours

    def _draw_plane(self) -> None:
        p = self.plane
        for rule, coords in p.paths.items():
            self.path_curves[rule].setData(coords[:, 0], coords[:, 1])
            self.path_ends[rule].setData([coords[-1, 0]], [coords[-1, 1]])
        self.start_marker.setData([0.0], [0.0])
        self.start_label.setPos(0.0, 0.0)
        self.start_label.setVisible(True)
        if p.Z is not None and p.alphas is not None:
            z = np.log10(np.clip(p.Z, 1e-12, None))
            finite = z[np.isfinite(z)]
            levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            # Z[i, j] is at (αᵢ, βⱼ): rows of the picture run along β.
            extent = (float(p.alphas[0]), float(p.alphas[-1]), float(p.betas[0]), float(p.betas[-1]))
            self.plane_map.set_image(z.T, extent, levels=levels)
            if p.contours is not None and len(p.contours.segments):
                self.contours.setData(p.contours.segments[:, 0], p.contours.segments[:, 1])
        else:
            pts = np.concatenate([c for c in p.paths.values()] + [np.zeros((1, 2))])
            lo, hi = pts.min(0), pts.max(0)
            self.plane_map.plot.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0.1)
        share = " · ".join(f"{RULE_SHORT[r]} {100 * v:.0f}%" for r, v in p.in_plane.items())
        samples = f" Loss on {p.surface_samples:,} training samples." if p.surface_samples else ""
        self.plane_caption.setText(
            f"Plane through θ₀ (white circle) along the two principal directions of all paths, each path weighted "
            f"equally: d₁ holds {100 * p.explained[0]:.0f}%, d₂ {100 * p.explained[1]:.0f}% of their squared "
            f"displacement. Share of each path inside the plane: {share}.{samples}")
        self._fill_table()

    def _draw_curvature(self) -> None:
        c = getattr(self, "curvature", None)
        if c is None:
            return
        rules = [r for r in RULES if r in c.lambda_max]
        x = np.arange(len(rules), dtype=float)
        heights = np.array([c.lambda_max[r] for r in rules])
        brushes = [pg.mkBrush(manager().color(COLOR[r])) for r in rules]
        self.curv_bars.setOpts(x=x, height=heights, width=0.6, brushes=brushes, pen=None)
        self.curv_plot.getAxis("bottom").setTicks([[(i, RULE_SHORT[r]) for i, r in enumerate(rules)]])
        self.curv_start.setValue(c.lambda_max_start)
        self.curv_start.setVisible(True)
        top = max([c.lambda_max_start, *heights.tolist()]) if len(heights) else 1.0
        self.curv_plot.setXRange(-0.6, len(rules) - 0.4, padding=0)
        self.curv_plot.setYRange(0, 1.12 * top, padding=0)
        self._fill_table()

    # -- the numbers -----------------------------------------------------------------------------
    def _note(self, rule: str, ev: RuleEvent) -> str:
        cfg = self.run_config
        e = ev.extras
        if rule == "feedback_alignment" and "angle" in e:
            return f"update {e['angle']:.0f}° from the true gradient (hidden layer; 90° = unrelated)"
        if rule == "evolution":
            return f"{cfg.evolution.population} perturbations ±σε per step, σ = {cfg.evolution.sigma:g}"
        if rule == "forward_forward" and "goodness_test_acc" in e:
            return f"classifying by goodness alone: {100 * e['goodness_test_acc']:.1f}% test"
        if rule == "hebbian" and "pc1_cosine" in e:
            width = cfg.hidden[0]
            return (f"top-{width} principal subspace holds {100 * e['subspace']:.0f}% of the hidden weights; "
                    f"cos∠(w₁, PC1) = {e['pc1_cosine']:.2f}")
        if rule == "backprop":
            return "the exact gradient (the reference)"
        return ""

    def rows(self) -> list[dict[str, Any]]:
        """One row per rule of the run on screen: the table's numbers."""
        out = []
        if self.run_config is None:
            return out
        for rule in self.run_config.rules:
            ev = self.last_event.get(rule)
            if ev is None:
                continue
            row = {"rule": rule, "label": RULE_LABELS[rule], "step": ev.step, "train_loss": ev.train_loss,
                   "train_acc": ev.train_acc, "test_loss": ev.test_loss, "test_acc": ev.test_acc,
                   "seconds": ev.seconds, "passes_per_example": ev.forward_passes, "extras": dict(ev.extras),
                   "diverged": rule in self.diverged, "note": self._note(rule, ev)}
            if self.curvature is not None and rule in self.curvature.lambda_max:
                row["lambda_max"] = self.curvature.lambda_max[rule]
            if self.plane is not None and rule in self.plane.in_plane:
                row["in_plane"] = self.plane.in_plane[rule]
                row["distance_from_theta0"] = self.plane.distance[rule]
            out.append(row)
        return out

    def _fill_table(self) -> None:
        rows = self.rows()
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = [
                RULE_LABELS[r["rule"]] + (" (diverged)" if r["diverged"] else ""),
                fmt(r["train_loss"]),
                f"{100 * r['test_acc']:.1f}%",
                fmt(r["lambda_max"]) if "lambda_max" in r else "—",
                f"{100 * r['in_plane']:.0f}%" if "in_plane" in r else "—",
                f"{_seconds(r['seconds'])} · {r['passes_per_example']:,} passes",
                r["note"],
            ]
            for j, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if j == 0:
                    item.setForeground(QtGui.QBrush(manager().color(COLOR[r["rule"]])))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if 1 <= j <= 5:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)

    def _summary_text(self) -> str:
        cfg = self.run_config
        if cfg is None or not self.last_event:
            return ""
        step = max(ev.step for ev in self.last_event.values())
        parts = [f"{DATASET_NAMES.get(cfg.dataset, cfg.dataset)}, {cfg.hidden[0]} hidden units, step {step:,}"
                 f"/{cfg.steps:,}"]
        parts += [f"{RULE_SHORT[r]} {100 * ev.test_acc:.1f}%" for r, ev in self.last_event.items()
                  if r not in self.diverged]
        text = " · ".join(parts) + " test accuracy"
        fa = self.last_event.get("feedback_alignment")
        if fa is not None and "angle" in fa.extras:
            text += f" · FA's update {fa.extras['angle']:.0f}° from the gradient"
        return text

    # -- the panel protocol ----------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active and not self._started and not self.lab.sync:
            self._started = True  # first visit: show the default comparison without a click
            self.start()

    def run_preset(self, preset) -> None:
        self._started = True
        self.start()

    def replay_runs(self, runs: dict) -> None:
        """A recorded side-by-side run as it stood: curves, maps, plane and table drawn again."""
        self.jobs.stop_all()
        run = runs.get("compare")
        if run is None:
            try:
                self._clear(self.read_config())
            except ValueError:
                pass
            self.run_config = None
            return
        cfg = run.settings
        self._clear(cfg)
        self.run_config = cfg
        self.outcome = ""
        self.running = not run.ended
        with self.run_log.muted():
            if run.items:
                self._on_items(run.items)
            if run.ended:
                self._on_end()

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        lay_out_pages(self.pages)
        out: dict[str, QtWidgets.QWidget] = {"paradigms-loss": self.loss_view, "paradigms-maps": self.maps_box}
        if self.run_config is not None and "feedback_alignment" in self.run_config.rules:
            out["paradigms-angle"] = self.angle_view
        if self.plane is not None:
            out["paradigms-plane"] = self.plane_view
        if self.curvature is not None:
            out["paradigms-curvature"] = self.curv_view
        out["paradigms-table"] = self.table
        out["paradigms"] = self
        return out

    def data(self) -> dict[str, Any]:
        if self.run_config is None:
            return {}
        out: dict[str, Any] = {"config": self.run_config.to_dict(), "outcome": self.outcome, "rules": self.rows(),
                               "history": self.history}
        p = self.plane
        if p is not None:
            out["plane"] = {"explained": p.explained.tolist(), "in_plane": p.in_plane, "distance": p.distance,
                            "surface_samples": p.surface_samples}
            for rule, coords in p.paths.items():
                out[f"path_{rule}"] = coords
                out[f"path_steps_{rule}"] = p.steps[rule]
            if p.Z is not None:
                out["surface_alphas"], out["surface_betas"], out["surface_loss"] = p.alphas, p.betas, p.Z
        if self.curvature is not None:
            out["lambda_max"] = {**self.curvature.lambda_max, "theta0": self.curvature.lambda_max_start}
        for rule, m in self.maps.items():
            if m.confusion is not None:
                out[f"confusion_{rule}"] = m.confusion
            elif m.probs is not None:
                out[f"decision_probs_{rule}"] = m.probs
                out["decision_extent"] = np.asarray(m.extent)
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        self._started = True
        if ctx.quick:
            quick = {k: v for k, v in QUICK.items() if k not in ctx.options}
            if "steps" in quick:
                self.steps.setValue(min(int(self.steps.value()), quick.pop("steps")))
            self._base = replace(self._base, **quick)
        self.start()
        if self.outcome != "done":
            raise RuntimeError(f"the paradigms comparison did not finish: {self.error.text() or self.outcome}")
        QtWidgets.QApplication.processEvents()


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s >= 1 else f"{s:.2g} s"
