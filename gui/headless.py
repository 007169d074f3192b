"""Headless figure export and the self-test.

Both build the real window on Qt's offscreen platform, so the pictures written are exactly
what the app shows; headless runs jobs inline (in order), the self-test runs them threaded
like the live app.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from engine.experiment import ExperimentConfig, known_datasets

from .app import make_app
from .lab import Lab
from .panels.base import HeadlessContext, write_outputs

# Settings a dataset brings with it on the command line (image sets get the CNN settings).
DATASET_CONFIGS: dict[str, dict] = {
    "digits": {"n": 1797, "noise": 0.0, "hidden": (64, 64), "activation": "relu", "lr": 0.1},
    # The CNN on 17 × 40 phantom slices of 64×64: Adam learns it in about a minute on a laptop.
    "mri": {"n": 680, "noise": 0.05, "test_fraction": 0.2, "image_size": 64, "optimizer": "adam",
            "lr": 1e-3, "momentum": 0.0, "batch_size": 32, "eval_every": 25},
    "folder": {"test_fraction": 0.2, "image_size": 64, "optimizer": "adam", "lr": 1e-3, "momentum": 0.0,
               "batch_size": 32, "eval_every": 25},
}
DATASET_ALIASES: dict[str, str] = {"mri-phantoms": "mri", "phantoms": "mri", "brain": "mri"}


def config_for(dataset: str | None, base: ExperimentConfig | None = None) -> ExperimentConfig:
    from dataclasses import replace

    cfg = base or ExperimentConfig()
    folder = None
    if dataset and dataset not in known_datasets() and dataset not in DATASET_ALIASES and (
            Path(dataset).expanduser().is_dir() or any(c in dataset for c in "/\\~.")):
        folder = Path(dataset).expanduser()  # --dataset PATH: a folder of class folders
        cfg = replace(cfg, folder=str(folder.resolve()))
        dataset = "folder"
    if dataset:
        name = DATASET_ALIASES.get(dataset, dataset)
        cfg = replace(cfg, dataset=name, **{k: tuple(v) if k == "hidden" else v
                                            for k, v in DATASET_CONFIGS.get(name, {}).items()})
    if folder is not None:
        from engine.image_folder import scan_folder

        n_train = round(len(scan_folder(folder).files) * (1 - cfg.test_fraction))  # names the problem, if any
        if cfg.batch_size > n_train:
            cfg = replace(cfg, batch_size=0)  # a small folder: full batch
    return cfg


def _window(lab: Lab, size=(1280, 720)):
    from .main_window import MainWindow

    win = MainWindow(lab)
    win.resize(*size)
    win.show()
    return win


def dispose(win) -> None:
    """Close and delete the window now, while Qt and Python are both alive (deleting it during
    interpreter teardown can crash)."""
    from PySide6 import QtCore, QtWidgets

    # Garbage collected while the window still stands: cycles of plot items that outlived it
    # would be freed after Qt has deleted their scene (the collector runs on a GUI timer, which a
    # headless run seldom lets fire).
    gc.collect()
    win.close()
    win.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
    QtWidgets.QApplication.processEvents()
    # Python wrappers caught in reference cycles would outlive their Qt objects until the next
    # collection, and the style manager would restyle them (a RuntimeError) in the next window.
    gc.collect()


def run_headless(out: str | Path, tab: str = "train", dataset: str | None = None,
                 steps: int | None = None, quick: bool = False,
                 config: ExperimentConfig | None = None, options: dict | None = None,
                 size=(1280, 720)) -> list[Path]:
    """Render one tab (or "all") to PNG + data files in `out`; returns the files written."""
    make_app(offscreen=True)
    out = Path(out)
    cfg = config_for(dataset, config)
    problems = {k: v for k, v in cfg.problems().items() if k != "batch_size"}
    if problems:
        raise ValueError("; ".join(problems.values()))
    lab = Lab(cfg, sync=True)
    win = _window(lab, size)
    written: list[Path] = []
    try:
        slugs = [p.slug for p in win.panels] if tab == "all" else [tab]
        for slug in slugs:
            panel = win.show_panel(slug)
            target = out / slug if tab == "all" else out
            target.mkdir(parents=True, exist_ok=True)
            if options:
                panel.apply_options(options)
            ctx = HeadlessContext(lab, target, steps=steps if steps is not None else (60 if quick else 300),
                                  quick=quick, options=options or {})
            panel.headless(ctx)
            written += ctx.written + write_outputs(panel, target)
    finally:
        dispose(win)
    return written


def run_preset_headless(name: str, out: str | Path, quick: bool = False,
                        steps: int | None = None) -> list[Path]:
    """Render a preset's tab with its settings (quick: its short test settings)."""
    from .presets import find_preset

    preset = find_preset(name)
    if steps is None:
        steps = preset.quick_steps if quick else preset.steps
    return run_headless(out, tab=preset.tab, steps=steps, quick=quick, config=preset.config(),
                        options=preset.options(quick))


def self_test(steps: int = 50, timeout: float = 90.0) -> int:
    """Open the real window offscreen, train `steps` steps, check the plots hold data."""

    from . import startup

    app = make_app(offscreen=True)
    lab = Lab()
    win = _window(lab)
    problems: list[str] = []

    def wait(cond, limit: float) -> bool:
        end = time.perf_counter() + limit
        while time.perf_counter() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.005)
        return cond()

    if not wait(lambda: lab.state == "idle" and lab.last_frame is not None, timeout):
        problems.append("the first frame never arrived")
    if startup.first_paint is None:
        problems.append("the window was never painted")
    t_train = time.perf_counter()
    lab.play(max_steps=steps)
    if not wait(lambda: lab.state == "idle" and lab.experiment.step_count >= steps, timeout):
        problems.append(f"training did not reach {steps} steps (at {lab.experiment.step_count})")
    train_s = time.perf_counter() - t_train
    panel = win.panel("train")
    app.processEvents()
    x, _ = panel.train_loss.getData()
    if x is None or len(x) < 2:
        problems.append("the loss curve holds no data")
    if lab.experiment.dataset.is_points and panel.map.image.image is None:
        problems.append("the decision map is empty")
    if lab.experiment.dataset.is_points and len(panel.train_pts.getData()[0]) == 0:
        problems.append("the training points are missing from the decision map")
    if panel.frames_drawn < 2:
        problems.append(f"only {panel.frames_drawn} frames drawn")
    if lab.experiment.diverged:
        problems.append("training diverged")
    grab = win.grab()
    if grab.isNull():
        problems.append("the window could not be drawn")
    h = lab.history
    dispose(win)
    if problems:
        print("self-test FAILED: " + "; ".join(problems))
        return 1
    print(f"self-test ok: window painted {startup.first_paint:.2f} s after start, "
          f"{lab.experiment.step_count} steps in {train_s:.2f} s, "
          f"{panel.frames_drawn} frames drawn, train acc {100 * h.train_acc[-1]:.1f}%, "
          f"test acc {100 * h.test_acc[-1]:.1f}%, {lab.device_text()}, "
          f"platform {os.environ.get('QT_QPA_PLATFORM', 'default')}")
    return 0
