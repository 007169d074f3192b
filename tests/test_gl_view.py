"""The Landscape tab's 3-D view: it draws with a real OpenGL context, and any GL failure unticks it.

The drawing test needs an X server (a desktop's DISPLAY, or Xvfb through xvfb-run) and runs in
a subprocess on Qt's xcb platform: this process is pinned to the offscreen platform, which has
no OpenGL. The failure tests run here, offscreen, by forcing the failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

import gui.panels.landscape as landscape_module

ROOT = Path(__file__).resolve().parent.parent

# Renders a saddle z = a² − b² (the shape the tab shows at a saddle point), then forces a
# failure inside the surface's paint; prints what it measured as one JSON line.
RENDER = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from PySide6 import QtWidgets
app = QtWidgets.QApplication([])
from gui.surface3d import Surface3D, opengl_problem
out = {"problem": opengl_problem()}
if out["problem"] is None:
    view = Surface3D()
    view.resize(320, 240)
    view.show()
    reported = []
    view.failed.connect(reported.append)
    a, b = np.linspace(-1, 1, 41), np.linspace(-1, 1, 31)
    view.set_surface(a, b, a[:, None] ** 2 - b[None, :] ** 2, (0.0, 0.0))
    for _ in range(5):
        app.processEvents()
    px = view.view.renderToArray((160, 120)).astype(float)
    background = px[0, 0]
    out["std"] = float(px[..., :3].std())
    out["covered"] = float((np.abs(px - background).sum(-1) > 30).mean())
    out["failure_before"] = view.failure
    def broken():
        raise RuntimeError("forced")
    view.surface.parseMeshData = broken
    view.surface.update()
    px = view.view.renderToArray((160, 120)).astype(float)
    out["std_after"] = float(px[..., :3].std())
    out["reported"] = reported
print("RESULT " + json.dumps(out))
"""


def _x_command() -> list[str] | None:
    if os.environ.get("DISPLAY"):
        return []
    if shutil.which("xvfb-run"):
        return ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"]
    return None


def test_the_3d_surface_draws_with_real_opengl_and_reports_a_paint_failure():
    prefix = _x_command()
    if prefix is None:
        pytest.skip("no X server: DISPLAY is unset and xvfb-run is not installed")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    run = subprocess.run([*prefix, sys.executable, "-c", RENDER, str(ROOT)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert run.returncode == 0 and lines, f"render failed:\n{run.stdout}\n{run.stderr}"
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["problem"] is None, f"an X server but no OpenGL: {out['problem']}"
    assert out["failure_before"] is None
    assert "Error while drawing item" not in run.stderr, run.stderr
    # A drawn saddle covers much of the frame in many colours; a failed paint leaves it blank.
    assert out["std"] > 20, out
    assert out["covered"] > 0.15, out
    # A forced fault inside the surface's paint is reported once, and the item stops drawing.
    assert len(out["reported"]) == 1 and "RuntimeError: forced" in out["reported"][0], out
    assert out["std_after"] < out["std"] / 2, out


def test_any_gl_failure_unticks_the_3d_view_and_says_why(window, monkeypatch, qtbot):
    panel = window.show_panel("landscape")

    def offer_3d() -> None:  # offscreen has no OpenGL: pretend it had, then force the failures
        panel.gl_problem = None
        panel.view3d.show()
        panel.gl_note.hide()
        panel.surface3d = None

    # 1. The view cannot even be built.
    def no_gl(*args, **kwargs):
        raise RuntimeError("no context")

    offer_3d()
    monkeypatch.setattr(landscape_module, "Surface3D", no_gl)
    panel.view3d.setChecked(True)
    assert not panel.view3d.isChecked()
    assert panel.view3d.isHidden() and not panel.gl_note.isHidden()
    assert panel.gl_note.text() == "3-D off: OpenGL failed"
    assert "RuntimeError: no context" in panel.gl_note.toolTip()
    assert panel.left.currentWidget() is panel.map_view

    # 2. It was built, and then a paint fails (reported from inside the paint, acted on after).
    class FailingSurface(QtWidgets.QWidget):
        failed = QtCore.Signal(str)

        def __init__(self, parent=None):
            super().__init__(parent)
            self.view = self  # a context that did start

        def isValid(self) -> bool:
            return True

        def set_surface(self, *args) -> None:
            self.failed.emit("drawing the 3-D surface failed (IndexError: index 41 is out of bounds)")

    offer_3d()
    monkeypatch.setattr(landscape_module, "Surface3D", FailingSurface)
    panel.view3d.setChecked(True)
    assert panel.view3d.isChecked() and panel.left.currentWidget() is panel.surface3d
    panel.surface3d.set_surface()
    qtbot.waitUntil(lambda: not panel.view3d.isChecked(), timeout=3000)
    assert panel.view3d.isHidden()
    assert panel.gl_note.text() == "3-D off: drawing the 3-D surface failed"
    assert "IndexError" in panel.gl_note.toolTip()
    assert panel.left.currentWidget() is panel.map_view
