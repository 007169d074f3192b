"""The Paradigms tab's Table page: one row of numbers per rule of the run on screen."""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from engine.paradigms import RULE_LABELS

from ..panel_tools import fmt
from ..style import manager
from .paradigms_common import COLOR

TABLE_COLUMNS = ("Rule", "Train loss", "Test acc.", "λmax at end", "Path in plane", "Compute", "What it measures")


class RuleTable(QtWidgets.QTableWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(TABLE_COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(TABLE_COLUMNS) - 1, QtWidgets.QHeaderView.ResizeMode.Stretch)

    def fill(self, rows: list[dict[str, Any]]) -> None:
        """The rows of the tab's `rows()`, the rule's name in its colour."""
        self.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = [
                RULE_LABELS[r["rule"]] + (" (diverged)" if r["diverged"] else ""),
                fmt(r["train_loss"]),
                f"{100 * r['test_acc']:.1f}%",
                fmt(r["lambda_max"]) if "lambda_max" in r else "—",
                f"{100 * r['in_plane']:.0f}%" if "in_plane" in r else "—",
                f"{_seconds(r['seconds'])} · {r['passes_per_example']:,} passes",
                r["note"],
            ]
            for j, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if j == 0:
                    item.setForeground(QtGui.QBrush(manager().color(COLOR[r["rule"]])))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if 1 <= j <= 5:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.setItem(i, j, item)


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s >= 1 else f"{s:.2g} s"
