"""The Paradigms tab's Training page: every rule's loss curve on one plot, feedback alignment's
angle to the true gradient, and each rule's decision map (2-D data) or confusion matrix (digits)
side by side, live."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.paradigms import RULE_SHORT, RULES, RuleMap

from .. import plots
from ..panel_tools import log_axes, place_legend
from ..style import manager
from ..worker import event_loop_turn
from .paradigms_common import COLOR, IDLE_NOTE

X_AXES = {"step": "step", "passes": "passes through the network per example", "seconds": "seconds of compute"}


class TrainingPage(QtWidgets.QSplitter):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(QtCore.Qt.Orientation.Vertical, parent)
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
            self.maps_view.ci.removeItem(plot)  # placed by layout_maps
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
        self.addWidget(top)
        self.addWidget(maps_box)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 1)
        self.setChildrenCollapsible(False)
        for view in (self.loss_view, self.angle_view, self.maps_view):
            view.setMinimumSize(160, 120)
        self._map_rules: list[str] = []
        self._map_mode = "confusion"
        self._map_classes = 10
        self._map_styled: tuple[str, int] | None = None  # the mode the maps' axes were last set up for
        self._legend_rules: tuple[str, ...] | None = None
        self._laid_out_mode: str | None = None

    def clear(self, rules: tuple[str, ...], steps: int, dataset: str) -> None:
        """Empty plots for a new run of `rules` on `dataset`; the legend lists these rules only."""
        for c in list(self.loss_curves.values()) + [self.angle_curve]:
            c.setData([], [])
        if tuple(rules) != self._legend_rules:  # restyling a plot relays it out: only on a change
            self.loss_plot.legend.clear()
            for rule in rules:
                self.loss_plot.legend.addItem(self.loss_curves[rule], RULE_SHORT[rule])
            manager().register_plot(self.loss_plot)
            self._legend_rules = tuple(rules)
        for rule in RULES:
            self.loss_curves[rule].setVisible(rule in rules)
            self.map_images[rule].clear()
            self.map_points[rule].setData([], [])
        fa = "feedback_alignment" in rules
        self.angle_hint.setText("" if fa else "Tick FA to measure\nits angle to the gradient")
        self.angle_note.set_text("Waiting for FA's first step…" if fa else "")
        self.loss_note.set_text("Starting…")
        self.angle_hint.setPos(steps / 2, 50)
        self.angle_plot.setXRange(0, steps, padding=0.02)
        self.loss_plot.enableAutoRange()
        event_loop_turn()
        self.set_map_mode(dataset)
        event_loop_turn()
        self.layout_maps(list(rules))

    def idle_notes(self) -> None:
        self.loss_note.set_text(IDLE_NOTE)
        if self.angle_note.text:  # no note while the plot asks for FA to be ticked
            self.angle_note.set_text(IDLE_NOTE)

    def draw_curves(self, history: dict[str, dict[str, list[float]]], mode: str) -> None:
        """Each rule's training loss against `mode` ("step", "passes" or "seconds")."""
        log_x = mode == "passes"
        self.loss_plot.setLogMode(x=log_x, y=True)
        self.loss_plot.setLabel("bottom", X_AXES[mode] + (" (log scale)" if log_x else ""))
        shown = []
        for rule, h in history.items():
            x = np.asarray(h["step" if mode == "step" else mode], dtype=float)
            y = np.asarray(h["train_loss"], dtype=float)
            ok = np.isfinite(y) & (y > 0) & (x > 0 if log_x else np.isfinite(x))
            self.loss_curves[rule].setData(x[ok], y[ok])
            shown.append(y[ok])
        values = np.concatenate(shown) if shown else np.empty(0)
        if values.size:
            # Half a decade of room above the start, where the legend sits.
            lo, hi = float(values.min()), float(values.max())
            self.loss_plot.setYRange(np.log10(lo / 1.5), np.log10(hi * 4), padding=0)

    def draw_angle(self, history: dict[str, dict[str, list[float]]]) -> None:
        h = history.get("feedback_alignment")
        if h and h["angle"]:
            self.angle_curve.setData(np.asarray(h["angle_step"], dtype=float), np.asarray(h["angle"]))

    def set_map_mode(self, dataset: str) -> None:
        self._map_mode = "confusion" if dataset == "digits" else "points"
        self._map_classes = 10 if dataset == "digits" else (3 if dataset == "blobs" else 2)
        K = self._map_classes
        if self._map_styled == (self._map_mode, K):
            return  # as they are (a new run on the same data)
        self._map_styled = (self._map_mode, K)
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
            # A decision map is a picture of the input plane: square units. A confusion matrix
            # fills its cell instead (locked, the first one, narrower by its row label, was drawn
            # smaller than the others and off its axes).
            plot.setAspectLocked(not confusion)
            manager().register_plot(plot)
            event_loop_turn()

    def layout_maps(self, rules: list[str]) -> None:
        """One map per rule of the run, left to right, then the colour bar."""
        ci = self.maps_view.ci
        if (list(rules), self._map_mode) == (self._map_rules, self._laid_out_mode) and self.map_bar in ci.items:
            return
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
        self._laid_out_mode = self._map_mode

    def caption_maps(self, dataset: str, step: int) -> None:
        if dataset == "digits":
            self.maps_caption.setText(f"Confusion matrices on the test set at step {step:,}: row = true digit, "
                                      "colour = share of it predicted as each column; test accuracy in each title")
        else:
            self.maps_caption.setText(f"Decision maps at step {step:,} with the training points; test accuracy "
                                      "in each title")

    def draw_map(self, m: RuleMap) -> None:
        plot, image = self.map_plots[m.rule], self.map_images[m.rule]
        title = f"{RULE_SHORT[m.rule]} · {100 * m.test_acc:.1f}%"
        manager().set_title(plot, title)
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

    def restyle(self) -> None:
        for rule in RULES:
            self.map_points[rule].setPen(pg.mkPen(manager().color("plot_bg"), width=0.6))
