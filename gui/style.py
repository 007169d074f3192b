"""Themes, font scale and line widths, applied to Qt widgets and every pyqtgraph plot.

Plots register themselves here when they are made (see gui/plots.py); a change of theme or
font scale re-styles all of them, so the lecture-size settings reach axis ticks, labels,
titles, legends and curve widths, not just the Qt widgets.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from .worker import event_loop_turn


def _alive(obj) -> bool:
    """False once Qt has deleted the C++ side (a closed window's plots)."""
    return obj is not None and shiboken6.isValid(obj)


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    text: str
    plot_bg: str
    plot_fg: str
    grid_alpha: float
    accent: str
    error: str
    curves: tuple[str, ...]


THEMES = {
    "light": Theme("light", "#f3f3f3", "#ffffff", "#1a1a1a", "#ffffff", "#222222", 0.18, "#1f6fb2",
                   "#c62828", ("#1f77b4", "#e6550d", "#2ca02c", "#9467bd", "#8c564b", "#d62728")),
    "dark": Theme("dark", "#202124", "#2b2c2f", "#e8e8e8", "#17181a", "#dddddd", 0.22, "#5fa8e8",
                  "#ff6b6b", ("#5fa8e8", "#ff9f40", "#6ccf6c", "#c39bd3", "#e0a080", "#ff6b6b")),
    # For washed-out projectors: black on white, saturated colours, no greys.
    "contrast": Theme("contrast", "#ffffff", "#ffffff", "#000000", "#ffffff", "#000000", 0.16,
                      "#0000cc", "#d00000", ("#0044cc", "#e05000", "#008000", "#8000a0", "#000000",
                                             "#d00000")),
}


@dataclass(frozen=True)
class Style:
    theme: str = "light"
    font_scale: float = 1.0
    line_scale: float = 1.0
    base_point_size: float = 10.0

    @property
    def point_size(self) -> float:
        return self.base_point_size * self.font_scale

    @property
    def colors(self) -> Theme:
        return THEMES[self.theme]


def base_point_size_for(screen_height: int | None) -> float:
    """Text size at font scale 1: 11 pt on a 1080-line screen or larger (readable from the back of
    a hall), 10 pt on smaller ones, where 11 pt would crowd the plots out."""
    return 11.0 if screen_height is not None and screen_height >= 1000 else 10.0


def _screen_height() -> int | None:
    screen = QtGui.QGuiApplication.primaryScreen() if QtGui.QGuiApplication.instance() else None
    return None if screen is None else screen.geometry().height()


class StyleManager(QtCore.QObject):
    changed = QtCore.Signal()

    MIN_SCALE, MAX_SCALE = 0.6, 3.0

    def __init__(self) -> None:
        super().__init__()
        self.style = Style(base_point_size=base_point_size_for(_screen_height()))
        self._plots: weakref.WeakSet = weakref.WeakSet()
        self._views: weakref.WeakSet = weakref.WeakSet()
        self._curves: list[tuple[weakref.ref, str | int, float, QtCore.Qt.PenStyle, bool]] = []
        self._bars: weakref.WeakSet = weakref.WeakSet()
        self._texts: list[tuple[weakref.ref, float, bool]] = []

    # -- changing ---------------------------------------------------------------------------
    def set(self, **kw) -> None:
        if "font_scale" in kw:
            kw["font_scale"] = min(self.MAX_SCALE, max(self.MIN_SCALE, kw["font_scale"]))
        new = replace(self.style, **kw)
        if new != self.style:
            self.style = new
            self.apply_all()
            self.changed.emit()

    def zoom(self, factor: float) -> None:
        self.set(font_scale=round(self.style.font_scale * factor, 3))

    # -- colours ----------------------------------------------------------------------------
    def color(self, key: str | int) -> QtGui.QColor:
        c = self.style.colors
        if isinstance(key, int):
            return QtGui.QColor(c.curves[key % len(c.curves)])
        return QtGui.QColor(getattr(c, key, key))

    def pen(self, key: str | int, width: float = 2.0, style=QtCore.Qt.PenStyle.SolidLine) -> QtGui.QPen:
        p = pg.mkPen(self.color(key), width=width * self.style.line_scale, style=style)
        p.setCosmetic(True)
        return p

    def font(self, scale: float = 1.0, bold: bool = False) -> QtGui.QFont:
        f = QtGui.QFont(QtWidgets.QApplication.font())
        f.setPointSizeF(self.style.point_size * scale)
        f.setBold(bold)
        return f

    # -- registration -----------------------------------------------------------------------
    def register_view(self, view: pg.GraphicsView) -> None:
        self._views.add(view)
        view.setBackground(self.style.colors.plot_bg)

    def register_plot(self, plot: pg.PlotItem) -> None:
        self._plots.add(plot)
        self._style_plot(plot)
        event_loop_turn()  # restyling a dozen plots is a slice of work like building them

    def set_title(self, plot: pg.PlotItem, title: str) -> None:
        """A registered plot's new title, in the current style (its axes are left as they are:
        restyling them with every new title redrew all their labels)."""
        plot._lab_title = title
        plot.setTitle(title, color=self.style.colors.plot_fg, size=f"{self.style.point_size * 1.15:.1f}pt",
                      bold=True)

    def plots(self) -> list[pg.PlotItem]:
        """The registered plots (a closed window's may be among them until collected: check
        that one is alive before touching its Qt side)."""
        return list(self._plots)

    def register_curve(self, item, key: str | int, width: float = 2.0,
                       pen_style=QtCore.Qt.PenStyle.SolidLine, symbols: bool = False) -> None:
        """Style item's line in key's colour, and its symbols too where `symbols` (pyqtgraph's
        default symbol colour is one navy for every curve)."""
        self._curves = [c for c in self._curves if c[0]() is not None]
        self._curves.append((weakref.ref(item), key, width, pen_style, symbols))
        self._style_curve(item, key, width, pen_style, symbols)

    def _style_curve(self, item, key: str | int, width: float, pen_style, symbols: bool) -> None:
        item.setPen(self.pen(key, width, pen_style) if width > 0 else None)  # width 0: symbols only
        if symbols:
            color = self.color(key)
            item.setSymbolBrush(pg.mkBrush(color))
            item.setSymbolPen(pg.mkPen(color))

    def register_colorbar(self, bar: pg.ColorBarItem) -> None:
        self._bars.add(bar)
        self._style_axis(bar.axis)

    def register_text(self, item: pg.TextItem | QtWidgets.QLabel, scale: float = 1.0,
                      bold: bool = False) -> None:
        self._texts = [t for t in self._texts if t[0]() is not None]
        self._texts.append((weakref.ref(item), scale, bold))
        self._style_text(item, scale, bold)

    # -- applying ---------------------------------------------------------------------------
    def _style_axis(self, ax: pg.AxisItem) -> None:
        fg = self.style.colors.plot_fg
        ax.setTickFont(self.font())
        # Major and minor ticks only: the third level (every tenth of a major step) doubled the
        # grid lines each axis paints, and an axis is repainted with every frame of its plot.
        ax.setStyle(maxTickLevel=1)
        ax.setPen(pg.mkPen(fg, width=max(1.0, self.style.line_scale)))
        ax.setTextPen(pg.mkPen(fg))
        ax.labelStyle = {"color": fg, "font-size": f"{self.style.point_size:.1f}pt"}
        ax._updateLabel()
        # Room for bigger tick labels so nothing is clipped at lecture sizes.
        fm = QtGui.QFontMetrics(self.font())
        if ax.orientation in ("left", "right"):
            ax.setStyle(tickTextOffset=4)
            ax.setWidth(None)
        else:
            ax.setHeight(fm.height() * (2.2 if ax.labelText else 1.3) + 6)

    def _style_plot(self, plot: pg.PlotItem) -> None:
        fg = self.style.colors.plot_fg
        for name in ("left", "bottom", "right", "top"):
            ax = plot.getAxis(name)
            if ax is not None:
                self._style_axis(ax)
        title = getattr(plot, "_lab_title", None)
        if title is not None:
            plot.setTitle(title, color=fg, size=f"{self.style.point_size * 1.15:.1f}pt", bold=True)
        if plot.legend is not None:
            plot.legend.setLabelTextColor(fg)
            # Legend labels as large as the ticks: both must read from the back of a hall.
            plot.legend.setLabelTextSize(f"{self.style.point_size:.1f}pt")
            bg = QtGui.QColor(self.style.colors.plot_bg)
            bg.setAlpha(170)
            plot.legend.setBrush(pg.mkBrush(bg))
            for _sample, label in plot.legend.items:  # re-render existing labels at the new size
                label.setText(label.text, color=fg, size=f"{self.style.point_size:.1f}pt")
            fit = getattr(plot, "_lab_fit_legend", None)  # wrap onto more rows if it outgrew the plot
            if fit is not None:
                fit(plot)
        grid = getattr(plot, "_lab_grid", True)  # image plots: no grid over the picture
        plot.showGrid(x=grid, y=grid, alpha=self.style.colors.grid_alpha)

    def _style_text(self, item, scale: float, bold: bool) -> None:
        if isinstance(item, pg.TextItem):
            item.setFont(self.font(scale, bold))
            item.setColor(self.style.colors.plot_fg)
        else:
            item.setFont(self.font(scale, bold))

    def apply_all(self) -> None:
        app = QtWidgets.QApplication.instance()
        if app is not None:
            apply_palette(app, self.style)
        for view in [v for v in list(self._views) if _alive(v)]:
            view.setBackground(self.style.colors.plot_bg)
        for plot in [p for p in list(self._plots) if _alive(p)]:
            self._style_plot(plot)
        self._curves = [c for c in self._curves if _alive(c[0]())]
        for ref, *style in self._curves:
            self._style_curve(ref(), *style)
        for bar in [b for b in list(self._bars) if _alive(b)]:
            self._style_axis(bar.axis)
        self._texts = [t for t in self._texts if _alive(t[0]())]
        for ref, scale, bold in self._texts:
            self._style_text(ref(), scale, bold)


def apply_palette(app: QtWidgets.QApplication, style: Style) -> None:
    c = style.colors
    # Each of these restyles every widget alive, so only what changed is set again.
    if app.property("saddle_lab_fusion") is None:
        app.setStyle("Fusion")
        app.setProperty("saddle_lab_fusion", True)
    pal = QtGui.QPalette()
    role = QtGui.QPalette.ColorRole
    pal.setColor(role.Window, QtGui.QColor(c.window))
    pal.setColor(role.WindowText, QtGui.QColor(c.text))
    pal.setColor(role.Base, QtGui.QColor(c.base))
    pal.setColor(role.AlternateBase, QtGui.QColor(c.window))
    pal.setColor(role.Text, QtGui.QColor(c.text))
    pal.setColor(role.Button, QtGui.QColor(c.window))
    pal.setColor(role.ButtonText, QtGui.QColor(c.text))
    pal.setColor(role.ToolTipBase, QtGui.QColor(c.base))
    pal.setColor(role.ToolTipText, QtGui.QColor(c.text))
    pal.setColor(role.Highlight, QtGui.QColor(c.accent))
    pal.setColor(role.HighlightedText, QtGui.QColor("#ffffff"))
    pal.setColor(role.PlaceholderText, QtGui.QColor(c.text).lighter(160) if style.theme == "dark"
                 else QtGui.QColor("#777777"))
    disabled = QtGui.QPalette.ColorGroup.Disabled
    grey = QtGui.QColor("#8a8a8a")
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(disabled, r, grey)
    if app.palette() != pal:
        app.setPalette(pal)
    font = app.font()
    if font.pointSizeF() != style.point_size:
        font.setPointSizeF(style.point_size)
        app.setFont(font)
    sheet = (
        f"QLabel[role='error'] {{ color: {c.error}; }}"
        f"QLabel[role='caption'] {{ color: {c.text}; }}"
        f"QLabel[role='banner'] {{ background: {c.error}; color: white; padding: 4px; border-radius: 3px; }}"
        f"QToolTip {{ color: {c.text}; background: {c.base}; border: 1px solid {c.accent}; }}"
    )
    if app.styleSheet() != sheet:
        app.setStyleSheet(sheet)


_MANAGER: StyleManager | None = None


def manager() -> StyleManager:
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = StyleManager()
    return _MANAGER
