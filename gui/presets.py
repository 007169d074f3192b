"""Presets: named, reproducible set-ups for each claim of the lessons (resources/presets/*.json).

A preset file:

    {"name": "edge-of-stability",          # no spaces; the file is <name>.json
     "title": "Edge of stability",
     "claim": "one sentence: what the picture shows",
     "claim_id": "edge-of-stability",      # or: the claim record (engine/claims) whose text is
                                           # shown and which tests/test_claims.py checks
     "headline": "last.lambda_max",        # the number the claim is about, as a dotted path
                                           # into the tab's data() (list items by index)
     "deadline_s": 20,                     # seconds after Show by which the tab shows its data
                                           # and headline number (tests/test_preset_flow.py)
     "tab": "curvature",                   # the tab that shows it; its topic groups the
                                           # presets on the start page and in the menu
     "experiment": {...},                  # ExperimentConfig fields (dataset, lr, …)
     "panel": {...},                       # options of that tab (its apply_options)
     "steps": 400,                         # training steps of the shared experiment
     "quick_steps": 60,                    # the same, for the test that runs every preset
     "quick_panel": {...}}                 # panel options overridden in that quick run
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.claims import get_claim
from engine.experiment import ExperimentConfig

from .panels import panel_topics
from .resources import resource_path

REQUIRED = ("name", "title", "tab")


@dataclass
class Preset:
    name: str
    title: str
    claim: str
    tab: str
    experiment: dict = field(default_factory=dict)
    panel: dict = field(default_factory=dict)
    steps: int = 300
    quick_steps: int = 60
    quick_panel: dict = field(default_factory=dict)
    claim_id: str | None = None
    headline: str | None = None  # where the tab's data() holds the number the claim is about
    deadline_s: float = 30.0
    path: Path | None = None

    @property
    def topic(self) -> str:
        """The course topic of the preset's tab."""
        return panel_topics()[self.tab]

    def config(self) -> ExperimentConfig:
        return ExperimentConfig.from_dict(self.experiment)

    def options(self, quick: bool = False) -> dict:
        return {**self.panel, **(self.quick_panel if quick else {})}


def parse_preset(text: str, source: str = "preset") -> Preset:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{source}: a preset is a JSON object")
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise ValueError(f"{source}: missing {', '.join(missing)}")
    if "topic" in d:
        raise ValueError(f"{source}: no topic here: a preset is listed under the topic of its tab")
    known = set(Preset.__dataclass_fields__) - {"path"}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"{source}: unknown keys {', '.join(sorted(unknown))}")
    if "claim_id" in d:
        if "claim" in d:
            raise ValueError(f"{source}: give either claim or claim_id (whose record holds the text), not both")
        try:
            d = {**d, "claim": get_claim(d["claim_id"]).text}
        except KeyError as exc:
            raise ValueError(f"{source}: {exc.args[0]}") from None
    elif "claim" not in d:
        raise ValueError(f"{source}: missing claim (or claim_id)")
    if not isinstance(d.get("deadline_s", 30.0), int | float) or d.get("deadline_s", 30.0) <= 0:
        raise ValueError(f"{source}: deadline_s is a positive number of seconds")
    if d["tab"] not in panel_topics():
        raise ValueError(f"{source}: no tab {d['tab']!r}; the tabs are {', '.join(panel_topics())}")
    if " " in d["name"]:
        raise ValueError(f"{source}: a preset name has no spaces ({d['name']!r})")
    preset = Preset(**d)
    preset.config()  # validates the experiment settings' names
    return preset


def load_presets(folder: Path | None = None) -> dict[str, Preset]:
    folder = folder or resource_path("presets")
    out: dict[str, Preset] = {}
    for path in sorted(folder.glob("*.json")):
        p = parse_preset(path.read_text(encoding="utf-8"), path.name)
        if p.name != path.stem:
            raise ValueError(f"{path.name}: its name is {p.name!r}; the file must be {p.name}.json")
        p.path = path
        out[p.name] = p
    return out


def find_preset(name: str) -> Preset:
    presets = load_presets()
    if name not in presets:
        raise KeyError(f"no preset {name!r}; see --list-presets")
    return presets[name]
