"""The start page: every preset, grouped by topic, one click from its picture."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from .panels import topic_order
from .presets import Preset, load_presets


def presets_by_topic(presets: dict[str, Preset]) -> dict[str, list[Preset]]:
    """Presets grouped by topic, the topics in the order of the course (the tabs')."""
    groups: dict[str, list[Preset]] = {}
    for p in presets.values():
        groups.setdefault(p.topic, []).append(p)
    order = {t: i for i, t in enumerate(topic_order())}
    return dict(sorted(groups.items(), key=lambda kv: order[kv[0]]))


class StartPage(QtWidgets.QScrollArea):
    """A list of presets by topic; each row: title, claim, and a Show button."""

    def __init__(self, run: Callable[[Preset], None], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.run = run
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        inner = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(inner)
        layout.setContentsMargins(16, 12, 16, 12)
        head = QtWidgets.QLabel("<h2>Saddle Lab</h2>Pick a picture to see a claim of the course happen, "
                                "or press <b>Play</b> to train the network on the left. "
                                "Every tab explains itself in its lesson (F1).")
        head.setWordWrap(True)
        layout.addWidget(head)
        try:
            presets = load_presets()
            error = None
        except (OSError, ValueError) as exc:
            presets, error = {}, str(exc)
        if error:
            bad = QtWidgets.QLabel(f"Presets could not be read: {error}")
            bad.setProperty("role", "error")
            layout.addWidget(bad)
        for topic, items in presets_by_topic(presets).items():
            box = QtWidgets.QGroupBox(topic)
            grid = QtWidgets.QGridLayout(box)
            grid.setColumnStretch(1, 1)
            for r, p in enumerate(items):
                button = QtWidgets.QPushButton("Show")
                button.setToolTip(f"Load the preset {p.name} and start it")
                button.clicked.connect(lambda _=False, preset=p: self.run(preset))
                self.buttons[p.name] = button
                text = QtWidgets.QLabel(f"<b>{p.title}</b><br>{p.claim}")
                text.setWordWrap(True)
                text.setTextFormat(QtCore.Qt.TextFormat.RichText)
                grid.addWidget(button, r, 0, QtCore.Qt.AlignmentFlag.AlignTop)
                grid.addWidget(text, r, 1)
            layout.addWidget(box)
        layout.addStretch(1)
        self.setWidget(inner)
