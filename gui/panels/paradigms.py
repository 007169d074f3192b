"""The Paradigms tab: learning rules without exact backpropagated gradients, side by side.

The chosen rules train the same network from the same θ₀ on the same minibatches in one job
(`engine.paradigms.compare`), with progress and Cancel. Page *Training*: the loss curves on one
plot (against steps, passes through the network, or seconds), feedback alignment's angle to the
true gradient, and each rule's decision map (2-D data) or confusion matrix (digits) side by side,
live. Page *Shared plane*: every path on one loss surface, the plane through θ₀ spanned by the
principal directions of all paths together, and λmax of the Hessian where each rule ended.
Page *Table*: the numbers. Each page is its own widget file (paradigms_training, paradigms_plane,
paradigms_table); this module holds the settings, the job and the run's numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

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
    lay_out_pages,
)
from ..run_log import RunLog
from ..style import manager
from ..worker import event_loop_turn
from .base import HeadlessContext, Panel, page_attribute
from .paradigms_common import COLOR
from .paradigms_plane import PlanePage
from .paradigms_table import RuleTable
from .paradigms_training import X_AXES, TrainingPage

DATASET_NAMES = {"digits": "Digits 8×8", "moons": "Moons", "circles": "Circles", "spirals": "Spirals",
                 "xor": "XOR", "blobs": "Blobs"}
# Sample counts and noise a toy set gets when chosen here (digits: all 1,797 images).
DATASET_DEFAULTS = {"digits": (1797, 0.0)}
TOY_DEFAULT = (600, 0.1)
PAGES = ("training", "plane", "table")
EXTRA_OPTIONS = {"page", "x_axis"}
QUICK = {"steps": 150, "surface_resolution": 25, "map_resolution": 60}


class ParadigmsPanel(Panel):
    slug = "paradigms"
    title = "Paradigms"
    topic = "Alternative training paradigms"
    uses_experiment = False

    # The pages' plots, reachable from the tab as before the split (figures, tests, the lesson).
    loss_view = page_attribute("training_page", "loss_view")
    loss_plot = page_attribute("training_page", "loss_plot")
    loss_curves = page_attribute("training_page", "loss_curves")
    angle_view = page_attribute("training_page", "angle_view")
    angle_plot = page_attribute("training_page", "angle_plot")
    angle_curve = page_attribute("training_page", "angle_curve")
    maps_box = page_attribute("training_page", "maps_box")
    maps_view = page_attribute("training_page", "maps_view")
    map_plots = page_attribute("training_page", "map_plots")
    map_images = page_attribute("training_page", "map_images")
    map_points = page_attribute("training_page", "map_points")
    map_bar = page_attribute("training_page", "map_bar")
    plane_view = page_attribute("plane_page", "plane_view")
    plane_map = page_attribute("plane_page", "plane_map")
    contours = page_attribute("plane_page", "contours")
    path_curves = page_attribute("plane_page", "path_curves")
    path_ends = page_attribute("plane_page", "path_ends")
    plane_caption = page_attribute("plane_page", "plane_caption")
    curv_view = page_attribute("plane_page", "curv_view")
    curv_plot = page_attribute("plane_page", "curv_plot")
    curv_bars = page_attribute("plane_page", "curv_bars")

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
        self._build_controls()
        self.training_page = TrainingPage()
        self.plane_page = PlanePage()
        self.table = RuleTable()
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
        self.training_page.set_map_mode("digits")
        self.training_page.layout_maps(list(RULES))
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

    # -- style -----------------------------------------------------------------------------------
    def _restyle(self) -> None:
        self.plane_page.restyle()
        self.training_page.restyle()
        fm = self.fontMetrics()
        for key, e in self.fields.items():
            e.setFixedWidth(fm.horizontalAdvance("0" * (5 if key != "evolution.population" else 4)) + 14)
        for rule in RULES:
            col = manager().color(COLOR[rule])
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
        # The old run's deliveries stop here: clearing may hand the event loop turns (when the tab
        # is being shown), and nothing of the old run may land in the half-cleared plots.
        self.jobs.cancel("compare", forget=True)
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
        self.training_page.idle_notes()
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
        self.training_page.clear(cfg.rules, cfg.steps, cfg.dataset)
        event_loop_turn()
        self.plane_page.clear(cfg.rules)
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
            self.training_page.draw_angle(self.history)
        for m in maps.values():
            self.maps[m.rule] = m
            self.training_page.draw_map(m)
        if maps:
            self.training_page.caption_maps(self.run_config.dataset, max(m.step for m in maps.values()))
        if plane is not None:
            self.plane = plane
            self._draw_plane()
        if progress is not None and self.running:
            self.progress.set_value(int(1000 * progress.fraction), progress.text)
            self.training_page.loss_note.set_text(plots.progress_text(progress.text, progress.fraction))
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
    def _draw_curves(self) -> None:
        self.training_page.draw_curves(self.history, self.x_axis.currentData())

    def _draw_plane(self) -> None:
        self.plane_page.draw_plane(self.plane)
        self._fill_table()

    def _draw_curvature(self) -> None:
        c = getattr(self, "curvature", None)
        if c is None:
            return
        self.plane_page.draw_curvature(c)
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
        self.table.fill(self.rows())

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

