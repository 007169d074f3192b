import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import grad, vmap

from engine.data import toy_dataset
from engine.experiment import Experiment, ExperimentConfig
from engine.models import mlp, model_for, small_cnn
from engine.params import flat_params, loss_function, set_flat_params
from engine.training import TrainConfig, Trainer, train


@pytest.fixture(scope="module")
def moons():
    return toy_dataset("moons", n=300, noise=0.1, seed=0)


def _run(ds, cfg, seed=0):
    torch.manual_seed(seed)
    model = model_for(ds)
    return [(e.step, e.train_loss, e.test_acc if e.evaluated else None) for e in train(model, ds, cfg)], \
        flat_params(model)


def test_same_seed_same_numbers(moons):
    cfg = TrainConfig(steps=60, eval_every=20, seed=5, device="cpu")
    a, ta = _run(moons, cfg)
    b, tb = _run(moons, cfg)
    assert a == b and torch.equal(ta, tb)
    c, tc = _run(moons, TrainConfig(steps=60, eval_every=20, seed=6, device="cpu"))
    assert not torch.equal(ta, tc)  # another batch order


def test_a_cnn_trains_channels_last_with_the_numbers_of_the_default_layout():
    """The trainer lays a CNN's kernels and images out channels-last (faster on a CPU); θ keeps
    its order and three steps give the weights that the default layout gives."""
    from engine.data import mri_phantoms

    ds = mri_phantoms(n_per_class=6, size=16, n_classes=4, seed=0)
    # SGD: the step is linear in the gradient (Adam's first steps are lr·sign(g), which float
    # rounding flips where g ≈ 0).
    cfg = TrainConfig(optimizer="sgd", lr=0.05, batch_size=4, eval_every=100, device="cpu", seed=0)
    torch.manual_seed(0)
    model = small_cnn(1, ds.n_classes, 16)
    reference = copy.deepcopy(model)
    theta0 = flat_params(model)
    trainer = Trainer(model, ds, cfg)
    conv = trainer.model.features.conv2.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert torch.equal(flat_params(trainer.model), theta0)  # same order, same values
    for _ in range(3):
        trainer.step()
    # The same steps in the default layout, by hand.
    opt = torch.optim.SGD(reference.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(ds.y_train), generator=g)
    for i in range(3):
        idx = order[4 * i : 4 * i + 4]
        opt.zero_grad()
        F.cross_entropy(reference(ds.X_train[idx]), ds.y_train[idx]).backward()
        opt.step()
    assert torch.allclose(flat_params(trainer.model), flat_params(reference), atol=1e-5)


def test_flat_params_round_trip(moons):
    model = model_for(moons)
    theta = flat_params(model)
    assert theta.shape == (sum(p.numel() for p in model.parameters()),)
    set_flat_params(model, theta * 2)
    assert torch.allclose(flat_params(model), theta * 2)
    with pytest.raises(ValueError, match="entries"):
        set_flat_params(model, theta[:-1])


def test_loss_function_equals_module_loss(moons):
    model = mlp(2, [8, 8], 2)
    L = loss_function(model, moons.X_train, moons.y_train)
    theta = flat_params(model)
    expected = F.cross_entropy(model(moons.X_train), moons.y_train)
    assert torch.allclose(L(theta), expected, rtol=1e-6)
    set_flat_params(model, theta)  # functional evaluation left the module untouched
    assert torch.equal(flat_params(model), theta)


def test_func_grad_equals_autograd(moons):
    model = mlp(2, [8, 8], 2, activation="relu")
    L = loss_function(model, moons.X_train, moons.y_train)
    theta = flat_params(model)
    g_func = grad(L)(theta)
    model.zero_grad()
    F.cross_entropy(model(moons.X_train), moons.y_train).backward()
    g_auto = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert torch.allclose(g_func, g_auto, rtol=1e-5, atol=1e-7)


def test_loss_function_under_vmap(moons):
    model = mlp(2, [8], 2)
    L = loss_function(model, moons.X_train, moons.y_train)
    thetas = flat_params(model) + 0.1 * torch.randn(5, flat_params(model).numel())
    batched = vmap(L)(thetas)
    looped = torch.stack([L(t) for t in thetas])
    assert torch.allclose(batched, looped, rtol=1e-5)


def test_cnn_loss_function_and_grad():
    model = small_cnn(1, 3, size=16)
    X, y = torch.randn(6, 1, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2])
    L = loss_function(model, X, y)
    theta = flat_params(model)
    assert torch.allclose(L(theta), F.cross_entropy(model(X), y), rtol=1e-5)
    assert grad(L)(theta).shape == theta.shape


def test_training_lowers_the_loss(moons):
    events = list(train(model_for(moons), moons, TrainConfig(steps=400, eval_every=50, lr=0.3, device="cpu")))
    first, last = events[0], events[-1]
    assert first.step == 0 and first.evaluated and last.step == 400
    assert last.train_loss < 0.5 * first.train_loss
    assert last.test_acc > 0.85


@pytest.mark.parametrize("opt,momentum", [("sgd", 0.9), ("adam", 0.0)])
def test_momentum_and_adam(moons, opt, momentum):
    cfg = TrainConfig(optimizer=opt, lr=0.05 if opt == "sgd" else 0.01, momentum=momentum, steps=200,
                      eval_every=200, device="cpu")
    events = list(train(model_for(moons), moons, cfg))
    assert events[-1].train_loss < 0.6 * events[0].train_loss


def test_full_batch_and_weight_decay(moons):
    model = model_for(moons)
    t = Trainer(model, moons, TrainConfig(batch_size=0, weight_decay=0.5, lr=0.5, device="cpu"))
    norm0 = flat_params(model).norm()
    for _ in range(300):
        t.step()
    assert t.samples_seen == 300 * len(moons.y_train)
    assert flat_params(model).norm() < norm0  # strong decay shrinks the weights


def test_eval_every_and_record_theta(moons):
    events = list(train(model_for(moons), moons, TrainConfig(steps=30, eval_every=10, device="cpu"),
                        record_theta_every=15))
    assert [e.step for e in events if e.evaluated] == [0, 10, 20, 30]
    assert all(math.isnan(e.test_loss) for e in events if not e.evaluated)
    assert [e.step for e in events if e.theta is not None] == [0, 15, 30]  # the path starts at θ₀
    assert isinstance(events[-1].theta, np.ndarray)


def test_divergence_is_detected(moons):
    events = list(train(model_for(moons), moons, TrainConfig(lr=1e3, steps=200, device="cpu")))
    assert events[-1].diverged and "diverged" in events[-1].message
    assert sum(e.diverged for e in events) == 1 and len(events) < 200


def test_learning_rate_change_applies_at_next_step(moons):
    model = model_for(moons)
    t = Trainer(model, moons, TrainConfig(lr=0.1, device="cpu"))
    t.step()
    t.set_hparams(lr=0.0123)
    assert t.optimizer.param_groups[0]["lr"] == 0.1
    t.step()
    assert t.optimizer.param_groups[0]["lr"] == 0.0123


@pytest.mark.parametrize("bad,field", [({"lr": 0}, "learning rate"), ({"lr": -0.1}, "learning rate"),
                                       ({"batch_size": 10_000}, "exceeds"), ({"momentum": 1.0}, "momentum")])
def test_bad_settings_are_refused_with_a_message(moons, bad, field):
    with pytest.raises(ValueError, match=field):
        Trainer(model_for(moons), moons, TrainConfig(**bad))


def test_zero_hidden_units_refused():
    with pytest.raises(ValueError, match="at least 1 unit"):
        mlp(2, [16, 0], 2)
    assert "hidden" in ExperimentConfig(hidden=(0,)).problems()


def test_experiment_reset_restores_theta0_and_batch_order():
    exp = Experiment(ExperimentConfig(n=200, device="cpu"))
    theta0 = exp.theta().clone()
    a = [exp.step().batch_loss for _ in range(20)]
    assert not torch.equal(exp.theta(), theta0)
    exp.reset()
    assert torch.equal(exp.theta(), theta0) and exp.step_count == 0
    b = [exp.step().batch_loss for _ in range(20)]
    assert a == b
    exp.reseed()
    assert not torch.equal(exp.theta(), theta0)


@pytest.mark.parametrize("opt,kw", [("sgd", {"momentum": 0.0, "weight_decay": 0.0}),
                                    ("sgd", {"momentum": 0.9, "weight_decay": 0.01}),
                                    ("adam", {"weight_decay": 0.0}), ("adam", {"weight_decay": 0.05})])
def test_optimisers_match_torch_optim_step_for_step(moons, opt, kw):
    from engine.optim import SGD, Adam

    torch.manual_seed(0)
    a = model_for(moons)
    b = model_for(moons)
    b.load_state_dict(a.state_dict())
    ours = (SGD if opt == "sgd" else Adam)(a.parameters(), lr=0.05, **kw)
    ref = (torch.optim.SGD if opt == "sgd" else torch.optim.Adam)(b.parameters(), lr=0.05, **kw)
    X, y = moons.X_train[:64], moons.y_train[:64]
    for step in range(25):
        for model, o in ((a, ours), (b, ref)):
            o.zero_grad()
            F.cross_entropy(model(X), y).backward()
            o.step()
        if step == 10:  # a learning-rate change between steps, as the experiment bar makes
            ours.param_groups[0]["lr"] = ref.param_groups[0]["lr"] = 0.02
    assert torch.allclose(flat_params(a), flat_params(b), rtol=1e-5, atol=1e-6)
