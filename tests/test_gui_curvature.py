"""The Curvature, Saddles and Sharpness tabs in the real window."""

import json

import numpy as np
import pytest
from conftest import wait_idle
from PySide6 import QtCore

from engine.data import Dataset, toy_dataset
from engine.experiment import DATASET_BUILDERS, DATASET_LABELS, ExperimentConfig


def test_live_spectrum_follows_training(window, qtbot):
    lab = window.lab
    panel = window.show_panel("curvature")
    qtbot.waitUntil(lambda: panel.snapshots_drawn >= 1, timeout=30000)  # the spectrum of θ₀
    assert panel.snapshot.method == "exact" and panel.snapshot.step == 0
    assert len(panel.snapshot.eigenvalues) == lab.experiment.n_params
    # Until three spectra have come: how many steps that takes depends on the machine (the
    # first spectrum can share the CPU with tabs being built while the window settles).
    lab.play()
    qtbot.waitUntil(lambda: len(panel.series["step"]) >= 3, timeout=60000)
    lab.pause()
    wait_idle(qtbot, lab)
    qtbot.waitUntil(lambda: not panel._busy(), timeout=30000)
    steps = panel.series["step"]
    assert steps == sorted(steps) and steps[-1] > 0
    x, y = panel.hist_pos.getData()
    assert x is not None and len(x) == len(y) + 1 and np.all(np.isfinite(y))  # a step histogram
    lx, ly = panel.lmax_curve.getData()
    assert len(lx) == len(steps) and np.allclose(ly, panel.series["lambda_max"])
    text = panel.stats.text()
    assert "‖Hv − λv‖" in text and "negative eigenvalues" in text and "%" in text
    assert panel.snapshot.residual_max < 1e-3 * abs(panel.snapshot.lambda_max)
    assert panel.threshold_line.value() == pytest.approx(2 / lab.experiment.config.lr)
    # The λ legend has a row of its own, off the curves; the spectra's dots wear their curves'
    # colours (not pyqtgraph's one navy for every symbol).
    from gui.plots import manager

    legend, box = panel.lambda_plot.legend, panel.lambda_plot.vb.sceneBoundingRect()
    assert legend.isVisible() and not legend.sceneBoundingRect().intersects(box)
    for dots, key in ((panel.lmax_curve, 0), (panel.lmin_curve, "error"), (panel.trace_curve, 2)):
        assert dots.opts["pen"] is None or dots.opts["pen"].style() == QtCore.Qt.PenStyle.NoPen
        assert dots.opts["symbolBrush"].color() == manager().color(key)
    # The log/linear toggle changes the axis, not the data.
    panel.log_scale.setChecked(False)
    assert not panel.spectrum_plot.ctrl.logYCheck.isChecked()
    panel.log_scale.setChecked(True)


def test_gui_stays_responsive_while_spectra_stream(window, qtbot):
    """Training and a few spectra a second run in workers: the GUI thread keeps ticking."""
    import time

    lab = window.lab
    panel = window.show_panel("curvature")
    qtbot.waitUntil(lambda: panel.snapshots_drawn >= 1, timeout=30000)
    ticks: list[float] = []
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    drawn = panel.snapshots_drawn
    lab.play()
    qtbot.wait(3000)
    lab.pause()
    timer.stop()
    wait_idle(qtbot, lab)
    gaps = np.diff(ticks)
    assert panel.snapshots_drawn - drawn >= 3  # spectra kept coming ...
    assert panel.snapshots_drawn - drawn <= 3 * 4 + 1  # ... at most a few a second
    assert gaps.max() < 1.0, gaps.max()  # and the window never froze


def test_spectrum_stops_while_the_tab_is_hidden(window, qtbot):
    lab = window.lab
    panel = window.show_panel("curvature")
    qtbot.waitUntil(lambda: panel.snapshots_drawn >= 1, timeout=30000)
    window.show_panel("train")
    drawn = panel.snapshots_drawn
    lab.play(max_steps=150)
    wait_idle(qtbot, lab)
    qtbot.wait(200)
    assert panel.snapshots_drawn == drawn and not panel._busy()


def test_momentum_moves_the_stability_line(window, qtbot):
    panel = window.show_panel("curvature")
    window.bar.momentum.setValue(0.5)
    qtbot.waitUntil(lambda: window.lab.experiment.config.momentum == 0.5, timeout=5000)
    window.lab.refresh()
    wait_idle(qtbot, window.lab)
    assert panel.threshold_line.value() == pytest.approx(3.0 / window.lab.experiment.config.lr)
    assert "(2+2β)/η" in panel.threshold_line.label.format


@pytest.fixture
def image_dataset():
    """Digits as 1×8×8 images, so the shared experiment builds the CNN (as MRI images will)."""

    def build(cfg: ExperimentConfig) -> Dataset:
        ds = toy_dataset("digits", n=400, seed=cfg.data_seed)
        return Dataset("digit images", ds.X_train.reshape(-1, 1, 8, 8), ds.y_train, ds.X_test.reshape(-1, 1, 8, 8),
                       ds.y_test, 10, (1, 8, 8), ds.class_names, image_shape=(8, 8))

    DATASET_BUILDERS["digit-images"] = build
    DATASET_LABELS["digit-images"] = "Digit images"
    yield "digit-images"
    DATASET_BUILDERS.pop("digit-images", None)
    DATASET_LABELS.pop("digit-images", None)


def test_cnn_spectrum_by_slq_with_progress_and_cancel(window, qtbot, image_dataset):
    from dataclasses import replace

    lab = window.lab
    panel = window.show_panel("curvature")
    panel.live.setChecked(False)
    panel.settings = replace(panel.settings, image_samples=32, image_probes=2, image_lanczos_steps=10)
    lab.apply_config(replace(lab.experiment.config, dataset=image_dataset, n=400))
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.dataset.name == "digit images", timeout=30000)
    assert lab.experiment.n_params > 100_000  # the CNN
    assert "SLQ" in panel.info.text() and "32 fixed training samples" in panel.info.text()
    panel.refresh_now()
    qtbot.waitUntil(lambda: panel.snapshot is not None or panel.banner.isVisible(), timeout=60000)
    assert not panel.banner.isVisible(), panel.banner.text()
    snap = panel.snapshot
    assert snap.method == "slq" and snap.n_samples == 32 and snap.eigenvalues is None
    assert len(panel.dens_pos.getData()[0]) > 10 and panel.hist_pos.getData()[0] is None or \
        len(panel.hist_pos.getData()[0] or []) == 0
    assert "SLQ" in panel.stats.text() and "≈" in panel.stats.text()
    # A longer computation shows its progress and stops on Cancel.
    panel.settings = replace(panel.settings, image_lanczos_steps=400)
    panel.refresh_now()
    qtbot.waitUntil(lambda: panel.task.isVisible(), timeout=30000)
    assert panel.status.currentWidget() is panel.task and "Lanczos" in panel.task.label.text()
    job = panel.jobs.job("spectrum")
    qtbot.mouseClick(panel.task.cancel, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    assert not panel.task.isVisible() and not panel.live.isChecked()
    assert panel.snapshot is snap  # the cancelled computation drew nothing


def test_saddles_click_inspects_and_descent_escapes(window, qtbot):
    panel = window.show_panel("saddles")
    qtbot.waitUntil(lambda: len(panel.critical) == 1, timeout=30000)  # x² − y²: one saddle
    assert panel.critical[0].kind == "saddle"
    panel.inspect(1.0, 0.5)
    qtbot.waitUntil(lambda: "Hessian eigenvalues" in panel.point_text.text(), timeout=10000)
    assert "−2" in panel.point_text.text() and panel.start == (1.0, 0.5)
    panel.start_near_saddle()
    qtbot.waitUntil(lambda: abs(panel.start[1]) < 1e-2 and panel.start[0] > 0.5, timeout=10000)
    panel.animate = False
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.run is not None, timeout=10000)
    gd, mom = panel.escapes
    assert gd is not None and mom is not None and mom < gd
    assert "along the unstable axis" in panel.run_text.text()
    x, _ = panel.path_gd.getData()
    assert len(x) > 10
    panel.surface_box.setCurrentIndex(panel.surface_box.findData("himmelblau"))
    qtbot.waitUntil(lambda: len(panel.critical) == 9, timeout=30000)
    kinds = [c.kind for c in panel.critical]
    assert kinds.count("minimum") == 4 and kinds.count("saddle") == 4 and kinds.count("maximum") == 1


def test_saddles_network_search_can_be_cancelled(window, qtbot):
    panel = window.show_panel("saddles")
    panel.find_network_points()
    qtbot.waitUntil(lambda: panel.task.isVisible(), timeout=10000)
    job = panel.jobs.job("network")
    qtbot.mouseClick(panel.task.cancel, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    assert panel.network_button.isEnabled() and "cancelled" in panel.network_text.text()


def test_sharpness_bad_input_gets_a_message(window, qtbot):
    panel = window.show_panel("sharpness")
    for text, words in (("16, zero", "whole numbers"), ("", "at least one"), ("-4", "at least 1")):
        panel.batches.setText(text)
        panel.run_button.click()
        assert panel.error.isVisible() and words in panel.error.text()
        assert panel.jobs.job("sweep") is None
    panel.batches.setText("16, full")
    panel.lr.setText("-0.1")
    panel.run_button.click()
    assert "η must be a positive number" in panel.error.text()


def test_headless_curvature_writes_spectrum_and_lambda_plots(tmp_path):
    from gui.headless import run_headless

    files = run_headless(tmp_path, tab="curvature", steps=60, quick=True)
    names = {f.name for f in files}
    assert {"curvature-spectrum.png", "curvature-lambda.png", "curvature.json", "curvature.npz"} <= names
    data = json.loads((tmp_path / "curvature.json").read_text())
    assert data["series"]["step"][0] == 0 and data["series"]["step"][-1] == 60 and len(data["series"]["step"]) >= 4
    arrays = np.load(tmp_path / "curvature.npz", allow_pickle=False)
    assert len(arrays["eigenvalues"]) == data["n_params"]
    assert data["last"]["residual_max"] < 1e-3 * abs(data["last"]["lambda_max"])
    assert np.isclose(arrays["eigenvalues"].max(), data["last"]["lambda_max"])


def test_sharpness_seed_spread_draws_every_seed_and_states_the_verdict(window, qtbot):
    from dataclasses import replace

    from engine.claims import verdict
    from engine.claims.sharpness import SHARP_VS_FLAT

    panel = window.show_panel("sharpness")
    panel.apply_options({"batch_sizes": [64, 0], "target_loss": 1.5, "hidden": [8], "measure": "keskar",
                         "rho": 0.001, "seeds": 2})
    assert panel.options()["seeds"] == 2 and panel.options()["measure"] == "keskar"
    # A small measurement at each minimum keeps the test short; the spread is what is tested.
    panel.config = replace(panel.config, trace_probes=2, lanczos_iters=20, sharpness_steps=5, slice_points=5)
    panel.run_button.click()
    qtbot.waitUntil(lambda: len(panel.spread) == 2 and not panel.jobs.running("sweep"), timeout=300000)
    results = panel.spread_results()
    assert [s for s, _, _ in results] == [panel.config.seed, panel.config.seed + 1]
    assert panel.note.text().startswith(verdict(SHARP_VS_FLAT, results))
    assert "mean ± s.d. over 2 seeds" in panel.note.text()
    xs, ys = panel.seed_dots[0].getData()
    assert len(xs) == 4 and sorted(ys) == sorted(n[k] for _, n, _ in results for k in ("lambda_small", "lambda_large"))
    _, mean = panel.lambda_curve.getData()
    assert mean[-1] == pytest.approx(np.mean([n["lambda_large"] for _, n, _ in results]))
    assert "Keskar" in panel.sharp_plot._lab_title and len(panel.data()["spread"]) == 2
