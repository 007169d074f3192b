"""Skip connections: the residual MLP, the roughness measure, and Li et al.'s picture at toy scale
(a deep plain network's surface is rougher than the same network's with skip connections)."""

import numpy as np
import pytest
import torch

from engine.experiment import Experiment, ExperimentConfig
from engine.models import ResidualMLP, mlp
from engine.params import flat_params, set_flat_params
from engine.skip_connections import compare_skip_connections, roughness


def test_residual_mlp_adds_each_same_width_layer_to_its_input():
    torch.manual_seed(0)
    plain = mlp(3, [5, 5, 5], 2, "tanh")
    res = mlp(3, [5, 5, 5], 2, "tanh", residual=True)
    assert isinstance(res, ResidualMLP)
    # One parameter layout: a θ of one fits the other.
    theta = flat_params(plain)
    assert theta.numel() == flat_params(res).numel()
    set_flat_params(res, theta)
    x = torch.randn(4, 3)
    h1 = torch.tanh(plain.fc1(x))
    h2 = h1 + torch.tanh(plain.fc2(h1))
    h3 = h2 + torch.tanh(plain.fc3(h2))
    torch.testing.assert_close(res(x), plain.out(h3))
    assert not torch.allclose(res(x), plain(x))
    # The first layer changes the width (3 → 5): no skip there.
    assert not hasattr(res, "skip1") and hasattr(res, "skip2")


def test_experiment_config_builds_the_residual_variant():
    cfg = ExperimentConfig(hidden=(8, 8, 8), residual=True)
    assert isinstance(Experiment(cfg).model, ResidualMLP)
    assert ExperimentConfig.from_dict(cfg.to_dict()).residual is True
    assert "residual" in ExperimentConfig.MODEL_FIELDS


def test_roughness_is_zero_for_a_plane_small_for_a_bowl_and_large_for_noise():
    a = np.linspace(-1, 1, 41)
    A, B = np.meshgrid(a, a, indexing="ij")
    assert roughness(2 * A - B + 3) == pytest.approx(0.0, abs=1e-12)
    bowl = roughness(A**2 + B**2)
    noise = roughness(np.random.default_rng(0).normal(size=(41, 41)))
    assert bowl < 0.15 < 1.0 < noise
    # Scaled and shifted, the same number.
    assert roughness(7 * (A**2 + B**2) - 3) == pytest.approx(bowl)


def test_a_deep_plain_network_is_rougher_than_the_same_network_with_skips():
    n = compare_skip_connections(seed=1)
    assert n["plain_roughness"] > 1.5 * n["residual_roughness"], n
    # Both trained: the comparison is between trained networks, not a stuck one.
    assert n["plain_train_loss"] < 0.6 and n["residual_train_loss"] < 0.1, n


def test_experiment_bar_shows_and_toggles_skip_connections(window, qtbot):
    bar, lab = window.bar, window.lab
    assert not bar.residual.isChecked()
    bar.residual.setChecked(True)
    qtbot.waitUntil(lambda: isinstance(lab.experiment.model, ResidualMLP), timeout=10_000)
    assert lab.experiment.config.residual
    bar.residual.setChecked(False)
    qtbot.waitUntil(lambda: not isinstance(lab.experiment.model, ResidualMLP), timeout=10_000)
    assert not lab.experiment.config.residual
