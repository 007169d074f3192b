"""Recordings come from disk: every kind of damage gives a reason and never a traceback."""

import json
import zipfile

import numpy as np
import pytest

from engine.live import Frame
from engine.recording import RecordingError, RecordingWriter, load_recording
from engine.training import TrainEvent


def _good(path):
    event = TrainEvent(step=1, epoch=0.1, train_loss=0.5, test_loss=0.6, train_acc=0.8, test_acc=0.7,
                       diverged=False, evaluated=True, batch_loss=0.5)
    w = RecordingWriter({"dataset": "moons"})
    w.add(Frame(step=1, epoch=0.1, events=[event], theta=np.arange(5, dtype=np.float32),
                probes={"curve": {"x": np.linspace(0, 1, 4), "event": event, "pair": (1, 2)}}))
    return w.save(path)


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as z:
        doc = json.loads(z.read("recording.json"))
        arrays = z.read("arrays.npz")
    change(doc)
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("recording.json", json.dumps(doc))
        z.writestr("arrays.npz", arrays)


def _probe(doc):
    return doc["frames"][0]["probes"]["__dict__"][0][1]["__dict__"]


def _set_fields_to_list(doc):
    for k, v in _probe(doc):
        if k == "event":
            v["fields"] = [1, 2, 3]


DAMAGE = {
    "version-text": lambda d: d.update(version="x"),
    "version-missing": lambda d: d.pop("version"),
    "frames-not-a-list": lambda d: d.update(frames=7),
    "frame-not-a-table": lambda d: d.update(frames=["frame"]),
    "probes-a-string": lambda d: d["frames"][0].update(probes="hello"),
    "dataclass-fields-a-list": _set_fields_to_list,
    "dict-pairs-malformed": lambda d: d["frames"][0]["probes"].update({"__dict__": [[1, 2, 3]]}),
    "list-not-a-list": lambda d: _probe(d)[2].__setitem__(1, {"__list__": 5}),
    "unknown-array": lambda d: _probe(d)[0].__setitem__(1, {"__array__": "nowhere"}),
    "theta-missing": lambda d: d["frames"][0].update(theta="nowhere"),
    "events-out-of-range": lambda d: d["frames"][0].update(events=[0, 99]),
}


def test_a_good_recording_round_trips(tmp_path):
    rec = load_recording(_good(tmp_path / "good.sdlrec"))
    probe = rec.frames[0].probes["curve"]
    assert isinstance(probe["event"], TrainEvent) and probe["event"].train_acc == 0.8
    assert probe["pair"] == (1, 2)
    np.testing.assert_array_equal(rec.frames[0].theta, np.arange(5, dtype=np.float32))


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_recordings_are_refused_with_a_reason(tmp_path, kind):
    good = _good(tmp_path / "good.sdlrec")
    bad = tmp_path / f"{kind}.sdlrec"
    _rewrite(good, bad, DAMAGE[kind])
    with pytest.raises(RecordingError) as info:
        load_recording(bad)
    assert str(info.value).startswith(bad.name) and len(str(info.value)) > len(bad.name) + 12
