"""The tabs, in the order they appear. Each entry: (slug, module, class name)."""

from __future__ import annotations

import importlib

from .base import Panel

PANELS: list[tuple[str, str, str]] = [
    ("train", "gui.panels.train", "TrainPanel"),
    ("landscape", "gui.panels.landscape", "LandscapePanel"),
    ("connectivity", "gui.panels.connectivity", "ConnectivityPanel"),
    ("curvature", "gui.panels.curvature", "CurvaturePanel"),
    ("saddles", "gui.panels.saddles", "SaddlesPanel"),
    ("sharpness", "gui.panels.sharpness", "SharpnessPanel"),
    ("representations", "gui.panels.representations", "RepresentationsPanel"),
    ("lottery", "gui.panels.lottery", "LotteryPanel"),
    ("double-descent", "gui.panels.double_descent", "DoubleDescentPanel"),
    ("implicit", "gui.panels.implicit", "ImplicitPanel"),
    ("ntk", "gui.panels.ntk", "NTKPanel"),
    ("paradigms", "gui.panels.paradigms", "ParadigmsPanel"),
]


def panel_classes() -> list[type[Panel]]:
    return [getattr(importlib.import_module(mod), cls) for _, mod, cls in PANELS]


def slugs() -> list[str]:
    return [slug for slug, _, _ in PANELS]
