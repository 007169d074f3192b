"""Text that reads from the back of a hall: plot text of at least 11 pt on a 1080-line screen, and
the crowded labels whole (MRI tile names, confusion-matrix rows, the CKA colour bar, the Implicit
tab's legend) at 1920×1080 and on a 1280×720 projector."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from legibility import clipped_text, small_styled_text, small_text
from PySide6 import QtGui, QtWidgets

from engine.data import Dataset
from engine.phantoms import CLASS_NAMES
from gui.style import base_point_size_for, manager

ROOT = Path(__file__).resolve().parent.parent
# Symbols many Linux fonts lack (they show as a box): media controls, ticks and crosses, the
# warning sign, circular arrows, emoji. Buttons take Qt's standard icons; text takes words.
MISSING_GLYPHS = set("▶◀⏴⏵⏸⏹⏺⏯⟳⟲↻↺✓✔✗✘⚠")


@pytest.fixture(autouse=True)
def _plain_style():
    before = manager().style
    yield
    manager().set(**{f.name: getattr(before, f.name) for f in fields(before)})


def _phantom_like(n_classes: int = 17, per_class: int = 2) -> Dataset:
    """The MRI set's names and shapes, with noise for pictures: the layout is what is tested."""
    y = torch.arange(n_classes).repeat(per_class)
    X = torch.rand(len(y), 1, 64, 64)
    return Dataset("mri", X, y, X, y, n_classes, (1, 64, 64), list(CLASS_NAMES[:n_classes]))


def _show_page(panel: QtWidgets.QWidget, title: str) -> None:
    for tabs in panel.findChildren(QtWidgets.QTabWidget):
        for i in range(tabs.count()):
            if tabs.tabText(i).startswith(title):
                tabs.setCurrentIndex(i)
                return
    raise AssertionError(f"no page {title!r}")


def _visit(window, qtbot, slug: str, page: str | None = None):
    panel = window.show_panel(slug)
    if page is not None:
        _show_page(panel, page)
    qtbot.wait(150)  # layouts settle, axes take the width of their tick labels
    return panel


def _mri_tiles(window, qtbot):
    panel = window.show_panel("train")
    images = panel.images
    ds = _phantom_like()
    images.set_dataset(ds)
    true = images.grid.true
    # Every answer wrong, naming another long class: the widest captions there can be.
    images.grid.set_predictions((true + 3) % ds.n_classes, np.full(len(true), 0.5))
    panel.left.setCurrentWidget(images)
    qtbot.wait(150)
    images.grid._restyle()  # captions fit the tiles' final width
    return images


def _tile_problems(images) -> list[str]:
    grid = images.grid
    width = grid.caption_width()
    problems = []
    for cell in grid.cells:
        if not cell.isVisible():
            continue
        doc = QtGui.QTextDocument()
        doc.setHtml(cell.caption.text())
        name, answer = (doc.toPlainText().split("\n") + [""])[:2]
        for text, bold in ((name, False), (answer, "<b>" in cell.caption.text())):
            shown = QtGui.QFontMetrics(manager().font(0.9, bold)).horizontalAdvance(text)
            if "…" in text or shown > cell.caption.width():
                problems.append(f"tile caption '{text}' ({shown} px) in {cell.caption.width()} px (room {width})")
    return problems


def _row_label_problems(images) -> list[str]:
    axis = images.confusion.plot.getAxis("left")
    fm = QtGui.QFontMetrics(axis.style["tickFont"])
    labels = [text for level in axis._tickLevels for _value, text in level]
    return [f"row label '{t}' wider than its axis ({axis.width():.0f} px)" for t in labels
            if fm.horizontalAdvance(t) > axis.width()]


def _settled(qtbot, check) -> list[str]:
    """`check()` once the layout has settled: a tab rebuilding its plots may be caught mid-way."""
    found: list[str] = []

    def clean() -> bool:
        found[:] = check()
        return not found

    try:
        qtbot.waitUntil(clean, timeout=3000)
    except Exception:  # a timeout: report what is still wrong
        pass
    return found


def _legend_problems(plot) -> list[str]:
    inside = plot.vb.sceneBoundingRect().adjusted(-1, -1, 1, 1)
    if not inside.contains(plot.legend.sceneBoundingRect()):
        return [f"legend of '{plot._lab_title}' reaches past its plot"]
    return []


def test_plot_text_is_hall_sized_and_crowded_labels_are_whole(window, qtbot):
    for (width, height), screen_lines in (((1920, 1080), 1080), ((1280, 720), 720)):
        manager().set(theme="light", font_scale=1.0, line_scale=1.0,
                      base_point_size=base_point_size_for(screen_lines))
        window.resize(width, height)
        problems: list[str] = []

        images = _mri_tiles(window, qtbot)
        problems += _settled(qtbot, lambda images=images: _tile_problems(images) + _row_label_problems(images)
                             + clipped_text(window))
        if screen_lines >= 1080:
            assert manager().style.point_size >= 11
            problems += small_text(window, 11)

        _visit(window, qtbot, "representations", "CKA")
        problems += _settled(qtbot, lambda: clipped_text(window))
        implicit = _visit(window, qtbot, "implicit", "(a)")
        problems += _settled(qtbot, lambda plot=implicit.ls_dist: _legend_problems(plot) + clipped_text(window))
        if screen_lines >= 1080:
            problems += small_text(window, 11) + small_styled_text(11)
        assert not problems, f"at {width}×{height}:\n" + "\n".join(problems)

    # No tab may need more width than a 1280-pixel projector, nor, in presentation mode, than a
    # 1920-pixel one: the window would grow past the screen's edge. Every tab is built for this.
    assert len(window.panels) == window.tabs.count() - 1  # the start page is not a panel
    assert window.minimumSizeHint().width() <= 1280, _widest_pages(window)
    window.presentation_action.trigger()
    try:
        qtbot.wait(100)
        assert window.minimumSizeHint().width() <= 1920, _widest_pages(window)
    finally:
        window.presentation_action.trigger()


def _widest_pages(window) -> str:
    pages = [(window.tabs.widget(i).minimumSizeHint().width(), getattr(window.tabs.widget(i), "slug", "start"))
             for i in range(window.tabs.count())]
    return f"window needs {window.minimumSizeHint().width()} px; widest tabs: {sorted(pages, reverse=True)[:3]}"


def _gui_strings():
    for path in sorted((ROOT / "gui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):  # f-string parts too
                yield path.relative_to(ROOT), node.lineno, node.value


def test_no_text_in_the_window_uses_a_glyph_linux_fonts_lack():
    found = [f"{path}:{line}: {text}" for path, line, text in _gui_strings()
             if any(ch in MISSING_GLYPHS or 0x1F300 <= ord(ch) <= 0x1FAFF for ch in text)]
    assert not found, "\n".join(found)
