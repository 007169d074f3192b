"""What every tab is: a Panel subscribes to the Lab, draws, and can render itself headless."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PySide6 import QtWidgets

from engine.live import Frame, Probe

from ..lab import Lab
from ..reveal import reveal_now
from ..worker import slicing


def _merged(held: Frame | None, frames: list[Frame]) -> Frame:
    """One frame standing for `held` and then `frames`: the newest frame, with every history
    point recorded since the first, the newest finite weights and the newest value of each probe,
    so a tab drawn from it later draws what it would have drawn from them all. Step events are
    the newest frame's only: the Lab keeps every one, and a tab hidden through a long run would
    otherwise hold a list of them all."""
    seq = ([held] if held is not None else []) + list(frames)
    newest = seq[-1]
    theta = next((f.theta for f in reversed(seq) if f.theta is not None and not f.diverged), newest.theta)
    probes: dict[str, Any] = {}
    for f in seq:
        probes.update(f.probes)
    return replace(newest, theta=theta, probes=probes, history=[p for f in seq for p in f.history])


@dataclass
class HeadlessContext:
    """What `--headless` hands a panel: train inline, then write figures and data into `out`."""

    lab: Lab
    out: Path
    steps: int = 300
    quick: bool = False  # tests: smallest settings that still show the picture
    options: dict = field(default_factory=dict)  # the preset's panel options, if any
    written: list[Path] = field(default_factory=list)


class Panel(QtWidgets.QWidget):
    """Base class of a tab.

    Subclasses set `slug` (used by --tab and file names), `title` (the tab text) and `topic`
    (the course topic its presets are listed under), as plain strings: gui/panels/__init__.py
    reads them without importing the module. They build their widgets in `__init__`. Panels
    that follow the shared experiment override `on_frames` and `on_reset`; panels with their own
    computations run them through a `gui.jobs.PanelJobs`.
    """

    slug: ClassVar[str] = ""
    title: ClassVar[str] = ""
    topic: ClassVar[str] = ""
    uses_experiment: ClassVar[bool] = True
    # The options the tab was built with (set by the window once the tab exists): a preset
    # applies its own over these, and a session saves only what differs from them.
    default_options: dict[str, Any] = {}

    def __init__(self, lab: Lab, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.lab = lab
        self.active = False
        # Built in slices (the event loop runs between them), a tab hears nothing from the Lab
        # until it is whole; the window then catches it up (`catch_up`).
        self.constructed = not slicing()
        self._missed_announcement = False
        # Frames that arrived while another tab was shown, merged into one (see `_hold`): a
        # hidden tab does not draw 30 times a second; it catches up when it is shown again.
        self._held: Frame | None = None
        if self.uses_experiment:
            lab.frames.connect(self._frames)
            lab.weights_reset.connect(self._weights_reset)
            lab.rebuilt.connect(self._rebuilt)

    # -- live -------------------------------------------------------------------------------
    def probes(self) -> dict[str, Probe]:
        """Probes this panel needs computed in the training thread while it is visible."""
        return {}

    def set_active(self, active: bool) -> None:
        self.active = active
        self.lab.set_probes(self.slug, self.probes() if active else {})
        if active and self._held is not None:
            held, self._held = self._held, None
            self._frames([held])
        if active and self.uses_experiment and not self.lab.running:
            self.lab.refresh()

    def _weights_reset(self) -> None:
        self._held = None  # frames of the old run
        if self.constructed:
            self.on_reset()
        else:
            self._missed_announcement = True

    def _rebuilt(self) -> None:
        self._held = None
        if self.constructed:
            self.on_rebuilt()
        else:
            self._missed_announcement = True

    def catch_up(self) -> None:
        """Once built: draw what happened before this tab existed (or while it was built)."""
        self.constructed = True
        if self.uses_experiment and (self.lab.last_frame is not None or self._missed_announcement):
            self.on_rebuilt()
            self.on_reset()
            if self.lab.last_frame is not None:
                self.on_frames([self.lab.last_frame])
        self._missed_announcement = False

    def _frames(self, frames: list[Frame]) -> None:
        if not self.constructed:
            return
        if not self.active and not self.lab.sync:
            self._held = _merged(self._held, frames)
            return
        if not self.lab.replaying:
            self.on_frames(frames)
            return
        # A recording comes from disk and may hold anything: a frame this tab cannot draw is
        # reported and skipped instead of breaking the replay.
        try:
            self.on_frames(frames)
        except Exception as exc:  # noqa: BLE001 - any damage in the file
            traceback.print_exc()
            self.lab.message.emit(f"The {self.title} tab cannot draw this part of the recording "
                                  f"(damaged data: {exc.__class__.__name__}); the other tabs go on", 10000)

    def on_frames(self, frames: list[Frame]) -> None:
        """GUI thread, at most ~30 times a second; draw the newest frame (cheap: setData only)."""

    def on_reset(self) -> None:
        """The weights went back to θ₀: clear what belongs to the old run."""

    def on_rebuilt(self) -> None:
        """A new dataset or network."""

    def shutdown(self) -> None:
        """Stop this panel's own jobs (the Lab waits for them when the window closes)."""

    # -- presets and sessions ---------------------------------------------------------------
    def apply_options(self, options: dict[str, Any]) -> None:
        """Set this panel's controls from a preset's "panel" options."""
        if options:
            raise ValueError(f"the {self.title} tab has no options {sorted(options)}")

    def options(self) -> dict[str, Any]:
        """The panel's current options, in the form apply_options takes (saved with a session)."""
        return {}

    def run_preset(self, preset) -> None:
        """Start what the preset shows, after its settings were applied. Default: train the
        shared experiment for the preset's number of steps."""
        if self.uses_experiment:
            self.lab.play(max_steps=preset.steps)

    # -- recordings of a tab's own computations ---------------------------------------------
    # A tab with its own jobs keeps a gui.run_log.RunLog here (begin/add/end as its jobs run),
    # so recordings hold what it showed; it then draws a replay in `replay_runs`.
    run_log = None

    def replay_runs(self, runs: dict) -> None:
        """Draw, without computing, what this tab's jobs had delivered at a point of a recording:
        job name -> engine.recording.TabRun (settings, items, ended). No entry: the job had not
        run yet (show the empty tab)."""

    # -- export -----------------------------------------------------------------------------
    def figures(self) -> dict[str, QtWidgets.QWidget]:
        """Named widgets to save as pictures (whole plot areas)."""
        return {self.slug: self}

    def data(self) -> dict[str, Any]:
        """The numbers behind the figures: JSON-able values or numpy arrays."""
        return {}

    def headless(self, ctx: HeadlessContext) -> None:
        """Compute what the figures show, inline. Default: train the shared experiment."""
        if self.uses_experiment:
            self.set_active(True)
            ctx.lab.train_sync(ctx.steps)


def page_attribute(page: str, name: str) -> property:
    """A read-only attribute of a tab that lives on one of its pages (`getattr(tab, page).name`):
    tabs split into page files keep the names the lesson, presets and tests reach them by."""
    return property(lambda self: getattr(getattr(self, page), name), doc=f"{page}.{name}")


def write_outputs(panel: Panel, out: Path) -> list[Path]:
    """Save a panel's figures as PNG and its data as JSON (+ .npz for arrays)."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    QtWidgets.QApplication.processEvents()
    reveal_now()
    for name, widget in panel.figures().items():
        path = out / f"{name}.png"
        pix = widget.grab()
        if pix.isNull() or not pix.save(str(path)):
            raise RuntimeError(f"could not write {path}")
        written.append(path)
    data = panel.data()
    if data:
        arrays = {k: v for k, v in data.items() if isinstance(v, np.ndarray)}
        plain = {k: v for k, v in data.items() if not isinstance(v, np.ndarray)}
        if plain:
            path = out / f"{panel.slug}.json"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(plain, indent=1, default=_jsonable))
            tmp.replace(path)
            written.append(path)
        if arrays:
            path = out / f"{panel.slug}.npz"
            tmp = out / f"{panel.slug}.tmp.npz"
            np.savez_compressed(tmp, **arrays)
            tmp.replace(path)
            written.append(path)
    return written


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (set, tuple)):
        return list(v)
    if hasattr(v, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(v)
    return str(v)
