"""The engine's public names (the API other code calls) exist with their documented parameters."""

import dataclasses
import importlib
import inspect

import pytest

API = {
    "engine.device": {"pick_device": ["prefer"]},
    "engine.data": {"toy_dataset": ["name", "n", "noise", "test_fraction", "seed"],
                    "mri_phantoms": ["n_per_class", "size", "n_classes", "noise", "test_fraction", "seed"],
                    "image_folder": ["path", "size", "grayscale", "test_fraction", "seed"]},
    "engine.models": {"mlp": ["in_dim", "hidden", "out_dim", "activation"],
                      "small_cnn": ["in_channels", "n_classes", "size"], "model_for": ["dataset"]},
    "engine.params": {"flat_params": ["model"], "set_flat_params": ["model", "theta"],
                      "loss_function": ["model", "X", "y", "loss"]},
    "engine.training": {"train": ["model", "dataset", "config", "record_theta_every"]},
    "engine.landscape": {"random_direction": ["model", "norm", "seed"],
                         "orthogonal_directions": ["model", "norm", "seed"],
                         "pca_directions": ["trajectory", "center"],
                         "loss_line": ["loss_fn", "theta", "direction", "alphas"],
                         "loss_surface": ["loss_fn", "theta", "d1", "d2", "alphas", "betas"],
                         "project_trajectory": ["trajectory", "theta", "d1", "d2"]},
    "engine.connectivity": {"linear_path": ["loss_fn", "theta_a", "theta_b", "n"],
                            "fit_bezier": ["loss_fn", "theta_a", "theta_b", "steps", "lr", "seed"],
                            "bezier_path": ["loss_fn", "theta_a", "theta_c", "theta_b", "n"], "barrier": ["losses"]},
    "engine.hessian": {"hvp": ["loss_fn", "theta", "v"], "full_hessian": ["loss_fn", "theta", "max_params"],
                       "top_eigenvalues": ["loss_fn", "theta", "k", "iters", "tol", "seed"],
                       "bottom_eigenvalues": ["loss_fn", "theta", "k", "iters", "tol", "seed"],
                       "spectral_density": ["loss_fn", "theta", "n_probes", "lanczos_steps", "grid_size", "sigma",
                                            "seed"],
                       "hessian_trace": ["loss_fn", "theta", "n_probes", "seed"],
                       "classify_critical_point": ["eigenvalues", "tol"]},
    "engine.critical": {"find_critical_points": ["f", "bounds", "n_starts", "seed"], "network_critical_points": []},
    "engine.sharpness": {"epsilon_sharpness": ["loss_fn", "theta", "rho", "steps", "seed"]},
    "engine.representations": {"layer_activations": ["model", "X"], "pca": ["features", "k"],
                               "linear_probe": ["train_features", "y_train", "test_features", "y_test"],
                               "intrinsic_dimension_pca": ["features", "variance"],
                               "intrinsic_dimension_twonn": ["features"], "linear_cka": ["a", "b"]},
    "engine.pruning": {"magnitude_masks": ["model", "fraction", "scope", "masks"], "apply_masks": ["model", "masks"],
                       "remaining_fraction": ["masks"],
                       "iterative_magnitude_pruning": ["dataset", "model_factory", "config", "rounds", "prune_fraction",
                                                       "rewind", "control", "scope", "seed"]},
    "engine.double_descent": {"random_features_sweep": ["n_train", "feature_counts", "noise", "ridge", "n_test",
                                                        "seed"],
                              "width_sweep": ["dataset", "widths", "config", "seed"]},
    "engine.ntk": {"empirical_ntk": ["model", "x1", "x2"],
                   "kernel_regression": ["k_train", "y_train", "k_test_train", "ridge"],
                   "ntk_drift": ["widths", "dataset", "config", "seed"]},
    "engine.implicit": {"min_norm_gd": ["X", "y", "steps", "lr"], "max_margin_direction": ["X", "y", "steps", "lr"]},
}
DATACLASSES = {
    "engine.data": {"Dataset": ["name", "X_train", "y_train", "X_test", "y_test", "n_classes", "input_shape",
                                "class_names"]},
    "engine.training": {"TrainConfig": ["optimizer", "lr", "momentum", "batch_size", "weight_decay", "steps",
                                        "eval_every", "seed", "device"],
                        "TrainEvent": ["step", "epoch", "train_loss", "test_loss", "train_acc", "test_acc", "theta",
                                       "diverged"]},
}


@pytest.mark.parametrize("module,name,params", [(m, n, p) for m, d in API.items() for n, p in d.items()])
def test_function_exists_with_its_parameters_in_order(module, name, params):
    fn = getattr(importlib.import_module(module), name)
    names = list(inspect.signature(fn).parameters)
    assert names[: len(params)] == params, f"{module}.{name}{inspect.signature(fn)}"


@pytest.mark.parametrize("module,name,fields", [(m, n, f) for m, d in DATACLASSES.items() for n, f in d.items()])
def test_dataclass_fields(module, name, fields):
    cls = getattr(importlib.import_module(module), name)
    assert [f.name for f in dataclasses.fields(cls)][: len(fields)] == fields


def test_train_config_defaults_are_the_documented_ones():
    from engine.training import TrainConfig

    c = TrainConfig()
    assert (c.optimizer, c.lr, c.momentum, c.batch_size, c.weight_decay, c.steps, c.eval_every, c.seed, c.device) == \
        ("sgd", 0.1, 0.0, 32, 0.0, 500, 10, 0, "auto")


def test_surfaces_listed():
    from engine.critical import SURFACES

    assert len(SURFACES) >= 6


# Functions that compute on tensors take `device` (API.md: "every function takes device where it
# computes"); the rest get theirs from a config (TrainConfig.device and friends) or run in
# scikit-learn / numpy on the CPU.
TAKES_DEVICE = {
    "engine.landscape": ["random_direction", "orthogonal_directions", "pca_directions", "loss_line", "loss_surface",
                         "project_trajectory"],
    "engine.connectivity": ["linear_path", "fit_bezier", "bezier_path"],
    "engine.hessian": ["hvp", "full_hessian", "top_eigenvalues", "bottom_eigenvalues", "spectral_density",
                       "hessian_trace"],
    "engine.critical": ["find_critical_points"],
    "engine.sharpness": ["epsilon_sharpness"],
    "engine.representations": ["layer_activations"],
    "engine.double_descent": ["random_features_sweep"],
    "engine.ntk": ["empirical_ntk", "kernel_regression"],
    "engine.implicit": ["min_norm_gd", "max_margin_direction"],
}


@pytest.mark.parametrize("module,name", [(m, n) for m, names in TAKES_DEVICE.items() for n in names])
def test_computing_functions_take_a_device(module, name):
    fn = getattr(importlib.import_module(module), name)
    assert "device" in inspect.signature(fn).parameters


def test_device_argument_gives_the_same_numbers():
    import torch

    from engine import connectivity, critical, landscape, ntk
    from engine.data import toy_dataset
    from engine.models import model_for
    from engine.params import flat_params, loss_function

    ds = toy_dataset("moons", n=100, seed=0)
    torch.manual_seed(0)
    model = model_for(ds)
    L = loss_function(model, ds.X_train, ds.y_train)
    theta = flat_params(model).detach()
    d1, d2 = landscape.orthogonal_directions(model, device="cpu")
    a = torch.linspace(-1, 1, 5)
    assert torch.equal(landscape.loss_surface(L, theta, d1, d2, a, a, device="cpu"),
                       landscape.loss_surface(L, theta, d1, d2, a, a))
    assert torch.equal(landscape.random_direction(model, device="cpu"), landscape.random_direction(model))
    other = theta + 0.1 * d1
    assert (connectivity.linear_path(L, theta, other, 5, device="cpu")[1] ==
            connectivity.linear_path(L, theta, other, 5)[1]).all()
    pts = critical.find_critical_points(critical.SURFACES["saddle"], (-1, 1, -1, 1), 8, device="cpu")
    assert [p.kind for p in pts] == ["saddle"]
    K = torch.eye(3) * 2
    assert torch.allclose(ntk.kernel_regression(K, torch.ones(3), K, device="cpu"), torch.ones(3))
