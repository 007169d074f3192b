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


# -- files that are not what they claim ---------------------------------------------------
def _zip_with(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _parts(good):
    with zipfile.ZipFile(good) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_a_recording_from_a_newer_version_is_refused(tmp_path):
    good = _good(tmp_path / "good.sdlrec")
    bad = tmp_path / "newer.sdlrec"
    _rewrite(good, bad, lambda d: d.update(version=99))
    with pytest.raises(RecordingError, match="newer Saddle Lab"):
        load_recording(bad)


def test_a_truncated_recording_is_refused(tmp_path):
    good = _good(tmp_path / "good.sdlrec")
    data = good.read_bytes()
    bad = tmp_path / "cut.sdlrec"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordingError, match="truncated"):
        load_recording(bad)


@pytest.mark.parametrize("name", ["../evil.json", "/etc/passwd", "weights/../../x.pt", "C:\\evil.pt",
                                  "weights\\..\\x.pt"])
def test_path_traversal_names_are_refused(tmp_path, name):
    parts = _parts(_good(tmp_path / "good.sdlrec"))
    bad = _zip_with(tmp_path / "traversal.sdlrec", {**parts, name: b"x"})
    with pytest.raises(RecordingError, match="escape its folder|no Saddle Lab recording has"):
        load_recording(bad)


def test_a_foreign_member_is_refused(tmp_path):
    parts = _parts(_good(tmp_path / "good.sdlrec"))
    bad = _zip_with(tmp_path / "foreign.sdlrec", {**parts, "payload.exe": b"MZ"})
    with pytest.raises(RecordingError, match="no Saddle Lab recording has"):
        load_recording(bad)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    import engine.recording as recording

    parts = _parts(_good(tmp_path / "good.sdlrec"))
    bomb = tmp_path / "bomb.sdlrec"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)
        z.writestr("weights/000000.pt", bytes(64 << 20))  # 64 MiB of zeros in a few kB
    assert bomb.stat().st_size < 1 << 20
    monkeypatch.setattr(recording, "MAX_BYTES", 16 << 20)
    with pytest.raises(RecordingError, match="zip bomb|would unpack"):
        load_recording(bomb)


def test_a_member_that_inflates_past_its_declared_size_is_refused(tmp_path):
    parts = _parts(_good(tmp_path / "good.sdlrec"))
    bad = _zip_with(tmp_path / "liar.sdlrec", parts)
    data = bytearray(bad.read_bytes())
    # Lower recording.json's declared size in the central directory (the local header keeps
    # its own): the member now inflates past what it declares.
    at = data.find(b"PK\x01\x02")
    while data[at + 46: at + 46 + int.from_bytes(data[at + 28: at + 30], "little")] != b"recording.json":
        at = data.find(b"PK\x01\x02", at + 4)
        assert at > 0
    assert int.from_bytes(data[at + 24: at + 28], "little") > 10
    data[at + 24: at + 28] = (10).to_bytes(4, "little")
    bad.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="inflates past its declared size|truncated|damaged"):
        load_recording(bad)


def test_object_arrays_are_refused(tmp_path):
    import io

    parts = _parts(_good(tmp_path / "good.sdlrec"))
    with np.load(io.BytesIO(parts["arrays.npz"]), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["a0"] = np.array([{"x": 1}, None], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    bad = _zip_with(tmp_path / "objects.sdlrec", {**parts, "arrays.npz": buf.getvalue()})
    with pytest.raises(RecordingError, match="object array"):
        load_recording(bad)


def test_weights_that_are_not_a_table_of_arrays_are_refused(tmp_path):
    import io

    import torch

    parts = _parts(_good(tmp_path / "good.sdlrec"))
    buf = io.BytesIO()
    torch.save({"trainer.step_count": "a string"}, buf)
    bad = _zip_with(tmp_path / "weights.sdlrec", {**parts, "weights/000000.pt": buf.getvalue()})
    with pytest.raises(RecordingError, match="weights"):
        load_recording(bad)


# -- checkpoints: the recorded run goes on exactly ----------------------------------------
def test_a_checkpoint_continues_the_run_exactly(tmp_path):
    from dataclasses import replace

    from engine.checkpoint import checkpoint_bytes, checkpoint_from_bytes, restore_checkpoint, take_checkpoint
    from engine.experiment import Experiment, ExperimentConfig

    for optimizer in ("sgd", "adam"):
        config = replace(ExperimentConfig(), batch_size=32, momentum=0.9, optimizer=optimizer, lr=0.05)
        a = Experiment(config)
        for _ in range(7):
            a.step()
        ckpt = checkpoint_from_bytes(checkpoint_bytes(take_checkpoint(a)))
        for _ in range(9):
            a.step()
        b = Experiment(config)
        b.step()  # a different state first: all of it is replaced
        restore_checkpoint(b, ckpt)
        assert b.step_count == 7
        for _ in range(9):
            b.step()
        assert b.step_count == a.step_count
        np.testing.assert_array_equal(a.theta().numpy(), b.theta().numpy())
