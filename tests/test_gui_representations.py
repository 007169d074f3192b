"""The Representations tab in the real window: live scatter, probes at the end of training, export."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import wait_idle
from PySide6 import QtCore

from engine.data import Dataset, toy_dataset
from engine.experiment import DATASET_BUILDERS, ExperimentConfig


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks: one intra-op thread is as fast, and on a busy machine far faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _open(window, qtbot):
    panel = window.show_panel("representations")
    wait_idle(qtbot, window.lab)
    qtbot.waitUntil(lambda: panel._geometry is not None, timeout=20000)
    return panel


def _record(panel):
    """Keep every geometry frame the panel draws (its step and every layer's points)."""
    seen = []
    panel.geometry_shown.connect(lambda g: seen.append((g.step, {k: v.copy() for k, v in g.projections.items()})))
    return seen


def test_live_scatter_moves_smoothly_while_training_and_probes_follow(window, qtbot):
    lab = window.lab
    panel = _open(window, qtbot)
    seen = _record(panel)
    assert panel.selected_layer() == "fc2"  # the last hidden layer is shown first
    lab.play(max_steps=20000)
    # Updated while it trains: several distinct steps arrive before training is paused.
    qtbot.waitUntil(lambda: len({s for s, _ in seen if s > 0}) >= 3, timeout=60000)
    lab.pause()
    wait_idle(qtbot, lab)
    final = lab.experiment.step_count
    assert final < 20000
    qtbot.waitUntil(lambda: seen and seen[-1][0] == final, timeout=20000)

    # The big scatter holds the selected layer's points, all finite.
    x, y = panel.scatter.points()
    assert panel.scatter.count() == 400 and len(x) == 400 and np.isfinite(x).all() and np.isfinite(y).all()
    np.testing.assert_allclose(x, seen[-1][1]["fc2"][:, 0], rtol=1e-6)
    # Consecutive frames never flip an axis: each axis correlates positively with its predecessor.
    for (_, a), (_, b) in zip(seen, seen[1:]):
        for layer in ("fc1", "fc2"):
            for k in range(2):
                assert np.corrcoef(a[layer][:, k], b[layer][:, k])[0, 1] > 0, layer
    # The strip shows every layer.
    assert [n for n in panel._layer_names] == ["input", "fc1", "fc2", "out"]
    assert all(s.count() == 400 for _, s, _ in panel.strip_plots)

    # Probes were fitted when training stopped, one bar per layer.
    qtbot.waitUntil(lambda: panel._probe_step == final and not panel.jobs.running("probes"), timeout=30000)
    assert [r.layer for r in panel._probe_results] == ["input", "fc1", "fc2", "out"]
    assert len(panel.probe_test_bars.opts["height"]) == 4
    assert f"fitted at step {final:,}" in panel.probe_status.text() or f"fitted at step {final}" in \
        panel.probe_status.text()

    # The other views are drawn when opened, and hold data.
    panel.show_view("dimension")
    assert len(panel.id_twonn.getData()[0]) == 4 and len(panel.id_pca.getData()[0]) == 4
    panel.show_view("collapse")
    assert len(panel.nc_curves) == 4 and len(panel.nc_curves[-1].getData()[0]) >= 3
    panel.show_view("cka")
    assert panel.cka_map.image.image.shape == (4, 4)
    panel.show_view("probes")

    # Picking a layer, from the list or by clicking its small scatter.
    panel.layer_combo.setCurrentIndex(1)
    np.testing.assert_allclose(panel.scatter.points()[0], panel._geometry.projections["fc1"][:, 0], rtol=1e-6)
    plot = panel.strip_plots[0][0]
    pos = panel.strip_view.mapFromScene(plot.sceneBoundingRect().center())
    qtbot.mouseClick(panel.strip_view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: panel.selected_layer() == "input", timeout=3000)


def test_reset_points_and_divergence(window, qtbot):
    lab, bar = window.lab, window.bar
    panel = _open(window, qtbot)
    lab.play(max_steps=40)
    qtbot.waitUntil(lambda: lab.state == "idle" and panel._geometry.step == 40, timeout=30000)
    qtbot.waitUntil(lambda: not panel.jobs.running("probes") and panel._probe_step == 40, timeout=30000)
    # Fit probes on demand, then cancel: the tab stays usable and says how far it got.
    qtbot.mouseClick(panel.fit_button, QtCore.Qt.MouseButton.LeftButton)
    assert not panel.fit_button.isEnabled() and panel.probe_cancel.isVisible()
    qtbot.mouseClick(panel.probe_cancel, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.jobs.running("probes") and panel.fit_button.isEnabled(), timeout=30000)
    assert not panel.probe_cancel.isVisible() and "fitted at step 40" in panel.probe_status.text()
    panel.points_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: panel._geometry is not None and len(panel._geometry.labels) == 200, timeout=20000)
    assert panel.scatter.count() == 200 and panel._nc_steps == [40]
    lab.reset()
    qtbot.waitUntil(lambda: lab.state == "idle" and panel._geometry is not None and panel._geometry.step == 0,
                    timeout=20000)
    assert panel._probe_results == [] and len(panel.probe_test_bars.opts["height"]) == 0
    assert panel._nc_steps == [0]
    assert np.allclose(panel._geometry.cka_to_start, 1.0)  # back at θ₀

    bar.lr.setText("1000")
    bar.lr.editingFinished.emit()
    lab.play()
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.diverged, timeout=20000)
    assert panel.banner.isVisible() and "diverged" in panel.banner.text()
    assert panel.scatter.count() == 200 and np.isfinite(panel.scatter.points()[0]).all()  # the last picture stays


def test_the_strip_of_small_scatters_follows_the_networks_depth(window, qtbot):
    """Deeper, then shallower: one small scatter per layer, titled by it, each with its points;
    the ones already there are kept (making a plot is the slow part)."""
    lab = window.lab
    panel = _open(window, qtbot)
    first = [p for p, _, _ in panel.strip_plots]
    for hidden, names in (((8, 8, 8), ["input", "fc1", "fc2", "fc3", "out"]), ((8,), ["input", "fc1", "out"])):
        lab.apply_config(replace(lab.experiment.config, hidden=hidden))
        wait_idle(qtbot, lab)
        qtbot.waitUntil(lambda n=names: panel._geometry is not None and panel._geometry.names == n, timeout=20000)
        strip = panel.strip_plots
        assert len(strip) == len(names)
        assert [p.titleLabel.text.split(" · ")[0] for p, _, _ in strip] == names
        assert all(s.count() == len(panel._geometry.labels) for _, s, _ in strip)
        assert [p for p, _, _ in strip[:3]] == first[:3]
        shown = [p for p in panel.strip_view.ci.items if p.isVisible()]
        assert len(shown) == len(names)


def test_bad_options_are_refused_with_a_reason(window):
    panel = window.panel("representations")
    for options, words in (({"view": "nope"}, "view must be one of"), ({"points": 7}, "points must be one of"),
                           ({"variance": 2}, "variance must be"), ({"colour": 1}, "no options")):
        with pytest.raises(ValueError, match=words):
            panel.apply_options(options)


def test_headless_tab_writes_every_figure_and_the_numbers(tmp_path):
    from gui.headless import run_headless

    cfg = replace(ExperimentConfig(), dataset="spirals", hidden=(32, 32), optimizer="adam", lr=0.01)
    files = run_headless(tmp_path, tab="representations", steps=120, quick=True, config=cfg)
    names = {f.name for f in files}
    for fig in ("scatter", "layers", "probes", "dimension", "collapse", "cka"):
        path = tmp_path / f"representations-{fig}.png"
        assert path.name in names and path.stat().st_size > 8_000, fig
    data = json.loads((tmp_path / "representations.json").read_text())
    assert [lay["name"] for lay in data["layers"]] == ["input", "fc1", "fc2", "out"]
    assert data["step"] == 120 and data["probes"]["step"] == 120 and len(data["probes"]["test_acc"]) == 4
    assert len(data["nc1_history"]["steps"]) >= 6 and data["nc1_history"]["steps"][-1] == 120
    assert np.allclose(np.diag(data["cka"]), 1.0)
    assert set(data["twonn_dimension"]) == set(data["pca_dimension"]) == {"input", "fc1", "fc2", "out"}
    with np.load(tmp_path / "representations.npz", allow_pickle=False) as arrays:
        assert arrays["projection_fc2"].shape == (200, 2) and arrays["labels"].shape == (200,)


def test_a_cnn_on_image_data_gets_conv_blocks_and_the_256_wide_layer(tmp_path, monkeypatch):
    """The tab knows nothing of MLPs: digits as 8×8 images through the small CNN."""
    from gui.headless import run_headless

    def digit_images(config):
        ds = toy_dataset("digits", n=config.n, noise=0.0, seed=config.data_seed)
        return Dataset("digit-images", ds.X_train.reshape(-1, 1, 8, 8), ds.y_train, ds.X_test.reshape(-1, 1, 8, 8),
                       ds.y_test, 10, (1, 8, 8), ds.class_names, image_shape=(8, 8))

    monkeypatch.setitem(DATASET_BUILDERS, "digit-images", digit_images)
    torch.manual_seed(0)
    cfg = replace(ExperimentConfig(), dataset="digit-images", n=500, optimizer="adam", lr=0.003)
    run_headless(tmp_path, tab="representations", steps=40, quick=True, config=cfg,
                 options={"layer": "fc2", "view": "cka"})
    data = json.loads((tmp_path / "representations.json").read_text())
    layers = {lay["name"]: lay["dim"] for lay in data["layers"]}
    assert list(layers) == ["input", "conv1", "conv2", "conv3", "fc1", "fc2", "out"]
    assert layers["fc2"] == 256 and layers["input"] == 64
    assert data["selected_layer"] == "fc2"
    assert len(data["cka"]) == 7 and len(data["probes"]["test_acc"]) == 7
    with pytest.raises(ValueError, match="no layer 'fc9'"):
        run_headless(tmp_path / "bad", tab="representations", steps=5, quick=True, config=cfg,
                     options={"layer": "fc9"})


def test_probes_over_two_seeds_draw_a_band_and_the_claims_verdict(window, qtbot):
    from test_gui_spread import _check_caption

    from engine.claims import representations as rep_claims
    from engine.claims import verdict
    from engine.representations import SeedProbes, probes_over_seeds

    lab = window.lab
    panel = _open(window, qtbot)
    page = panel.probes_page
    config = ExperimentConfig.from_dict({**rep_claims.SPIRALS, "n": 300, "hidden": [16, 16]})
    lab.apply_config(config)
    wait_idle(qtbot, lab)
    lab.play(max_steps=120)
    qtbot.waitUntil(lambda: lab.state == "idle" and panel._probe_step == 120 and not panel.jobs.running("probes"),
                    timeout=30000)
    page.probe_seeds.setValue(2)
    qtbot.waitUntil(lambda: page.seed_probes_done() and not panel.jobs.running("probe-seeds"), timeout=30000)
    runs = page.probes_by_seed()
    assert [s for s, _ in runs] == [0, 1] and runs[0][1] == panel._probe_results
    # Seed 0 retrained by the seeds' own code lands on the run's probes: "the same settings".
    again = [i for i in probes_over_seeds(lab.experiment.config, lab.experiment.dataset, [0], 120, *page.inputs)
             if isinstance(i, SeedProbes)][0]
    assert np.allclose([r.test_acc for r in again.results], [r.test_acc for r in runs[0][1]], atol=0.02)
    # The band's dots sit on the test bars, one per layer and seed, at the measured accuracies.
    acc = np.array([[r.test_acc for r in results] for _, results in runs])
    assert not np.array_equal(acc[0], acc[1])
    x, y = page.probe_band.points.data["x"], page.probe_band.points.data["y"]
    assert np.allclose(x, np.tile(np.arange(acc.shape[1]) + 0.19, 2)) and np.allclose(y, acc.ravel())
    assert page.probe_band.fill.isVisible()
    # The caption is the claim record's verdict on the two seeds' numbers.
    results = [(s, rep_claims.probe_numbers(r), rep_claims.PROBES.holds(rep_claims.probe_numbers(r)))
               for s, r in runs]
    data = panel.data()["probe_claim"]
    _check_caption(rep_claims.PROBES, data, page.probe_verdict.text(), 2)
    assert data["verdict"] == verdict(rep_claims.PROBES, results)
    print("probe numbers per seed:", [(s, n) for s, n, _ in results])
    window.resize(1400, 900)
    qtbot.wait(50)
    page.grab().save("/tmp/seeds_probes.png")
    page.probe_seeds.setValue(1)
    assert not page.probe_verdict.isVisible() and len(page.probe_band.points.data) == 0
