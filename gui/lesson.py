"""The lesson beside each tab: this project's short text on the idea, rendered from Markdown."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from .resources import resource_path


def lesson_text(slug: str) -> str | None:
    path = resource_path("lessons", f"{slug}.md")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


class LessonPane(QtWidgets.QWidget):
    """A collapsible column: the lesson of the current tab."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setOpenLinks(False)
        self.extra = QtWidgets.QVBoxLayout()  # preset buttons and the like go here
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.browser, 1)
        layout.addLayout(self.extra)
        self.setMinimumWidth(240)
        self.slug: str | None = None

    def show_lesson(self, slug: str, presets=(), run=None) -> bool:
        """Show the lesson of `slug`, with a button for each of its presets."""
        self.slug = slug
        while self.extra.count():
            item = self.extra.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        if presets:
            title = QtWidgets.QLabel("<b>Try it</b>")
            self.extra.addWidget(title)
        for p in presets:
            b = QtWidgets.QPushButton(p.title)
            b.setToolTip(p.claim)
            if run is not None:
                b.clicked.connect(lambda _=False, preset=p: run(preset))
            self.extra.addWidget(b)
        self.preset_buttons = [self.extra.itemAt(i).widget() for i in range(1, self.extra.count())]
        text = lesson_text(slug)
        if text is None:
            self.browser.setMarkdown("*No lesson text for this tab yet.*")
            return False
        self.browser.setMarkdown(text)
        self.browser.moveCursor(self.browser.textCursor().MoveOperation.Start)
        return True

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(300, 600)
