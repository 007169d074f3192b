"""The Lottery tickets tab: iterative magnitude pruning, live, with its two controls.

The panel runs its own experiment (`engine.pruning.lottery_run`) in a job: accuracy against
the share of weights left for the ticket, the reinit and the random-mask controls (mean and
spread over seeds on request); the round being trained with its learning curves; for a chosen
round, the weights left per layer, the mask of one layer, and the ticket trained again beside
the dense network. Export writes the pruned network (state_dict + masks) and the round table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine import data as data_module
from engine.claims import Claim, Numbers, verdict
from engine.claims import lottery as lottery_claims
from engine.pruning import (
    CONTROLS,
    LotteryConfig,
    PruneRound,
    RetrainPoint,
    RoundProgress,
    lottery_run,
    retrain_ticket,
    save_ticket,
    summarize,
    write_rounds_csv,
)

from .. import plots
from ..jobs import PanelJobs
from ..panel_tools import ProgressBar, legend_below
from ..run_log import RunLog
from ..spread import SeedCount, caption_label, seed_results, spread_caption
from ..style import manager
from .base import HeadlessContext, Panel


@dataclass(frozen=True)
class TestSetSize:
    """How many test images the run's accuracies count (sent before its first round)."""

    n: int


COLOR = {"ticket": 0, "reinit": 1, "random": 2}
NAME = {"ticket": "ticket", "reinit": "same mask, new weights", "random": "random mask"}
SYMBOL = {"ticket": "o", "reinit": "t", "random": "s"}
QUICK = {"rounds": 5, "steps": 120, "seeds": (0,), "eval_every": 20}


IDLE_NOTE = "Press Run IMP: train, prune the smallest weights, rewind, repeat"
DETAIL_NOTE = "The round picked under Inspect a round: shown once a round is pruned"

class LotteryPanel(Panel):
    slug = "lottery"
    title = "Lottery tickets"
    topic = "Lottery tickets"
    uses_experiment = False

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self.config = LotteryConfig()
        self.rounds: list[PruneRound] = []
        self.run_log = RunLog()  # what the IMP job delivered, for recordings
        self.progress: RoundProgress | None = None
        self.retrain: RetrainPoint | None = None
        self.retrain_round: int | None = None
        self.run_config: LotteryConfig | None = None  # the settings of the run on screen
        self.n_test: int | None = None  # test images of the run on screen
        self.jobs = PanelJobs(self)
        self.items_seen = 0
        self._busy = {"lottery": False, "retrain": False}
        # Set by tests: asks where to save, returns a path or "" (cancelled); None: a file dialog.
        # (Not a bound method of self: that would tie the panel into a reference cycle.)
        self.ask_save_path: Callable[[str], str] | None = None
        self._build_controls()
        self._build_plots()
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls_scroll)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.summary)
        right.addWidget(self.verdict)
        right.addWidget(self.banner)
        right.addWidget(self.plot_split, 1)
        layout.addLayout(right, 1)
        self._config_to_fields(LotteryConfig())
        manager().changed.connect(self._restyle_symbols)
        manager().changed.connect(self._fit_controls)
        self._update_buttons()

    # -- widgets ------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.dataset = QtWidgets.QComboBox()
        self.dataset.addItem("Digits 8×8", "digits")
        self.dataset.addItem("MRI phantoms", "mri")
        if not hasattr(data_module, "mri_phantoms"):
            item = self.dataset.model().item(1)
            item.setEnabled(False)
            item.setToolTip("the MRI phantoms are not part of this installation")
        self.dataset.setToolTip("Digits: scikit-learn's 8×8 handwritten digits, MLP 64-300-100-10 (LeNet-300-100 "
                                "style). MRI phantoms: 17 classes of synthetic scans, the small CNN.")
        self.scope = QtWidgets.QComboBox()
        self.scope.addItem("per layer", "layer")
        self.scope.addItem("global", "global")
        self.scope.setToolTip("per layer: each layer loses the same share; global: one ranking of all weights")
        self.rounds_box = QtWidgets.QSpinBox(minimum=1, maximum=40, value=13)
        self.rate = QtWidgets.QSpinBox(minimum=1, maximum=90, value=20, suffix=" %")
        self.rate.setToolTip("share of the surviving weights removed per round")
        self.out_rate = QtWidgets.QSpinBox(minimum=0, maximum=90, value=10, suffix=" %")
        self.out_rate.setToolTip("the output layer's rate (Frankle & Carbin: half the others')")
        self.rewind = QtWidgets.QComboBox()
        self.rewind.addItem("θ₀", "init")
        self.rewind.addItem("step k", "k")
        self.rewind.setToolTip("where the survivors are reset to: the initial weights θ₀, or the dense "
                               "run's weights after k steps (late rewinding)")
        self.rewind_k = QtWidgets.QSpinBox(minimum=0, maximum=100_000, value=20)
        self.rewind_k.setPrefix("k = ")
        self.steps = QtWidgets.QSpinBox(minimum=10, maximum=100_000, value=LotteryConfig.steps, singleStep=50)
        self.steps.setToolTip("training steps of every round (Adam, lr 1.2e-3, batch 60)")
        self.seeds = SeedCount("Run IMP with its controls on this many seeds at once (one batched run) and "
                               "draw the mean ± s.d. over them.")
        self.use_reinit = QtWidgets.QCheckBox("reinit")
        self.use_reinit.setToolTip("the ticket's mask with fresh random weights")
        self.use_random = QtWidgets.QCheckBox("random")
        self.use_random.setToolTip("a random mask of the same per-layer sparsity on the same initial weights")
        for box in (self.use_reinit, self.use_random):
            box.setChecked(True)
        self.error = QtWidgets.QLabel("")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()

        self.run = QtWidgets.QPushButton("Run IMP")
        self.run.setToolTip("train, prune, rewind, repeat: every round with its controls")
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.progress_bar = ProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("idle")
        self.progress_bar.setValue(0)
        self.progress_text = plots.caption("")

        self.round_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.round_slider.setRange(0, 0)
        self.round_label = QtWidgets.QLabel("round 0")
        self.layer = QtWidgets.QComboBox()
        self.layer.setToolTip("the layer whose mask is drawn")
        self.retrain_button = QtWidgets.QPushButton("Train again")
        self.retrain_button.setToolTip("train the chosen round's ticket from its rewind point beside the dense "
                                       "network, and compare their learning curves")
        self.export_button = QtWidgets.QPushButton("Export…")
        self.export_button.setToolTip("the chosen round's pruned network (state_dict and masks, .pt) and the "
                                      "round table (.csv)")

        def row(*widgets: QtWidgets.QWidget) -> QtWidgets.QWidget:
            w = QtWidgets.QWidget()
            h = QtWidgets.QHBoxLayout(w)
            h.setContentsMargins(0, 0, 0, 0)
            h.setSpacing(4)
            for x in widgets:
                h.addWidget(x, 1)
            return w

        box = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(box)
        col.setContentsMargins(2, 2, 4, 2)
        col.setSpacing(3)
        setting = QtWidgets.QGroupBox("Setting")
        form = QtWidgets.QFormLayout(setting)
        form.setContentsMargins(4, 4, 4, 4)
        form.setVerticalSpacing(3)
        form.addRow("Data", self.dataset)
        form.addRow("Pruning", self.scope)
        form.addRow("Rounds", self.rounds_box)
        out_label = QtWidgets.QLabel("out")
        out_label.setToolTip(self.out_rate.toolTip())
        form.addRow("Rate", row(self.rate, out_label, self.out_rate))
        form.addRow("Rewind", row(self.rewind, self.rewind_k))
        form.addRow("Steps", self.steps)
        form.addRow("Seeds", self.seeds)
        form.addRow("Controls", row(self.use_reinit, self.use_random))
        form.addRow(self.error)
        col.addWidget(setting)
        run_box = QtWidgets.QGroupBox("Run")
        rl = QtWidgets.QVBoxLayout(run_box)
        rl.setContentsMargins(4, 4, 4, 4)
        rl.addWidget(row(self.run, self.cancel))
        rl.addWidget(self.progress_bar)
        rl.addWidget(self.progress_text)
        col.addWidget(run_box)
        ticket_box = QtWidgets.QGroupBox("Inspect a round")
        tl = QtWidgets.QFormLayout(ticket_box)
        tl.setContentsMargins(4, 4, 4, 4)
        tl.setVerticalSpacing(3)
        tl.addRow(self.round_label, self.round_slider)
        tl.addRow("Mask of", self.layer)
        tl.addRow(row(self.retrain_button, self.export_button))
        col.addWidget(ticket_box)
        col.addStretch(1)
        self.controls_scroll = QtWidgets.QScrollArea()
        self.controls_scroll.setWidget(box)
        self.controls_scroll.setWidgetResizable(True)
        self.controls_scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.controls_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self._controls_box = box
        self._fit_controls()

        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        for w in (self.scope, self.rewind):
            w.currentIndexChanged.connect(self._fields_to_config)
        for w in (self.rounds_box, self.rate, self.out_rate, self.rewind_k, self.steps, self.seeds):
            w.valueChanged.connect(self._fields_to_config)
        for w in (self.use_reinit, self.use_random):
            w.toggled.connect(self._fields_to_config)
        self.run.clicked.connect(self.start)
        self.cancel.clicked.connect(self.stop)
        self.round_slider.valueChanged.connect(self._inspect_round)
        self.layer.currentIndexChanged.connect(self._draw_mask)
        self.retrain_button.clicked.connect(self.start_retrain)
        self.export_button.clicked.connect(self._export_clicked)

    def _build_plots(self) -> None:
        self.summary = plots.caption("Press Run IMP: each round trains the network, removes the smallest "
                                     "weights and sets the survivors back to their values at the rewind step "
                                     "k of the dense run (k = 0, or θ₀: their initial values).")
        self.banner = plots.caption("", role="banner")
        self.banner.hide()
        self.verdict = caption_label()

        # The claim: accuracy against weights left (x: log scale, 100% on the left).
        self.acc_view = plots.make_view()
        self.acc_plot = plots.add_plot(self.acc_view, "Accuracy against weights left",
                                       "weights remaining (%, log scale)", "test accuracy (%)", row=0, col=0)
        self.acc_plot.setLogMode(x=True, y=False)
        self.acc_plot.invertX(True)
        # The legend under the plot: the curves cross every corner, and one row would clip "dense".
        self.acc_plot.legend = legend_below(self.acc_view, row=1, col=0, columns=2)
        self.acc_curves: dict[str, pg.PlotDataItem] = {}
        self.acc_errors: dict[str, pg.ErrorBarItem] = {}
        for c in CONTROLS:
            self.acc_curves[c] = plots.curve(self.acc_plot, COLOR[c], NAME[c], symbol=SYMBOL[c], symbolSize=8)
            err = pg.ErrorBarItem(x=np.zeros(1), y=np.zeros(1), height=np.zeros(1), beam=0.02)
            err.setVisible(False)
            self.acc_plot.addItem(err, ignoreBounds=True)
            self.acc_errors[c] = err
        self.dense_line = plots.curve(self.acc_plot, "plot_fg", "dense", width=1.5, dashed=True)
        self.inspect_line = plots.guide_line(self.acc_plot, 2.0, angle=90, key="accent")
        self.inspect_line.setVisible(False)
        self._set_x_range(LotteryConfig().final_remaining)

        # Right of it: the round being trained, and the chosen ticket trained again.
        self.curve_view = plots.make_view()
        # No legend: the colours are those of the accuracy plot's legend.
        self.round_plot = plots.add_plot(self.curve_view, "Round being trained", "step", "test acc. (%)",
                                         row=0, col=0)
        self.round_curves = {c: plots.curve(self.round_plot, COLOR[c], c) for c in CONTROLS}
        self.round_curves["dense"] = plots.curve(self.round_plot, "plot_fg", "dense")
        self.retrain_plot = plots.add_plot(self.curve_view, "Ticket trained again", "step", "test acc. (%)",
                                           row=1, col=0, legend=True)
        self.retrain_dense = plots.curve(self.retrain_plot, "plot_fg", "dense", dashed=True)
        self.retrain_ticket = plots.curve(self.retrain_plot, 0, "ticket")
        self.retrain_plot.legend.anchor((1, 1), (1, 1), offset=(-8, -8))  # below the rising curves

        # Below: weights left per layer and one layer's mask, for the chosen round.
        self.detail_view = plots.make_view()
        self.bar_plot = plots.add_plot(self.detail_view, "Weights left per layer", "", "remaining (%)",
                                       row=0, col=0)
        self.bar_plot.setYRange(0, 112, padding=0)
        self.bar_plot.setMouseEnabled(x=False, y=False)
        self.bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.6,
                                    brush=manager().color(0), pen=None)
        self.bar_plot.addItem(self.bars)
        self.bar_texts: list[pg.TextItem] = []
        self.mask_image = plots.ImagePlot(self.detail_view, "Mask", "", "", cmap="viridis",
                                          bar_label="kept", row=0, col=1)
        self.mask_image.plot.invertY(True)
        self.mask_image.bar.axis.enableAutoSIPrefix(False)
        self.notes = {"acc": plots.note(self.acc_plot, IDLE_NOTE), "round": plots.note(self.round_plot, IDLE_NOTE),
                      "retrain": plots.note(self.retrain_plot, "Pick a pruned round under Inspect a round, "
                                                               "then press Train again"),
                      "bars": plots.note(self.bar_plot, DETAIL_NOTE),
                      "mask": plots.note(self.mask_image.plot, DETAIL_NOTE)}
        self.detail_view.ci.layout.setColumnStretchFactor(0, 2)
        self.detail_view.ci.layout.setColumnStretchFactor(1, 3)

        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        top.addWidget(self.acc_view)
        top.addWidget(self.curve_view)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        self.plot_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.plot_split.addWidget(top)
        self.plot_split.addWidget(self.detail_view)
        self.plot_split.setStretchFactor(0, 3)
        self.plot_split.setStretchFactor(1, 2)
        self.top_split = top
        for view in (self.acc_view, self.curve_view, self.detail_view):
            view.setMinimumSize(160, 120)
        self._restyle_symbols()

    def _set_x_range(self, final: float) -> None:
        """100% down to about 2% (the range of the claim), or below the last round's share
        when more rounds go further, with readable ticks."""
        lo = max(min(final * 100 * 0.8, 1.8), 1e-3)
        self.acc_plot.setXRange(np.log10(lo), np.log10(125), padding=0)
        ticks = [v for v in (100, 70, 50, 30, 20, 10, 7, 5, 3, 2, 1, 0.5, 0.2, 0.1) if v >= lo]
        self.acc_plot.getAxis("bottom").setTicks([[(np.log10(v), f"{v:g}") for v in ticks], []])

    def _fit_controls(self) -> None:
        """The settings column is as wide as its widgets need at the current font size."""
        bar = self.controls_scroll.verticalScrollBar().sizeHint().width()
        self.controls_scroll.setFixedWidth(self._controls_box.sizeHint().width() + bar + 2)

    def _restyle_symbols(self) -> None:
        for c, item in self.acc_curves.items():
            col = manager().color(COLOR[c])
            item.setSymbolBrush(col)
            item.setSymbolPen(pg.mkPen(col))
            self.acc_errors[c].setData(pen=manager().pen(COLOR[c], 1.5))
        self.bars.setOpts(brush=manager().color(0))
        for t in self.bar_texts:
            t.setColor(manager().color("plot_fg"))
            t.setFont(manager().font(0.9))

    # -- settings -----------------------------------------------------------------------------
    def _fields_to_config(self, *_args) -> None:
        """Read the fields into a config; show what is wrong next to them."""
        k_mode = self.rewind.currentData() == "k"
        self.rewind_k.setEnabled(k_mode)
        n_seeds = int(self.seeds.value())
        controls = ("ticket",) + (("reinit",) if self.use_reinit.isChecked() else ()) + \
            (("random",) if self.use_random.isChecked() else ())
        self.config = replace(
            self.config, dataset=self.dataset.currentData(), scope=self.scope.currentData(),
            rounds=self.rounds_box.value(), prune_fraction=self.rate.value() / 100,
            output_fraction=self.out_rate.value() / 100, rewind=self.rewind_k.value() if k_mode else "init",
            steps=self.steps.value(), seeds=tuple(range(n_seeds)), controls=controls)
        problems = self.config.problems()
        self.error.setText("\n".join(problems.values()))
        self.error.setVisible(bool(problems))
        left = 100 * self.config.final_remaining
        self.run.setToolTip(f"{self.config.rounds} rounds: {left:.1f}% of the weights left at the end")
        self._update_buttons()

    def _dataset_changed(self, *_args) -> None:
        """The CNN on 32×32 phantoms costs far more per step than the MLP on 8×8 digits:
        start it with fewer steps and a smaller batch (the user may change the steps)."""
        mri = self.dataset.currentData() == "mri"
        self.config = replace(self.config, batch_size=32 if mri else LotteryConfig.batch_size)
        self.steps.setValue(150 if mri else LotteryConfig.steps)
        self.rewind_k.setValue(10 if mri else 20)
        self._fields_to_config()

    def _config_to_fields(self, cfg: LotteryConfig) -> None:
        widgets = (self.dataset, self.scope, self.rounds_box, self.rate, self.out_rate, self.rewind,
                   self.rewind_k, self.steps, self.seeds, self.use_reinit, self.use_random)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.dataset.setCurrentIndex(max(0, self.dataset.findData(cfg.dataset)))
            self.scope.setCurrentIndex(max(0, self.scope.findData(cfg.scope)))
            self.rounds_box.setValue(cfg.rounds)
            self.rate.setValue(round(100 * cfg.prune_fraction))
            self.out_rate.setValue(round(100 * (cfg.output_fraction if cfg.output_fraction is not None
                                                else cfg.prune_fraction)))
            self.rewind.setCurrentIndex(0 if cfg.rewind == "init" else 1)
            if cfg.rewind != "init":
                self.rewind_k.setValue(int(cfg.rewind))
            self.steps.setValue(cfg.steps)
            self.seeds.setValue(len(cfg.seeds))
            self.use_reinit.setChecked("reinit" in cfg.controls)
            self.use_random.setChecked("random" in cfg.controls)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._fields_to_config()
        # Settings the fields do not show (batch size, lr, which seeds) come from cfg itself.
        self.config = replace(cfg, rounds=self.config.rounds)

    def apply_options(self, options: dict[str, Any]) -> None:
        """Preset options: any LotteryConfig field (rounds, steps, rewind, scope, seeds, …)."""
        if not options:
            return
        cfg = LotteryConfig.from_dict({**self.config.to_dict(), **options})
        problems = cfg.problems()
        if problems:
            raise ValueError("; ".join(problems.values()))
        self._config_to_fields(cfg)

    def options(self) -> dict[str, Any]:
        """Every LotteryConfig field; a setting the fields hold that cannot run (e.g. a rewind step
        past the steps of a round) is saved as its default."""
        d = self.config.to_dict()
        problems = self.config.problems()
        if problems:
            default = LotteryConfig().to_dict()
            d.update({k: default[k] for k in problems if k in default})
            if LotteryConfig.from_dict(d).problems():
                d = default
        return d

    # -- running ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """An IMP run is under way (until its end has been drawn)."""
        return self._busy["lottery"]

    @property
    def retraining(self) -> bool:
        return self._busy["retrain"]

    def _update_buttons(self) -> None:
        busy = self.running or self.retraining
        # The bar shows only while a job runs: its last word ("done", "cancelled") goes below it.
        self.progress_bar.setVisible(busy)
        self.run.setEnabled(not busy and not self.config.problems())
        self.cancel.setEnabled(busy)
        has_ticket = self._ticket(self.round_slider.value()) is not None
        self.retrain_button.setEnabled(not busy and has_ticket and self.round_slider.value() > 0)
        self.export_button.setEnabled(has_ticket and not self.running)
        for w in (self.dataset, self.scope, self.rounds_box, self.rate, self.out_rate, self.rewind,
                  self.steps, self.seeds, self.use_reinit, self.use_random):
            w.setEnabled(not self.running)
        self.rewind_k.setEnabled(not self.running and self.rewind.currentData() == "k")

    def run_preset(self, preset) -> None:
        self.start()

    def start(self) -> None:
        """Run IMP with the current settings (a new run replaces the one on screen)."""
        if self.running or self.retraining:
            return
        problems = self.config.problems()
        if problems:
            self.lab.message.emit("Lottery: " + "; ".join(problems.values()), 6000)
            return
        cfg = self.config
        self._clear()
        self.run_config = cfg
        self.run_log.begin("lottery", cfg)
        self._set_x_range(cfg.final_remaining)
        self.progress_bar.setRange(0, (cfg.rounds + 1) * cfg.steps)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("starting…")
        self._busy["lottery"] = True
        self.notes["acc"].set_text("Round 0 trains the dense network: the first point appears when it ends")
        self.notes["round"].set_text("Round 0: waiting for the first evaluation…")

        def work():
            dataset = cfg.build_dataset()
            yield TestSetSize(len(dataset.y_test))  # to count the margins in test images
            yield from lottery_run(cfg, dataset)

        self.jobs.start("run", work, self._on_items, self._on_done, self._on_error)
        self._update_buttons()

    def stop(self) -> None:
        self.jobs.stop("run")
        self.jobs.stop("retrain")
        self.progress_bar.setFormat("cancelling…")

    def shutdown(self) -> None:
        self.jobs.stop_all(drop=False)

    def _clear(self) -> None:
        self.rounds = []
        self.progress = None
        self.retrain = None
        self.retrain_round = None
        self.items_seen = 0
        self.n_test = None
        self.verdict.hide()
        self.banner.hide()
        for c in CONTROLS:
            self.acc_curves[c].setData([], [])
            self.acc_errors[c].setVisible(False)
        for item in self.round_curves.values():
            item.setData([], [])
        self.retrain_dense.setData([], [])
        self.retrain_ticket.setData([], [])
        self.dense_line.setData([], [])
        self.inspect_line.setVisible(False)
        self.round_slider.blockSignals(True)
        self.round_slider.setRange(0, 0)
        self.round_slider.blockSignals(False)
        self.round_label.setText("round 0")

    def _on_items(self, items: list) -> None:
        self.run_log.add("lottery", items)
        self.items_seen += len(items)
        new_round = False
        progress = None
        for item in items:
            if isinstance(item, PruneRound):
                self.rounds.append(item)
                new_round = True
            elif isinstance(item, RoundProgress):
                progress = item
            elif isinstance(item, TestSetSize):
                self.n_test = item.n
        if progress is not None:
            self.progress = progress
            self._draw_progress(progress)
            if progress.diverged:
                self.banner.setText(progress.message)
                self.banner.show()
                self.lab.message.emit(progress.message, 10000)
        if new_round:
            self._draw_accuracy()
            latest = max(r.round for r in self.rounds)
            follow = self.round_slider.value() == self.round_slider.maximum()
            self.round_slider.setMaximum(latest)
            if follow:
                self.round_slider.setValue(latest)
            self._inspect_round(self.round_slider.value())

    def _on_done(self) -> None:
        self.run_log.end("lottery")
        self._busy["lottery"] = False
        cfg = self.run_config
        done = bool(self.rounds) and cfg is not None and max(r.round for r in self.rounds) == cfg.rounds
        self.progress_bar.setFormat("done" if done else "cancelled" if not self.banner.isVisible() else "diverged")
        ended = max((r.round for r in self.rounds), default=None)
        self.progress_text.setText(f"{self.progress_bar.format().capitalize()}"
                                   + (f" after round {ended}" if ended is not None and not done else "") + ".")
        for key in ("acc", "round"):
            self.notes[key].set_text(IDLE_NOTE)
        if done:
            self.progress_bar.setValue(self.progress_bar.maximum())
            self.lab.message.emit("Lottery: " + self._summary_text(), 8000)
        self._update_buttons()

    def _on_error(self, text: str) -> None:
        self._busy = {"lottery": False, "retrain": False}
        self.progress_bar.setFormat("failed")
        self.progress_text.setText("Failed (see the message above the plots).")
        self.banner.setText(text)
        self.banner.show()
        self.lab.message.emit(f"Lottery: {text}", 10000)
        self._update_buttons()

    # -- drawing ------------------------------------------------------------------------------
    def _draw_progress(self, p: RoundProgress) -> None:
        cfg = self.run_config or self.config
        done_steps = p.round * cfg.steps + p.step
        self.progress_bar.setValue(min(done_steps, self.progress_bar.maximum()))
        self.progress_bar.setFormat(f"round {p.round}/{p.rounds_total} · step {p.step}/{p.total_steps}")
        self.progress_text.setText(f"{100 * p.remaining:.1f}% of the weights left in this round")
        self.notes["round"].set_text(f"Round {p.round}: waiting for the first evaluation…")
        x = p.curve_steps
        for key, item in self.round_curves.items():
            rows = [i for i, (_, c) in enumerate(p.labels) if c == key]
            if rows:
                mean = _finite_mean(p.curve_acc[rows])  # members that have not started yet are NaN
                ok = np.isfinite(mean)
                item.setData(x[ok], 100 * mean[ok])
            else:
                item.setData([], [])
        title = "Round 0: dense" if p.round == 0 else f"Round {p.round}: {100 * p.remaining:.1f}% left"
        self.round_plot.setTitle(title)
        self.round_plot._lab_title = title

    def _draw_accuracy(self) -> None:
        summary = summarize(self.rounds)
        seeds = len(self.run_config.seeds) if self.run_config is not None else 1
        lows, highs = [], []
        for i, c in enumerate(CONTROLS):
            s = summary.get(c)
            if s is None:
                self.acc_curves[c].setData([], [])
                self.acc_errors[c].setVisible(False)
                continue
            x, y, sd = 100 * s["remaining"], 100 * s["mean"], 100 * s["std"]
            if seeds > 1:
                # Dodge the three controls a little sideways so their error bars do not overlap.
                x = x * 10 ** (0.012 * (i - 1))
                # The error bar item knows nothing of the log axis: give it log10(x).
                self.acc_errors[c].setData(x=np.log10(x), y=y, height=2 * sd)
                self.acc_errors[c].setVisible(True)
            self.acc_curves[c].setData(x, y)
            lows.append(np.nanmin(y - sd))
            highs.append(np.nanmax(y + sd))
        dense = [r.test_acc for r in self.rounds if r.round == 0 and r.control == "ticket"]
        if dense:
            d = 100 * float(np.mean(dense))
            lo, hi = self.acc_plot.getViewBox().viewRange()[0]
            self.dense_line.setData(10.0 ** np.array([lo, hi]), [d, d])
        if lows:
            self.acc_plot.setYRange(min(lows) - 0.5, min(100.5, max(highs) + 0.5), padding=0)
        self.summary.setText(self._summary_text())
        self._update_verdict()

    # -- the claim over seeds -----------------------------------------------------------------
    def claim(self) -> Claim:
        """The claim record the run's settings test: layers parting ways under global pruning,
        else the ticket against both controls (rewound to θ₀ or to step k)."""
        cfg = self.run_config or self.config
        if cfg.scope == "global":
            return lottery_claims.GLOBAL
        return lottery_claims.REWIND_TO_INIT if cfg.rewind == "init" else lottery_claims.DIGITS

    def seed_results(self) -> list[tuple[int, Numbers, bool]]:
        """Each seed's numbers at the latest round, judged by the claim record's `holds`."""
        cfg = self.run_config
        if cfg is None or not self.rounds or self.n_test is None:
            return []
        seeds = [s for s in cfg.seeds if any(r.seed == s for r in self.rounds)]
        numbers = [(s, lottery_claims.round_numbers(self.rounds, s, self.n_test)) for s in seeds]
        return seed_results(self.claim(), numbers)

    def _update_verdict(self) -> None:
        results = self.seed_results()
        latest = max((r.round for r in self.rounds), default=0)
        if not results or latest == 0:
            self.verdict.hide()
            return
        claim, cfg = self.claim(), self.run_config
        left = 100 * results[0][1]["remaining"]
        if claim is not lottery_claims.GLOBAL and not {"reinit", "random"} <= set(cfg.controls):
            text = "Tick both controls to test the ticket against them on every seed."
        elif claim is not lottery_claims.GLOBAL and left >= 10:
            text = (f"Round {latest}: {left:.1f}% of the weights left. The claim is about under 10%: "
                    f"it is judged from the round that goes below.")
        else:
            text = spread_caption(claim, results)
        self.verdict.setText(text)
        self.verdict.show()

    def _summary_text(self) -> str:
        if not self.rounds:
            return ""
        latest = max(r.round for r in self.rounds)
        row = {c: [r for r in self.rounds if r.round == latest and r.control == c] for c in CONTROLS}
        dense = [r.test_acc for r in self.rounds if r.round == 0 and r.control == "ticket"]
        seeds = len(row["ticket"]) or 1
        parts = [f"Round {latest}: {100 * np.mean([r.remaining for r in row['ticket']]):.1f}% of weights left"]
        for c in CONTROLS:
            if row[c] and latest > 0:
                parts.append(f"{c} {100 * np.mean([r.test_acc for r in row[c]]):.1f}%")
        if dense:
            parts.append(f"dense {100 * np.mean(dense):.1f}%")
        text = " · ".join(parts)
        return text + (f" (mean of {seeds} seeds)" if seeds > 1 else "")

    def _ticket(self, round_: int, seed: int | None = None) -> PruneRound | None:
        seed = self.run_config.seeds[0] if seed is None and self.run_config is not None else seed
        for r in self.rounds:
            if r.round == round_ and r.control == "ticket" and r.seed == seed:
                return r
        return None

    def _inspect_round(self, value: int) -> None:
        self.round_label.setText(f"round {value}")
        ticket = self._ticket(value)
        if ticket is not None:
            self.inspect_line.setValue(np.log10(100 * ticket.remaining))
            self.inspect_line.setVisible(value > 0)
            self._draw_bars(ticket)
            names = list(ticket.masks)
            if [self.layer.itemData(i) for i in range(self.layer.count())] != names:
                current = self.layer.currentData()
                self.layer.blockSignals(True)
                self.layer.clear()
                for n in names:
                    self.layer.addItem(n, n)
                self.layer.setCurrentIndex(max(0, names.index(current) if current in names else 0))
                self.layer.blockSignals(False)
            self._draw_mask()
        self._update_buttons()

    def _draw_bars(self, ticket: PruneRound) -> None:
        names = list(ticket.layer_remaining)
        heights = np.array([100 * ticket.layer_remaining[n] for n in names])
        x = np.arange(len(names), dtype=float)
        self.bars.setOpts(x=x, height=heights, width=0.6)
        ax = self.bar_plot.getAxis("bottom")
        ax.setTicks([[(i, n.replace(".weight", "")) for i, n in enumerate(names)]])
        while len(self.bar_texts) < len(names):
            t = pg.TextItem(anchor=(0.5, 1.0))
            self.bar_plot.addItem(t)
            self.bar_texts.append(t)
        for i, t in enumerate(self.bar_texts):
            if i < len(names):
                t.setText(f"{heights[i]:.1f}%")
                t.setPos(x[i], heights[i] + 1)
                t.setVisible(True)
            else:
                t.setVisible(False)
        self._restyle_symbols()
        self.bar_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        title = f"Weights left (round {ticket.round})"
        self.bar_plot.setTitle(title)
        self.bar_plot._lab_title = title

    def _draw_mask(self, *_args) -> None:
        ticket = self._ticket(self.round_slider.value())
        name = self.layer.currentData()
        if ticket is None or name is None or name not in ticket.masks:
            return
        mask = ticket.masks[name].astype(np.float32)
        image_shape = self._image_shape()
        first = name == next(iter(ticket.masks))
        if first and mask.ndim == 2 and image_shape is not None and mask.shape[1] == int(np.prod(image_shape)):
            # Share of each input pixel's outgoing weights that survive: a picture of the inputs.
            z = 100 * mask.mean(0).reshape(image_shape)
            h, w = image_shape
            self.mask_image.set_image(z, (0, w - 1, 0, h - 1), levels=(0.0, max(float(z.max()), 1e-3)))
            self.mask_image.bar.axis.setLabel("% of the pixel's weights kept")
            self.mask_image.plot.setLabel("bottom", "pixel column")
            self.mask_image.plot.setLabel("left", "pixel row")
            # Only the pixels that exist get ticks (the locked aspect shows room beside them).
            self.mask_image.plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(w)]])
            self.mask_image.plot.getAxis("left").setTicks([[(i, str(i)) for i in range(h)]])
            title = f"Input pixels kept ({name.replace('.weight', '')}, round {ticket.round})"
        else:
            z = mask.reshape(mask.shape[0], -1)
            rows, cols = z.shape
            self.mask_image.set_image(z, (0, cols - 1, 0, rows - 1), levels=(0.0, 1.0))
            self.mask_image.bar.axis.setLabel("kept = 1")
            self.mask_image.plot.setLabel("bottom", "input unit")
            self.mask_image.plot.setLabel("left", "output unit")
            for side in ("bottom", "left"):
                self.mask_image.plot.getAxis(side).setTicks(None)
            title = f"Mask of {name.replace('.weight', '')} (round {ticket.round})"
        picture = title.startswith("Input")
        self.mask_image.plot.setAspectLocked(picture)
        self.mask_image.plot.autoRange(padding=0.02)
        manager().set_title(self.mask_image.plot, title)

    def _image_shape(self) -> tuple[int, int] | None:
        cfg = self.run_config or self.config
        return (8, 8) if cfg.dataset == "digits" else None

    # -- the ticket again ---------------------------------------------------------------------
    def start_retrain(self) -> None:
        round_ = self.round_slider.value()
        ticket = self._ticket(round_)
        if ticket is None or self.run_config is None or self.running or self.retraining or round_ == 0:
            return
        cfg = self.run_config
        rewind, masks, seed = ticket.rewind_state, ticket.masks, ticket.seed
        self.retrain = None
        self.retrain_round = round_
        self.retrain_dense.setData([], [])
        self.retrain_ticket.setData([], [])
        title = f"Round-{round_} ticket again"
        self.retrain_plot.setTitle(title)
        self.retrain_plot._lab_title = title
        self.progress_bar.setRange(0, cfg.steps)
        self.progress_bar.setFormat("training the ticket again…")
        self._busy["retrain"] = True
        self.jobs.start("retrain", lambda: retrain_ticket(cfg, rewind, masks, seed), self._on_retrain,
                        self._retrain_done, self._on_error)
        self._update_buttons()

    def _on_retrain(self, items: list) -> None:
        p: RetrainPoint = items[-1]
        self.retrain = p
        self.retrain_dense.setData(p.steps, 100 * p.dense_acc)
        ok = np.isfinite(p.ticket_acc)
        self.retrain_ticket.setData(p.steps[ok], 100 * p.ticket_acc[ok])
        self.progress_bar.setValue(p.step)
        self.progress_bar.setFormat(f"ticket again · step {p.step}/{p.total_steps}")

    def _retrain_done(self) -> None:
        self._busy["retrain"] = False
        p = self.retrain
        if p is not None and p.step == p.total_steps:
            self.progress_bar.setFormat("done")
            self.progress_text.setText("Ticket trained again: done.")
            self.lab.message.emit(f"Ticket trained again: {100 * p.ticket_acc[-1]:.1f}% test accuracy, "
                                  f"dense {100 * p.dense_acc[-1]:.1f}%", 8000)
        else:
            self.progress_bar.setFormat("cancelled")
            self.progress_text.setText("Training the ticket again: cancelled.")
        self._update_buttons()

    # -- export -------------------------------------------------------------------------------
    def _ask_save_path(self, default: str) -> str:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export the pruned network", default,
                                                        "PyTorch weights (*.pt)")
        return path

    def _export_clicked(self) -> None:
        ticket = self._ticket(self.round_slider.value())
        if ticket is None:
            return
        ask = self.ask_save_path or self._ask_save_path
        path = ask(str(Path.home() / f"lottery-ticket-round{ticket.round}.pt"))
        if not path:
            return
        try:
            pt, csv_path = self.export(path)
        except OSError as exc:
            self.lab.message.emit(f"Could not save: {exc.strerror or exc}", 8000)
            return
        self.lab.message.emit(f"Saved the pruned network to {pt.name} and the round table to {csv_path.name}", 8000)

    def export(self, path: str | Path, round_: int | None = None,
               csv_path: str | Path | None = None) -> tuple[Path, Path]:
        """Write the ticket of a round (state_dict + masks, .pt) and the round table (.csv,
        beside it unless `csv_path` says where)."""
        round_ = self.round_slider.value() if round_ is None else round_
        ticket = self._ticket(round_)
        if ticket is None:
            raise ValueError("no ticket to export yet: run IMP first")
        path = Path(path)
        if path.suffix != ".pt":
            path = path.with_name(path.name + ".pt")
        cfg = self.run_config or self.config
        info = {"round": ticket.round, "remaining": ticket.remaining, "test_acc": ticket.test_acc,
                "train_acc": ticket.train_acc, "seed": ticket.seed, "layer_remaining": ticket.layer_remaining,
                "config": cfg.to_dict()}
        save_ticket(path, ticket.state, ticket.masks, info)
        csv_path = Path(csv_path) if csv_path is not None else path.with_name(path.stem + "-rounds.csv")
        return path, write_rounds_csv(csv_path, self.rounds)

    # -- headless -----------------------------------------------------------------------------
    def replay_runs(self, runs: dict) -> None:
        """A recorded IMP run as it stood: its rounds, the live round's curves, done or not."""
        self.shutdown()  # a run of the viewer's own would mix with the recorded one
        self._clear()
        run = runs.get("lottery")
        if run is None:
            self._update_buttons()
            return
        cfg = run.settings
        self.run_config = cfg
        self._set_x_range(cfg.final_remaining)
        self.progress_bar.setRange(0, (cfg.rounds + 1) * cfg.steps)
        # The test-set size is a tab-side note, read back as a plain table.
        items = [TestSetSize(int(i["n"])) if isinstance(i, dict) and set(i) == {"n"} else i for i in run.items]
        with self.run_log.muted():
            if items:
                self._on_items(items)
            if run.ended:
                self._on_done()
        self._update_buttons()

    def figures(self) -> dict[str, QtWidgets.QWidget]:
        return {"lottery-accuracy": self.acc_view, "lottery": self}

    def data(self) -> dict[str, Any]:
        if not self.rounds:
            return {}
        summary = summarize(self.rounds)
        out: dict[str, Any] = {
            "config": (self.run_config or self.config).to_dict(),
            "rounds": [r.row() for r in self.rounds],
            "summary": {c: {k: v.tolist() for k, v in s.items()} for c, s in summary.items()},
        }
        results = self.seed_results()
        if results:
            out["claim"] = {"name": self.claim().name, "verdict": verdict(self.claim(), results),
                            "seeds": [{"seed": sd, **n, "holds": ok} for sd, n, ok in results]}
        if self.retrain is not None:
            out["retrain"] = {"round": self.retrain_round, "steps": self.retrain.steps.tolist(),
                              "dense_acc": self.retrain.dense_acc.tolist(),
                              "ticket_acc": self.retrain.ticket_acc.tolist()}
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        if ctx.quick and not ctx.options:
            self._config_to_fields(replace(self.config, **QUICK))
        self.start()
        if not self.rounds:
            raise RuntimeError("the lottery run produced no rounds")
        self.round_slider.setValue(self.round_slider.maximum())
        if self.retrain is None and self.round_slider.value() > 0:
            self.start_retrain()
        pt, csv_path = self.export(ctx.out / "lottery-ticket.pt", csv_path=ctx.out / "lottery-rounds.csv")
        ctx.written += [csv_path, pt]
        QtWidgets.QApplication.processEvents()


def _finite_mean(values: np.ndarray) -> np.ndarray:
    """Column means over the finite entries (NaN where a column has none)."""
    finite = np.isfinite(values)
    count = finite.sum(0)
    total = np.where(finite, values, 0.0).sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
