"""engine/ must never import Qt: it is also a library used from notebooks and scripts."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "pyqtgraph", "superqt", "qtpy")


def test_engine_imports_no_qt():
    modules = sorted(f"engine.{p.stem}" for p in (ROOT / "engine").glob("*.py") if p.stem != "__init__")
    assert len(modules) >= 6
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"engine pulled in Qt modules: {res.stdout.strip()}"


def test_no_panel_imports_another_panel():
    """A tab's module stands alone: what tabs share lives in gui/ (panel_tools, jobs, plots …).
    Page files of one topic (train_images for train) are that topic's own."""
    import ast

    folder = ROOT / "gui" / "panels"
    panels = {p.stem for p in folder.glob("*.py")} - {"__init__", "base"}
    own_pages = {"train": {"train_images"}}
    bad = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [node.module] if node.module else [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gui.panels."):
                names = [node.module.split(".")[2]]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[2] for a in node.names if a.name.startswith("gui.panels.")]
            else:
                continue
            for name in names:
                name = name.split(".")[0]
                if name in panels and name not in own_pages.get(path.stem, set()):
                    bad.append(f"{path.name} imports {name}")
    assert not bad, bad
