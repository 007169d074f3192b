"""The tabs, in the order of the course: one module each, holding one `Panel` class.

Each panel class declares its `slug`, `title` and `topic`; they are read from the class
statement in the module's source without importing the module, so the window shows every tab
(and the start page every topic) before the tabs' modules and their libraries are loaded. Where
there is no source to read (a frozen build), the module is imported instead.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Panel

PANELS: list[str] = [
    "gui.panels.train",
    "gui.panels.landscape",
    "gui.panels.connectivity",
    "gui.panels.curvature",
    "gui.panels.saddles",
    "gui.panels.sharpness",
    "gui.panels.representations",
    "gui.panels.lottery",
    "gui.panels.double_descent",
    "gui.panels.implicit",
    "gui.panels.ntk",
    "gui.panels.paradigms",
]

DECLARED = ("slug", "title", "topic")
# The panel class statement and its body (indented or blank lines), then the body's own
# (four-space) assignments of the declared names.
_CLASS = re.compile(r"^class (\w+)\(Panel\):\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)
_FIELD = re.compile(r"^    (slug|title|topic)(?:: [^=\n]+)? = (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class PanelInfo:
    """What a panel class declares, and where it lives."""

    slug: str
    title: str
    topic: str
    module: str
    class_name: str


def _declared(module: str) -> PanelInfo:
    """The module's panel class and its declarations, read from the source when there is one."""
    spec = importlib.util.find_spec(module)
    source = spec.loader.get_source(module) if spec is not None and spec.loader is not None else None
    if source is None:
        cls = _panel_in(importlib.import_module(module))
        return PanelInfo(cls.slug, cls.title, cls.topic, module, cls.__name__)
    found = _CLASS.search(source)
    if found is None:
        raise LookupError(f"{module} has no class deriving from Panel")
    values: dict[str, object] = {}
    for name, text in _FIELD.findall(found.group(2)):
        values.setdefault(name, ast.literal_eval(text.strip()))
    missing = [k for k in DECLARED if not isinstance(values.get(k), str)]
    if missing:
        raise LookupError(f"{module}.{found.group(1)} does not declare {', '.join(missing)} as plain strings")
    return PanelInfo(values["slug"], values["title"], values["topic"], module, found.group(1))


def _panel_in(mod) -> type[Panel]:
    from .base import Panel

    classes = [c for c in vars(mod).values()
               if isinstance(c, type) and issubclass(c, Panel) and c is not Panel and c.__module__ == mod.__name__]
    if len(classes) != 1:
        raise LookupError(f"{mod.__name__} holds {len(classes)} panel classes, not one")
    return classes[0]


@cache
def panel_infos() -> tuple[PanelInfo, ...]:
    """Every tab's declaration, in tab order."""
    return tuple(_declared(m) for m in PANELS)


def _info(slug: str) -> PanelInfo:
    for info in panel_infos():
        if info.slug == slug:
            return info
    raise KeyError(slug)


def panel_class(slug: str) -> type[Panel]:
    """Imported when first needed, so the window opens before every tab's module is loaded."""
    info = _info(slug)
    return getattr(importlib.import_module(info.module), info.class_name)


def panel_classes() -> list[type[Panel]]:
    return [panel_class(slug) for slug in slugs()]


def panel_titles() -> dict[str, str]:
    return {info.slug: info.title for info in panel_infos()}


def panel_topics() -> dict[str, str]:
    """slug -> the course topic its tab belongs to (the start page groups presets by it)."""
    return {info.slug: info.topic for info in panel_infos()}


def topic_order() -> list[str]:
    """The topics in the order of the tabs (a topic's place is that of its first tab)."""
    return list(dict.fromkeys(info.topic for info in panel_infos()))


def slugs() -> list[str]:
    return [info.slug for info in panel_infos()]


def owner_of_job(name: str) -> str | None:
    """The tab a job computes for: the longest slug that is the job's name or starts it."""
    found = [s for s in slugs() if name == s or name.startswith(s + "-")]
    return max(found, key=len) if found else None
