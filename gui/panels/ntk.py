"""The NTK & kernels tab: a 1-D regression playground for the neural tangent kernel.

One network of the chosen width is trained by gradient descent next to its linearisation at
θ₀ and the kernel-regression prediction of its initial NTK; a width sweep measures how far
the kernel moves during training. All of it runs as the tab's jobs (gui/jobs.py), with
progress and Cancel; this module only draws. Its two pages live in ntk_width (width and
linearisation) and ntk_kernels (kernel machines).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from engine.claims import Claim, Numbers, verdict
from engine.claims import ntk as ntk_claims
from engine.models import ACTIVATIONS
from engine.ntk import (
    TARGET_NAMES,
    DriftPoint,
    NTKConfig,
    StudyProgress,
    WidthResult,
    n_params_for,
    regression_1d,
    width_study,
)

from .. import plots
from ..experiment_bar import parse_positive
from ..jobs import PanelJobs
from ..panel_tools import FlowLayout, ProgressBar, fields_box
from ..run_log import RunLog
from ..spread import SeedCount, caption_label, seed_results, spread_caption
from ..style import manager
from .base import HeadlessContext, Panel, page_attribute
from .ntk_common import IDLE_NOTE
from .ntk_kernels import KernelsPage
from .ntk_width import WidthPage

# The width slider moves in half octaves: 4, 6, 8, 11, 16, …, 4096.
WIDTHS = [int(round(2 ** (e / 2))) for e in range(4, 25)]
DEFAULT_WIDTH = 256
DEFAULT_SWEEP = (16, 64, 256, 1024, 4096)
DATA_SEED = 0
PARAMETERIZATION_LABELS = {"ntk": "NTK", "standard": "standard"}
OPTION_KEYS = {"width", "hidden_layers", "parameterization", "activation", "seed", "target", "points", "noise",
               "lr", "momentum", "steps", "kernel_ridge", "rbf_length", "sweep", "sigma_w", "sigma_b", "run",
               "kernel_grid", "page"}
PAGES = ("width", "kernels")


def parse_widths(text: str) -> list[int]:
    """'16, 64, 256' -> [16, 64, 256]; raises ValueError with a message for the user."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    try:
        widths = [int(p) for p in parts]
    except ValueError:
        raise ValueError("sweep widths are whole numbers separated by commas, e.g. 16, 64, 256") from None
    if len(widths) < 2:
        raise ValueError("a sweep needs at least two widths, e.g. 16, 64, 256")
    if any(w < 1 or w > 8192 for w in widths):
        raise ValueError("sweep widths lie between 1 and 8192")
    return sorted(set(widths))



class NTKPanel(Panel):
    slug = "ntk"
    title = "NTK & kernels"
    topic = "Neural tangent kernel"
    uses_experiment = False

    # The pages' plots, reachable from the tab as before the split (figures, tests, the lesson).
    fit_view = page_attribute("width_page", "fit_view")
    fit_plot = page_attribute("width_page", "fit_plot")
    kernel_curve = page_attribute("width_page", "kernel_curve")
    truth_curve = page_attribute("width_page", "truth_curve")
    net_curve = page_attribute("width_page", "net_curve")
    lin_curve = page_attribute("width_page", "lin_curve")
    drift_view = page_attribute("width_page", "drift_view")
    drift_plot = page_attribute("width_page", "drift_plot")
    drift_curve = page_attribute("width_page", "drift_curve")
    gap_curve = page_attribute("width_page", "gap_curve")
    drift_band = page_attribute("width_page", "drift_band")
    current_marker = page_attribute("width_page", "current_marker")
    kernels_view = page_attribute("width_page", "kernels_view")
    k0_image = page_attribute("width_page", "k0_image")
    kt_image = page_attribute("width_page", "kt_image")
    spectrum_view = page_attribute("width_page", "spectrum_view")
    spectrum_plot = page_attribute("width_page", "spectrum_plot")
    eig0_curve = page_attribute("width_page", "eig0_curve")
    eigT_curve = page_attribute("width_page", "eigT_curve")
    methods_view = page_attribute("methods_page", "methods_view")
    rbf_plot = page_attribute("methods_page", "rbf_plot")
    ntk_ridge_plot = page_attribute("methods_page", "ntk_ridge_plot")
    rbf_curve = page_attribute("methods_page", "rbf_curve")
    ntk_ridge_curve = page_attribute("methods_page", "ntk_ridge_curve")
    methods_net_curve = page_attribute("methods_page", "methods_net_curve")
    compare_view = page_attribute("methods_page", "compare_view")
    compare_ntk_curve = page_attribute("methods_page", "compare_ntk_curve")
    eig_rbf_curve = page_attribute("methods_page", "eig_rbf_curve")

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.jobs = PanelJobs(self)
        self._pending: dict | None = None
        self._results: dict[int, WidthResult] = {}  # width -> result, for the current settings
        # The same settings on further seeds (the first is the Seed field's): seed -> width -> result.
        self._by_seed: dict[int, dict[int, WidthResult]] = {}
        self.run_log = RunLog()  # what the fits and sweeps delivered, for recordings
        self._shown: WidthResult | None = None
        self._settings_key: tuple | None = None
        self._started = False
        self.last_message = ""
        self._build_controls()
        self._build_plots()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.controls)
        layout.addWidget(self.error)
        layout.addWidget(self.split, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.verdict)
        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(350)
        self._debounce.timeout.connect(lambda: self.request("fit"))
        self._legend_timer = QtCore.QTimer(self)  # a child: it dies with the panel, never fires after
        self._legend_timer.setSingleShot(True)
        self._legend_timer.setInterval(0)
        self._legend_timer.timeout.connect(self._fit_legends)
        self._connect()
        manager().changed.connect(self._restyle)
        self._restyle()
        self._set_running(False)

    # -- building --------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        d = NTKConfig()
        self.width_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.width_slider.setRange(0, len(WIDTHS) - 1)
        self.width_slider.setValue(WIDTHS.index(DEFAULT_WIDTH))
        self.width_slider.setToolTip("hidden-layer width, log scale (half-octave steps)")
        self.width_slider.setMinimumWidth(100)
        self.width_label = QtWidgets.QLabel()
        self.layers = QtWidgets.QSpinBox(minimum=1, maximum=3, value=d.hidden_layers)
        self.layers.setToolTip("hidden layers, all of the same width")
        self.parameterization = QtWidgets.QComboBox()
        for key, label in PARAMETERIZATION_LABELS.items():
            self.parameterization.addItem(label, key)
        self.parameterization.setToolTip("NTK: weights N(0, 1), scaled by σ_w/√fan-in in the forward pass, so one "
                                         "learning rate suits every width. Standard: PyTorch's default initialisation; "
                                         "its kernel grows with the width, so wide networks need a smaller rate.")
        self.activation = QtWidgets.QComboBox()
        self.activation.addItems([a for a in ACTIVATIONS if a != "linear"] + ["linear"])
        self.activation.setCurrentText(d.activation)
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000)
        self.seed_count = SeedCount("Train with this seed and the next ones, the same settings on each, "
                                    "and draw every seed's kernel change with their mean ± s.d.")
        self.target = QtWidgets.QComboBox()
        self.target.addItems(list(TARGET_NAMES))
        self.points = QtWidgets.QSpinBox(minimum=3, maximum=60, value=10)
        self.noise = QtWidgets.QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.lr = QtWidgets.QLineEdit(f"{d.lr:g}")
        self.lr.setToolTip("learning rate of full-batch gradient descent (the same for the network and its "
                           "linearisation)")
        self.momentum = QtWidgets.QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.99, singleStep=0.05,
                                                 value=d.momentum)
        self.steps = QtWidgets.QSpinBox(minimum=10, maximum=50_000, singleStep=100, value=d.steps)
        self.ridge = QtWidgets.QLineEdit(f"{d.kernel_ridge:g}")
        self.ridge.setToolTip("ridge λ of both kernel machines, relative to the kernel's mean diagonal")
        self.rbf_length = QtWidgets.QLineEdit(f"{d.rbf_length:g}")
        self.rbf_length.setToolTip("length scale ℓ of the RBF kernel exp(−(x − x′)²/2ℓ²)")
        self.sweep_widths = QtWidgets.QLineEdit(", ".join(str(w) for w in DEFAULT_SWEEP))
        self.sweep_widths.setToolTip("the widths a sweep trains, one network each")
        self.fit_button = QtWidgets.QPushButton("Train at this width")
        self.fit_button.setToolTip("train one network of the slider's width and its linearisation")
        self.sweep_button = QtWidgets.QPushButton("Sweep widths")
        self.sweep_button.setToolTip("train one network per width and plot how far each kernel moved")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.progress = ProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(120)

        self.settings_toggle = QtWidgets.QToolButton()
        self.settings_toggle.setText("Settings")
        self.settings_toggle.setCheckable(True)
        self.settings_toggle.setChecked(True)
        self.settings_toggle.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings_toggle.setToolTip("show or hide the network, data and training settings")
        self._toggle_touched = False

        # The fields wrap like text, so the tab fits any window width and font size.
        flow = FlowLayout(hspacing=14, vspacing=4)

        def group(*parts: QtWidgets.QWidget | str) -> QtWidgets.QWidget:
            box = fields_box(*parts)
            flow.addWidget(box)
            return box

        group("Width", self.width_slider, self.width_label)
        group(self.fit_button, self.sweep_button, self.cancel_button)
        group(self.progress)
        group(self.settings_toggle)
        self.setting_groups = [
            group("Layers", self.layers), group("Parameters", self.parameterization),
            group("Activation", self.activation), group("Target", self.target), group("Points", self.points),
            group("Noise", self.noise), group("Seed", self.seed, self.seed_count), group("lr", self.lr),
            group("Momentum", self.momentum), group("Steps", self.steps), group("Ridge λ", self.ridge),
            group("RBF ℓ", self.rbf_length), group("Sweep", self.sweep_widths),
        ]
        self.controls = QtWidgets.QWidget()
        self.controls.setLayout(flow)
        self.error = plots.caption("", role="error")
        self.error.hide()
        self.summary = plots.caption("", scale=0.9)
        self.verdict = caption_label()
        self._update_width_label()

    def _build_plots(self) -> None:
        # Two pages, so each plot stays legible on a projector: the width story, and kernel machines.
        self.width_page = WidthPage()
        self.methods_page = KernelsPage()
        self.legends = [self.width_page.fit_legend, self.methods_page.methods_legend,
                        self.width_page.drift_legend, self.width_page.spectrum_legend]
        self.width_notes = self.width_page.notes + self.methods_page.notes
        self.pages = QtWidgets.QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.width_page, "Width and linearisation")
        self.pages.addTab(self.methods_page, "Kernel machines")
        self.split = self.pages

    def _connect(self) -> None:
        self.width_slider.valueChanged.connect(self._width_moved)
        for combo in (self.parameterization, self.activation, self.target):
            combo.currentIndexChanged.connect(lambda _=0: self._settings_changed())
        for spin in (self.layers, self.seed, self.points, self.steps):
            spin.editingFinished.connect(self._settings_changed)
        for spin in (self.noise, self.momentum):
            spin.editingFinished.connect(self._settings_changed)
        for edit in (self.lr, self.ridge, self.rbf_length):
            edit.editingFinished.connect(self._settings_changed)
        self.fit_button.clicked.connect(lambda: self.request("fit"))
        self.sweep_button.clicked.connect(lambda: self.request("sweep"))
        self.cancel_button.clicked.connect(self.cancel)
        self.settings_toggle.toggled.connect(self._toggle_settings)
        self.settings_toggle.clicked.connect(lambda: setattr(self, "_toggle_touched", True))
        self._toggle_settings(self.settings_toggle.isChecked())

    def _toggle_settings(self, on: bool) -> None:
        for box in self.setting_groups:
            box.setVisible(on)
        self.settings_toggle.setArrowType(QtCore.Qt.ArrowType.DownArrow if on else QtCore.Qt.ArrowType.RightArrow)

    def _restyle(self) -> None:
        # Fields sized in characters, so they grow with the font.
        fm = self.fontMetrics()
        for edit, chars in ((self.lr, 6), (self.ridge, 6), (self.rbf_length, 5), (self.sweep_widths, 20)):
            edit.setFixedWidth(fm.horizontalAdvance("0" * chars) + 14)
        self.progress.setFixedWidth(fm.horizontalAdvance("0" * 24))
        self.width_slider.setMinimumWidth(fm.horizontalAdvance("0" * 18))
        self.width_label.setMinimumWidth(fm.horizontalAdvance("4,096 units (12,289 params)") + 4)
        # At lecture font sizes the settings fold away unless the user opened them.
        if not self._toggle_touched:
            self.settings_toggle.setChecked(manager().style.font_scale < 1.3)
        fg = manager().color("plot_fg")
        self.width_page.restyle()
        self.methods_page.restyle()
        size = f"{manager().style.point_size:.1f}pt"  # legends as large as the ticks
        for _view, legend in getattr(self, "legends", []):
            legend.setLabelTextColor(fg)
            for _sample, label in legend.items:
                label.setText(label.text, color=fg, size=size)
            legend.measured_at = None  # the font changed: measure again
        self._fit_legends()

    def _fit_legends(self) -> None:
        """Each legend where it costs least: beside a wide, short plot; else under it, in two
        columns where they fit."""
        em = QtGui.QFontMetrics(manager().font()).height()
        for view, legend in getattr(self, "legends", []):
            if legend.span > 1:
                continue  # under two plots side by side: it stays there, in one row
            w, h = view.width(), view.height()
            if legend.measured_at != manager().style:
                for n in (2, 1):
                    legend.setColumnCount(n)
                    legend.layout.invalidate()
                    hint = legend.layout.effectiveSizeHint(QtCore.Qt.SizeHint.MinimumSize)
                    legend.widths[n], legend.heights[n] = hint.width() + 6, hint.height() + 4
                legend.measured_at = manager().style
            room = w - 1.15 * legend.widths[1]  # what the plot keeps beside a one-column legend
            beside = room > 1.1 * (h - 30) and room > 13 * em
            cell = (0, 1) if beside else (1, 0)
            cols = 1 if beside or legend.widths[2] > w - 8 else 2
            if legend.cell != cell:
                view.ci.removeItem(legend)
                view.ci.addItem(legend, row=cell[0], col=cell[1])
                legend.cell = cell
            legend.setColumnCount(cols)
            # Beside the plot the legend keeps its width; the plot takes what is left.
            legend.setMinimumWidth(legend.widths[1] if beside else 0)
            legend.setMaximumWidth(legend.widths[1] if beside else 1e6)
            legend.setMaximumHeight(legend.heights[cols])  # rows stay together, at the top
            view.ci.layout.setAlignment(legend, QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
            view.ci.layout.activate()  # settle now, so a picture taken next shows the new place

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if hasattr(self, "_legend_timer"):
            self._legend_timer.start()  # after the layouts have settled

    # -- settings ------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return WIDTHS[self.width_slider.value()]

    def set_width(self, width: int) -> None:
        """Move the slider to the nearest half-octave step."""
        i = int(np.argmin([abs(math.log(w) - math.log(max(width, 1))) for w in WIDTHS]))
        self.width_slider.setValue(i)

    def read_config(self) -> NTKConfig:
        """The settings in the fields; raises ValueError naming the field at fault."""
        lr = parse_positive(self.lr.text(), "learning rate")
        ridge = parse_positive(self.ridge.text(), "ridge λ", allow_zero=True)
        length = parse_positive(self.rbf_length.text(), "RBF length ℓ")
        cfg = replace(self._base_config, hidden_layers=int(self.layers.value()),
                      activation=self.activation.currentText(),
                      parameterization=self.parameterization.currentData(), lr=lr,
                      momentum=float(self.momentum.value()), steps=int(self.steps.value()),
                      kernel_ridge=ridge, rbf_length=length)
        cfg.check()
        return cfg

    _base_config = NTKConfig()

    def _data_settings(self) -> tuple[str, int, float]:
        return self.target.currentText(), int(self.points.value()), float(self.noise.value())

    def _key(self, cfg: NTKConfig) -> tuple:
        return (tuple(sorted(cfg.to_dict().items())), self._data_settings(), int(self.seed.value()))

    def _update_width_label(self) -> None:
        try:
            cfg = replace(self._base_config, hidden_layers=int(self.layers.value()))
            n = n_params_for(self.width, cfg)
            self.width_label.setText(f"{self.width:,} units ({n:,} params)")
        except Exception:  # the label is informative only
            self.width_label.setText(f"{self.width:,} units")

    def _width_moved(self, _value: int = 0) -> None:
        self._update_width_label()
        if self.width in self._results:
            self._show(self._results[self.width])
        else:
            self._debounce.start()

    def _settings_changed(self) -> None:
        self._update_width_label()
        self._debounce.start()

    def _show_error(self, text: str) -> None:
        self.last_message = text
        self.error.setText(text)
        self.error.show()
        self.lab.message.emit(text, 8000)

    def _clear_error(self) -> None:
        self.error.hide()
        self.error.setText("")

    # -- jobs ------------------------------------------------------------------------------------
    def run_preset(self, preset) -> None:
        self._started = True
        self.request("sweep" if self._run_mode in ("sweep", "both") else "fit")

    def request(self, kind: str) -> None:
        """Start a fit at the slider's width ("fit") or a width sweep ("sweep"); newest wins."""
        self._debounce.stop()
        try:
            cfg = self.read_config()
            widths = [self.width] if kind == "fit" else parse_widths(self.sweep_widths.text())
            too_big = [w for w in widths if n_params_for(w, cfg) > cfg.max_params]
            if too_big:
                raise ValueError(f"width {too_big[0]:,} with {cfg.hidden_layers} hidden layers has "
                                 f"{n_params_for(too_big[0], cfg):,} parameters, above the limit of "
                                 f"{cfg.max_params:,}; lower the width or the number of layers")
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self._clear_error()
        req = {"kind": kind, "config": cfg, "widths": widths, "data": self._data_settings(),
               "seed": int(self.seed.value()), "n_seeds": int(self.seed_count.value()), "key": self._key(cfg)}
        if self.jobs.running("study"):
            self._pending = req
            self.jobs.stop("study")
            return
        self._start(req)

    def _start(self, req: dict) -> None:
        if req["key"] != self._settings_key:  # new settings: earlier widths no longer compare
            self._settings_key = req["key"]
            self._results.clear()
            self._by_seed.clear()
            self._draw_drift()
        target, n, noise = req["data"]
        cfg, widths, seed = req["config"], req["widths"], req["seed"]
        seeds = [seed + k for k in range(int(req.get("n_seeds", 1)))]
        self._request = req
        self.run_log.begin("ntk", {"request": req, "earlier": list(self._results.values())})

        def work():
            dataset = regression_1d(n, target, noise, seed=DATA_SEED)
            for k, s in enumerate(seeds):  # the Seed field's seed first: its results fill every plot
                for item in width_study(widths, dataset, cfg, s):
                    if isinstance(item, StudyProgress):
                        item.fraction = (k + item.fraction) / len(seeds)
                    yield item

        self._set_running(True)
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.jobs.start("study", work, self._on_items, self._on_done, self._on_error)

    def cancel(self) -> None:
        self._pending = None
        self._debounce.stop()
        if self.jobs.running("study"):
            self.jobs.stop("study")
            self.progress.setFormat("cancelling…")

    def _on_items(self, items: list) -> None:
        self.run_log.add("ntk", items)
        progress = None
        for item in items:
            if isinstance(item, StudyProgress):
                progress = item
            elif isinstance(item, DriftPoint) and item.result is not None:
                self._by_seed.setdefault(item.result.seed, {})[item.width] = item.result
                if item.result.seed == self._base_seed():
                    self._results[item.width] = item.result
                    self._show(item.result)
                self._draw_drift()
                self._update_verdict()
        if progress is not None and not self.jobs.stopping("study"):
            p = progress
            text = f"width {p.width:,}: {p.stage}"
            if p.steps and p.stage.startswith("training"):
                text = f"width {p.width:,}: step {p.step:,}/{p.steps:,}, loss {p.loss:.2e}"
            self.progress.setValue(int(1000 * min(max(p.fraction, 0.0), 1.0)))
            self.progress.setFormat(text)
            for n in self.width_notes:
                n.set_text(plots.progress_text(f"Width {p.width:,}: {p.stage}", p.fraction))

    def _on_done(self) -> None:
        self.run_log.end("ntk")
        stopped = self.jobs.stopping("study")
        self._finished("cancelled" if stopped else "done")

    def _on_error(self, text: str) -> None:
        self._show_error(text)
        self._finished("failed")

    def _finished(self, how: str) -> None:
        self._set_running(False)
        for n in self.width_notes:
            n.set_text(IDLE_NOTE)
        if how == "done":
            self.progress.setValue(1000)
        self.progress.setFormat(how)
        if self._pending is not None:
            req, self._pending = self._pending, None
            self._start(req)

    def _set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)  # its last word ("done", "cancelled") is kept as its text
        self.running = running

    # -- drawing ---------------------------------------------------------------------------------
    def _show(self, r: WidthResult) -> None:
        self._shown = r
        if r.width in WIDTHS and r.width != self.width:  # the slider names the width on show
            self.width_slider.blockSignals(True)
            self.width_slider.setValue(WIDTHS.index(r.width))
            self.width_slider.blockSignals(False)
            self._update_width_label()
        req = getattr(self, "_request", None)  # the settings the shown results were computed with
        self.width_page.show_result(r)
        self.methods_page.show_result(r, req["config"].rbf_length if req else None)

        net_ntk = _rms(r.f_network - r.f_ntk_ridge)
        net_rbf = _rms(r.f_network - r.f_rbf_ridge)
        lr_note = f" · GD stable for lr < {r.lr_limit:.3g}" if math.isfinite(r.lr_limit) else ""
        self.summary.setText(
            f"width {r.width:,} ({r.n_params:,} params) · train MSE {r.train_loss:.1e}, linearised "
            f"{r.linearized_train_loss:.1e} · ‖K_T − K₀‖/‖K₀‖ = {r.relative_change:.3g} · RMS of network − "
            f"linearised {r.linearized_gap:.3g}, − NTK regression {r.kernel_gap:.3g}, − NTK ridge {net_ntk:.3g}, "
            f"− RBF ridge {net_rbf:.3g}{lr_note} · {r.seconds:.1f} s")
        if r.diverged:
            self._show_error(r.message)
        self._mark_current()

    def _draw_drift(self) -> None:
        self.width_page.draw_drift(self._results)
        if any(not r.diverged for r in self._results.values()):
            self._draw_seed_band()
            self._mark_current()

    # -- the claim over seeds -------------------------------------------------------------------
    def _base_seed(self) -> int:
        req = getattr(self, "_request", None)
        return int(req["seed"]) if req else int(self.seed.value())

    def _request_seeds(self) -> list[int]:
        req = getattr(self, "_request", None)
        if not req:
            return []
        return [int(req["seed"]) + k for k in range(int(req.get("n_seeds", 1)))]

    def claim(self) -> Claim | None:
        """The claim record the last request tests: the kernel's drift against width for a sweep;
        for one width, feature learning when narrow, kernel regression or the kernel machines
        (on that page) when wide; none in between."""
        req = getattr(self, "_request", None)
        if not req:
            return None
        if req["kind"] == "sweep":
            return ntk_claims.DRIFT
        width = req["widths"][0]
        if width <= 16:
            return ntk_claims.NARROW
        if width >= 1024:
            return ntk_claims.RBF if self.pages.currentIndex() == 1 else ntk_claims.WIDE
        return None

    def seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """Each finished seed's numbers for the request's claim, judged by the record's `holds`."""
        claim = self.claim()
        if claim is None:
            return []
        widths = self._request["widths"]
        numbers = []
        for s in self._request_seeds():
            got = self._by_seed.get(s, {})
            if not all(w in got and not got[w].diverged for w in widths):
                continue
            if claim is ntk_claims.DRIFT:
                rs = [got[w] for w in widths]
                numbers.append((s, ntk_claims.drift_numbers(widths, [r.relative_change for r in rs],
                                                            [r.linearized_gap for r in rs])))
            else:
                numbers.append((s, ntk_claims.fit_numbers(got[widths[0]])))
        return seed_results(claim, numbers)

    def _update_verdict(self) -> None:
        claim, results = self.claim(), self.seed_results()
        if claim is None or not results:
            self.verdict.hide()
            return
        wanted = len(self._request_seeds())
        text = spread_caption(claim, results)
        if len(results) < wanted:
            text = f"{len(results)} of {wanted} seeds done so far. " + text
        self.verdict.setText(text)
        self.verdict.show()

    def _draw_seed_band(self) -> None:
        seeds = [s for s in self._request_seeds() if s in self._by_seed]
        req = getattr(self, "_request", None)
        widths = sorted(req["widths"]) if req and req["kind"] == "sweep" else []
        if len(seeds) < 2 or not widths:
            self.width_page.draw_seed_band(widths, None)
            return
        values = np.array([[self._by_seed[s][w].relative_change if w in self._by_seed[s]
                            and not self._by_seed[s][w].diverged else np.nan for w in widths] for s in seeds])
        self.width_page.draw_seed_band(widths, values)

    def _mark_current(self) -> None:
        self.width_page.mark_current(self._shown, self._results)

    # -- the panel protocol ----------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if active and not self._started and not self.lab.sync:
            self._started = True  # first visit: show the default picture without a click
            self.request("fit")

    def shutdown(self) -> None:
        self._debounce.stop()
        self._pending = None
        self.jobs.stop("study")

    def apply_options(self, options: dict[str, Any]) -> None:
        unknown = set(options) - OPTION_KEYS
        if unknown:
            raise ValueError(f"the {self.title} tab has no options {sorted(unknown)}; it knows {sorted(OPTION_KEYS)}")
        widgets = [self.width_slider, self.layers, self.parameterization, self.activation, self.seed, self.target,
                   self.points, self.noise, self.lr, self.momentum, self.steps, self.ridge, self.rbf_length,
                   self.sweep_widths]
        for w in widgets:
            w.blockSignals(True)
        try:
            o = options
            if "width" in o:
                self.set_width(int(o["width"]))
            if "hidden_layers" in o:
                self.layers.setValue(int(o["hidden_layers"]))
            if "parameterization" in o:
                i = self.parameterization.findData(o["parameterization"])
                if i < 0:
                    raise ValueError(f"parameterization is 'ntk' or 'standard', got {o['parameterization']!r}")
                self.parameterization.setCurrentIndex(i)
            if "activation" in o:
                if self.activation.findText(o["activation"]) < 0:
                    raise ValueError(f"unknown activation {o['activation']!r}")
                self.activation.setCurrentText(o["activation"])
            if "target" in o:
                if self.target.findText(o["target"]) < 0:
                    raise ValueError(f"unknown target {o['target']!r}; choose one of {', '.join(TARGET_NAMES)}")
                self.target.setCurrentText(o["target"])
            for key, spin, cast in (("seed", self.seed, int), ("points", self.points, int),
                                    ("noise", self.noise, float), ("momentum", self.momentum, float),
                                    ("steps", self.steps, int)):
                if key in o:
                    spin.setValue(cast(o[key]))
            for key, edit in (("lr", self.lr), ("kernel_ridge", self.ridge), ("rbf_length", self.rbf_length)):
                if key in o:
                    edit.setText(f"{float(o[key]):g}")
            if "sweep" in o:
                self.sweep_widths.setText(", ".join(str(int(w)) for w in o["sweep"]))
            extra = {k: o[k] for k in ("sigma_w", "sigma_b", "kernel_grid") if k in o}
            self._base_config = replace(NTKConfig(), **extra)
            if "page" in o:
                if o["page"] not in PAGES:
                    raise ValueError(f"page is one of {', '.join(PAGES)}, got {o['page']!r}")
                self.pages.setCurrentIndex(PAGES.index(o["page"]))
            self._run_mode = o.get("run", "both")
            if self._run_mode not in ("fit", "sweep", "both"):
                raise ValueError(f"run is 'fit', 'sweep' or 'both', got {self._run_mode!r}")
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._update_width_label()

    _run_mode = "both"

    def options(self) -> dict[str, Any]:
        """The tab's settings; a field that does not parse is saved as the value it stands for by default."""
        base, default = self._base_config, NTKConfig()
        numbers = {}
        for key, edit, what, zero in (("lr", self.lr, "learning rate", False),
                                      ("kernel_ridge", self.ridge, "ridge λ", True),
                                      ("rbf_length", self.rbf_length, "RBF length ℓ", False)):
            try:
                numbers[key] = parse_positive(edit.text(), what, allow_zero=zero)
            except ValueError:
                numbers[key] = getattr(default, key)
        try:
            sweep = parse_widths(self.sweep_widths.text())
        except ValueError:
            sweep = list(DEFAULT_SWEEP)
        return {"width": self.width, "hidden_layers": int(self.layers.value()),
                "parameterization": self.parameterization.currentData(), "activation": self.activation.currentText(),
                "seed": int(self.seed.value()), "target": self.target.currentText(), "points": int(self.points.value()),
                "noise": float(self.noise.value()), "momentum": float(self.momentum.value()),
                "steps": int(self.steps.value()), **numbers, "sweep": sweep, "sigma_w": base.sigma_w,
                "sigma_b": base.sigma_b, "kernel_grid": base.kernel_grid,
                "page": PAGES[max(0, self.pages.currentIndex())], "run": self._run_mode}

    def replay_runs(self, runs: dict) -> None:
        """A recorded fit or sweep as it stood: the widths it had trained, drawn again."""
        self.cancel()
        run = runs.get("ntk")
        self._results.clear()
        if run is None:
            self._draw_drift()
            return
        req = run.settings["request"]
        self._request = req
        self._settings_key = tuple(req["key"]) if isinstance(req.get("key"), list) else req.get("key")
        self._results = {r.width: r for r in run.settings.get("earlier", []) if isinstance(r, WidthResult)}
        for r in self._results.values():
            self._show(r)
        self._draw_drift()
        with self.run_log.muted():
            if run.items:
                self._on_items(run.items)
        if run.ended:
            self._finished("done")

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {"ntk-fit": self.fit_view, "ntk-drift": self.drift_view, "ntk-kernels": self.kernels_view,
                "ntk-spectrum": self.spectrum_view, "ntk-kernel-methods": self.methods_view,
                "ntk-kernel-spectra": self.compare_view, "ntk-kernel-machines": self.methods_page, "ntk": self}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            out["config"] = self.read_config().to_dict()
        except ValueError:
            pass
        target, n, noise = self._data_settings()
        out["data"] = {"target": target, "points": n, "noise": noise, "data_seed": DATA_SEED,
                       "seed": int(self.seed.value())}
        out["widths"] = [self._results[w].summary() for w in sorted(self._results)]
        r = self._shown
        if r is not None:
            out["shown"] = r.summary()
            for name in ("x_train", "y_train", "x_plot", "y_true", "f_network", "f_linearized", "f_kernel",
                         "f_ntk_ridge", "f_rbf_ridge", "x_kernel", "kernel_0", "kernel_T", "train_kernel_0",
                         "train_kernel_T", "eig_0", "eig_T", "eig_rbf"):
                out[name] = np.asarray(getattr(r, name))
        results = self.seed_results()
        if results:
            claim = self.claim()
            out["claim"] = {"name": claim.name, "verdict": verdict(claim, results),
                            "seeds": [{"seed": sd, **n, "holds": ok} for sd, n, ok in results]}
        if self._results:
            w = sorted(self._results)
            out["sweep_widths"] = np.asarray(w)
            out["sweep_relative_change"] = np.asarray([self._results[v].relative_change for v in w])
            out["sweep_linearized_gap"] = np.asarray([self._results[v].linearized_gap for v in w])
            out["sweep_kernel_gap"] = np.asarray([self._results[v].kernel_gap for v in w])
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        if ctx.quick and "steps" not in ctx.options:
            self.steps.setValue(min(int(self.steps.value()), 250))
        if ctx.quick and "sweep" not in ctx.options:
            self.sweep_widths.setText("16, 64, 256, 1024")
        wanted = self.width  # the sweep moves the slider along; the figures show this width
        if self._run_mode in ("sweep", "both"):
            self.request("sweep")
        self.width_slider.blockSignals(True)
        self.set_width(wanted)
        self.width_slider.blockSignals(False)
        self._update_width_label()
        if self.width in self._results:
            self._show(self._results[self.width])
        elif self._run_mode in ("fit", "both"):
            self.request("fit")
        self._debounce.stop()
        self._started = True



def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a)))) if len(a) else float("nan")
