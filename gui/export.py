"""Export of plots and data: PNG at a chosen size and SVG from every plot's context menu
(pyqtgraph's Export… dialog), and File → Export all.

pyqtgraph's own SVG writer fails on current Qt (it parses coordinates Qt no longer writes), so
the SVG exporter here renders the scene through Qt's QSvgGenerator instead: lines, text and
markers stay vectors, images are embedded.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph.exporters as pg_exporters
from pyqtgraph.parametertree import Parameter
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from .reveal import reveal_now


class QtSvgExporter(pg_exporters.Exporter):
    Name = "SVG vector graphics (Qt)"
    allowCopy = False

    def __init__(self, item):
        super().__init__(item)
        rect = self.getSourceRect()
        self.params = Parameter.create(name="params", type="group", children=[
            {"name": "width", "title": "width (px)", "type": "int", "value": int(rect.width()), "limits": (16, 20000)},
            {"name": "height", "title": "height (px)", "type": "int", "value": int(rect.height()),
             "limits": (16, 20000)},
        ])

    def parameters(self):
        return self.params

    def export(self, fileName=None, toBytes=False, copy=False):
        if fileName is None:
            self.fileSaveDialog(filter=["*.svg"])
            return None
        source = self.getSourceRect()
        w, h = int(self.params["width"]), int(self.params["height"])
        gen = QtSvg.QSvgGenerator()
        gen.setFileName(str(fileName))
        gen.setSize(QtCore.QSize(w, h))
        gen.setViewBox(QtCore.QRect(0, 0, w, h))
        gen.setTitle("Saddle Lab")
        painter = QtGui.QPainter(gen)
        try:
            self.setExportMode(True, {"antialias": True, "background": None, "painter": painter})
            self.getScene().render(painter, QtCore.QRectF(0, 0, w, h), QtCore.QRectF(source))
        finally:
            self.setExportMode(False)
            painter.end()
        return None


def install_exporters() -> None:
    """Offer the Qt SVG exporter in every plot's Export… dialog, instead of the broken one."""
    exporters = pg_exporters.Exporter.Exporters
    exporters[:] = [e for e in exporters if e.__name__ != "SVGExporter"]
    if QtSvgExporter not in exporters:
        exporters.append(QtSvgExporter)


def save_png(widget: QtWidgets.QWidget, path: Path, scale: float = 1.0) -> Path:
    """The widget as it is drawn, optionally at `scale` times its size (sharper, not bigger text)."""
    reveal_now()
    if scale == 1.0:
        pix = widget.grab()
    else:
        size = widget.size() * scale
        pix = QtGui.QPixmap(size)
        pix.setDevicePixelRatio(scale)
        pix.fill(QtCore.Qt.GlobalColor.transparent)
        widget.render(pix)
    if pix.isNull() or not pix.save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def save_svg(widget: QtWidgets.QWidget, path: Path) -> Path:
    gen = QtSvg.QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(widget.size())
    gen.setViewBox(QtCore.QRect(QtCore.QPoint(0, 0), widget.size()))
    gen.setTitle("Saddle Lab")
    QtWidgets.QWidget.render(widget, gen)  # graphics views override render(); use the widget one
    if not path.exists():
        raise OSError(f"could not write {path}")
    return path


def write_csv(path: Path, table: dict[str, Any]) -> Path:
    """Columns of equal length -> CSV (shorter columns are padded with blanks)."""
    cols = {k: list(np.asarray(v).reshape(-1)) for k, v in table.items()}
    n = max((len(v) for v in cols.values()), default=0)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(cols))
        for i in range(n):
            w.writerow([_cell(v[i]) if i < len(v) else "" for v in cols.values()])
    tmp.replace(path)
    return path


def _cell(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.8g}"
    return v


def tables_in(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The parts of a panel's data that read as tables: dicts of equal-length 1-D columns."""
    out = {}
    for name, value in data.items():
        if isinstance(value, dict) and value and all(
                isinstance(v, (list, tuple, np.ndarray)) and np.asarray(v).ndim == 1 for v in value.values()):
            out[name] = value
        elif isinstance(value, np.ndarray) and value.ndim in (1, 2):
            out[name] = {f"{name}_{j}": value[:, j] for j in range(value.shape[1])} if value.ndim == 2 \
                and value.shape[1] <= 64 else ({name: value} if value.ndim == 1 else {})
    return {k: v for k, v in out.items() if v}


def export_panel(panel, folder: Path, svg: bool = True, csv_tables: bool = True) -> list[Path]:
    """A tab's figures (PNG, SVG) and data (JSON, NPZ, CSV tables) into `folder`."""
    from .panels.base import write_outputs

    folder.mkdir(parents=True, exist_ok=True)
    written = write_outputs(panel, folder)
    if svg:
        for name, widget in panel.figures().items():
            written.append(save_svg(widget, folder / f"{name}.svg"))
    if csv_tables:
        for name, table in tables_in(panel.data()).items():
            written.append(write_csv(folder / f"{panel.slug}-{name}.csv", table))
    return written


def export_all(window, folder: Path) -> list[Path]:
    """Every tab into its own sub-folder, plus the settings as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    current = window.tabs.currentIndex()
    try:
        for i, panel in enumerate(window.panels):
            window.tabs.setCurrentIndex(i)
            QtWidgets.QApplication.processEvents()
            written += export_panel(panel, folder / panel.slug)
    finally:
        window.tabs.setCurrentIndex(current)
    path = folder / "settings.json"
    path.write_text(json.dumps(window.session_settings(), indent=1))
    written.append(path)
    return written

