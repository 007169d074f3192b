"""The run's history: recorded from step 0 whichever tab is open, within its time budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.experiment import Experiment, ExperimentConfig
from engine.hessian import full_hessian
from engine.history import (
    CurvatureTracker,
    HistoryProbe,
    HistoryRecorder,
    RunHistory,
    default_probes,
    nice_stride,
)
from engine.live import live_training
from engine.recording import RecordingWriter, load_recording, save_recording

EOS = ExperimentConfig(noise=0.3, lr=0.5, batch_size=0, device="cpu")  # the edge-of-stability preset


def test_strides_are_round_numbers():
    assert [nice_stride(k) for k in (0.3, 1, 1.5, 2.5, 4, 7, 11, 260, 4100)] == [1, 1, 2, 3, 5, 10, 20, 300, 5000]


class _Run:
    """Just what the recorder reads of an experiment."""

    step_count = 0
    diverged = False


def test_stride_keeps_a_probe_within_its_share_of_training_time():
    now = [0.0]
    step_s = 0.002

    def slow(_exp):  # costs 20 training steps (the first call 100: one-off costs)
        now[0] += (100 if not points else 20) * step_s
        return {"x": 1.0}

    rec = HistoryRecorder({"slow": HistoryProbe(slow, share=1.0)}, budget=0.1, clock=lambda: now[0])
    run, points = _Run(), []
    points += rec.measure(run)
    for _ in range(3000):
        run.step_count += 1
        now[0] += step_s
        points += rec.measure(run, step_s)
    steps = [p.step for p in points]
    # Step 0, a second look soon (the first was slow), then every 200 steps: 20 steps of work at 10%.
    assert steps[:2] == [0, 20] and rec.strides()["slow"] == 200
    assert all(s % 200 == 0 for s in steps[2:]) and steps[-1] == 3000
    assert rec.probe_seconds <= 0.1 * rec.train_seconds + 0.3  # on budget, after the slow start (0.24 s)


def test_recording_the_default_history_costs_little_training_time():
    """The real analyses on the default experiment: their measured time against the training
    steps' (the benchmark compares steps per second; here, loosely, under test load)."""
    exp = Experiment(ExperimentConfig(device="cpu"))
    rec = HistoryRecorder(default_probes())
    points = [p for f in live_training(exp, None, max_steps=2000, history=rec) for p in f.history]
    assert {p.name for p in points if p.step == 0} == {"curvature", "nc1"}
    assert rec.probe_seconds <= 0.25 * rec.train_seconds, (rec.probe_seconds, rec.train_seconds, rec.strides())


def test_curvature_tracker_matches_exact_eigenvalues_along_the_edge_of_stability_run():
    exp = Experiment(EOS)
    tracker = CurvatureTracker()
    rows = []
    for step in range(0, 201):
        if step % 100 == 0:
            v = tracker(exp)
            ev = torch.linalg.eigvalsh(full_hessian(exp.loss_fn(), exp.theta().detach()).double())
            rows.append((v["lambda_max"], float(ev[-1]), v["trace"], float(ev.sum()), v["lambda_min"], float(ev[0])))
        exp.step()
    rows = np.array(rows)
    np.testing.assert_allclose(rows[:, 0], rows[:, 1], rtol=1e-3)  # λmax: warm-started Lanczos
    np.testing.assert_allclose(rows[:, 2], rows[:, 3], rtol=0.1)  # tr H: deflated Hutchinson
    assert (rows[:, 4] >= rows[:, 5] - 1e-6).all()  # a Ritz value never lies below λmin
    assert rows[-1, 0] > 2 * rows[0, 0]  # the rise of λmax towards 2/η = 4


def test_run_history_thins_evenly_and_restarts_when_steps_go_back():
    from engine.history import HistoryPoint

    h = RunHistory(max_points=10)
    for s in range(0, 200, 5):
        h.add(HistoryPoint("a", s, {"v": float(s)}))
    steps, vals = h.series("a")
    assert steps[0] == 0 and steps[-1] == 195 and len(steps) <= 10
    assert np.array_equal(vals["v"], steps.astype(float))
    h.add(HistoryPoint("a", 3, {"v": 3.0}))
    assert list(h.series("a")[0]) == [3]


def test_history_rides_in_recordings(tmp_path):
    exp = Experiment(ExperimentConfig(device="cpu"))
    rec = HistoryRecorder(default_probes())
    writer = RecordingWriter(exp.config.to_dict())
    for frame in live_training(exp, None, max_steps=30, history=rec, frame_interval=0.0):
        writer.add(frame)
    original = [p for f in writer.recording.frames for p in f.history]
    assert original and original[0].step == 0
    loaded = load_recording(save_recording(writer.recording, tmp_path / "run.zip"))
    again = [p for f in loaded.frames for p in f.history]
    assert [(p.name, p.step) for p in again] == [(p.name, p.step) for p in original]
    assert again[0].values == pytest.approx(original[0].values)
