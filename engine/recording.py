"""Recordings of live runs: settings, every streamed frame and the path θ_t, in one file.

The file is a zip holding `recording.json` (settings, frame metadata, the structure of each
frame's probe payloads), `arrays.npz` (every array, loaded with allow_pickle=False) and
`weights/<frame>.pt`, checkpoints of the run (state_dict, optimiser state and the trainer's
place in the data, read with torch.load(weights_only=True)) from which training can go on.
Probe payloads are encoded generically: arrays, numbers, strings, lists, dicts and dataclasses
of this package; nothing is pickled, and on loading only engine dataclasses are rebuilt by name.

A file from disk may be anything: before a byte is decompressed, every member's name and
declared size are checked (no absolute or parent paths, no unknown members, no more than
`MAX_BYTES` in all, no member that would inflate past its declared size), and object arrays are
refused. Each refusal says why.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import math
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import CHECKPOINT_PROBE, checkpoint_bytes, checkpoint_from_bytes
from .history import HistoryPoint
from .live import Frame
from .training import TrainEvent

FORMAT = "saddle-lab-recording"
VERSION = 2  # 2: checkpoints under weights/
MAX_BYTES = 4 << 30  # what a recording may unpack to, in all
MAX_JSON_BYTES = 256 << 20
WEIGHTS_DIR = "weights/"
EVENT_FIELDS = ("step", "epoch", "train_loss", "test_loss", "train_acc", "test_acc", "diverged",
                "evaluated", "batch_loss")


class RecordingError(ValueError):
    """A file that is not a readable recording; the message says why."""


# -- generic encoding of probe payloads ----------------------------------------------------
class ArrayStore(dict):
    """The arrays of a recording by key; an array met again (the same object) is stored once,
    so a tab's results repeated in every later state cost nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[int, tuple[str, np.ndarray]] = {}


def encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else {"__float__": str(v)}
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a tensor slipped into a payload
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("object arrays cannot be recorded")
        seen = getattr(arrays, "seen", None)
        if seen is not None and id(obj) in seen and seen[id(obj)][1] is obj:
            return {"__array__": seen[id(obj)][0]}
        key = f"a{len(arrays)}"
        arrays[key] = obj
        if seen is not None:
            seen[id(obj)] = (key, obj)  # holding obj keeps its id from being reused meanwhile
        return {"__array__": key}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(obj)}}
    if isinstance(obj, dict):
        return {"__dict__": [[str(k), encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [encode(v, arrays) for v in obj], "tuple": isinstance(obj, tuple)}
    raise TypeError(f"cannot record a {type(obj).__name__}")


def decode(obj: Any, arrays) -> Any:
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        key = obj["__array__"]
        if key not in arrays:
            raise RecordingError(f"the array {key} is missing")
        return arrays[key]
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__list__" in obj:
        if not isinstance(obj["__list__"], list):
            raise RecordingError("a list entry in the recording is malformed")
        items = [decode(v, arrays) for v in obj["__list__"]]
        return tuple(items) if obj.get("tuple") else items
    if "__dict__" in obj:
        pairs = obj["__dict__"]
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                                  for p in pairs):
            raise RecordingError("a dictionary entry in the recording is malformed")
        return {k: decode(v, arrays) for k, v in pairs}
    if "__dataclass__" in obj:
        if not isinstance(obj.get("fields"), dict) or not isinstance(obj["__dataclass__"], str):
            raise RecordingError("a record entry in the recording is malformed")
        values = {k: decode(v, arrays) for k, v in obj["fields"].items()}
        cls = _engine_dataclass(obj["__dataclass__"])
        if cls is None:
            return values
        try:
            return cls(**values)
        except TypeError:
            return values
    raise RecordingError("unknown entry in the recording")


def _engine_dataclass(name: str):
    """Only dataclasses of this package are rebuilt; anything else stays a plain dict."""
    module, _, qual = name.partition(":")
    if not module.startswith("engine.") or "." in qual:
        return None
    try:
        cls = getattr(importlib.import_module(module), qual)
    except (ImportError, AttributeError):
        return None
    return cls if dataclasses.is_dataclass(cls) else None


# -- writing -------------------------------------------------------------------------------
@dataclass
class Recording:
    settings: dict  # the experiment's settings (ExperimentConfig.to_dict())
    frames: list[Frame] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # seconds since the recording started
    meta: dict = field(default_factory=dict)
    checkpoints: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # frame index -> checkpoint
    # What the jobs of tabs with their own computations (lottery, double descent, …) delivered,
    # in order: (frame index, tab, job, kind, payload), kind "begin" (payload: the job's settings),
    # "items" (the events it yielded) or "end".
    tab_events: list[tuple[int, str, str, str, Any]] = field(default_factory=list)

    def checkpoint_at_or_before(self, index: int) -> tuple[int, dict[str, np.ndarray]] | None:
        """The newest checkpoint at frame `index` or earlier, with its frame index."""
        found = [i for i in self.checkpoints if i <= index]
        return (max(found), self.checkpoints[max(found)]) if found else None

    @property
    def duration(self) -> float:
        return self.times[-1] if self.times else 0.0

    def tab_runs_at(self, slug: str, index: int) -> tuple[int, dict[str, TabRun]]:
        """Each job of tab `slug` as it stood at frame `index`, and how many of the tab's events
        that took (a cheap way to tell whether anything changed)."""
        runs: dict[str, TabRun] = {}
        used = 0
        for i, s, job, kind, payload in self.tab_events:
            if s != slug or i > index:
                continue
            used += 1
            if kind == "begin":
                runs[job] = TabRun(settings=payload)
            elif job in runs and kind == "items":
                runs[job].items.extend(payload)
            elif job in runs and kind == "end":
                runs[job].ended = True
        return used, runs


@dataclass
class TabRun:
    """One job of a tab, replayed: the settings it began with, what it yielded, whether it ended."""

    settings: Any
    items: list = field(default_factory=list)
    ended: bool = False


class RecordingWriter:
    """Collects frames as they stream; θ is kept every frame for small models and about once a
    second for large ones, so a long CNN run stays a reasonable size."""

    def __init__(self, settings: dict, meta: dict | None = None, theta_every_s: float | None = None,
                 max_theta_floats: int = 200_000_000):
        self.recording = Recording(settings=dict(settings), meta=dict(meta or {}))
        self._t0 = time.perf_counter()
        self._theta_every_s = theta_every_s
        self._last_theta = -1e9
        self._theta_floats = 0
        self._max_theta_floats = max_theta_floats
        self.dropped_theta = 0

    def add(self, frame: Frame) -> None:
        now = time.perf_counter() - self._t0
        if CHECKPOINT_PROBE in frame.probes:  # kept beside the frames, as weights/<frame>.pt
            probes = dict(frame.probes)
            ckpt = probes.pop(CHECKPOINT_PROBE)
            frame = dataclasses.replace(frame, probes=probes)
            if isinstance(ckpt, dict):
                self.recording.checkpoints[len(self.recording.frames)] = ckpt
        theta = frame.theta
        if theta is not None:
            every = self._theta_every_s
            if every is None:
                every = 0.0 if theta.size <= 100_000 else 1.0
            if now - self._last_theta < every or self._theta_floats + theta.size > self._max_theta_floats:
                theta = None
                self.dropped_theta += 1
            else:
                self._last_theta = now
                self._theta_floats += theta.size
        self.recording.frames.append(dataclasses.replace(frame, theta=theta))
        self.recording.times.append(now)

    def save(self, path: str | os.PathLike) -> Path:
        return save_recording(self.recording, path)


def save_recording(rec: Recording, path: str | os.PathLike) -> Path:
    path = Path(path)
    arrays = ArrayStore()
    frames_meta = []
    event_cols: dict[str, list] = {k: [] for k in EVENT_FIELDS}
    for i, f in enumerate(rec.frames):
        start = len(event_cols["step"])
        for ev in f.events:
            for k in EVENT_FIELDS:
                event_cols[k].append(getattr(ev, k))
        entry = {"step": f.step, "epoch": f.epoch, "events": [start, len(event_cols["step"])],
                 "steps_per_second": f.steps_per_second, "diverged": f.diverged, "message": f.message,
                 "time": rec.times[i] if i < len(rec.times) else 0.0,
                 "probes": encode(f.probes, arrays)}
        if f.history:
            entry["history"] = encode(f.history, arrays)
        if f.theta is not None:
            key = f"theta{i}"
            arrays[key] = np.asarray(f.theta, dtype=np.float32)
            entry["theta"] = key
        frames_meta.append(entry)
    for k, v in event_cols.items():
        arrays[f"events_{k}"] = np.asarray(v, dtype=np.float64 if k not in ("diverged", "evaluated") else bool)
    doc = {"format": FORMAT, "version": VERSION, "settings": rec.settings, "meta": rec.meta,
           "frames": frames_meta,
           "tab_events": [[int(i), str(slug), str(job), str(kind), encode(payload, arrays)]
                          for i, slug, job, kind, payload in rec.tab_events]}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("recording.json", json.dumps(doc))
        z.writestr("arrays.npz", buf.getvalue(), compress_type=zipfile.ZIP_STORED)
        for i, ckpt in sorted(rec.checkpoints.items()):
            z.writestr(f"{WEIGHTS_DIR}{i:06d}.pt", checkpoint_bytes(ckpt))
    tmp.replace(path)
    return path


# -- reading -------------------------------------------------------------------------------
def load_recording(path: str | os.PathLike) -> Recording:
    """Read a whole recording, checking it as it goes; raises RecordingError with a reason."""
    path = Path(path)
    name = path.name
    try:
        with zipfile.ZipFile(path) as z:
            members = _checked_members(z, name)
            if "recording.json" not in members or "arrays.npz" not in members:
                raise RecordingError(f"{name} is not a Saddle Lab recording (it lacks recording.json/arrays.npz)")
            doc = json.loads(_read_member(z, members["recording.json"], name, MAX_JSON_BYTES).decode("utf-8"))
            npz_bytes = _read_member(z, members["arrays.npz"], name, MAX_BYTES)
            weights = {n: _read_member(z, info, name, MAX_BYTES) for n, info in members.items()
                       if n.startswith(WEIGHTS_DIR)}
    except zipfile.BadZipFile:
        raise RecordingError(f"{name} is not a Saddle Lab recording, or it is truncated (not a valid zip)") from None
    except (zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise RecordingError(f"{name} could not be read: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RecordingError(f"{name} is damaged: its recording.json is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RecordingError(f"{name} is not a Saddle Lab recording")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RecordingError(f"{name} is damaged: its format version {version!r} is not a positive whole number")
    if version > VERSION:
        raise RecordingError(f"{name} was written by a newer Saddle Lab (format {version})")
    arrays = _read_arrays(npz_bytes, name)
    checkpoints: dict[int, dict[str, np.ndarray]] = {}
    for member, data in weights.items():
        stem = member[len(WEIGHTS_DIR):].removesuffix(".pt")
        if not stem.isdigit():
            raise RecordingError(f"{name} is damaged: unexpected weights file {member}")
        try:
            checkpoints[int(stem)] = checkpoint_from_bytes(data)
        except ValueError as exc:
            raise RecordingError(f"{name} is damaged: {member}: {exc}") from None
    try:
        cols = {k: arrays[f"events_{k}"] for k in EVENT_FIELDS}
        frames, times = [], []
        for entry in doc["frames"]:
            a, b = entry["events"]
            events = [TrainEvent(step=int(cols["step"][j]), epoch=float(cols["epoch"][j]),
                                 train_loss=float(cols["train_loss"][j]), test_loss=float(cols["test_loss"][j]),
                                 train_acc=float(cols["train_acc"][j]), test_acc=float(cols["test_acc"][j]),
                                 diverged=bool(cols["diverged"][j]), evaluated=bool(cols["evaluated"][j]),
                                 batch_loss=float(cols["batch_loss"][j])) for j in range(a, b)]
            theta = arrays[entry["theta"]] if "theta" in entry else None
            if theta is not None and (theta.ndim != 1 or not np.issubdtype(theta.dtype, np.floating)):
                raise RecordingError(f"{name} is damaged: θ of frame {len(frames)} is not a vector of numbers")
            probes = decode(entry["probes"], arrays)
            if not isinstance(probes, dict):
                raise RecordingError(f"{name} is damaged: the plot data of frame {len(frames)} is not a table")
            history = decode(entry["history"], arrays) if "history" in entry else []
            if not isinstance(history, list):
                raise RecordingError(f"{name} is damaged: the history of frame {len(frames)} is not a list")
            frames.append(Frame(step=int(entry["step"]), epoch=float(entry["epoch"]), events=events,
                                theta=theta, probes=probes,
                                history=[p for p in history if isinstance(p, HistoryPoint)],
                                steps_per_second=float(entry.get("steps_per_second", 0.0)),
                                diverged=bool(entry.get("diverged", False)), message=str(entry.get("message", ""))))
            times.append(float(entry.get("time", 0.0)))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, RecordingError):
            if str(exc).startswith(name):
                raise
            raise RecordingError(f"{name} is damaged: {exc}") from None
        raise RecordingError(f"{name} is damaged: {exc.__class__.__name__} {exc}") from None
    if not frames:
        raise RecordingError(f"{name} holds no frames")
    if not isinstance(doc.get("settings"), dict):
        raise RecordingError(f"{name} is damaged: no settings")
    if any(i >= len(frames) for i in checkpoints):
        raise RecordingError(f"{name} is damaged: it holds weights for a frame it does not have")
    tab_events = []
    entries = doc.get("tab_events", [])
    if not isinstance(entries, list):
        raise RecordingError(f"{name} is damaged: its tab events are not a list")
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 5 and isinstance(entry[0], int)
                and all(isinstance(v, str) for v in entry[1:4]) and 0 <= entry[0] < len(frames)
                and entry[3] in ("begin", "items", "end")):
            raise RecordingError(f"{name} is damaged: a tab event is malformed")
        try:
            payload = decode(entry[4], arrays)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RecordingError):
                raise RecordingError(f"{name} is damaged: {exc}") from None
            raise RecordingError(f"{name} is damaged: a tab event cannot be read ({exc})") from None
        if entry[3] == "items" and not isinstance(payload, list):
            raise RecordingError(f"{name} is damaged: a tab's events are not a list")
        tab_events.append((entry[0], entry[1], entry[2], entry[3], payload))
    return Recording(settings=doc["settings"], frames=frames, times=times, meta=doc.get("meta", {}),
                     checkpoints=checkpoints, tab_events=tab_events)


def _checked_members(z: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    """The zip's members by name, refused before anything is decompressed if a name could
    escape a folder or is not one a recording holds, or the declared sizes are too large."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in z.infolist():
        n = info.filename
        parts = n.replace("\\", "/").split("/")
        if n.startswith(("/", "\\")) or ".." in parts or ":" in n or "\0" in n or "\\" in n:
            raise RecordingError(f"{name} is refused: it holds a file named {n!r}, a path that could "
                                 f"escape its folder")
        known = n in ("recording.json", "arrays.npz") or (
            n.startswith(WEIGHTS_DIR) and n.endswith(".pt") and n.count("/") == 1)
        if not known:
            raise RecordingError(f"{name} is refused: it holds {n!r}, which no Saddle Lab recording has")
        if n in members:
            raise RecordingError(f"{name} is refused: it holds {n!r} twice")
        total += info.file_size
        if total > MAX_BYTES:
            raise RecordingError(f"{name} is refused: it would unpack to more than {MAX_BYTES >> 30} GiB "
                                 f"(a zip bomb, or not a recording)")
        members[n] = info
    return members


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limit: int) -> bytes:
    """A member's bytes, never more than it declares (or `limit`): a lying header is refused."""
    cap = min(limit, info.file_size)
    if info.file_size > limit:
        raise RecordingError(f"{name} is refused: {info.filename} would unpack to {info.file_size:,} bytes")
    chunks, read = [], 0
    with z.open(info) as f:
        while True:
            chunk = f.read(min(1 << 20, cap + 1 - read))
            if not chunk:
                break
            read += len(chunk)
            if read > cap:
                raise RecordingError(f"{name} is refused: {info.filename} inflates past its declared size")
            chunks.append(chunk)
    return b"".join(chunks)


def _read_arrays(npz_bytes: bytes, name: str) -> dict[str, np.ndarray]:
    """Every array of arrays.npz; object arrays (which would need unpickling) are refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(npz_bytes)) as inner:
            total = 0
            for info in inner.infolist():
                total += info.file_size
                if total > MAX_BYTES:
                    raise RecordingError(f"{name} is refused: its arrays would unpack to more than "
                                         f"{MAX_BYTES >> 30} GiB")
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise RecordingError(f"{name} is refused: it holds an object array, which could run code "
                                 f"when read") from None
        raise RecordingError(f"{name} is damaged: its arrays cannot be read ({exc})") from None
    except MemoryError:
        raise RecordingError(f"{name} is refused: an array in it is larger than memory") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise RecordingError(f"{name} is damaged: its arrays cannot be read ({exc})") from None
