"""The shared data, network and optimiser specs: one rule and one message per setting, whichever
topic holds it, and the topics' configs still load presets and recordings to the same values."""

import dataclasses

import pytest

from engine.critical import NetworkCriticalConfig
from engine.experiment import ExperimentConfig
from engine.ntk import NTKConfig
from engine.paradigms import ParadigmsConfig
from engine.pruning import LotteryConfig
from engine.recording import decode, encode
from engine.sharpness import EdgeOfStabilityConfig, SharpnessConfig
from engine.specs import MIN_SAMPLES, DataSpec, ModelSpec, OptimSpec, SplitSpec
from engine.training import TrainConfig
from gui.presets import load_presets

# Every config's defaults before the specs existed (asdict of each); inheriting the specs must keep
# them, or presets and sessions that leave a setting out would load to something else.
OLD_DEFAULTS = {
    TrainConfig: {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "batch_size": 32, "weight_decay": 0.0,
                  "steps": 500, "eval_every": 10, "seed": 0, "device": "auto", "loss": "cross_entropy",
                  "explode_factor": 50.0},
    ExperimentConfig: {"dataset": "moons", "n": 600, "noise": 0.1, "test_fraction": 0.3, "data_seed": 0,
                       "folder": "", "image_size": 64, "hidden": (16, 16), "activation": "tanh", "residual": False,
                       "optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "batch_size": 32, "weight_decay": 0.0,
                       "seed": 0, "eval_every": 10, "device": "auto"},
    LotteryConfig: {"dataset": "digits", "n": 1797, "noise": 0.0, "test_fraction": 0.3, "data_seed": 0,
                    "image_size": 32, "hidden": (300, 100), "activation": "relu", "optimizer": "adam", "lr": 0.0012,
                    "momentum": 0.0, "batch_size": 60, "weight_decay": 0.0, "steps": 500, "eval_every": 20,
                    "rounds": 13, "prune_fraction": 0.2, "output_fraction": 0.1, "prune_biases": False,
                    "scope": "layer", "rewind": 20, "controls": ("ticket", "reinit", "random"), "seeds": (0,),
                    "device": "auto"},
    ParadigmsConfig: {"rules": ("backprop", "feedback_alignment", "evolution", "forward_forward", "hebbian"),
                      "dataset": "digits", "n": 1797, "noise": 0.0, "test_fraction": 0.3, "data_seed": 0,
                      "hidden": (32,), "activation": "tanh", "steps": 600, "batch_size": 64, "eval_every": 10,
                      "record_every": 5, "seed": 0, "device": "cpu", "surface_resolution": 41, "surface_samples": 0,
                      "map_resolution": 100, "map_every": 50, "curvature": True, "threads": 1,
                      "backprop": {"lr": 0.3},
                      "feedback_alignment": {"lr": 0.3, "feedback_scale": 1.0, "feedback_seed": 1},
                      "evolution": {"population": 100, "sigma": 0.05, "lr": 0.02, "shaping": "ranks",
                                    "noise_seed": 2},
                      "forward_forward": {"lr": 0.01, "threshold": 0.5, "label_scale": 1.0, "negative_seed": 3},
                      "hebbian": {"lr": 0.3, "readout_lr": 0.5, "mean_rate": 0.05}},
    SharpnessConfig: {"dataset": "digits", "n": 1797, "noise": 0.0, "hidden": (128, 128), "activation": "relu",
                      "lr": 0.1, "batch_sizes": (16, 32, 64, 128, 256, 0), "target_loss": 0.05, "max_epochs": 400.0,
                      "check_every": 10, "rho": 0.05, "measure": "ball", "sharpness_steps": 20, "trace_probes": 32,
                      "lanczos_iters": 60, "slice_radius": 1.0, "slice_points": 41, "seed": 0, "device": "cpu"},
    EdgeOfStabilityConfig: {"dataset": "moons", "n": 600, "noise": 0.3, "hidden": (16, 16), "activation": "tanh",
                            "loss": "cross_entropy", "lr": 0.5, "momentum": 0.0, "steps": 600, "track_every": 10,
                            "lanczos_iters": 40, "seed": 0, "device": "cpu"},
    NetworkCriticalConfig: {"dataset": "moons", "n": 80, "noise": 0.3, "hidden": (6,), "activation": "tanh",
                            "weight_decay": 0.001, "inits": 6, "snapshots": 8, "gd_steps": 1500, "gd_lr": 1.0,
                            "init_scale": 1.5, "newton_iters": 60, "tol": 1e-06, "seed": 0},
    # weight_decay is new to NTKConfig (from OptimSpec); 0.0 trains exactly as before.
    NTKConfig: {"hidden_layers": 1, "activation": "tanh", "parameterization": "ntk", "sigma_w": 1.5, "sigma_b": 1.0,
                "centered": True, "optimizer": "sgd", "lr": 0.3, "momentum": 0.9, "batch_size": 0,
                "weight_decay": 0.0, "steps": 1500, "ridge": 0.0, "kernel_ridge": 0.001, "rbf_length": 0.3,
                "kernel_grid": 64, "max_params": 2000000, "device": "auto"},
}

# Topics holding each shared setting (the sharpness sweep holds a list of batch sizes).
BATCH = [TrainConfig, ExperimentConfig, LotteryConfig, NTKConfig, ParadigmsConfig]
SAMPLES = [ExperimentConfig, LotteryConfig, ParadigmsConfig, SharpnessConfig, EdgeOfStabilityConfig,
           NetworkCriticalConfig]
NETWORK = [ExperimentConfig, LotteryConfig, ParadigmsConfig, SharpnessConfig, EdgeOfStabilityConfig,
           NetworkCriticalConfig]
LR = [TrainConfig, ExperimentConfig, LotteryConfig, NTKConfig, SharpnessConfig, EdgeOfStabilityConfig]


@pytest.mark.parametrize("cls", list(OLD_DEFAULTS), ids=lambda c: c.__name__)
def test_defaults_are_unchanged_and_valid(cls):
    assert dataclasses.asdict(cls()) == OLD_DEFAULTS[cls]
    assert cls().problems() == {}


def test_each_spec_checks_its_own_fields():
    assert DataSpec().problems() == {} and ModelSpec().problems() == {} and OptimSpec().problems() == {}
    data = DataSpec(dataset="mnist", n=5, noise=-1).problems()
    assert set(data) == {"dataset", "n", "noise"} and "choose one of moons" in data["dataset"]
    assert data["n"] == "use at least 10 samples, got 5"
    assert "two per class" in DataSpec(dataset="digits", n=15).problems()["n"]
    assert DataSpec(dataset="digits", n=20).problems() == {}
    assert "strictly between 0 and 1" in SplitSpec(test_fraction=1.0).problems()["test_fraction"]
    assert ModelSpec(hidden=()).problems()["hidden"] == "give at least one hidden layer, e.g. 16, 16"
    assert ModelSpec(hidden=(8, 0)).problems()["hidden"] == "every hidden layer needs at least 1 unit"
    assert ModelSpec(hidden=(5000,)).problems()["hidden"] == "at most 4096 units per layer"
    assert "unknown activation 'swish'" in ModelSpec(activation="swish").problems()["activation"]
    optim = OptimSpec(optimizer="lbfgs", lr=float("nan"), momentum=1.0, batch_size=-1, weight_decay=-0.1).problems()
    assert set(optim) == {"optimizer", "lr", "momentum", "batch_size", "weight_decay"}
    assert "exceeds the 40 training samples" in OptimSpec(batch_size=64).problems(n_train=40)["batch_size"]
    assert OptimSpec(batch_size=0).problems(n_train=40) == {}  # 0: full batch


@pytest.mark.parametrize("field,values,classes", [
    ("batch_size", {"batch_size": -1}, BATCH), ("n", {"dataset": "moons", "n": 5}, SAMPLES),
    ("n", {"dataset": "digits", "n": 12}, SAMPLES), ("hidden", {"hidden": (0,)}, NETWORK),
    ("lr", {"lr": -0.5}, LR), ("noise", {"noise": -0.1}, SAMPLES),
    ("momentum", {"momentum": 1.5}, [TrainConfig, ExperimentConfig, LotteryConfig, NTKConfig, EdgeOfStabilityConfig])])
def test_a_bad_setting_reads_the_same_in_every_topic(field, values, classes):
    messages = {cls.__name__: cls(**values).problems().get(field) for cls in classes}
    assert len(set(messages.values())) == 1 and None not in messages.values(), messages


def test_sharpness_batch_sizes_and_digits_sample_count_share_the_rules():
    per_run = SharpnessConfig(batch_sizes=(16, -1)).problems()["batch_sizes"]
    assert per_run.endswith(TrainConfig(batch_size=-1).problems()["batch_size"])
    assert SharpnessConfig(batch_sizes=(16, 0)).problems() == {}
    for cls in (ExperimentConfig, ParadigmsConfig, LotteryConfig):
        assert "at least 20 samples for digits" in cls(dataset="digits", n=12).problems()["n"]
        assert "n" not in cls(dataset="moons", n=MIN_SAMPLES).problems()
    # The lottery trains with the shared Trainer, which reads batch size 0 as full batch.
    assert LotteryConfig(batch_size=0).problems() == {}


def test_topic_narrowings_stay_topic_specific():
    assert "choose one of tanh, relu, sigmoid" in ParadigmsConfig(activation="gelu").problems()["activation"]
    assert ExperimentConfig(activation="gelu").problems() == {}
    assert ParadigmsConfig(hidden=(2000,)).problems()["hidden"] == "at most 1024 units per layer"
    assert LotteryConfig(dataset="mri").problems() == {} and "dataset" in ParadigmsConfig(dataset="mri").problems()


def _flat(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


@pytest.mark.parametrize("preset", sorted(load_presets().values(), key=lambda p: p.name), ids=lambda p: p.name)
def test_every_preset_loads_to_the_same_values(preset):
    config = preset.config()
    assert dataclasses.asdict(config) == {**OLD_DEFAULTS[ExperimentConfig], **_flat(preset.experiment)}
    assert {k: v for k, v in config.problems().items() if k != "batch_size"} == {}
    for options in (preset.options(), preset.options(quick=True)):
        if preset.tab == "lottery":
            cfg = LotteryConfig.from_dict(options)
            assert dataclasses.asdict(cfg) == {**OLD_DEFAULTS[LotteryConfig], **_flat(options)}
            assert cfg.problems() == {}
        elif preset.tab == "paradigms":
            settings = {k: v for k, v in options.items() if k not in ("page", "x_axis")}
            cfg = ParadigmsConfig.from_dict(settings)
            assert dataclasses.asdict(cfg) == {**OLD_DEFAULTS[ParadigmsConfig], **_flat(settings)}
            assert cfg.problems() == {}


@pytest.mark.parametrize("cls", list(OLD_DEFAULTS), ids=lambda c: c.__name__)
def test_configs_round_trip_through_a_recording(cls):
    arrays: dict = {}
    assert decode(encode(cls(), arrays), arrays) == cls()
    # A recording written before a field existed still loads, the new field at its default.
    old = encode(cls(), arrays)
    old["fields"].pop("weight_decay", None)
    assert decode(old, arrays) == cls()
