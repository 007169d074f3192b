"""Every topic is one click away at projector sizes, and a tab with a job running is marked."""

import threading

import pytest
from PySide6 import QtCore

from gui.navigation import GROUPS, SLUG_ROLE
from gui.panels import slugs
from gui.style import base_point_size_for, manager


@pytest.fixture(autouse=True)
def _plain_style():
    manager().set(theme="light", font_scale=1.0, line_scale=1.0)
    yield
    manager().set(theme="light", font_scale=1.0, line_scale=1.0)


def _rows_fit(window) -> list[str]:
    """The topics whose rows are not wholly visible without scrolling."""
    topics = window.topics
    view = topics.viewport().rect()
    hidden = []
    for slug in ["start", *slugs()]:
        rect = topics.visualItemRect(topics.row_of(slug))
        if not view.contains(rect) or rect.height() < topics.fontMetrics().height():
            hidden.append(slug)
    return hidden


def test_the_groups_follow_the_tab_order_and_name_every_tab():
    listed = [s for _, group in GROUPS for s in group]
    assert listed == ["start", *slugs()]  # keys 1–9 count down the list


def test_every_topic_is_one_click_away_at_1280x720_and_in_presentation_mode(window, qtbot):
    window.resize(1280, 720)
    qtbot.wait(50)
    assert not window.tabs.tabBar().isVisible()
    assert _rows_fit(window) == []
    for slug in ["ntk", "paradigms", "implicit", "start", "train"]:
        item = window.topics.row_of(slug)
        rect = window.topics.visualItemRect(item)
        qtbot.mouseClick(window.topics.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=rect.center())
        current = window.tabs.currentWidget()
        assert (current is window.start_page) if slug == "start" else (getattr(current, "slug", None) == slug)
    window.presentation_action.trigger()
    qtbot.wait(100)
    try:
        assert manager().style.font_scale >= 1.6
        assert _rows_fit(window) == []
        # The list grew with the text: no title is cut.
        fm = window.topics.fontMetrics()
        for slug in slugs():
            item = window.topics.row_of(slug)
            assert fm.horizontalAdvance(item.text()) < window.topics.viewport().width()
    finally:
        window.presentation_action.trigger()
    # Switching tabs another way (the keys) moves the list's selection too.
    window.show_panel("lottery")
    assert window.topics.currentItem().data(SLUG_ROLE) == "lottery"


def test_a_tab_with_a_job_running_is_marked_after_leaving_it(window, qtbot):
    release = threading.Event()

    def work():
        yield 0
        release.wait(10)
        yield 1

    window.show_panel("lottery")
    window.lab.start_job(work, name="lottery-demo")
    window.show_panel("train")
    qtbot.waitUntil(lambda: "lottery" in window.topics.busy(), timeout=3000)
    assert not window.topics.row_of("lottery").icon().isNull()
    assert window.topics.row_of("train").icon().isNull() or "train" in window.topics.busy()
    release.set()
    qtbot.waitUntil(lambda: "lottery" not in window.topics.busy(), timeout=5000)
    assert window.topics.row_of("lottery").icon().isNull()


def test_text_is_lecture_size_on_a_1080_line_screen():
    assert base_point_size_for(1080) >= 11
    assert base_point_size_for(2160) >= 11
    assert base_point_size_for(768) == 10
