"""The tabs, in the order they appear. Each entry: (slug, module, class name, tab title).

The title is listed here too so that the window can show every tab before importing its module
(a test checks it against the class).
"""

from __future__ import annotations

import importlib

from .base import Panel

PANELS: list[tuple[str, str, str, str]] = [
    ("train", "gui.panels.train", "TrainPanel", "Train"),
    ("landscape", "gui.panels.landscape", "LandscapePanel", "Landscape"),
    ("connectivity", "gui.panels.connectivity", "ConnectivityPanel", "Connectivity"),
    ("curvature", "gui.panels.curvature", "CurvaturePanel", "Curvature"),
    ("saddles", "gui.panels.saddles", "SaddlesPanel", "Saddles"),
    ("sharpness", "gui.panels.sharpness", "SharpnessPanel", "Sharpness"),
    ("representations", "gui.panels.representations", "RepresentationsPanel", "Representations"),
    ("lottery", "gui.panels.lottery", "LotteryPanel", "Lottery tickets"),
    ("double-descent", "gui.panels.double_descent", "DoubleDescentPanel", "Double descent"),
    ("implicit", "gui.panels.implicit", "ImplicitPanel", "Implicit regularisation"),
    ("ntk", "gui.panels.ntk", "NTKPanel", "NTK & kernels"),
    ("paradigms", "gui.panels.paradigms", "ParadigmsPanel", "Paradigms"),
]


def panel_class(slug: str) -> type[Panel]:
    """Imported when first needed, so the window opens before every tab's module is loaded."""
    for s, mod, cls, _ in PANELS:
        if s == slug:
            return getattr(importlib.import_module(mod), cls)
    raise KeyError(slug)


def panel_classes() -> list[type[Panel]]:
    return [panel_class(slug) for slug in slugs()]


def panel_titles() -> dict[str, str]:
    return {slug: title for slug, _, _, title in PANELS}


def slugs() -> list[str]:
    return [slug for slug, _, _, _ in PANELS]


def owner_of_job(name: str) -> str | None:
    """The tab a job computes for: the longest slug that is the job's name or starts it."""
    found = [s for s in slugs() if name == s or name.startswith(s + "-")]
    return max(found, key=len) if found else None
