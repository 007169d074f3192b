"""The tabs, in the order they appear. Each entry: (slug, module, class name)."""

from __future__ import annotations

import importlib

from .base import Panel

PANELS: list[tuple[str, str, str]] = [
    ("train", "gui.panels.train", "TrainPanel"),
    ("ntk", "gui.panels.ntk", "NTKPanel"),
]


def panel_classes() -> list[type[Panel]]:
    return [getattr(importlib.import_module(mod), cls) for _, mod, cls in PANELS]


def slugs() -> list[str]:
    return [slug for slug, _, _ in PANELS]
