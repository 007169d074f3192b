"""The run's history: recorded from step 0 whichever tab is open, within its time budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.experiment import Experiment, ExperimentConfig
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


def exact_hessian(exp: Experiment) -> torch.Tensor:
    # The reference: reverse-over-reverse, vectorised over the identity's columns.
    return torch.autograd.functional.hessian(exp.loss_fn(), exp.theta().detach(), vectorize=True)


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
    # The rate: the first, cold measurement of a run (a long Lanczos run from random vectors) is
    # paid once per run.
    steady = rec.probe_seconds - sum(p.seconds for p in points if p.step == 0)
    assert steady <= 0.25 * rec.train_seconds, (steady, rec.train_seconds, rec.strides())


def test_curvature_tracker_matches_exact_eigenvalues_along_the_edge_of_stability_run():
    exp = Experiment(EOS)
    tracker = CurvatureTracker()
    rows = []
    for step in range(0, 201):
        if step % 200 == 0:  # step 0 (cold start) and 200 (warm, after the rise)
            v = tracker(exp)
            ev = torch.linalg.eigvalsh(exact_hessian(exp).double())
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


# -- the tabs read the history ------------------------------------------------------------------
def _train_on_the_train_tab(window, qtbot, config: ExperimentConfig, steps: int) -> None:
    from conftest import wait_idle

    lab = window.lab
    lab.apply_config(config)
    wait_idle(qtbot, lab)
    window.show_panel("train")
    wait_idle(qtbot, lab)  # showing a tab refreshes its picture first; Play waits for that
    lab.play(max_steps=steps)
    qtbot.waitUntil(lambda: lab.experiment.step_count == steps, timeout=120000)
    wait_idle(qtbot, lab)


def test_curvature_and_representations_opened_late_show_the_whole_run(window, qtbot):
    """Curvature and Representations never open while the edge-of-stability run trains; opened
    afterwards, both draw it from step 0, the rise of λmax included, and the spectrum's
    symmetric-log axis gives the negative eigenvalues room."""
    from conftest import wait_idle

    lab = window.lab
    # The recorder's time budget is tested on its own (above, and in benchmarks/history.py); here a
    # wider one keeps the points of this short run from depending on how loaded the machine is.
    lab.history_recorder.budget = 0.25
    _train_on_the_train_tab(window, qtbot, EOS, 400)
    assert "curvature" not in window._built or not window.panel("curvature").active

    panel = window.show_panel("curvature")
    steps, lmax = panel.lmax_history.getData()
    _, trace = panel.trace_history.getData()
    assert steps[0] == 0 and len(steps) >= 3 and steps[-1] >= 200
    assert lmax[-1] > 1.8 * lmax[0]  # from about 1.8 towards 2/η = 4
    assert trace[-1] > trace[0]
    assert np.allclose(lmax, lab.run_history.series("curvature")[1]["lambda_max"])

    qtbot.waitUntil(lambda: panel.snapshot is not None, timeout=60000)
    snap = panel.snapshot
    assert snap.negative_fraction > 0.01 and panel.lambda_axis.scale_c is not None
    x_neg, _ = panel.hist_neg.getData()
    x_pos, _ = panel.hist_pos.getData()
    # The negative bins span a visible part of the axis (on a linear λ axis: under 3%).
    width = x_pos.max() - x_neg.min()
    assert (x_neg.max() - x_neg.min()) > 0.2 * width
    linear = (0 - snap.lambda_min) / (snap.lambda_max - snap.lambda_min)
    assert linear < 0.05
    labels = panel.lambda_axis.tickStrings([x_neg.min() / 2, 0.0, x_pos.max() / 2], 1.0, 1.0)
    assert labels[0].startswith("−") and labels[1] == "0" and not labels[2].startswith("−")

    reps = window.show_panel("representations")
    reps.show_view("collapse")
    qtbot.waitUntil(lambda: reps._geometry is not None, timeout=30000)
    steps, nc1 = reps.collapse_series()
    layer = reps._layer_names.index("fc2")
    assert steps[0] == 0 and len(steps) >= 4
    assert nc1[-1, layer] < nc1[0, layer]  # the last hidden layer's classes drew together
    x, _ = reps.nc_curves[layer].getData()
    assert x[0] == 0 and len(x) == np.isfinite(nc1[:, layer]).sum()

    lab.reset()  # a new run: its history starts empty, in the Lab and on the tabs
    wait_idle(qtbot, lab)
    assert len(lab.run_history) == 0 and len(lab.path) == 1
    assert len(panel.lmax_history.getData()[0] or []) == 0 and len(reps.collapse_series()[0]) <= 1
    qtbot.waitUntil(lambda: not lab.running_jobs(), timeout=60000)  # the tabs' own jobs, before teardown


def test_landscape_opens_on_the_plane_of_the_path(window, qtbot):
    panel = window.show_panel("landscape")
    # Before any training there is no path: a random plane stands in, and the caption says so.
    qtbot.waitUntil(lambda: panel._grid is not None and not panel.busy, timeout=30000)
    assert panel._plane.axes == "filter" and "No training path yet" in panel.caption.text()
    _train_on_the_train_tab(window, qtbot, ExperimentConfig(), 300)
    panel = window.show_panel("landscape")
    qtbot.waitUntil(lambda: panel._plane is not None and panel._plane.axes == "pca" and not panel.busy
                    and panel._projection is not None and panel._grid is not None, timeout=30000)
    pca_share = panel._projection.explained
    assert panel._projection.steps[0] == 0  # the path from step 0, recorded while the tab was closed
    assert f"{100 * pca_share:.1f} % of its squared displacement" in panel.caption.text()
    panel.apply_options({"axes": "filter"})
    qtbot.waitUntil(lambda: panel._plane is not None and panel._plane.axes == "filter" and not panel.busy
                    and panel._grid is not None, timeout=30000)
    random_share = panel._projection.explained
    assert pca_share > 0.9 and random_share < 0.5 * pca_share, (pca_share, random_share)
    qtbot.waitUntil(lambda: not window.lab.running_jobs(), timeout=60000)
