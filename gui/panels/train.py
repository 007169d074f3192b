"""The Train tab: live loss and accuracy curves and the network's decision map (for image
data: sample predictions, the confusion matrix and per-class accuracy instead)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets
from superqt import QElidingLabel

from engine.live import Frame, Probe
from engine.predictions import prediction_probe
from engine.probes import DecisionMap, decision_probe

from .. import plots
from .base import HeadlessContext, Panel
from .train_images import N_SAMPLES, ImageModeView, write_sample_sheet

DECISION_RES = 120


class TrainPanel(Panel):
    slug = "train"
    title = "Train"
    topic = "Training"

    def __init__(self, lab, parent=None):
        super().__init__(lab, parent)
        self._pending_map: DecisionMap | None = None  # the newest map not drawn yet
        self._curves_turn = True
        self.show_test = QtWidgets.QCheckBox("Show test points")
        self.log_loss = QtWidgets.QCheckBox("Log-scale loss")
        self.log_loss.setChecked(True)
        self.banner = plots.caption("", role="banner")
        self.banner.hide()
        self.summary = QElidingLabel("")

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.show_test)
        top.addWidget(self.log_loss)
        top.addSpacing(12)
        top.addWidget(self.summary, 1)

        # Left: the decision map (or, for data that is not 2-D, a note).
        self.map_view = plots.make_view()
        self.map = plots.ImagePlot(self.map_view, "Decision map", "x₁", "x₂",
                                   cmap=plots.binary_colormap(), bar_label="P(class 1)", isolines=0)
        self.boundary = plots.Isolines(self.map.image, pg.mkPen((60, 60, 60), width=2))
        self.train_pts = pg.ScatterPlotItem(size=8, pen=pg.mkPen((255, 255, 255, 220), width=1.2))
        self.test_pts = pg.ScatterPlotItem(size=9, symbol="s", pen=pg.mkPen((20, 20, 20, 230), width=1.5))
        self.map.plot.addItem(self.train_pts)
        self.map.plot.addItem(self.test_pts)
        self.test_pts.setVisible(False)
        self.no_map = plots.caption("", scale=1.1)
        self.no_map.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._images: ImageModeView | None = None  # made when an image dataset is first shown
        self.left = QtWidgets.QStackedWidget()
        self.left.addWidget(self.map_view)
        self.left.addWidget(self.no_map)

        # Right: curves.
        self.curve_view = plots.make_view()
        self.loss_plot = plots.add_plot(self.curve_view, "Loss", "", "loss", row=0, col=0, legend="top-right")
        self.batch_curve = plots.curve(self.loss_plot, "plot_fg", None, width=1.0)  # explained in the lesson
        self.batch_curve.setOpacity(0.3)
        self.train_loss = plots.curve(self.loss_plot, 0, "train")
        self.test_loss = plots.curve(self.loss_plot, 1, "test")
        self.acc_plot = plots.add_plot(self.curve_view, "Accuracy", "step", "accuracy", row=1, col=0,
                                       legend="bottom-right")
        self.acc_plot.setYRange(0, 1.02)
        self.acc_plot.setXLink(self.loss_plot)
        self.train_acc = plots.curve(self.acc_plot, 0, "train")
        self.test_acc = plots.curve(self.acc_plot, 1, "test")
        for c in (self.batch_curve, self.train_loss, self.test_loss, self.train_acc, self.test_acc):
            c.setDownsampling(auto=False)
        self.loss_plot.setLogMode(y=True)
        self.curve_notes = [plots.note(self.loss_plot, IDLE_NOTE), plots.note(self.acc_plot, IDLE_NOTE)]
        lab.state_changed.connect(self._state_note)

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.left)
        split.addWidget(self.curve_view)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 4)
        self.split = split

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)

        self.show_test.toggled.connect(self.test_pts.setVisible)
        self.log_loss.toggled.connect(lambda on: self.loss_plot.setLogMode(y=on))
        lab.diverged.connect(self._diverged)
        self._map: DecisionMap | None = None
        self.frames_drawn = 0

    # -- live -------------------------------------------------------------------------------
    def probes(self) -> dict[str, Probe]:
        # Each probe returns None for data it does not apply to.
        return {"decision": Probe(decision_probe(DECISION_RES), min_interval=1 / 30),
                "predictions": Probe(prediction_probe(N_SAMPLES), min_interval=0.4)}

    def on_rebuilt(self) -> None:
        ds = self.lab.experiment.dataset
        mode = "images" if ds.is_images and not ds.is_points else "points"
        if mode != getattr(self, "_mode", "points"):  # pictures need more room than the curves
            total = sum(self.split.sizes()) or 1000
            share = 0.64 if mode == "images" else 5 / 9
            self.split.setSizes([int(share * total), total - int(share * total)])
        self._mode = mode
        if ds.is_points:
            self.left.setCurrentWidget(self.map_view)
            if ds.n_classes == 2:
                self.map.set_colormap(plots.binary_colormap())
                self.map.bar.axis.setLabel("P(class 1)")
            else:
                self.map.set_colormap(plots.class_band_colormap(ds.n_classes))
                self.map.bar.axis.setLabel("class (shade: confidence)")
            self.boundary.setVisible(ds.n_classes == 2)
            Xtr, ytr = ds.X_train.numpy(), ds.y_train.numpy()
            Xte, yte = ds.X_test.numpy(), ds.y_test.numpy()
            self.train_pts.setData(Xtr[:, 0], Xtr[:, 1], brush=plots.class_brushes(ytr, ds.n_classes))
            self.test_pts.setData(Xte[:, 0], Xte[:, 1], brush=plots.class_brushes(yte, ds.n_classes))
            self.map.extent = None
        elif ds.is_images:
            self.left.setCurrentWidget(self.images)
            self.images.set_dataset(ds)
        else:
            self.left.setCurrentWidget(self.no_map)
            self.no_map.setText(
                f"The decision map needs 2-D inputs.\n{ds.name} has {ds.in_features} input features.")

    def on_reset(self) -> None:
        self.banner.hide()
        self._pending_map = None
        for c in (self.batch_curve, self.train_loss, self.test_loss, self.train_acc, self.test_acc):
            c.setData([], [])
        self.summary.setText("")

    def on_frames(self, frames: list[Frame]) -> None:
        dmap = next((f.probes["decision"] for f in reversed(frames) if f.probes.get("decision")), None)
        if dmap is not None:
            self._pending_map = dmap
        # While training, the curves and the map take turns: each view is then repainted in an
        # event-loop turn of its own (both at once made a 50 ms turn of the GUI thread).
        if not (self.lab.running and not self.lab.sync):
            self._draw_curves()
            self._draw_pending_map()
        elif self._curves_turn or self._pending_map is None:
            self._draw_curves()
            self._curves_turn = False
        else:
            self._draw_pending_map()
            self._curves_turn = True
        preds = next((f.probes["predictions"] for f in reversed(frames) if f.probes.get("predictions")), None)
        if preds is not None:
            self.images.set_predictions(preds)
        self.frames_drawn += 1

    def _draw_curves(self) -> None:
        h = self.lab.history
        if h.steps:
            self.batch_curve.setData(np.asarray(h.steps), _positive(h.batch_loss))
        if h.eval_steps:
            x = np.asarray(h.eval_steps)
            self.train_loss.setData(x, _positive(h.train_loss))
            self.test_loss.setData(x, _positive(h.test_loss))
            self.train_acc.setData(x, np.asarray(h.train_acc))
            self.test_acc.setData(x, np.asarray(h.test_acc))
            self.summary.setText(
                f"loss {h.train_loss[-1]:.3f} train / {h.test_loss[-1]:.3f} test    "
                f"accuracy {100 * h.train_acc[-1]:.1f}% train / {100 * h.test_acc[-1]:.1f}% test")

    def _draw_pending_map(self) -> None:
        if self._pending_map is not None:
            dmap, self._pending_map = self._pending_map, None
            self._draw_map(dmap)

    @property
    def images(self) -> ImageModeView:
        """The sample grid, confusion matrix and class accuracy of an image dataset."""
        if self._images is None:
            self._images = ImageModeView()
            self.left.addWidget(self._images)
        return self._images

    def _showing_images(self) -> bool:
        return self._images is not None and self.left.currentWidget() is self._images

    def _draw_map(self, dmap: DecisionMap) -> None:
        self._map = dmap
        C = dmap.probs.shape[-1]
        if C == 2:
            z = dmap.probs[..., 1]
            self.map.set_image(z, dmap.extent, levels=(0.0, 1.0))
            self.boundary.set_data(z, 0.5)
        else:
            conf = dmap.probs.max(-1)
            z = dmap.probs.argmax(-1) + 0.999 * (conf - 1.0 / C) / (1 - 1.0 / C)
            self.map.set_image(z, dmap.extent, levels=(0.0, float(C)))

    def _state_note(self, state: str) -> None:
        if state != "running" and self.constructed:  # what the last frames of a run left for later
            self._draw_curves()
            self._draw_pending_map()
        every = self.lab.experiment.config.eval_every
        text = f"Training… the first evaluation comes at step {every}" if state == "running" else IDLE_NOTE
        for n in self.curve_notes:
            n.set_text(text)

    def _diverged(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()

    # -- export -----------------------------------------------------------------------------
    def figures(self) -> dict[str, QtWidgets.QWidget]:
        if self._showing_images():
            return {"train-predictions": self.images, "train-curves": self.curve_view}
        return {"train-decision-map": self.left, "train-curves": self.curve_view}

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"curves": self.lab.history.as_dict(),
                               "config": self.lab.experiment.config.to_dict()}
        if self._map is not None:
            out["decision_probs"] = self._map.probs
            out["decision_extent"] = np.asarray(self._map.extent)
        if self._showing_images():
            out.update(self.images.data())
        return out

    def headless(self, ctx: HeadlessContext) -> None:
        self.set_active(True)
        ctx.lab.train_sync(ctx.steps)
        ds = ctx.lab.experiment.dataset
        if ds.is_images:  # a page of every class, to judge the data by eye
            ctx.written.append(write_sample_sheet(ds, ctx.out / "train-sample-sheet.png"))


IDLE_NOTE = "Press Play (Space) to train"


def _positive(v) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return np.maximum(a, 1e-8)  # the log axis cannot show zero


