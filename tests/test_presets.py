"""Every preset loads, names a real tab, and renders its figures headless (short settings)."""

import subprocess
import sys
from pathlib import Path

import pytest

from gui.presets import load_presets, parse_preset

ROOT = Path(__file__).resolve().parent.parent
PRESETS = load_presets()


def test_presets_are_well_formed():
    from gui.panels import slugs

    assert PRESETS, "no presets found"
    for p in PRESETS.values():
        assert p.tab in slugs(), f"{p.name}: unknown tab {p.tab}"
        assert p.claim and p.title and p.topic
        p.config()


def test_list_presets_prints_names_first():
    res = subprocess.run([sys.executable, "main.py", "--list-presets"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert names == sorted(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_renders_headless(name, tmp_path):
    from gui.headless import run_preset_headless

    files = run_preset_headless(name, tmp_path, quick=True)
    pngs = [f for f in files if f.suffix == ".png"]
    assert pngs, f"{name} wrote no figure"
    for f in pngs:
        assert f.exists() and f.stat().st_size > 5_000, f


def test_bad_preset_files_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_preset("{", "x.json")
    with pytest.raises(ValueError, match="missing"):
        parse_preset('{"name": "a"}', "x.json")
    with pytest.raises(ValueError, match="unknown experiment settings"):
        parse_preset('{"name": "a", "title": "t", "claim": "c", "tab": "train",'
                     ' "experiment": {"learning_rate": 1}}', "x.json")
    with pytest.raises(ValueError, match="topic of its tab"):  # the tab's class declares it
        parse_preset('{"name": "a", "title": "t", "topic": "t", "claim": "c", "tab": "train"}', "x.json")
    with pytest.raises(ValueError, match="no tab 'nowhere'"):
        parse_preset('{"name": "a", "title": "t", "claim": "c", "tab": "nowhere"}', "x.json")


def test_start_page_lists_topics_in_the_order_of_the_tabs(qtbot):
    """The start page follows the course: a topic comes where its first tab is."""
    from PySide6 import QtWidgets

    from gui.panels import panel_topics, slugs
    from gui.start_page import StartPage

    page = StartPage(lambda preset: None)
    qtbot.addWidget(page)
    shown = [box.title() for box in page.widget().findChildren(QtWidgets.QGroupBox)]
    topics_of_tabs = list(dict.fromkeys(panel_topics()[slug] for slug in slugs()))
    assert shown == [t for t in topics_of_tabs if any(p.topic == t for p in PRESETS.values())]
    assert set(shown) == {p.topic for p in PRESETS.values()}
