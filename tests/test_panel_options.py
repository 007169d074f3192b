"""Every tab's options: saved with a session, restored in a new window, and reset by a preset.

A preset starts from the tab's defaults (whatever the user changed on the tab before), and a
session remembers every tab's controls, not only the experiment's."""

import json

import pytest
from conftest import wait_idle

from engine import data as data_module
from engine.critical import SURFACES
from gui.presets import load_presets

# slug -> (option key, how a user changes that control away from its default, a preset of the tab:
# it must bring the control back to the default, or to its own value where it sets that key, as
# the Sharpness tab's one preset does for every field)
CHANGES = {
    "landscape": ("live", lambda p: p.live.setChecked(False), "landscape-random-plane"),
    "connectivity": ("bezier_lr", lambda p: p.bend_lr.setValue(0.01), "connectivity-bezier"),
    "curvature": ("live", lambda p: p.live.setChecked(False), "curvature-live-spectrum"),
    "saddles": ("steps", lambda p: p.steps.setValue(800), "curvature-index-vs-loss"),
    "sharpness": ("rho", lambda p: p.rho.setText("0.25"), "curvature-sharp-vs-flat"),
    "representations": ("variance", lambda p: p.variance_slider.setValue(80), "representations-cka"),
    "lottery": ("dataset", lambda p: p.dataset.setCurrentIndex(p.dataset.findData("mri")), "lottery-global"),
    "double-descent": ("steps", lambda p: p.net_steps.setValue(900), "double-descent-ridge"),
    "implicit": ("margin_steps", lambda p: p.margin_steps.setCurrentIndex(0), "implicit-factorization"),
    "ntk": ("page", lambda p: p.pages.setCurrentIndex(1), "ntk-wide-net-is-kernel-regression"),
    "paradigms": ("steps", lambda p: p.steps.setValue(400), "paradigms-shared-plane"),
}
needs_mri = pytest.mark.skipif(not hasattr(data_module, "mri_phantoms"), reason="no MRI phantoms here")


def _stop_panels(window) -> None:
    for p in window.built_panels():
        p.shutdown()


def test_every_tab_with_options_is_listed_here(window):
    with_options = {p.slug for p in window.panels if p.options()}
    assert with_options == set(CHANGES)


def test_options_are_json_and_round_trip(window):
    for panel in window.panels:
        opts = panel.options()
        assert opts == panel.default_options, panel.slug  # untouched: what the tab was built with
        again = json.loads(json.dumps(opts))
        panel.apply_options(again)
        assert panel.options() == opts, panel.slug
    _stop_panels(window)


@pytest.mark.parametrize("slug, break_it, key, fallback", [
    ("sharpness", lambda p: p.lr.setText("abc"), "lr", 0.2),
    ("ntk", lambda p: p.lr.setText("fast"), "lr", 0.3),
    ("ntk", lambda p: p.sweep_widths.setText("7"), "sweep", [16, 64, 256, 1024, 4096]),
    ("double-descent", lambda p: p.net_widths.setText("a, b"), "widths", None),
    ("lottery", lambda p: p.steps.setValue(10), "rewind", 20),  # rewinding to step 20 of 10
    ("paradigms", lambda p: next(iter(p.fields.values())).setText("x"), "steps", 600),
])
def test_a_field_that_cannot_run_is_saved_as_a_value_that_can(window, slug, break_it, key, fallback):
    panel = window.panel(slug)
    break_it(panel)
    opts = json.loads(json.dumps(panel.options()))
    if fallback is not None:
        assert opts[key] == fallback
    panel.apply_options(opts)  # does not raise
    assert set(opts) <= set(panel.default_options)
    _stop_panels(window)


@pytest.mark.parametrize("slug", sorted(CHANGES))
def test_a_preset_starts_from_the_tabs_defaults(window, qtbot, monkeypatch, slug):
    if slug == "lottery" and not hasattr(data_module, "mri_phantoms"):
        pytest.skip("no MRI phantoms here")
    key, change, name = CHANGES[slug]
    preset = load_presets()[name]
    assert preset.tab == slug
    panel = window.panel(slug)
    defaults = panel.default_options
    change(panel)
    assert panel.options()[key] != defaults[key]
    if slug == "saddles":
        panel.lr.setValue(0.3)  # the user's η on the saddle: the preset's surface brings its own
    monkeypatch.setattr(window.lab, "play", lambda **_: None)  # the settings are the point, not training
    window.run_preset(preset)
    _stop_panels(window)  # the jobs a first visit starts
    assert window.tabs.currentWidget() is panel
    expected = {**defaults, **preset.options()}
    assert panel.options() == expected
    assert panel.options()[key] == expected[key]
    if slug == "saddles":
        assert panel.surface_name == "himmelblau"
        assert panel.lr.value() == pytest.approx(SURFACES["himmelblau"].lr)
        assert tuple(panel.start) == SURFACES["himmelblau"].start
    if slug == "lottery":
        assert panel.dataset.currentData() == "digits" and panel.config.scope == "global"
        assert panel.config.steps == defaults["steps"] and panel.config.batch_size == defaults["batch_size"]
    wait_idle(qtbot, window.lab)  # the preset's experiment is built: every control stays where it is,
    assert panel.options() == expected  # even those a tab re-fits to a new network (resolution)


@needs_mri
def test_a_session_restores_every_tabs_controls_in_a_new_window(window, qtbot):
    from gui.headless import dispose
    from gui.main_window import MainWindow

    changed = {}
    for slug, (key, change, _) in CHANGES.items():
        panel = window.panel(slug)
        change(panel)
        changed[slug] = (key, panel.options()[key])
    _stop_panels(window)
    d = json.loads(json.dumps(window.session_settings()))
    for slug, (key, value) in changed.items():
        assert d["panels"][slug][key] == value, slug
    assert "train" not in d["panels"]
    win2 = MainWindow()
    try:
        qtbot.waitUntil(lambda: win2.lab.state == "idle" and win2.lab.last_frame is not None, timeout=20000)
        win2.apply_session(d)
        for slug, (key, value) in changed.items():
            panel = win2.panel(slug)
            assert panel.options()[key] == value, slug
            assert panel.options() == window.panel(slug).options(), slug
        assert win2.panel("lottery").dataset.currentData() == "mri"
        assert win2.panel("sharpness").rho.text() == "0.25"
    finally:
        for p in win2.built_panels():
            p.shutdown()
        stopped = win2.lab.stop_all(timeout=5.0)
        dispose(win2)
    assert stopped, "a worker of the second window did not stop"


def test_a_session_puts_the_tabs_it_does_not_list_back_to_their_defaults(window):
    plain = json.loads(json.dumps(window.session_settings()))
    ntk = window.panel("ntk")
    ntk.pages.setCurrentIndex(1)
    assert ntk.options()["page"] == "kernels"
    window.apply_session(plain)
    assert ntk.options()["page"] == "width"
    assert ntk.options() == ntk.default_options
    _stop_panels(window)
