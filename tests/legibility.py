"""What a viewer at the back of the hall cannot read: text below a size, or text cut at the edge
of its plot. Shared by the legibility tests (and usable on any shown window)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets


def _views(window: QtWidgets.QWidget) -> list[pg.GraphicsView]:
    return [v for v in window.findChildren(pg.GraphicsView) if v.isVisible()]


def _points(css_size, fallback: float) -> float:
    """'11.0pt' → 11.0; pyqtgraph sets label sizes as CSS in the label's HTML, not as its font."""
    text = str(css_size or "").strip()
    return float(text[:-2]) if text.endswith("pt") else fallback


def _label_point_size(label: pg.LabelItem) -> float:
    return _points(label.opts.get("size"), label.item.font().pointSizeF())


def small_text(window: QtWidgets.QWidget, least: float) -> list[str]:
    """Tick labels, axis labels, legend entries and colour-bar labels of the shown plots that are
    smaller than `least` points."""
    found = []
    for view in _views(window):
        for item in view.scene().items():
            if not item.isVisible():
                continue
            if isinstance(item, pg.AxisItem):
                size = item.style["tickFont"].pointSizeF() if item.style.get("tickFont") else \
                    QtWidgets.QApplication.font().pointSizeF()
                if size < least:
                    found.append(f"ticks of axis '{item.labelText or item.orientation}': {size:.1f} pt")
                label_size = _points(item.labelStyle.get("font-size"), item.label.font().pointSizeF())
                if item.labelText and label_size < least:
                    found.append(f"axis label '{item.labelText}': {label_size:.1f} pt")
            elif isinstance(item, pg.LegendItem):
                for _sample, label in item.items:
                    if _label_point_size(label) < least:
                        found.append(f"legend entry '{label.text}': {_label_point_size(label):.1f} pt")
    return found


def _visible_rect(view: pg.GraphicsView) -> QtCore.QRectF:
    return view.mapToScene(view.viewport().rect()).boundingRect().adjusted(-1, -1, 1, 1)


def clipped_text(window: QtWidgets.QWidget) -> list[str]:
    """Text of the shown plots (titles, axes with their tick labels, legends, colour bars) that
    reaches past the edge of the view it is drawn in, so part of it is cut off."""
    found = []
    for view in _views(window):
        room = _visible_rect(view)
        for item in view.scene().items():
            if not item.isVisible():
                continue
            if isinstance(item, pg.LabelItem) and item.text:
                what, rect = f"text '{item.text}'", item.item.sceneBoundingRect()
            elif isinstance(item, (pg.AxisItem, pg.LegendItem, pg.ColorBarItem)):
                # The item's own box: an axis's bounding rect spans the plot when it draws a grid.
                what = f"axis '{item.labelText or item.orientation}'" if isinstance(item, pg.AxisItem) \
                    else type(item).__name__
                rect = item.mapRectToScene(QtCore.QRectF(0, 0, item.width(), item.height()))
            else:
                continue
            if rect.width() > 0 and rect.height() > 0 and not room.contains(rect):
                found.append(f"{what} ({rect.width():.0f}×{rect.height():.0f} at {rect.x():.0f},{rect.y():.0f}) "
                             f"outside its view ({room.width():.0f}×{room.height():.0f})")
    return found


def small_styled_text(least: float) -> list[str]:
    """The same check over every plot and colour bar the style manager knows, shown or not."""
    from gui.style import manager

    m = manager()
    found = []
    # Plots of windows already closed may linger until the next collection: only live ones count.
    plots = [p for p in list(m._plots) if _alive(p)]
    axes = [(p, p.getAxis(n)) for p in plots for n in ("left", "bottom", "right", "top")]
    axes += [(b, b.axis) for b in list(m._bars) if _alive(b) and _alive(b.axis)]
    for owner, axis in axes:
        font = axis.style.get("tickFont")
        if font is not None and font.pointSizeF() < least:
            found.append(f"ticks of '{getattr(owner, '_lab_title', None) or axis.labelText}': "
                         f"{font.pointSizeF():.1f} pt")
    legends = {id(p.legend): p.legend for p in plots if p.legend is not None and _alive(p.legend)}
    for view in list(m._views):  # legends a panel placed itself, in every tab built so far
        if _alive(view):
            legends.update({id(i): i for i in view.scene().items() if isinstance(i, pg.LegendItem)})
    for legend in legends.values():
        for _sample, label in legend.items:
            if not (_alive(label) and _alive(label.item)):
                continue
            if _label_point_size(label) < least:
                found.append(f"legend entry '{label.text}': {_label_point_size(label):.1f} pt")
    return found


def _alive(obj) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)
