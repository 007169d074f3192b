"""The loss surface as a 3-D mesh (pyqtgraph.opengl), for the Landscape tab.

Kept apart from the panel so that it loads without the engine (and PyTorch): the OpenGL check
runs in a fresh process under a real X server.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from .style import manager


def opengl_problem() -> str | None:
    """Why the 3-D view cannot run here, or None when it can."""
    try:
        ctx = QtGui.QOpenGLContext()
        if not ctx.create():
            return "this display offers no OpenGL"
        import pyqtgraph.opengl  # noqa: F401
    except Exception as exc:  # a missing PyOpenGL or driver must not take the tab down
        return f"OpenGL is unavailable ({exc.__class__.__name__})"
    return None


class Surface3D(QtWidgets.QWidget):
    """The surface as a 3-D mesh (pyqtgraph.opengl); built only where OpenGL works.

    pyqtgraph catches an exception raised while an item paints and only prints it, so a broken
    driver would leave a blank view: each item's paint is guarded here, and the first failure
    hides the item and emits `failed` with what went wrong.
    """

    failed = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        import pyqtgraph.opengl as gl

        self.failure: str | None = None

        self.view = gl.GLViewWidget()
        self.view.setBackgroundColor(manager().style.colors.plot_bg)
        self.view.setCameraPosition(distance=3.2, elevation=28, azimuth=-60)
        self.grid = gl.GLGridItem()
        self.grid.setSize(2, 2)
        self.grid.setSpacing(0.25, 0.25)
        self.view.addItem(self.grid)
        self.surface = gl.GLSurfacePlotItem(shader="shaded", smooth=False, computeNormals=True,
                                            glOptions="opaque")
        self.view.addItem(self.surface)
        self.marker = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=12, color=(1, 0.1, 0.1, 1))
        self.view.addItem(self.marker)
        # An empty mesh cannot be drawn: surface and marker wait for the first grid.
        self.surface.setVisible(False)
        self.marker.setVisible(False)
        for item in (self.grid, self.surface, self.marker):
            item.paint = self._guarded(item, item.paint)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.cmap = pg.colormap.get("viridis")

    def _guarded(self, item, paint):
        def guarded_paint() -> None:
            try:
                paint()
            except Exception as exc:  # a driver or library fault: stop drawing, report once
                item.setVisible(False)
                if self.failure is None:
                    self.failure = f"drawing the 3-D surface failed ({exc.__class__.__name__}: {exc})"[:160]
                    self.failed.emit(self.failure)
        return guarded_paint

    def set_surface(self, alphas: np.ndarray, betas: np.ndarray, z: np.ndarray, marker: tuple[float, float]):
        """Heights scaled into a unit box so any loss range reads as a landscape."""
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        h = (np.nan_to_num(z, nan=hi) - lo) / max(hi - lo, 1e-12)
        sx = 1.0 / max(abs(alphas).max(), 1e-12)
        sy = 1.0 / max(abs(betas).max(), 1e-12)
        # One RGBA row per vertex, (N, 4): MeshData indexes colours by vertex number, and a
        # (rows, cols, 4) grid fails on every paint (IndexError) in pyqtgraph 0.13 and 0.14 alike.
        colors = np.asarray(self.cmap.map(h.reshape(-1), mode="float"), dtype=np.float32).reshape(-1, 4)
        self.surface.setData(x=alphas * sx, y=betas * sy, z=h, colors=colors)
        i = int(np.abs(alphas - marker[0]).argmin())
        j = int(np.abs(betas - marker[1]).argmin())
        self.marker.setData(pos=np.array([[marker[0] * sx, marker[1] * sy, h[i, j] + 0.02]]))
        if self.failure is None:
            self.surface.setVisible(True)
            self.marker.setVisible(True)
