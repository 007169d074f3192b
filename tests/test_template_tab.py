"""A tab built from the template (resources/templates/panel.py) works as CONTRIBUTING.md says:
listed in PANELS, it appears in the window, computes through its jobs, follows a reset, takes
preset options and renders headless."""

import shutil
import sys

import numpy as np
import pytest

import gui.panels as panels

ROOT = panels.__file__.rsplit("/gui/", 1)[0]
TEMPLATE = f"{ROOT}/resources/templates/panel.py"


@pytest.fixture
def template_tab(tmp_path, monkeypatch):
    """The template copied as a module of its own, and listed as the last tab."""
    shutil.copy(TEMPLATE, tmp_path / "throwaway_tab.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(panels, "PANELS", [*panels.PANELS, "throwaway_tab"])
    panels.panel_infos.cache_clear()
    yield "example"
    panels.panel_infos.cache_clear()
    sys.modules.pop("throwaway_tab", None)


def test_the_template_tab_is_registered_from_its_class(template_tab):
    info = panels.panel_infos()[-1]
    assert (info.slug, info.title, info.topic, info.module) == ("example", "Example", "Loss landscape", "throwaway_tab")
    assert panels.slugs()[-1] == template_tab
    assert panels.panel_class(template_tab).__name__ == "ExamplePanel"


def test_the_template_tab_computes_follows_a_reset_and_renders_headless(template_tab, qtbot, tmp_path):
    from gui.app import make_app
    from gui.headless import dispose, run_headless
    from gui.main_window import MainWindow

    make_app()
    win = MainWindow()
    win.resize(1280, 720)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.lab.state == "idle" and win.lab.last_frame is not None, timeout=20000)
        assert win.topics.row_of(template_tab) is not None  # one click away, under "More"
        panel = win.show_panel(template_tab)
        qtbot.waitUntil(lambda: panel.last is not None, timeout=20000)
        first = panel.data()
        centre = len(first["alphas"]) // 2
        assert first["alphas"][centre] == 0.0
        # At α = 0 the profile is the loss at θ itself, which the experiment reports.
        assert np.isclose(first["losses"][centre], win.lab.experiment.initial_event().train_loss, rtol=1e-4)
        panel.apply_options({"seed": 7})
        assert panel.options() == {"seed": 7}
        with pytest.raises(ValueError, match="no options"):
            panel.apply_options({"colour": "red"})
        panel.refresh()
        qtbot.waitUntil(lambda: not panel.jobs.running("profile"), timeout=20000)
        assert not np.allclose(panel.data()["losses"], first["losses"])  # another direction
    finally:
        for p in win.built_panels():
            p.shutdown()
        assert win.lab.stop_all(timeout=5.0)
        dispose(win)
    files = run_headless(tmp_path / "out", tab=template_tab, steps=20)
    assert {f.name for f in files} >= {"example.png", "example.json", "example.npz"}
