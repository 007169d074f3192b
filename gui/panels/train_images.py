"""The Train tab's image mode: sample test pictures with true and predicted labels, the
confusion matrix and the accuracy of each class, refreshed while the network trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from engine.data import Dataset
from engine.predictions import ImagePredictions, sample_indices

from .. import plots
from ..image_grid import SampleGrid, SampleSheet, display_levels
from ..style import manager

N_SAMPLES = 18
GRID_COLUMNS = 6
SHEET_PER_CLASS = 4


def as_pictures(ds: Dataset, rows: np.ndarray) -> list[np.ndarray]:
    """Pictures to show, (H, W) or (C, H, W), whatever the stored layout of the inputs."""
    if ds.image_shape is not None and rows.ndim == 2:  # flat vectors (digits)
        return [r.reshape(ds.image_shape) for r in rows]
    return [r[0] if r.shape[0] == 1 else r for r in rows]


def dataset_images(ds: Dataset, X, index) -> list[np.ndarray]:
    return as_pictures(ds, X[np.asarray(index)].numpy())


class ImageModeView(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.heading = plots.caption("")
        self.grid = SampleGrid(GRID_COLUMNS)

        self.view = plots.make_view()
        self.confusion = plots.ImagePlot(self.view, "Confusion matrix (test)", "predicted class", "",
                                         cmap="viridis", bar_label="share of the row", row=0, col=0)
        self.confusion.plot.invertY(True)
        self.confusion.plot.setMouseEnabled(x=False, y=False)
        self.accuracy_plot = plots.add_plot(self.view, "Class accuracy", "accuracy", "", row=0, col=1)
        self.accuracy_plot.invertY(True)
        self.accuracy_plot.setYLink(self.confusion.plot)
        self.accuracy_plot.setXRange(0, 1, padding=0.07)  # room for the "0" tick label
        self.accuracy_plot.setMouseEnabled(x=False, y=False)
        self.accuracy_plot.setMinimumWidth(120)  # the bars stay readable, and fit a 1280-pixel screen
        self.accuracy_plot.getAxis("left").setStyle(showValues=False)
        self.accuracy_plot.getAxis("left").setWidth(4)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brushes=[])
        self.accuracy_plot.addItem(self.bars)
        self.chance = plots.guide_line(self.accuracy_plot, 0.0, angle=90, key="plot_fg", label="chance")
        self.overall = plots.guide_line(self.accuracy_plot, 0.0, angle=90, key="accent", label="all classes")
        self.chance.label.setPosition(0.04)  # labels at opposite ends, so they never overlap
        self.overall.label.setPosition(0.96)
        self.view.ci.layout.setColumnStretchFactor(0, 3)
        self.view.ci.layout.setColumnStretchFactor(1, 2)
        self.view.ci.layout.setColumnMinimumWidth(1, 130)

        top = QtWidgets.QWidget()
        top_layout = QtWidgets.QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(2)
        top_layout.addWidget(self.heading)
        top_layout.addWidget(self.grid, 1)
        self.split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.split.addWidget(top)
        self.split.addWidget(self.view)
        self.split.setStretchFactor(0, 5)
        self.split.setStretchFactor(1, 5)
        self.split.setChildrenCollapsible(False)
        self.view.setMinimumHeight(160)
        self.grid.setMinimumHeight(120)
        self._user_split = False  # until the user drags the divider, keep the pictures' share
        self.split.splitterMoved.connect(self._split_moved)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.split)

        self.dataset: Dataset | None = None
        self._names_shown = False
        self.samples = np.zeros(0, dtype=np.int64)
        self.last: ImagePredictions | None = None
        manager().changed.connect(self._label_axes)
        # The view takes its new width only once the splitter lays it out: look again then.
        self.view.ci.geometryChanged.connect(self._relabel_if_needed)

    def _split_moved(self, *_) -> None:
        self._user_split = True

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relabel_if_needed()
        if not self._user_split:
            h = max(1, self.split.height())
            self.split.setSizes([int(0.56 * h), h - int(0.56 * h)])

    def _relabel_if_needed(self) -> None:
        if shiboken6.isValid(self) and self.dataset is not None and self._names_fit() != self._names_shown:
            self._label_axes()

    # -- data ---------------------------------------------------------------------------------
    def set_dataset(self, ds: Dataset) -> None:
        self.dataset = ds
        self.last = None
        self.samples = sample_indices(ds.y_test.numpy(), N_SAMPLES)
        images = dataset_images(ds, ds.X_test, self.samples)
        self.grid.set_images(images, ds.y_test.numpy()[self.samples], ds.class_names,
                             display_levels(np.stack(images)), short_names(ds))
        self.heading.setText("Test images: true class above, the network's answer below")
        C = ds.n_classes
        self.confusion.set_image(np.zeros((C, C)), (0, C - 1, 0, C - 1), levels=(0.0, 1.0))
        # A little padding, so the first and last row labels have room to be drawn.
        self.confusion.plot.setRange(xRange=(-0.5, C - 0.5), yRange=(-0.5, C - 0.5), padding=0.03)
        self.bars.setOpts(x0=np.zeros(C), y=np.arange(C), width=np.zeros(C), height=0.7,
                          brushes=plots.class_brushes(np.arange(C), C))
        self.chance.setValue(1.0 / C)
        self.overall.setValue(0.0)
        self._label_axes()

    def _names_fit(self) -> bool:
        if self.dataset is None:
            return False
        metrics = QtGui.QFontMetrics(manager().font())
        widest = max(metrics.horizontalAdvance(f"00 {_short(n)}") for n in self.dataset.class_names)
        # The names' axis, ≥ 10 px a matrix column, the colour bar with its ticks and label, the
        # accuracy column (150 px) and margins: short of that, names would push the plots past
        # the view's edge, so the rows get class numbers.
        bar = 18 + metrics.horizontalAdvance("0.8") + 2 * metrics.height() + 16
        return self.view.width() >= widest + 16 + 10 * self.dataset.n_classes + bar + 130 + 24

    def _label_axes(self) -> None:
        ds = self.dataset
        if ds is None:
            return
        C = ds.n_classes
        # Names on the rows; the columns show class numbers (names would not fit).
        # Row names when they fit beside the matrix and the bars; class numbers otherwise (large
        # text, or the lesson open beside the tab); the sample pictures still carry the names.
        self._names_shown = self._names_fit()
        names = [(k, str(k) if not self._names_shown or ds.class_names[k] == str(k)
                  else f"{k} {_short(ds.class_names[k])}") for k in range(C)]
        numbers = [(k, str(k)) for k in range(C)]
        left = self.confusion.plot.getAxis("left")
        left.setTicks([names[0::2], names[1::2]])
        # Room for the longest name now (the axis would only widen itself at the next paint,
        # too late for an exported picture).
        metrics = QtGui.QFontMetrics(manager().font())
        left.setWidth(max(metrics.horizontalAdvance(t) for _, t in names) + 16)
        self.confusion.plot.getAxis("bottom").setTicks([numbers[0::2], numbers[1::2]])
        # Every other label is dropped when the rows get too thin for all of them.
        self.confusion.plot.getAxis("left").setStyle(textFillLimits=[(0, 0.95), (1, 0.8)])
        self.confusion.plot.getAxis("bottom").setStyle(textFillLimits=[(0, 0.95), (1, 0.5)])
        self.accuracy_plot.getAxis("bottom").setTicks([[(0, "0"), (0.5, "½"), (1.0, "1")]])
        backdrop = manager().color("plot_bg")
        backdrop.setAlpha(215)
        for line in (self.chance, self.overall):  # legible where a label crosses a bar
            line.label.fill = pg.mkBrush(backdrop)
            line.label.update()

    def set_predictions(self, pred: ImagePredictions) -> None:
        if self.dataset is None or len(pred.confusion) != self.dataset.n_classes:
            return
        self.last = pred
        if np.array_equal(pred.sample_index, self.samples):
            self.grid.set_predictions(pred.predicted, pred.confidence)
        cm = pred.confusion.astype(np.float64)
        share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        C = len(cm)
        self.confusion.set_image(share, (0, C - 1, 0, C - 1), levels=(0.0, 1.0))
        acc = np.nan_to_num(pred.per_class_accuracy)
        self.bars.setOpts(width=acc)
        self.overall.setValue(pred.accuracy)
        self.heading.setText(f"Step {pred.step:,}: {100 * pred.accuracy:.1f}% of {pred.n_evaluated} test images "
                             "right (true class above, the network's answer below)")

    def clear_predictions(self) -> None:
        self.last = None
        self.grid.clear_predictions()

    # -- export -------------------------------------------------------------------------------
    def data(self) -> dict:
        if self.last is None or self.dataset is None:
            return {}
        return {"confusion": self.last.confusion, "per_class_accuracy": self.last.per_class_accuracy,
                "class_names": list(self.dataset.class_names), "test_accuracy": self.last.accuracy,
                "sample_index": self.last.sample_index, "sample_predicted": self.last.predicted}


def short_names(ds: Dataset) -> list[str] | None:
    """The phantoms' abbreviations (GBM, MEN, …), for tiles too narrow for a whole name."""
    if ds.name != "mri":
        return None
    from engine.phantoms import LESIONS

    short = {lesion.name: lesion.abbreviation for lesion in LESIONS}
    return [short.get(name, name) for name in ds.class_names]


def _short(name: str, limit: int = 16) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def write_sample_sheet(ds: Dataset, path: Path, per_class: int = SHEET_PER_CLASS) -> Path:
    """A PNG with `per_class` pictures of every class, named (and described, for the phantoms)."""
    X = np.concatenate([ds.X_train.numpy(), ds.X_test.numpy()])
    y = np.concatenate([ds.y_train.numpy(), ds.y_test.numpy()])
    by_class = [as_pictures(ds, X[np.flatnonzero(y == k)[:per_class]]) for k in range(ds.n_classes)]
    descriptions = None
    if ds.name == "mri":
        from engine.phantoms import LESIONS

        descriptions = {lesion.name: lesion.signature for lesion in LESIONS}
    sample = np.concatenate([np.ravel(a) for imgs in by_class for a in imgs]) if by_class else np.zeros(1)
    side = 128 if max(ds.image_shape or (64,)) >= 32 else 64
    sheet = SampleSheet(by_class, ds.class_names, descriptions,
                        title=f"{ds.name}: {ds.n_classes} classes × {per_class} images "
                              f"({len(y)} images of {ds.input_shape})",
                        side=side, groups=2 if ds.n_classes > 6 else 1, levels=display_levels(sample))
    try:
        if not sheet.save(path):
            raise OSError(f"could not write {path}")
    finally:
        sheet.deleteLater()
    return path
