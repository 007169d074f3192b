"""Mode connectivity: barriers, straight and Bezier paths, and the Connectivity tab."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import connectivity as mc
from engine.device import intra_op_threads
from engine.experiment import Experiment


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks: one intra-op thread is fastest, and two thread teams on a busy two-core
    machine slow each other down many times over."""
    with intra_op_threads(1):
        yield


def test_barrier_closed_forms():
    assert mc.barrier([1.0, 2.0, 1.0]) == pytest.approx(1.0)
    assert mc.barrier(np.linspace(0.3, 0.9, 11)) == pytest.approx(0.0, abs=1e-12)  # the chord itself
    assert mc.barrier([0.0, 1.5, 1.0]) == pytest.approx(1.0)  # 1.5 above a chord at 0.5
    assert mc.barrier([0.5, 0.1, 0.5]) == 0.0  # a dip is no barrier (t = 0 counts: never negative)
    with pytest.raises(ValueError):
        mc.barrier([1.0])


def test_paths_on_a_quadratic_match_closed_forms():
    a, b, c = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([-1.0, 2.0, 0.0]), torch.tensor([0.0, 5.0, 1.0])

    def L(theta):
        return (theta**2).sum()

    t, line = mc.linear_path(L, a, b, n=11)
    expected = [float((((1 - s) * a + s * b) ** 2).sum()) for s in t]
    np.testing.assert_allclose(line, expected, rtol=1e-6)
    t, curve = mc.bezier_path(L, a, c, b, n=11)
    expected = [float((((1 - s) ** 2 * a + 2 * s * (1 - s) * c + s**2 * b) ** 2).sum()) for s in t]
    np.testing.assert_allclose(curve, expected, rtol=1e-6)
    # With the bend at the midpoint the Bezier curve is the straight line.
    _, mid = mc.bezier_path(L, a, (a + b) / 2, b, n=11)
    np.testing.assert_allclose(mid, line, rtol=1e-6)


def test_fit_bezier_goes_around_a_ring_shaped_valley():
    """Minima at (±1, 0) on the ring r = 1; the straight line crosses the peak at the origin."""

    def L(theta):
        r2 = theta[0] ** 2 + theta[1] ** 2
        return (r2 - 1) ** 2 - 0.05 * theta[1]  # the tilt picks the upper half of the ring

    a, b = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0])
    _, line = mc.linear_path(L, a, b)
    bend = mc.fit_bezier(L, a, b, steps=250, lr=0.05, seed=0)
    _, curve = mc.bezier_path(L, a, bend, b)
    assert mc.barrier(line) > 0.9
    assert mc.barrier(curve) < 0.25 * mc.barrier(line)
    assert float(bend[1]) > 1.0  # bent upwards, round the peak


def test_bezier_beats_the_straight_line_on_the_default_toy_task():
    """Two networks from different seeds: a ridge on the straight line, none on the trained curve."""
    exp = Experiment()  # moons, 2-16-16-2 tanh, SGD lr 0.1
    config = mc.ConnectivityConfig(seeds=(0, 1), train_steps=800, bezier_steps=300, plane_resolution=0)
    results = {}
    for item in mc.mode_connectivity(exp.dataset, exp.config, config):
        if isinstance(item, mc.PathResult) and item.final:
            results[item.kind] = item
        if isinstance(item, mc.Endpoints):
            ends = item
    lin, bez = results["linear"], results["bezier"]
    assert max(ends.train_loss) < 0.1 and min(ends.test_acc) > 0.95  # both are real minima
    assert lin.barrier_train > 0.1  # the straight line crosses a ridge ...
    assert bez.barrier_train < 0.2 * lin.barrier_train  # ... the curve does not
    assert bez.barrier_test < 0.5 * lin.barrier_test
    # The curve starts at A and ends at B: its end losses are the networks' own.
    assert bez.train[0] == pytest.approx(lin.train[0], rel=1e-5) and bez.train[-1] == pytest.approx(lin.train[-1],
                                                                                                    rel=1e-5)


def test_mode_connectivity_streams_and_stops_when_closed():
    exp = Experiment()
    config = mc.ConnectivityConfig(train_steps=60, bezier_steps=40, refresh_every=10, plane_resolution=11)
    items = list(mc.mode_connectivity(exp.dataset, exp.config, config))
    stages = [i.stage for i in items if isinstance(i, mc.ConnectivityProgress)]
    assert stages.index("train A") < stages.index("train B") < stages.index("bezier") < stages.index("plane")
    beziers = [i for i in items if isinstance(i, mc.PathResult) and i.kind == "bezier"]
    assert [b.bezier_step for b in beziers] == [0, 10, 20, 30, 40] and beziers[-1].final
    plane = items[-1]
    assert isinstance(plane, mc.ConnectivityPlane) and plane.Z.shape == (11, 11)
    np.testing.assert_allclose(plane.points[0], [0, 0], atol=1e-6)  # A at the origin, B on the x-axis
    assert abs(plane.points[1, 1]) < 1e-6 and plane.points[1, 0] > 0
    gen = mc.mode_connectivity(exp.dataset, exp.config, config)
    first = next(gen)
    gen.close()  # cancelled during training: nothing more comes
    assert first.stage == "train A"
    with pytest.raises(ValueError, match="different seeds"):
        next(mc.mode_connectivity(exp.dataset, exp.config, mc.ConnectivityConfig(seeds=(3, 3))))


# -- the Connectivity tab ----------------------------------------------------------------------
def test_connectivity_tab_runs_in_the_background_and_shows_both_barriers(window, qtbot):
    panel = window.panel("connectivity")
    panel.apply_options({"train_steps": 400, "bezier_steps": 150})
    panel._ran_once = True  # do not auto-run on showing; start with these settings
    window.show_panel("connectivity")
    panel.run.click()
    assert panel.busy and not panel.run.isEnabled()
    qtbot.waitUntil(lambda: not panel.busy, timeout=60000)
    x, y = panel.bez_train.getData()
    assert len(x) == 41 and len(panel.lin_train.getData()[0]) == 41
    assert panel.plane is not None and panel.map.image.image is not None
    text = panel.caption.text()
    assert "straight line" in text and "Bezier curve" in text
    assert panel.results["bezier"].barrier_train < panel.results["linear"].barrier_train
    assert panel.run.isEnabled() and not panel.progress.isVisible()


def test_connectivity_tab_cancels(window, qtbot):
    panel = window.panel("connectivity")
    panel._ran_once = True
    window.show_panel("connectivity")
    panel.apply_options({"train_steps": 200000})
    panel.run.click()
    qtbot.waitUntil(lambda: panel.progress.isVisible(), timeout=10000)
    panel.cancel.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    assert panel.run.isEnabled() and not panel.results
    panel.apply_options({"seeds": [2, 2]})
    panel.run.click()  # bad input: a message, no job
    assert not panel.busy and "different seeds" in panel.error.text()
