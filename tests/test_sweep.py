"""Sweeps over Ray: a surface merged from tiles equals the single-process one, a task whose worker
dies is submitted again, seeds stream back, and results round-trip through .npz + JSON.

One local Ray cluster (2 CPUs) serves the whole module; the Ray tests skip where Ray is absent.
"""

import functools
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import sweep
from engine.experiment import ExperimentConfig


@pytest.fixture(scope="module")
def problem():
    return sweep.prepare_surface(ExperimentConfig(hidden=(8, 8)), steps=20, resolution=15, span=1.0, seed=3)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    # The test's own tile functions travel by value: workers cannot import a test module.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    sweep.connect(num_cpus=2, object_store_mb=100)
    yield ray
    ray.shutdown()


def crash_once(marker, problem, i0, i1, j0, j1, device):
    """A tile that kills its own worker process the first time tile (0, 0) runs."""
    marker = Path(marker)
    if i0 == 0 and j0 == 0 and not marker.exists():
        marker.write_text("crashed once")
        os._exit(1)
    return sweep.surface_tile(problem, i0, i1, j0, j1, device)


def test_tiles_cover_the_grid_once():
    parts = sweep.tiles(15, 11, 4)
    seen = np.zeros((15, 11), int)
    for i0, i1, j0, j1 in parts:
        seen[i0:i1, j0:j1] += 1
    assert (seen == 1).all() and len(parts) == 4 * 3


def test_serial_sweep_equals_one_call_and_streams_tiles(problem):
    ref = sweep.single_process_surface(problem)
    events = list(sweep.surface_sweep(problem, tile=4, backend="serial"))
    tiles = [e for e in events if isinstance(e, sweep.TileDone)]
    assert len(tiles) == 16
    # The picture fills in: NaN shrinks tile by tile.
    missing = [int(np.isnan(t.grid).sum()) for t in tiles]
    assert missing == sorted(missing, reverse=True) and missing[-1] == 0
    np.testing.assert_allclose(events[-1].result.Z, ref, rtol=1e-5, atol=1e-7)


def test_ray_sweep_on_two_workers_equals_single_process(problem, ray_cluster):
    ref = sweep.single_process_surface(problem)
    events = list(sweep.surface_sweep(problem, tile=5, workers=2))
    assert isinstance(events[0], sweep.SweepStarted) and events[0].workers == 2
    assert sum(isinstance(e, sweep.TileDone) for e in events) == 9
    np.testing.assert_allclose(events[-1].result.Z, ref, rtol=1e-5, atol=1e-7)


def test_a_tile_whose_worker_dies_is_submitted_again(problem, ray_cluster, tmp_path):
    marker = tmp_path / "crashed"
    ref = sweep.single_process_surface(problem)
    # Ray's own retries off, so the resubmission here is what recovers the tile.
    events = list(sweep.surface_sweep(problem, tile=5, workers=2, max_retries=0,
                                       tile_fn=functools.partial(crash_once, str(marker))))
    retried = [e for e in events if isinstance(e, sweep.TaskRetried)]
    assert marker.exists() and len(retried) == 1 and retried[0].key == 0
    assert "Worker" in retried[0].reason or "worker" in retried[0].reason
    assert events[-1].retried == 1
    np.testing.assert_allclose(events[-1].result.Z, ref, rtol=1e-5, atol=1e-7)


def test_a_task_that_fails_by_itself_stops_the_sweep_with_its_message(problem, ray_cluster):
    def bad_tile(problem, i0, i1, j0, j1, device):
        raise ValueError("this tile is wrong")

    with pytest.raises(sweep.SweepError, match="this tile is wrong"):
        list(sweep.surface_sweep(problem, tile=8, workers=2, tile_fn=bad_tile))


def test_seed_sweep_on_ray_matches_serial(ray_cluster):
    settings = {"n_train": 20, "feature_counts": [5, 10, 20, 40, 80], "draws": 1, "n_test": 200}
    ray_events = list(sweep.seed_sweep("double-descent", [4, 5, 6], settings, workers=2))
    serial = list(sweep.seed_sweep("double-descent", [4, 5, 6], settings, backend="serial"))
    assert sum(isinstance(e, sweep.SeedDone) for e in ray_events) == 3
    a, b = ray_events[-1].result, serial[-1].result
    assert a.numbers["test_error"].shape == (3, 5)
    np.testing.assert_allclose(a.numbers["test_error"], b.numbers["test_error"], rtol=1e-6)
    # Seeds differ: the spread over seeds is not zero.
    assert float(a.mean_sd("test_error")[1].max()) > 0


def test_surface_round_trips_through_npz_and_json(problem, tmp_path):
    result = list(sweep.surface_sweep(problem, tile=8, backend="serial"))[-1].result
    npz, meta = sweep.save_surface(tmp_path / "surface", result)
    back = sweep.load_surface(npz)
    np.testing.assert_array_equal(back.Z, result.Z)
    assert back.info["resolution"] == 15 and back.info["plane"]
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="could not be read"):
        sweep.load_surface(tmp_path / "bad.npz")


def test_without_ray_the_sweep_says_how_to_install_it(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kw):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    from gui.cli import main

    code = main(["sweep", "double-descent", "--seeds", "1", "2", "--out", "unused-out"])
    err = capsys.readouterr().err
    assert code == 2 and 'pip install -e ".[cluster]"' in err and "Traceback" not in err


def test_a_saved_surface_reads_back_ready_to_draw(problem, tmp_path):
    from engine.landscape import roughness
    from engine.sweep import saved_surface

    result = list(sweep.surface_sweep(problem, tile=8, backend="serial"))[-1].result
    npz, _ = sweep.save_surface(tmp_path / "surface", result)
    opened = saved_surface(npz, log_scale=False)
    np.testing.assert_array_equal(opened.grid.Z, result.Z)
    assert opened.grid.final and opened.roughness == roughness(result.Z)
    assert not opened.contours.log_scale and len(opened.contours.segments) > 0
    with pytest.raises(ValueError, match="no such file"):
        saved_surface(tmp_path / "missing.npz")


def test_landscape_tab_opens_a_saved_surface(window, qtbot, problem, tmp_path):
    result = list(sweep.surface_sweep(problem, tile=8, backend="serial"))[-1].result
    npz, _ = sweep.save_surface(tmp_path / "surface", result)
    panel = window.show_panel("landscape")
    panel.open_surface(str(npz))
    qtbot.waitUntil(lambda: panel.data().get("opened_surface") == "surface.npz", timeout=10_000)
    data = panel.data()
    np.testing.assert_array_equal(data["loss"], result.Z)
    assert not panel.live.isChecked()
    assert len(panel.contours.getData()[0]) > 0  # contour lines drawn
    assert "Opened surface.npz: 15×15 points" in panel.caption.text()
    if os.environ.get("SADDLE_SWEEP_SCREENSHOT"):
        window.grab().save(os.environ["SADDLE_SWEEP_SCREENSHOT"])
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    panel.open_surface(str(bad))
    qtbot.waitUntil(lambda: "could not be read" in panel.caption.text(), timeout=10_000)
