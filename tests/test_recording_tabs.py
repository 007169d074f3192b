"""Recordings hold the tabs with their own computations too: a replay scrubbed to any point shows
what the lottery, double-descent, NTK and paradigms tabs showed then, without computing."""

import json

import pytest
from conftest import headless_chromium

from engine.recording import load_recording

CASES = {
    # tab: (quick options, start, running?, what it shows: a number that grows as the job delivers)
    "lottery": ({"seeds": [0], "rounds": 1, "steps": 30},
                lambda p: p.start(), lambda p: p.running, lambda p: len(p.rounds)),
    "ntk": ({"sweep": [16, 64], "width": 16, "steps": 150},
            lambda p: p.request("sweep"), lambda p: p.running, lambda p: len(p._results)),
    "double-descent": ({"widths": [4, 12], "steps": 80},
                       lambda p: p.run_networks(), lambda p: not p.net_run.isEnabled(), lambda p: len(p.net_points)),
    "paradigms": ({"steps": 60},
                  lambda p: p.start(), lambda p: p.running, lambda p: sum(len(h["step"]) for h in p.history.values())),
}


@pytest.mark.parametrize("slug", sorted(CASES))
def test_a_tab_with_its_own_computation_is_recorded_and_replayed(window, qtbot, tmp_path, slug):
    options, start, running, shown = CASES[slug]
    panel = window.panel(slug)
    panel.apply_options(options)
    window.show_panel(slug)
    window.recorder.start()
    start(panel)
    qtbot.waitUntil(lambda: not running(panel), timeout=240000)
    qtbot.wait(700)  # the recorder looks twice a second
    live = shown(panel)
    assert live > 0
    rec = window.recorder.stop()
    path = tmp_path / f"{slug}.sdlrec"
    window.save_recording(rec, path)
    rec = load_recording(path)
    events = [e for e in rec.tab_events if e[1] == slug]
    assert events and events[0][3] == "begin" and any(e[3] == "end" for e in events)

    assert window.replay.open(path)
    qtbot.waitUntil(lambda: window.replay.bar.recording is not None, timeout=20000)
    bar = window.replay.bar
    bar.seek(len(rec.frames) - 1)
    assert shown(panel) == live, "the end of the recording shows what the tab showed"
    first = min(e[0] for e in events if e[3] == "items")
    bar.seek(max(0, first - 1) if first > 0 else 0)
    if first > 0:
        assert shown(panel) == 0, "before the job delivered, the tab is empty"
    # Scrubbing forward through the recording, the tab fills in as it did live.
    counts = []
    for i in sorted({e[0] for e in events}):
        bar.seek(i)
        counts.append(shown(panel))
    assert counts == sorted(counts) and counts[-1] == live
    assert not running(panel), "a replay draws; it computes nothing"
    window.replay.leave()


def test_a_recording_exports_to_one_offline_web_page(window, qtbot, tmp_path):
    """Every tab along the timeline in one HTML file with nothing fetched from anywhere."""
    import re

    from gui.recording_html import export_recording_html

    lab = window.lab
    window.recorder.start()
    lab.play(max_steps=60)
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.step_count >= 60, timeout=60000)
    rec = window.recorder.stop()
    out = export_recording_html(window, rec, tmp_path / "lecture.html", points=4)
    assert not lab.replaying, "the window is back out of the replay"
    text = out.read_text(encoding="utf-8")
    # No address to fetch: every picture is inline.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "fetch(" not in text and "XMLHttpRequest" not in text
    data = json.loads(re.search(r"const D = (\{.*?\});\n", text, re.S).group(1))
    steps = data["steps"]
    assert steps == sorted(steps) and steps[-1] == 60 and 3 <= len(steps) <= 4
    assert {"train", "landscape", "curvature", "representations"} <= set(data["tabs"])
    for tab in data["tabs"]:
        assert len(data["pictures"][tab]) == len(steps)
        assert all(p.startswith("data:image/jpeg;base64,") and len(p) > 2000 for p in data["pictures"][tab])
    assert data["pictures"]["train"][0] != data["pictures"]["train"][-1]  # the timeline shows the run move

    # In a real browser, from the file itself: the picture loads and the slider moves it.
    driver = headless_chromium(tmp_path, 1280, 900)
    try:
        driver.get(out.as_uri())
        img = "document.getElementById('figure')"
        qtbot.waitUntil(lambda: driver.execute_script(f"return {img}.complete && {img}.naturalWidth") > 0,
                        timeout=10000)
        last_src = driver.execute_script(f"return {img}.src")
        driver.execute_script("const t = document.getElementById('t'); t.value = 0;"
                              "t.dispatchEvent(new Event('input'));")
        assert driver.execute_script(f"return {img}.src") != last_src
        assert driver.find_element("id", "where").text.startswith("step 0")
        driver.save_screenshot(str(tmp_path / "page.png"))
    finally:
        driver.quit()
