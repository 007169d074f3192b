"""engine/ must never import Qt: it is also a library used from notebooks and scripts."""

import ast
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


def _imports(path: Path, module: str, is_package: bool) -> set[str]:
    """The modules (and `module.name`s) a file imports, at any depth, except for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` blocks never run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _import_graph() -> dict[str, set[str]]:
    files = {}
    for pkg in ("engine", "gui"):
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return {m: {d for d in _imports(p, m, p.name == "__init__.py") if d in files and d != m}
            for m, p in files.items()}


def test_no_module_imports_itself_through_others():
    graph = _import_graph()
    assert "engine.data" in graph and "gui.lab" in graph
    cycles = []
    for start in sorted(graph):
        # Depth-first from each module: a path back to it is a cycle.
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" → ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def _panel_owner(stem: str, panel_modules: set[str]) -> str | None:
    """The tab a file in gui/panels belongs to: a panel module itself, or one of its pages
    (`<panel module>_<page>.py`); None for what all tabs share (base, __init__)."""
    owners = [m for m in panel_modules if stem == m or stem.startswith(m + "_")]
    return max(owners, key=len) if owners else None


def test_no_panel_imports_another_panel():
    """A tab's module stands alone: what tabs share lives in gui/ (panel_tools, jobs, plots …).
    Page files of a tab (`<panel module>_<page>.py`, e.g. train_images for train) are that
    tab's own: the tab imports them, and they import neither another tab nor its pages, nor
    their own tab's module (it passes them what they need)."""
    import ast

    from gui.panels import PANELS

    folder = ROOT / "gui" / "panels"
    panel_modules = {m.rsplit(".", 1)[1] for m in PANELS}
    files = {p.stem for p in folder.glob("*.py")}
    assert panel_modules <= files
    assert _panel_owner("train_images", panel_modules) == "train"
    assert _panel_owner("double_descent_networks", panel_modules) == "double_descent"
    assert _panel_owner("landscape", panel_modules) == "landscape"
    assert _panel_owner("base", panel_modules) is None
    owner = {stem: _panel_owner(stem, panel_modules) for stem in files}
    bad = []
    for path in sorted(folder.glob("*.py")):
        mine = owner[path.stem]
        if mine is None:
            continue
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
                theirs = owner.get(name)
                if theirs is None:
                    continue  # base and other shared modules
                if theirs != mine:
                    bad.append(f"{path.name} imports {name}")
                elif name == mine and path.stem != mine:
                    bad.append(f"{path.name} (a page) imports its own tab's module {name}")
    assert not bad, bad


def test_page_files_are_not_panels():
    """The registry lists tab modules only; a page file holds no Panel class of its own."""
    from gui.panels import _CLASS, PANELS

    folder = ROOT / "gui" / "panels"
    panel_modules = {m.rsplit(".", 1)[1] for m in PANELS}
    pages = [p for p in folder.glob("*.py")
             if p.stem not in panel_modules and _panel_owner(p.stem, panel_modules) is not None]
    assert any(p.stem == "train_images" for p in pages)
    bad = [p.name for p in pages if _CLASS.search(p.read_text(encoding="utf-8"))]
    assert not bad, f"page files declaring a Panel class: {bad}"
