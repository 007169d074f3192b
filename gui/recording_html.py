"""A recording as one self-contained HTML file: every tab's picture at points along the timeline,
a tab switch and a timeline slider, the settings; no server, no network, opens offline.

The pictures are drawn by replaying the recording in the window (the tabs draw it exactly as
they do on screen), one tab at a time, and kept as JPEG data URLs in the page.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from engine.recording import Recording

from .panels import panel_class, slugs
from .reveal import reveal_now

MAX_WIDTH = 1400


def timeline_points(rec: Recording, points: int) -> list[int]:
    """Frame indices spread evenly over the recording's time (first and last included)."""
    n = len(rec.frames)
    if n <= points:
        return list(range(n))
    times = np.asarray(rec.times if len(rec.times) == n else np.arange(n), dtype=float)
    targets = np.linspace(times[0], times[-1], points)
    picked = sorted({int(np.searchsorted(times, t, side="left")) for t in targets} | {n - 1})
    return [min(i, n - 1) for i in picked]


def tabs_in(rec: Recording, window) -> list[str]:
    """The tabs worth a picture: those that follow the shared run, and those whose own jobs the
    recording holds."""
    own = {e[1] for e in rec.tab_events}
    out = []
    for slug in slugs():
        if panel_class(slug).uses_experiment or slug in own:
            out.append(slug)
    return out


def _jpeg_data_url(widget: QtWidgets.QWidget) -> str:
    reveal_now()
    image = widget.grab().toImage()
    if image.width() > MAX_WIDTH:
        image = image.scaledToWidth(MAX_WIDTH, QtCore.Qt.TransformationMode.SmoothTransformation)
    data = QtCore.QByteArray()
    buf = QtCore.QBuffer(data)
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "JPEG", 78)
    buf.close()
    return "data:image/jpeg;base64," + base64.b64encode(bytes(data.data())).decode("ascii")


def capture(window, rec: Recording, points: int = 16,
            progress: Callable[[int, int], bool] | None = None) -> dict:
    """Replay `rec` in `window` and picture each tab at each timeline point. `progress(done,
    total)` may return False to cancel. Leaves the window in replay mode; the caller leaves it."""
    replay = window.replay
    replay.show(rec)
    app = QtWidgets.QApplication.instance()
    deadline = QtCore.QDeadlineTimer(60000)
    while replay.bar.recording is not rec and not deadline.hasExpired():
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
    if replay.bar.recording is not rec:
        raise RuntimeError("the recording could not be opened for export")
    indices = timeline_points(rec, points)
    slugs = tabs_in(rec, window)
    pictures: dict[str, list[str]] = {s: [] for s in slugs}
    total, done = len(indices) * len(slugs), 0
    for i in indices:
        replay.bar.seek(i)
        for slug in slugs:
            panel = window.panel(slug)
            window.tabs.setCurrentWidget(panel)
            app.processEvents()
            pictures[slug].append(_jpeg_data_url(panel))
            done += 1
            if progress is not None and progress(done, total) is False:
                raise InterruptedError("export cancelled")
    titles = {s: window.panel(s).title for s in slugs}
    steps = [rec.frames[i].step for i in indices]
    seconds = [float(rec.times[i]) if i < len(rec.times) else 0.0 for i in indices]
    return {"tabs": slugs, "titles": titles, "pictures": pictures, "steps": steps, "seconds": seconds}


def render_html(rec: Recording, captured: dict, title: str = "Saddle Lab recording") -> str:
    settings = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in rec.settings.items())
    data = json.dumps({"tabs": captured["tabs"], "titles": captured["titles"], "steps": captured["steps"],
                       "seconds": captured["seconds"], "pictures": captured["pictures"]})
    data = data.replace("</", "<\\/")  # nothing in the data can close the script element
    last = max(0, len(captured["steps"]) - 1)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
 body{{margin:0;font:16px/1.4 system-ui,sans-serif;background:#fafafa;color:#222}}
 header,section{{padding:.5em 1em}} h1{{font-size:1.3em;margin:.2em 0}}
 nav button{{font:inherit;margin:.15em;padding:.3em .8em;border:1px solid #999;border-radius:1em;background:#fff}}
 nav button.on{{background:#1565c0;color:#fff;border-color:#1565c0}}
 .time{{display:flex;gap:1em;align-items:center}} .time input{{flex:1}}
 img{{display:block;max-width:100%;height:auto;margin:0 auto;border:1px solid #ddd;background:#fff}}
 table{{border-collapse:collapse;font-size:.9em}}
 th,td{{text-align:left;padding:.1em .6em;border-bottom:1px solid #eee}}
 details{{padding:0 1em 1em}}
</style></head><body>
<header><h1>{html.escape(title)}</h1>
<nav id="tabs"></nav>
<div class="time"><button id="play">Play</button><input id="t" type="range" min="0" max="{last}" value="{last}"
 aria-label="timeline"><span id="where"></span></div></header>
<section><img id="figure" alt="the tab at this point of the run"></section>
<details><summary>Settings of the run</summary><table>{settings}</table></details>
<script>
"use strict";
const D = {data};
let tab = D.tabs[0], timer = null;
const img = document.getElementById("figure"), t = document.getElementById("t");
function show() {{
  const i = Number(t.value);
  img.src = D.pictures[tab][i];
  img.dataset.tab = tab; img.dataset.index = String(i);
  document.getElementById("where").textContent =
    "step " + D.steps[i].toLocaleString() + " · " + D.seconds[i].toFixed(1) + " s";
  for (const b of document.querySelectorAll("nav button")) b.className = b.dataset.tab === tab ? "on" : "";
}}
for (const s of D.tabs) {{
  const b = document.createElement("button");
  b.textContent = D.titles[s]; b.dataset.tab = s;
  b.onclick = () => {{ tab = s; show(); }};
  document.getElementById("tabs").appendChild(b);
}}
t.oninput = show;
document.getElementById("play").onclick = (e) => {{
  if (timer) {{ clearInterval(timer); timer = null; e.target.textContent = "Play"; return; }}
  if (Number(t.value) >= Number(t.max)) t.value = 0;
  e.target.textContent = "Pause";
  timer = setInterval(() => {{
    if (Number(t.value) >= Number(t.max)) {{ clearInterval(timer); timer = null;
      document.getElementById("play").textContent = "Play"; return; }}
    t.value = Number(t.value) + 1; show();
  }}, 600);
}};
show();
</script></body></html>
"""


def export_recording_html(window, rec: Recording, path: str | Path, points: int = 16,
                          progress: Callable[[int, int], bool] | None = None) -> Path:
    """Write `rec` as one HTML file (atomically); the window is back out of replay afterwards."""
    path = Path(path)
    was_replaying = window.lab.replaying
    try:
        captured = capture(window, rec, points, progress)
    finally:
        if not was_replaying:
            window.replay.leave()
    name = rec.settings.get("dataset", "run")
    text = render_html(rec, captured, title=f"Saddle Lab recording — {name}, {captured['steps'][-1]:,} steps")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def export_with_progress(window, rec: Recording, path: Path) -> bool:
    """The menu's export: a progress dialog with Cancel; a message says where it went."""
    dialog = QtWidgets.QProgressDialog("Drawing every tab along the timeline…", "Cancel", 0, 100, window)
    dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)

    def progress(done: int, total: int) -> bool:
        dialog.setMaximum(total)
        dialog.setValue(done)
        return not dialog.wasCanceled()

    try:
        export_recording_html(window, rec, path, progress=progress)
    except InterruptedError:
        window.statusBar().showMessage("Export cancelled", 5000)
        return False
    except (OSError, RuntimeError) as exc:
        window.statusBar().showMessage(f"Could not export the recording: {exc}", 10000)
        return False
    finally:
        dialog.close()
    window.statusBar().showMessage(f"Saved {path.name}: opens in any browser, offline", 8000)
    QtGui.QGuiApplication.processEvents()
    return True
