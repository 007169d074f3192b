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
    return [panel_class(slug) for slug in slugs()]


def panel_class(slug: str) -> type[Panel]:
    """Imported when first needed, so the window opens before every tab's module is loaded."""
    for s, mod, cls in PANELS:
        if s == slug:
            return getattr(importlib.import_module(mod), cls)
    raise KeyError(slug)


def panel_titles() -> dict[str, str]:
    """Tab titles without importing the tabs (checked against the classes by a test)."""
    return dict(TITLES)


TITLES = [("train", "Train"), ("landscape", "Landscape"), ("connectivity", "Connectivity"),
          ("curvature", "Curvature"), ("saddles", "Saddles"), ("sharpness", "Sharpness"),
          ("representations", "Representations"), ("lottery", "Lottery tickets"),
          ("double-descent", "Double descent"), ("implicit", "Implicit regularisation"), ("ntk", "NTK & kernels")]


def slugs() -> list[str]:
    return [slug for slug, _, _ in PANELS]
