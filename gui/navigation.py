"""The topic list: every tab one click away, grouped in the course's order.

A row of thirteen tabs does not fit a projector at 1280 px (nor at 1920 px in presentation mode):
the list stands in for the tab bar, one line per topic under a few group headings, and marks a
topic whose tab has a job running (so a long run started there stays visible after leaving it).
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

# (heading, tab slugs), in the order of the tabs (so the keys 1–9 count down the list).
GROUPS: list[tuple[str, list[str]]] = [
    ("Start", ["start"]),
    ("Training", ["train"]),
    ("Loss geometry", ["landscape", "connectivity", "curvature", "saddles", "sharpness"]),
    ("Inside the net", ["representations", "lottery"]),
    ("Generalisation", ["double-descent", "implicit", "ntk"]),
    ("Beyond backprop", ["paradigms"]),
]

SLUG_ROLE = QtCore.Qt.ItemDataRole.UserRole


def group_of(slug: str) -> str | None:
    for heading, slugs in GROUPS:
        if slug in slugs:
            return heading
    return None


def _busy_icon(color: QtGui.QColor, size: int = 14) -> QtGui.QIcon:
    # Drawn here rather than a font glyph: symbol glyphs are missing from many Linux fonts.
    pix = QtGui.QPixmap(size, size)
    pix.fill(QtCore.Qt.GlobalColor.transparent)
    p = QtGui.QPainter(pix)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    p.setPen(QtCore.Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawEllipse(QtCore.QRectF(2, 2, size - 4, size - 4))
    p.end()
    return QtGui.QIcon(pix)


class TopicList(QtWidgets.QListWidget):
    """One row per tab of a QTabWidget, under group headings; kept in step with the tabs."""

    def __init__(self, tabs: QtWidgets.QTabWidget, titles: dict[str, str], parent=None):
        super().__init__(parent)
        self.tabs = tabs
        self.setObjectName("topics")
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # the lecture keys stay with the window
        self._rows: dict[str, QtWidgets.QListWidgetItem] = {}
        self._busy: set[str] = set()
        self._titles = {"start": "Start", **titles}
        listed = [s for _, slugs in GROUPS for s in slugs]
        extra = [s for s in titles if s not in listed]  # a tab no group names still gets a row
        for heading, slugs in GROUPS + ([("More", extra)] if extra else []):
            present = [s for s in slugs if s in self._titles]
            if not present:
                continue
            if heading != self._titles.get(present[0]) or len(present) > 1:
                head = QtWidgets.QListWidgetItem(heading.upper())
                head.setFlags(QtCore.Qt.ItemFlag.NoItemFlags)
                head.setData(SLUG_ROLE, None)
                self.addItem(head)
            for slug in present:
                item = QtWidgets.QListWidgetItem(self._titles[slug])
                item.setData(SLUG_ROLE, slug)
                item.setToolTip(self._titles[slug])
                self.addItem(item)
                self._rows[slug] = item
        self.currentItemChanged.connect(self._picked)
        self.tabs.currentChanged.connect(self._follow)
        self.restyle()
        self._follow(self.tabs.currentIndex())

    # -- keeping list and tabs in step ------------------------------------------------------
    def slug_at(self, index: int) -> str | None:
        w = self.tabs.widget(index)
        if w is None:
            return None
        return getattr(w, "slug", None) or ("start" if index == 0 else None)

    def _index_of(self, slug: str) -> int:
        for i in range(self.tabs.count()):
            if self.slug_at(i) == slug:
                return i
        return -1

    def _picked(self, item: QtWidgets.QListWidgetItem | None, _previous=None) -> None:
        if item is None or item.data(SLUG_ROLE) is None:
            return
        i = self._index_of(item.data(SLUG_ROLE))
        if i >= 0 and i != self.tabs.currentIndex():
            self.tabs.setCurrentIndex(i)

    def _follow(self, index: int) -> None:
        slug = self.slug_at(index)
        item = self._rows.get(slug) if slug else None
        if item is not None and self.currentItem() is not item:
            blocked = self.blockSignals(True)
            self.setCurrentItem(item)
            self.blockSignals(blocked)

    def row_of(self, slug: str) -> QtWidgets.QListWidgetItem:
        return self._rows[slug]

    # -- busy marks ---------------------------------------------------------------------------
    def set_busy(self, slugs: set[str]) -> None:
        """Mark the topics whose tabs have a job running."""
        if slugs == self._busy:
            return
        self._busy = set(slugs)
        icon = _busy_icon(self.palette().color(QtGui.QPalette.ColorRole.Highlight))
        for slug, item in self._rows.items():
            running = slug in self._busy
            item.setIcon(icon if running else QtGui.QIcon())
            tip = self._titles[slug]
            item.setToolTip(f"{tip} — computing" if running else tip)

    def busy(self) -> set[str]:
        return set(self._busy)

    # -- size ---------------------------------------------------------------------------------
    def restyle(self) -> None:
        """Fit the width to the longest title at the current font (presentation mode grows it)."""
        font = QtWidgets.QApplication.font()
        self.setFont(font)
        head_font = QtGui.QFont(font)
        head_font.setPointSizeF(max(8.0, font.pointSizeF() * 0.8))
        head_font.setBold(True)
        muted = self.palette().color(QtGui.QPalette.ColorRole.PlaceholderText)
        fm = QtGui.QFontMetrics(font)
        widest = 0
        for i in range(self.count()):
            item = self.item(i)
            if item.data(SLUG_ROLE) is None:
                item.setFont(head_font)
                item.setForeground(muted)
                widest = max(widest, QtGui.QFontMetrics(head_font).horizontalAdvance(item.text()))
            else:
                widest = max(widest, fm.horizontalAdvance(item.text()) + fm.height() // 2 + 4)
        self.setIconSize(QtCore.QSize(fm.height() // 2, fm.height() // 2))  # a small dot: the busy mark
        self.setFixedWidth(widest + 16)
        self.setSpacing(max(1, fm.height() // 6))  # a comfortable target for a click
