"""The experiment bar: data, model and optimiser settings shared by every tab, and the
Play / Pause, Step, Reset and Reseed buttons.

Each field checks its own value and shows a specific message under itself; a bad value is
never applied. Learning rate, momentum, weight decay, batch size and optimizer apply at the next
step, even mid-run; data and architecture changes rebuild the experiment, after asking when
that would throw away training progress.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from PySide6 import QtCore, QtWidgets

from engine.experiment import DATASET_LABELS, ExperimentConfig, known_datasets
from engine.models import ACTIVATIONS
from engine.specs import MIN_SAMPLES
from engine.training import OPTIMIZERS

from .image_datasets import DATASET_HOOKS
from .lab import Lab

LR_MIN_EXP, LR_MAX_EXP = -5.0, 1.5  # slider range: 1e-5 … ~31.6


def parse_widths(text: str) -> tuple[int, ...]:
    """'16, 16' -> (16, 16). Raises ValueError with a message for the user."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    if not parts:
        raise ValueError("give at least one hidden layer, e.g. 16, 16")
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError("hidden widths are whole numbers separated by commas, e.g. 16, 16") from None
    if any(w < 1 for w in widths):
        raise ValueError("every hidden layer needs at least 1 unit (0 hidden units cannot learn)")
    if any(w > 4096 for w in widths):
        raise ValueError("at most 4096 units per layer")
    if len(widths) > 32:
        raise ValueError("at most 32 hidden layers")
    return widths


def parse_positive(text: str, what: str, allow_zero: bool = False) -> float:
    try:
        v = float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'≥ 0' if allow_zero else '> 0'}, got {text.strip()}")
    return v


class ExperimentBar(QtWidgets.QWidget):
    """Left-hand column of the window."""

    def __init__(self, lab: Lab, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.lab = lab
        # Asked before a change throws away progress; tests replace it.
        self.confirm: Callable[[str], bool] = self._ask
        self.errors: dict[str, QtWidgets.QLabel] = {}
        self.rows: dict[str, tuple[str, list[QtWidgets.QWidget]]] = {}  # key -> (label, widgets)
        self._updating = False

        # Buttons.
        self.play = QtWidgets.QPushButton("Play")
        # Qt's own icons: the ▶/⏸ glyphs are missing from many Linux fonts and show as boxes.
        self._play_icon = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause)
        self.play.setIcon(self._play_icon)
        self.play.setToolTip("Start or pause training (Space)")
        self.step = QtWidgets.QPushButton("Step")
        self.step.setToolTip("One optimisation step (→)")
        self.reset = QtWidgets.QPushButton("Reset")
        self.reset.setToolTip("Back to the same initial weights θ₀ (R)")
        self.reseed = QtWidgets.QPushButton("Reseed")
        self.reseed.setToolTip("New random initial weights")
        for b in (self.play, self.step, self.reset, self.reseed):
            b.setMinimumHeight(30)
        buttons = QtWidgets.QGridLayout()
        buttons.addWidget(self.play, 0, 0, 1, 2)
        buttons.addWidget(self.step, 1, 0)
        buttons.addWidget(self.reset, 1, 1)
        buttons.addWidget(self.reseed, 2, 0, 1, 2)
        self.button_box = QtWidgets.QWidget()
        self.button_box.setLayout(buttons)

        # Fields.
        self.dataset = QtWidgets.QComboBox()
        for name in known_datasets():
            self.dataset.addItem(DATASET_LABELS.get(name, name), name)
        self.noise = QtWidgets.QDoubleSpinBox(decimals=2, minimum=0.0, maximum=2.0, singleStep=0.05)
        self.samples = QtWidgets.QSpinBox(minimum=MIN_SAMPLES, maximum=20000, singleStep=50)
        self.hidden = QtWidgets.QLineEdit()
        self.hidden.setPlaceholderText("e.g. 16, 16")
        self.activation = QtWidgets.QComboBox()
        self.activation.addItems(list(ACTIVATIONS))
        self.residual = QtWidgets.QCheckBox("skip connections")
        self.residual.setToolTip("h ← h + act(W·h + b) around every hidden layer that keeps its width (a residual "
                                 "network); off: a plain stack of layers")
        self.optimizer = QtWidgets.QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        self.lr = QtWidgets.QLineEdit()
        self.lr_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.lr_slider.setRange(int(LR_MIN_EXP * 100), int(LR_MAX_EXP * 100))
        self.lr_slider.setToolTip("learning rate, log scale")
        self.momentum = QtWidgets.QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.99, singleStep=0.05)
        self.batch = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000, singleStep=8)
        self.batch.setSpecialValueText("full batch")
        self.weight_decay = QtWidgets.QLineEdit()
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000)

        form = QtWidgets.QVBoxLayout()
        form.setSpacing(2)
        self.sections: dict[str, QtWidgets.QWidget] = {}
        self._section(form, "Data", [("Dataset", self.dataset, "dataset"), ("Noise", self.noise, "noise"),
                                     ("Samples", self.samples, "n")])
        self._section(form, "Network", [("Hidden widths", self.hidden, "hidden"),
                                        ("Activation", self.activation, "activation"),
                                        ("Residual", self.residual, "residual"),
                                        ("Seed", self.seed, "seed")])
        lr_row = QtWidgets.QWidget()
        lr_layout = QtWidgets.QVBoxLayout(lr_row)
        lr_layout.setContentsMargins(0, 0, 0, 0)
        lr_layout.setSpacing(1)
        lr_layout.addWidget(self.lr)
        lr_layout.addWidget(self.lr_slider)
        self._section(form, "Optimiser", [("Optimizer", self.optimizer, "optimizer"),
                                          ("Learning rate", lr_row, "lr"),
                                          ("Momentum", self.momentum, "momentum"),
                                          ("Batch size", self.batch, "batch_size"),
                                          ("Weight decay", self.weight_decay, "weight_decay")])
        form.addStretch(1)

        inner = QtWidgets.QWidget()
        inner_layout = QtWidgets.QVBoxLayout(inner)
        inner_layout.setContentsMargins(6, 6, 6, 6)
        inner_layout.addWidget(self.button_box)
        self.settings = QtWidgets.QWidget()
        self.settings.setLayout(form)
        inner_layout.addWidget(self.settings, 1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._inner, self._scroll = inner, scroll
        self.setMinimumWidth(self.needed_width())

        self.load(lab.experiment.config)
        self._connect()
        lab.state_changed.connect(self._state)
        lab.error.connect(self.show_error)

    def set_compact(self, keep: set[str] | None) -> None:
        """Presentation mode: only Play/Pause, Step, Reset and the fields in `keep`.
        None restores the full bar."""
        self.reseed.setVisible(keep is None)
        for key, (_, widgets) in self.rows.items():
            for w in widgets:
                w.setVisible(keep is None or key in keep)
            if keep is not None and key not in keep:
                self.errors[key].hide()
        for box in self.sections.values():
            box.setVisible(keep is None or any(k in keep for k in self._section_keys(box)))
        self.setMinimumWidth(self.needed_width())

    def _section_keys(self, box: QtWidgets.QWidget) -> list[str]:
        return [k for k, (_, ws) in self.rows.items() if ws[0].parent() is box]

    def needed_width(self) -> int:
        """Width that shows every field without clipping, at the current font size."""
        self._inner.adjustSize()
        bar = self._scroll.verticalScrollBar().sizeHint().width()
        return self._inner.minimumSizeHint().width() + bar + 4

    def changeEvent(self, event) -> None:
        if event.type() == event.Type.FontChange:
            self.setMinimumWidth(self.needed_width())
        super().changeEvent(event)

    # -- building ---------------------------------------------------------------------------
    def _section(self, form: QtWidgets.QVBoxLayout, title: str, rows) -> None:
        box = QtWidgets.QGroupBox(title)
        grid = QtWidgets.QGridLayout(box)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setVerticalSpacing(2)
        r = 0
        for label, widget, key in rows:
            lab = QtWidgets.QLabel(label)
            lab.setBuddy(widget)
            grid.addWidget(lab, r, 0)
            grid.addWidget(widget, r, 1)
            err = QtWidgets.QLabel("")
            err.setProperty("role", "error")
            err.setWordWrap(True)
            err.hide()
            grid.addWidget(err, r + 1, 0, 1, 2)
            self.errors[key] = err
            self.rows[key] = (label, [lab, widget])
            r += 2
        grid.setColumnStretch(1, 1)
        form.addWidget(box)
        self.sections[title] = box

    def _connect(self) -> None:
        self.play.clicked.connect(self.lab.toggle)
        self.step.clicked.connect(self.lab.step)
        self.reset.clicked.connect(self.lab.reset)
        self.reseed.clicked.connect(self._reseed)
        self.dataset.currentIndexChanged.connect(lambda _: self._structural("dataset"))
        self.noise.editingFinished.connect(lambda: self._structural("noise"))
        self.samples.editingFinished.connect(lambda: self._structural("n"))
        self.hidden.editingFinished.connect(lambda: self._structural("hidden"))
        self.activation.currentIndexChanged.connect(lambda _: self._structural("activation"))
        self.residual.toggled.connect(lambda _: self._structural("residual"))
        self.seed.editingFinished.connect(lambda: self._structural("seed"))
        self.optimizer.currentIndexChanged.connect(lambda _: self._live("optimizer"))
        self.lr.editingFinished.connect(lambda: self._live("lr"))
        self.lr_slider.valueChanged.connect(self._lr_slid)
        self.momentum.valueChanged.connect(lambda _: self._live("momentum"))
        self.batch.editingFinished.connect(lambda: self._live("batch_size"))
        self.weight_decay.editingFinished.connect(lambda: self._live("weight_decay"))

    # -- values in and out -------------------------------------------------------------------
    def load(self, cfg: ExperimentConfig, keep: frozenset[str] = frozenset()) -> None:
        """Show `cfg` in the fields (without applying anything); fields named in `keep` keep
        what the user typed and its message."""
        self._updating = True
        try:
            i = self.dataset.findData(cfg.dataset)
            if i < 0:
                self.dataset.addItem(DATASET_LABELS.get(cfg.dataset, cfg.dataset), cfg.dataset)
                i = self.dataset.count() - 1
            self.dataset.setCurrentIndex(i)
            if "noise" not in keep:
                self.noise.setValue(cfg.noise)
            if "n" not in keep:
                self.samples.setValue(cfg.n)
            if "hidden" not in keep:
                self.hidden.setText(", ".join(str(h) for h in cfg.hidden))
            self.activation.setCurrentText(cfg.activation)
            self.residual.setChecked(cfg.residual)
            self.optimizer.setCurrentText(cfg.optimizer)
            if "lr" not in keep:
                self.lr.setText(f"{cfg.lr:g}")
                self.lr_slider.setValue(int(round(100 * math.log10(cfg.lr))))
            if "momentum" not in keep:
                self.momentum.setValue(cfg.momentum)
            if "batch_size" not in keep:
                self.batch.setValue(cfg.batch_size)
            if "weight_decay" not in keep:
                self.weight_decay.setText(f"{cfg.weight_decay:g}")
            self.seed.setValue(cfg.seed)
            self._net_fields_enabled(cfg)
            for key, err in self.errors.items():
                if key not in keep:
                    err.hide()
        finally:
            self._updating = False

    def _net_fields_enabled(self, cfg: ExperimentConfig) -> None:
        """Image data uses the CNN: hidden widths and activation do not apply."""
        images = self.lab.experiment.dataset is not None and len(self.lab.experiment.dataset.input_shape) == 3
        self.hidden.setEnabled(not images)
        self.activation.setEnabled(not images)
        self.residual.setEnabled(not images)

    def read(self, key: str):
        """The field's value, parsed; raises ValueError with the user-facing message."""
        if key == "dataset":
            return self.dataset.currentData()
        if key == "noise":
            return float(self.noise.value())
        if key == "n":
            return int(self.samples.value())
        if key == "hidden":
            return parse_widths(self.hidden.text())
        if key == "activation":
            return self.activation.currentText()
        if key == "residual":
            return self.residual.isChecked()
        if key == "seed":
            return int(self.seed.value())
        if key == "optimizer":
            return self.optimizer.currentText()
        if key == "lr":
            return parse_positive(self.lr.text(), "learning rate")
        if key == "momentum":
            return float(self.momentum.value())
        if key == "batch_size":
            b = int(self.batch.value())
            n_train = len(self.lab.experiment.dataset.y_train)
            if b > n_train:
                raise ValueError(f"batch size {b} exceeds the {n_train} training samples; "
                                 "use at most that many, or 0 for full batch")
            return b
        if key == "weight_decay":
            return parse_positive(self.weight_decay.text(), "weight decay", allow_zero=True)
        raise KeyError(key)

    def show_error(self, key: str, text: str) -> None:
        err = self.errors.get(key)
        if err is None:
            self.lab.message.emit(text, 8000)
            return
        err.setText(text)
        err.setVisible(bool(text))

    # -- applying --------------------------------------------------------------------------
    def _live(self, key: str) -> None:
        if self._updating:
            return
        try:
            value = self.read(key)
        except ValueError as exc:
            self.show_error(key, str(exc))
            return
        self.show_error(key, "")
        if getattr(self.lab.experiment.config, key) == value:
            return
        if key == "lr":
            self._updating = True
            self.lr_slider.setValue(int(round(100 * math.log10(value))))
            self._updating = False
        self.lab.set_hparams(**{key: value})
        self.lab.message.emit(f"{key.replace('_', ' ')} = {value:g} from the next step"
                              if isinstance(value, float) else f"{key.replace('_', ' ')} = {value} from the next step",
                              3000)

    def _lr_slid(self, v: int) -> None:
        if self._updating:
            return
        lr = float(f"{10 ** (v / 100):.3g}")
        self._updating = True
        self.lr.setText(f"{lr:g}")
        self._updating = False
        self._live("lr")

    def _structural(self, key: str) -> None:
        if self._updating:
            return
        try:
            value = self.read(key)
        except ValueError as exc:
            self.show_error(key, str(exc))
            return
        self.show_error(key, "")
        cfg = self.lab.experiment.config
        if getattr(cfg, key) == value:
            return
        new = replace(cfg, **{key: value})
        if key == "dataset":
            new = self._dataset_defaults(new)
            if new is None:
                self.load(cfg)
                return
        problems = new.problems()
        if problems and key != "dataset":
            self.show_error(key, problems.get(key, next(iter(problems.values()))))
            return
        if problems.get("batch_size"):  # a new, smaller dataset: fall back to full batch
            new = replace(new, batch_size=0)
        if self.lab.experiment.step_count > 0 and not self.confirm(
                f"Changing the {_LABELS.get(key, key)} builds a new network and restarts training "
                "from step 0. Continue?"):
            self.load(cfg)
            return
        self.lab.apply_config(new)
        self.load(new)

    def _dataset_defaults(self, cfg: ExperimentConfig) -> ExperimentConfig | None:
        """Settings that suit a newly chosen dataset (a hook that image datasets extend)."""
        hook = DATASET_HOOKS.get(cfg.dataset)
        if hook is not None:
            return hook(self, cfg)
        if cfg.dataset == "digits":
            return replace(cfg, n=1797, noise=0.0, hidden=(64, 64), activation="relu", lr=0.1)
        return cfg

    def _reseed(self) -> None:
        if self.lab.experiment.step_count > 0 and not self.confirm(
                "Reseeding draws new initial weights and restarts training from step 0. Continue?"):
            return
        self.lab.reseed()

    def _ask(self, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self, "Restart training?", text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def _state(self, state: str) -> None:
        running = state == "running"
        self.play.setText("Pause" if running else "Play")
        self.play.setIcon(self._pause_icon if running else self._play_icon)
        self.step.setEnabled(state == "idle")
        self.reseed.setEnabled(state != "busy")
        if state == "idle":  # a field showing a problem keeps the text and its message
            self.load(self.lab.experiment.config,
                      frozenset(k for k, e in self.errors.items() if not e.isHidden()))


_LABELS = {"n": "sample count", "hidden": "hidden widths", "noise": "noise", "dataset": "dataset",
           "activation": "activation", "seed": "seed", "residual": "skip connections"}
