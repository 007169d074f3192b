"""Small pictures in a grid: sample test images with their labels, and a sheet of every class.

Arrays become QImages once (when the data changes); a new prediction only changes captions and
frame colours, so the live grid costs nothing per frame.
"""

from __future__ import annotations

import numpy as np
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from .style import manager

CORRECT_KEY = 2  # the theme's green curve colour


def display_levels(images: np.ndarray) -> tuple[float, float]:
    """Grey levels shared by a set of pictures (so a darker scan still looks darker): (0, 1) for
    pictures already in [0, 1], else the 0.5 and 99.5 percentiles of them all (standardised data)."""
    images = np.asarray(images, dtype=np.float32)
    finite = images[np.isfinite(images)]
    if not finite.size:
        return (0.0, 1.0)
    if float(finite.min()) >= 0.0 and float(finite.max()) <= 1.0:
        return (0.0, 1.0)
    lo, hi = np.percentile(finite, [0.5, 99.5])
    return (float(lo), float(hi) if hi > lo else float(lo) + 1.0)


def to_qimage(image: np.ndarray, levels: tuple[float, float] | None = None) -> QtGui.QImage:
    """(H, W) grey or (C, H, W) / (H, W, C) colour floats → an 8-bit QImage (its own copy)."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if levels is None:
        finite = a[np.isfinite(a)]
        lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0))
    else:
        lo, hi = levels
    scaled = np.clip((a - lo) / max(float(hi - lo), 1e-9), 0, 1)
    u8 = np.ascontiguousarray(np.nan_to_num(scaled) * 255 + 0.5, dtype=np.uint8)
    h, w = u8.shape[:2]
    if u8.ndim == 2:
        return QtGui.QImage(u8.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8).copy()
    return QtGui.QImage(u8.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()


def scaled_pixmap(image: QtGui.QImage, side: int) -> QtGui.QPixmap:
    # Tiny pictures (8×8 digits) stay crisp blocks; real images are smoothed.
    mode = (QtCore.Qt.TransformationMode.FastTransformation if image.width() <= 24
            else QtCore.Qt.TransformationMode.SmoothTransformation)
    return QtGui.QPixmap.fromImage(image.scaled(side, side, QtCore.Qt.AspectRatioMode.KeepAspectRatio, mode))


class _Cell(QtWidgets.QFrame):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        ignored = QtWidgets.QSizePolicy.Policy.Ignored
        self.picture = QtWidgets.QLabel()
        self.picture.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        # Pictures and captions follow the cell's size; they never set it (or the grid would
        # push the window wider than a 1280-pixel projector).
        self.picture.setSizePolicy(ignored, ignored)
        self.picture.setMinimumSize(16, 16)
        self.caption = QtWidgets.QLabel()
        self.caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter | QtCore.Qt.AlignmentFlag.AlignTop)
        self.caption.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.caption.setSizePolicy(ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        manager().register_text(self.caption, 0.9)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 2)
        layout.setSpacing(1)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        self.image: QtGui.QImage | None = None
        self.state = "none"  # "none" | "right" | "wrong"
        self.predicted: int | None = None
        self._side = 0

    def set_image(self, image: QtGui.QImage | None) -> None:
        self.image = image
        self._side = 0
        self.rescale()

    def rescale(self) -> None:
        side = max(16, min(self.picture.width(), self.picture.height()) - 2)
        if self.image is None:
            self.picture.clear()
        elif side != self._side:
            self._side = side
            self.picture.setPixmap(scaled_pixmap(self.image, side))

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self.rescale()

    def set_state(self, state: str) -> None:
        self.state = state
        key = {"right": CORRECT_KEY, "wrong": "error"}.get(state)
        width = 3 if state == "wrong" else 2
        colour = manager().color(key).name() if key is not None else "transparent"
        self.setStyleSheet(f"_Cell {{ border: {width}px solid {colour}; border-radius: 3px; }}")


class SampleGrid(QtWidgets.QWidget):
    """A grid of pictures, each with "true → predicted" under it; wrong ones framed in red."""

    def __init__(self, columns: int = 6, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.columns = columns
        self.grid = QtWidgets.QGridLayout(self)
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.grid.setSpacing(3)
        self.cells: list[_Cell] = []
        self.class_names: list[str] = []
        self.true: np.ndarray = np.zeros(0, dtype=np.int64)
        manager().changed.connect(self._restyle)

    def set_images(self, images: list[np.ndarray], true: np.ndarray, class_names: list[str],
                   levels: tuple[float, float] | None = None, short_names: list[str] | None = None) -> None:
        """`short_names` (e.g. GBM for glioblastoma) stand in for names too wide for a tile."""
        while len(self.cells) < len(images):
            cell = _Cell()
            i = len(self.cells)
            self.grid.addWidget(cell, i // self.columns, i % self.columns)
            self.cells.append(cell)
        for i, cell in enumerate(self.cells):
            cell.setVisible(i < len(images))
        for r in range((len(self.cells) + self.columns - 1) // self.columns):
            self.grid.setRowStretch(r, 1 if r * self.columns < len(images) else 0)
        self.class_names = list(class_names)
        self.short_names = list(short_names) if short_names is not None else None
        self.true = np.asarray(true)
        for cell, img, t in zip(self.cells, images, self.true):
            cell.set_image(to_qimage(img, levels))
            cell.predicted = None
            cell.caption.setText(self._caption(int(t), None))
            cell.set_state("none")
            cell.setToolTip(f"true class: {self._name(int(t))}")

    def set_predictions(self, predicted: np.ndarray, confidence: np.ndarray) -> None:
        for cell, t, p, c in zip(self.cells, self.true, predicted, confidence):
            p = int(p)
            cell.predicted = p
            cell.caption.setText(self._caption(int(t), p))
            cell.set_state("right" if p == t else "wrong")
            cell.setToolTip(f"true class: {self._name(int(t))}\npredicted: {self._name(p)} "
                            f"(probability {100 * float(c):.0f}%)")

    def clear_predictions(self) -> None:
        for cell, t in zip(self.cells, self.true):
            cell.predicted = None
            cell.caption.setText(self._caption(int(t), None))
            cell.set_state("none")

    def predictions_shown(self) -> int:
        return sum(1 for c in self.cells if c.isVisible() and c.state != "none")

    def wrong_shown(self) -> int:
        return sum(1 for c in self.cells if c.isVisible() and c.state == "wrong")

    def _name(self, k: int) -> str:
        return self.class_names[k] if 0 <= k < len(self.class_names) else "?"

    def fitted_name(self, k: int, width: int, bold: bool = False, prefix: str = "") -> str:
        """Class k's name as it fits `width` pixels of caption: whole, else its short form, else
        cut with an ellipsis."""
        font = manager().font(0.9, bold)
        fm = QtGui.QFontMetrics(font)
        room = width - fm.horizontalAdvance(prefix)
        name = self._name(k)
        if fm.horizontalAdvance(name) <= room:
            return name
        if self.short_names is not None and 0 <= k < len(self.short_names):
            short = self.short_names[k]
            if fm.horizontalAdvance(short) <= room:
                return short
            name = short
        return fm.elidedText(name, QtCore.Qt.TextElideMode.ElideRight, room)

    def caption_width(self) -> int:
        return max(40, self.cells[0].caption.width() - 2 if self.cells else 80)

    def _caption(self, true: int, predicted: int | None) -> str:
        width = self.caption_width()
        t = self.fitted_name(true, width)
        # Words and colour, not ✓/✗ glyphs: those are missing from many Linux fonts.
        if predicted is None:
            line2 = "&nbsp;"
        elif predicted == true:
            line2 = f"<span style='color:{manager().color(CORRECT_KEY).name()}'>right</span>"
        else:
            answer = self._wrong_answer(predicted, width)
            line2 = f"<span style='color:{manager().color('error').name()}'>{answer}</span>"
        return f"<span>{_html(t)}</span><br>{line2}"

    def _wrong_answer(self, predicted: int, width: int) -> str:
        """"→ name" in bold; on a narrow tile (a 1280-pixel projector) in regular weight, which is
        narrower, before the name is cut: the red frame and colour already say it is wrong."""
        name = self.fitted_name(predicted, width, bold=True, prefix="→ ")
        if "…" not in name:
            return f"<b>→ {_html(name)}</b>"
        return f"→ {_html(self.fitted_name(predicted, width, prefix='→ '))}"

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        QtCore.QTimer.singleShot(0, self._restyle)  # captions elide to the new cell width

    def _restyle(self) -> None:
        if not shiboken6.isValid(self) or not all(shiboken6.isValid(c) for c in self.cells):
            return  # a timer or style change that arrives after the window closed
        for cell, t in zip(self.cells, self.true):
            cell.set_state(cell.state)
            cell.caption.setText(self._caption(int(t), cell.predicted))


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SampleSheet(QtWidgets.QWidget):
    """Every class, a few pictures each, with its name (and what distinguishes it): a page a
    person can look at to judge a dataset."""

    def __init__(self, images_by_class: list[list[np.ndarray]], class_names: list[str],
                 descriptions: dict[str, str] | None = None, title: str = "", side: int = 128,
                 groups: int = 2, levels: tuple[float, float] | None = (0.0, 1.0)):
        super().__init__()
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("white"))
        pal.setColor(QtGui.QPalette.ColorRole.WindowText, QtGui.QColor("#111111"))
        self.setPalette(pal)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(12, 10, 12, 10)
        if title:
            head = QtWidgets.QLabel(title)
            f = head.font()
            f.setPointSizeF(13)
            f.setBold(True)
            head.setFont(f)
            outer.addWidget(head)
        row = QtWidgets.QHBoxLayout()
        row.setSpacing(24)
        outer.addLayout(row)
        per_group = (len(class_names) + groups - 1) // groups
        name_font = QtGui.QFont(self.font())
        name_font.setPointSizeF(11)
        name_font.setBold(True)
        text_font = QtGui.QFont(self.font())
        text_font.setPointSizeF(9.5)
        for g in range(groups):
            grid = QtWidgets.QGridLayout()
            grid.setHorizontalSpacing(4)
            grid.setVerticalSpacing(6)
            for r, k in enumerate(range(g * per_group, min((g + 1) * per_group, len(class_names)))):
                label = QtWidgets.QLabel()
                label.setWordWrap(True)
                label.setFixedWidth(210)
                label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
                desc = (descriptions or {}).get(class_names[k], "")
                label.setText(f"<div style='font-size:11pt'><b>{k}&nbsp; {_html(class_names[k])}</b></div>"
                              + (f"<div style='font-size:9pt; color:#444'>{_html(desc)}</div>" if desc else ""))
                grid.addWidget(label, r, 0)
                for j, img in enumerate(images_by_class[k]):
                    pic = QtWidgets.QLabel()
                    pic.setPixmap(scaled_pixmap(to_qimage(img, levels), side))
                    pic.setFixedSize(side, side)
                    grid.addWidget(pic, r, 1 + j)
            row.addLayout(grid)
        row.addStretch(1)
        self.adjustSize()

    def save(self, path) -> bool:
        self.adjustSize()
        return self.grab().save(str(path))
