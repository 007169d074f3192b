"""Show on every preset, in the real window: within the preset's deadline its tab holds data and
the number its claim is about (the preset's `headline`). Prints seconds to first data and to the
headline, the table the lecture-flow check reports."""

import math
import time

import numpy as np
import pytest

from gui.presets import load_presets

PRESETS = load_presets()


def headline_value(data: dict, path: str):
    """The value at a dotted path into a tab's data() (list items by index), or None."""
    v = data
    for part in path.split("."):
        if isinstance(v, dict) and part in v:
            v = v[part]
        elif isinstance(v, list | tuple) and part.isdigit() and int(part) < len(v):
            v = v[int(part)]
        else:
            return None
    return v


def is_number(v) -> bool:
    if v is None or isinstance(v, bool | str):
        return False
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.size > 0 and bool(np.isfinite(a).any())


def has_data(data: dict) -> bool:
    skip = {"config", "settings", "mode", "log_scale", "dataset", "data"}
    return any(is_number(v) or (isinstance(v, dict) and has_data(v)) for k, v in data.items() if k not in skip)


def test_every_preset_names_a_headline_and_a_deadline():
    for p in PRESETS.values():
        assert p.headline, f"{p.name}: no headline"
        assert 0 < p.deadline_s <= 60, p.name


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_show_reaches_the_headline_number_within_the_deadline(window, qtbot, name):
    preset = PRESETS[name]
    lab = window.lab
    panel = window.panel(preset.tab)
    config = preset.config()
    window.tabs.setCurrentWidget(window.start_page)
    t0 = time.perf_counter()
    window.start_page.buttons[name].click()
    first_data = None
    headline = None

    def fresh() -> bool:
        # The picture must be of the preset's experiment, not of what was there before.
        if not panel.uses_experiment:
            return True
        return lab.experiment.config == config and (preset.steps == 0 or lab.experiment.step_count > 0)

    def reached() -> bool:
        nonlocal first_data, headline
        if not fresh():
            return False
        data = panel.data()
        now = time.perf_counter() - t0
        if first_data is None and has_data(data):
            first_data = now
        if headline is None and is_number(headline_value(data, preset.headline)):
            headline = now
        return headline is not None

    qtbot.waitUntil(reached, timeout=int(1000 * preset.deadline_s))
    assert window.tabs.currentWidget() is panel
    value = np.asarray(headline_value(panel.data(), preset.headline), dtype=float)
    assert np.isfinite(value).any() and not math.isnan(float(np.nanmean(value)))
    print(f"\n{name}: first data {first_data:.1f} s, headline {preset.headline} {headline:.1f} s "
          f"(deadline {preset.deadline_s:g} s)")
