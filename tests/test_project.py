"""The project's promises about itself: README commands, CI, packaging."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", quick, re.S)]


def test_readme_has_exactly_two_quick_start_commands():
    cmds = _readme_commands()
    assert len(cmds) == 2 and all("\n" not in c for c in cmds)
    assert "saddle-lab" in cmds[0] and "pytest" in cmds[1] and "[test]" in cmds[1]


def test_ci_installs_cpu_torch_then_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    torch_line = next(i for i, line in enumerate(ci) if "torch==2.13.0" in line)
    test_line = ci.index(_readme_commands()[1])
    assert torch_line < test_line


def test_pyproject_declares_what_the_app_needs():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = " ".join(meta["dependencies"]).lower()
    for name in ("pyside6", "pyqtgraph", "torch", "numpy", "scipy", "scikit-learn", "superqt"):
        assert name in deps
    assert meta["requires-python"] == ">=3.11"
    assert meta["gui-scripts"]["saddle-lab"] == "gui.cli:entry_point"
    assert {"pytest", "pytest-qt"} <= {re.split(r"[<>=]", d)[0] for d in meta["optional-dependencies"]["test"]}


def test_tab_titles_listed_without_imports_match_the_panels():
    import importlib

    from gui.panels import PANELS, _panel_in, panel_classes, panel_infos

    declared = [(i.slug, i.title, i.topic) for i in panel_infos()]
    assert [(c.slug, c.title, c.topic) for c in panel_classes()] == declared
    assert all(all(d) for d in declared), "every tab declares a slug, a title and a topic"
    # Without the source (a frozen build) the module's one panel class is found by importing it.
    assert [_panel_in(importlib.import_module(m)) for m in PANELS] == panel_classes()
