"""The image datasets in the experiment bar: "MRI phantoms" and "Image folder…".

Choosing one sets settings that suit a CNN (Adam, a small learning rate, minibatches of 32).
The pictures are drawn (phantoms) or read (a folder, after a folder dialog) in a job, with
progress and Cancel in the status bar, never on the GUI thread; then the experiment is rebuilt
on them. A folder that cannot be used gets its reason under the dataset field and in the status
bar. Leaving the image sets for a toy set brings back the toy settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from engine.data import TOY_NAMES, Dataset, LoadProgress
from engine.experiment import IMAGE_CLASSES, ExperimentConfig
from engine.image_folder import iter_image_folder
from engine.phantoms import iter_mri_phantoms, phantoms_cached

from .panel_tools import ProgressBar

if TYPE_CHECKING:  # the bar calls these hooks; they only read and drive it
    from .experiment_bar import ExperimentBar

IMAGE_DATASETS = ("mri", "folder")
CNN_SETTINGS = {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "batch_size": 32, "test_fraction": 0.2,
                "eval_every": 25}
TOY_SETTINGS = {"n": 600, "noise": 0.1, "optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "batch_size": 32,
                "test_fraction": 0.3, "eval_every": 10}


def ask_folder(parent: QtWidgets.QWidget, start: str) -> str | None:
    """The folder dialog (tests replace `choose_folder`)."""
    path = QtWidgets.QFileDialog.getExistingDirectory(
        parent, "Choose a folder with one subfolder of images per class", start)
    return path or None


choose_folder: Callable[[QtWidgets.QWidget, str], str | None] = ask_folder


def _mri_args(cfg: ExperimentConfig) -> dict:
    return {"n_per_class": max(2, round(cfg.n / IMAGE_CLASSES)), "size": cfg.image_size, "noise": cfg.noise,
            "test_fraction": cfg.test_fraction, "seed": cfg.data_seed}


def _mri(bar: ExperimentBar, cfg: ExperimentConfig) -> ExperimentConfig | None:
    """CNN settings; the pictures are drawn in a job with progress unless they are at hand."""
    new = replace(cfg, n=680, noise=0.05, image_size=64, **CNN_SETTINGS)
    args = _mri_args(new)
    if phantoms_cached(args["n_per_class"], args["size"], IMAGE_CLASSES, args["noise"], args["seed"]):
        return new  # the bar asks before restarting, and rebuilds at once
    if bar.lab.experiment.step_count > 0 and not bar.confirm(
            "Changing the dataset builds a new network and restarts training from step 0. Continue?"):
        return None
    loader(bar).run(lambda: iter_mri_phantoms(**args), new, "Drawing MRI phantoms")
    return None  # the bar keeps the current dataset until the pictures are drawn


def _toy(bar: ExperimentBar, cfg: ExperimentConfig) -> ExperimentConfig:
    """Back from an image set: the toy settings (SGD at 0.1), digits with its own."""
    if bar.lab.experiment.config.dataset in IMAGE_DATASETS:
        cfg = replace(cfg, **TOY_SETTINGS)
    if cfg.dataset == "digits":  # what the bar does for digits without a hook
        cfg = replace(cfg, n=1797, noise=0.0, hidden=(64, 64), activation="relu", lr=0.1)
    return cfg


class FolderLoad(QtWidgets.QWidget):
    """Status-bar strip while a folder is read: what it reads, a progress bar, Cancel."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.title = "Reading images"
        self.label = QtWidgets.QLabel("Reading images…")
        self.progress = ProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.cancel.setSizePolicy(QtWidgets.QSizePolicy.Policy.Maximum, QtWidgets.QSizePolicy.Policy.Fixed)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel)
        layout.addStretch(1)

    def show_progress(self, p: LoadProgress) -> None:
        self.progress.setRange(0, max(p.total, 1))
        self.progress.setValue(p.done)
        skipped = f", {p.skipped} unreadable" if p.skipped else ""
        self.label.setText(f"{self.title}: {p.done:,} of {p.total:,}{skipped}")


class FolderLoader(QtCore.QObject):
    """Draws or reads a dataset in a Lab job, then applies it; one load at a time."""

    def __init__(self, bar: ExperimentBar):
        super().__init__(bar)
        self.bar = bar
        self.job = None
        self.strip: FolderLoad | None = None
        self.result: Dataset | None = None
        self.last_dir = ""
        # Choosing "Image folder…" again while it is the dataset opens the dialog again.
        bar.dataset.activated.connect(self._activated)

    def _activated(self, index: int) -> None:
        if self.bar.dataset.itemData(index) == "folder" and self.bar.lab.experiment.config.dataset == "folder":
            self.start(self.bar.lab.experiment.config)

    def start(self, cfg: ExperimentConfig) -> None:
        """Ask for a folder, then read it."""
        bar, lab = self.bar, self.bar.lab
        if self.busy():
            return
        path = choose_folder(bar, cfg.folder or self.last_dir)
        if not path:
            return
        if lab.experiment.step_count > 0 and not bar.confirm(
                "Training on a new folder builds a new network and restarts training from step 0. Continue?"):
            return
        self.last_dir = path
        new = replace(cfg, dataset="folder", folder=path,
                      **(CNN_SETTINGS if lab.experiment.config.dataset != "folder" else {}))
        size, fraction, seed = new.image_size, new.test_fraction, new.data_seed
        self.run(lambda: iter_image_folder(path, size=size, test_fraction=fraction, seed=seed), new,
                 "Reading images", error_prefix="Cannot use that folder")

    def busy(self) -> bool:
        if self.job is not None and self.job.running:
            self.bar.lab.message.emit("Still preparing the last dataset; cancel it first.", 4000)
            return True
        return False

    def run(self, factory, new: ExperimentConfig, title: str, error_prefix: str = "Cannot build the data") -> None:
        """Run `factory` (LoadProgress items, then a Dataset) in a job; apply `new` when it is done."""
        bar, lab = self.bar, self.bar.lab
        if self.busy():
            return
        bar.show_error("dataset", "")
        self._show_strip(title)
        self.result = None
        was = lab.experiment.config.dataset

        def items(batch: list) -> None:
            for item in batch:
                if isinstance(item, LoadProgress):
                    if self.strip is not None:
                        self.strip.show_progress(item)
                else:
                    self.result = item

        def done() -> None:
            self._hide_strip()
            if self.job is not None and self.job.stopping:
                lab.message.emit(f"{title}: cancelled; the experiment is unchanged.", 5000)
                return
            if self.result is None:
                return
            if lab.experiment.config.dataset != was:  # another dataset was chosen meanwhile
                lab.message.emit(f"{title}: done, but another dataset was chosen meanwhile.", 8000)
                return
            ds = self.result
            cfg_new = new
            if cfg_new.batch_size > len(ds.y_train):
                cfg_new = replace(cfg_new, batch_size=0)
            lab.apply_config(cfg_new)  # the status bar then says what was read (and skipped)
            bar.load(cfg_new)

        def failed(text: str) -> None:
            self._hide_strip()
            bar.show_error("dataset", text)
            lab.message.emit(f"{error_prefix}: {text}", 12000)

        self.job = lab.start_job(factory, on_items=items, on_done=done, on_error=failed, name="prepare-data")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.stop()

    def _show_strip(self, title: str) -> None:
        win = self.bar.window()
        if not isinstance(win, QtWidgets.QMainWindow) or self.bar.lab.sync:
            return
        self.strip = FolderLoad()
        self.strip.title = title
        self.strip.label.setText(f"{title}…")
        self.strip.cancel.clicked.connect(self.cancel)
        win.statusBar().addWidget(self.strip, 1)
        self.strip.show()

    def _hide_strip(self) -> None:
        if self.strip is not None:
            self.strip.hide()
            self.strip.deleteLater()
            self.strip = None


def loader(bar: ExperimentBar) -> FolderLoader:
    found = bar.findChild(FolderLoader)
    return found if found is not None else FolderLoader(bar)


def _folder(bar: ExperimentBar, cfg: ExperimentConfig) -> None:
    """Ask for the folder and read it in a job; the experiment changes when it is read."""
    loader(bar).start(cfg)
    return None  # the bar keeps the current dataset until the folder is read


# Per-dataset hooks for the dataset combo: fn(bar, config) -> config or None (cancelled).
DATASET_HOOKS: dict[str, Callable[[ExperimentBar, ExperimentConfig], ExperimentConfig | None]] = {
    "mri": _mri, "folder": _folder}
for _name in TOY_NAMES:
    DATASET_HOOKS.setdefault(_name, _toy)
