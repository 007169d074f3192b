"""Presentation mode: one key (F5) for the lecture hall.

Full screen, larger text and thicker lines, the high-contrast theme, and the experiment bar
collapsed to Play/Pause, Step and Reset plus the fields the lecturer chose to keep visible
(View → Presentation controls), like TensorFlow Playground's classroom mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .style import Style, manager

PRESENTATION_FONT = 1.6
PRESENTATION_LINES = 2.0


@dataclass
class PresentationState:
    active: bool = False
    keep: set[str] = field(default_factory=lambda: {"lr"})  # fields left visible
    saved_style: Style | None = None
    was_full_screen: bool = False
    lesson_was_open: bool = False


class Presentation:
    def __init__(self, window) -> None:
        self.window = window
        self.state = PresentationState()

    @property
    def active(self) -> bool:
        return self.state.active

    def toggle(self) -> None:
        self.exit() if self.state.active else self.enter()

    def enter(self) -> None:
        if self.state.active:
            return
        w, st = self.window, self.state
        st.saved_style = manager().style
        st.was_full_screen = w.isFullScreen()
        st.active = True
        manager().set(theme="contrast", font_scale=max(PRESENTATION_FONT, st.saved_style.font_scale),
                      line_scale=PRESENTATION_LINES)
        w.bar.set_compact(st.keep)
        w.showFullScreen()
        w.statusBar().showMessage("Presentation mode: F5 or Esc to leave", 4000)

    def exit(self) -> None:
        if not self.state.active:
            return
        w, st = self.window, self.state
        st.active = False
        if st.saved_style is not None:
            s = st.saved_style
            manager().set(theme=s.theme, font_scale=s.font_scale, line_scale=s.line_scale)
        w.bar.set_compact(None)
        if not st.was_full_screen:
            w.showNormal()

    def set_kept(self, key: str, keep: bool) -> None:
        (self.state.keep.add if keep else self.state.keep.discard)(key)
        if self.state.active:
            self.window.bar.set_compact(self.state.keep)
