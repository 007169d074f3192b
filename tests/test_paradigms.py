"""Learning without backpropagation: each rule learns, FA aligns, ES estimates the gradient,
Oja finds the first principal component, and all paths share one plane."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.func import grad

from engine.data import toy_dataset
from engine.paradigms import (
    RULES,
    CompareDone,
    Curvature,
    ParadigmsConfig,
    RuleEvent,
    RuleMap,
    Run,
    SharedPlane,
    build_network,
    centered_ranks,
    compare,
    error_signals,
    es_gradient,
    train,
)
from engine.params import flat_params, loss_function


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    return float(a @ b / (a.norm() * b.norm()))


@pytest.fixture(scope="module")
def digits_run():
    """The default comparison (every rule, digits, 600 steps, seed 0), run once."""
    events: dict[str, list[RuleEvent]] = {r: [] for r in RULES}
    other: list = []
    for item in compare(ParadigmsConfig()):
        if isinstance(item, RuleEvent):
            events[item.rule].append(item)
        else:
            other.append(item)
    return events, other


def test_each_rule_lowers_the_training_loss_well_below_its_start(digits_run):
    events, _ = digits_run
    start = {r: ev[0].train_loss for r, ev in events.items()}
    # Same θ₀ for every rule: the same loss at step 0 (ln 10 or so for ten classes).
    assert max(start.values()) - min(start.values()) < 1e-6 and 2.0 < start["backprop"] < 2.6
    for rule, ev in events.items():
        assert ev[-1].step == 600 and not ev[-1].diverged, rule
        assert ev[-1].train_loss < 0.25 * start[rule], (rule, ev[-1].train_loss, start[rule])
        assert ev[-1].test_acc > 0.85, (rule, ev[-1].test_acc)  # ten classes: chance is 0.1


def test_feedback_alignment_aligns_and_keeps_up_with_backprop(digits_run):
    events, _ = digits_run
    angles = [e.extras["angle"] for e in events["feedback_alignment"] if "angle" in e.extras]
    # Random feedback starts out orthogonal to the gradient; the forward weights then come
    # to agree with the fixed feedback matrices, and the update turns toward the gradient.
    assert angles[0] > 85.0
    assert angles[-1] < 80.0 and np.mean(angles[-5:]) < np.mean(angles[:5]) - 20
    fa, bp = events["feedback_alignment"][-1].test_acc, events["backprop"][-1].test_acc
    assert abs(fa - bp) <= 0.05, (fa, bp)


def test_comparison_ends_with_plane_maps_and_curvature(digits_run):
    events, other = digits_run
    planes = [o for o in other if isinstance(o, SharedPlane)]
    final = planes[-1]
    assert planes[0].Z is None and final.Z is not None and np.isfinite(final.Z).all()
    assert set(final.paths) == set(RULES)
    for rule, coords in final.paths.items():
        assert np.allclose(coords[0], 0.0, atol=1e-5)  # every path starts at θ₀, the origin
        assert 0.0 < final.in_plane[rule] <= 1.0
    assert 0.0 < final.explained[1] <= final.explained[0] and final.explained.sum() <= 1.0 + 1e-9
    assert final.contours is not None and len(final.contours.segments) > 0
    # The surface's value at a grid point is the training loss there.
    model = build_network(64, (32,), 10, "tanh", seed=0)
    ds = toy_dataset("digits", 1797, 0.0)
    L = loss_function(model, ds.X_train, ds.y_train)
    theta0 = flat_params(model)
    i, j = 7, 30
    point = theta0 + final.alphas[i] * torch.from_numpy(final.d1).float() + final.betas[j] * torch.from_numpy(
        final.d2).float()
    assert float(L(point)) == pytest.approx(final.Z[i, j], rel=1e-4)
    maps = [o for o in other if isinstance(o, RuleMap) and o.step == 600]
    assert {m.rule for m in maps} == set(RULES)
    for m in maps:  # digits: confusion matrices over the test split
        assert m.confusion.shape == (10, 10) and m.confusion.sum() == len(ds.y_test)
        assert m.test_acc == pytest.approx(events[m.rule][-1].test_acc, abs=1e-6)
    curv = next(o for o in other if isinstance(o, Curvature))
    assert all(v > 0 for v in curv.lambda_max.values()) and curv.lambda_max_start > 0
    assert isinstance(other[-1], CompareDone) and other[-1].stopped_rules == []


def test_manual_backprop_is_the_exact_gradient():
    ds = toy_dataset("digits", 300, 0.0)
    model = build_network(64, (16, 12), 10, "tanh", seed=3)
    theta = flat_params(model)
    X, y = ds.X_train[:50], ds.y_train[:50]
    run = Run(ds, ParadigmsConfig(rules=("backprop",), hidden=(16, 12)), model)
    layers = run.learners["backprop"].layers()
    manual = torch.cat([t.reshape(-1) for W, b in error_signals(layers, X, y, torch.tanh, [W for W, _ in layers[1:]])
                        for t in (W, b)])
    auto = grad(loss_function(model, X, y))(theta)
    assert torch.allclose(manual, auto, atol=1e-6)


def test_es_gradient_estimate_points_along_the_true_gradient():
    ds = toy_dataset("digits", 1797, 0.0)
    model = build_network(64, (32,), 10, "tanh", seed=0)
    theta = flat_params(model)
    L = loss_function(model, ds.X_train[:256], ds.y_train[:256])
    true = grad(L)(theta)
    P = theta.numel()
    g = torch.Generator().manual_seed(0)
    for shaping in ("ranks", "none"):
        est, losses = es_gradient(L, theta, 0.05, 400, g, shaping)
        assert losses.shape == (400,)
        # A random direction has |cos| ≈ 1/√P ≈ 0.02; 200 antithetic pairs do far better.
        assert _cosine(est, true) > 10 / math.sqrt(P), shaping
    # On a linear loss L = θ·w an antithetic pair measures ε·w exactly, so the estimate is
    # S w with S the second moment of m = n/2 Gaussian draws: cos∠(S w, w) ≈ √(m / (m + P)).
    w = torch.randn(P, generator=torch.Generator().manual_seed(1))
    est, losses = es_gradient(lambda t: t @ w, torch.zeros(P), 0.1, 2000, g, "none")
    assert _cosine(est, w) == pytest.approx(math.sqrt(1000 / (1000 + P)), abs=0.05)
    # The batched population equals the losses of the perturbations one at a time.
    eps_check = torch.Generator().manual_seed(5)
    _, batched = es_gradient(L, theta, 0.05, 6, eps_check, "ranks")
    noise = torch.randn(3, P, generator=torch.Generator().manual_seed(5))
    loop = torch.stack([L(theta + 0.05 * e) for e in torch.cat([noise, -noise])])
    assert torch.allclose(batched, loop, atol=1e-5)


def test_centered_ranks_are_even_in_minus_half_to_half():
    r = centered_ranks(torch.tensor([3.0, -1.0, 10.0, 0.5]))
    assert torch.allclose(r, torch.tensor([1 / 6, -0.5, 0.5, -1 / 6]))


def test_oja_unit_finds_the_first_principal_component_and_ff_starts_at_theta0():
    cfg = ParadigmsConfig(rules=("hebbian", "forward_forward"), dataset="moons", n=400, noise=0.1, steps=300,
                          curvature=False)
    ds = toy_dataset("moons", 400, 0.1)
    last: dict[str, RuleEvent] = {}
    first: dict[str, RuleEvent] = {}
    for item in compare(cfg, ds):
        if isinstance(item, RuleEvent):
            first.setdefault(item.rule, item)
            last[item.rule] = item
    hebb = last["hebbian"].extras
    assert hebb["pc1_cosine"] > 0.98 and abs(hebb["pc1_norm"] - 1.0) < 0.05
    # Forward-forward's label weights start at zero: its network is θ₀ itself at step 0.
    theta0 = flat_params(build_network(2, (32,), 2, "tanh", seed=0)).numpy()
    assert np.allclose(first["forward_forward"].theta, theta0)
    assert last["forward_forward"].extras["goodness_test_acc"] > 0.8  # classifying by goodness alone


def test_oja_unit_finds_the_first_principal_component_on_digits_at_the_default_setting():
    """On digits λ₁ = 0.71 and λ₂ = 0.64 are close: the default step must still tell them apart
    within the default training (at η = 0.05 unit 1 ended on PC2, cos∠(w₁, PC1) = 0.04)."""
    cfg = ParadigmsConfig()
    assert cfg.dataset == "digits"
    ds = toy_dataset(cfg.dataset, cfg.n, cfg.noise, cfg.test_fraction, cfg.data_seed)
    model = build_network(ds.in_features, cfg.hidden, ds.n_classes, cfg.activation, cfg.seed)
    *_, last = train("hebbian", model, ds, cfg)
    assert last.step == cfg.steps and not last.diverged
    assert last.extras["pc1_cosine"] > 0.9 and abs(last.extras["pc1_norm"] - 1.0) < 0.05
    assert last.extras["subspace"] > 0.95  # and the 32 units span the top principal subspace
    assert last.test_acc > 0.85  # the read-out on these features still learns the digits


def test_train_generator_runs_one_rule_and_stops_on_divergence():
    ds = toy_dataset("moons", 200, 0.1)
    model = build_network(2, (8,), 2, "tanh", seed=1)
    before = flat_params(model).clone()
    cfg = ParadigmsConfig(dataset="moons", hidden=(8,), steps=40, eval_every=10, record_every=20)
    events = list(train("feedback_alignment", model, ds, cfg))
    assert [e.step for e in events] == [0, 10, 20, 30, 40]
    assert events[-1].theta is not None and events[1].theta is None
    assert torch.equal(flat_params(model), before)  # the model is a template, left unchanged
    bad = replace(cfg, backprop=replace(cfg.backprop, lr=1e6))
    out = list(train("backprop", build_network(2, (8,), 2, "tanh", seed=1), ds, bad))
    assert out[-1].diverged and "lower its learning rate" in out[-1].message and out[-1].step < 40


def test_settings_are_checked_with_specific_messages():
    assert ParadigmsConfig().problems() == {}
    bad = ParadigmsConfig(rules=(), activation="gelu")
    assert "at least one" in bad.problems()["rules"] and "activation" in bad.problems()
    odd = ParadigmsConfig.from_dict({"evolution": {"population": 7}})
    assert "even number" in odd.problems()["evolution.population"]
    neg = ParadigmsConfig.from_dict({"feedback_alignment": {"lr": -1}})
    assert "Feedback alignment: lr must be a positive number" in neg.problems()["feedback_alignment.lr"]
    with pytest.raises(ValueError, match="unknown paradigm settings: learning_rate"):
        ParadigmsConfig.from_dict({"learning_rate": 1})
    with pytest.raises(ValueError, match="unknown Evolution strategies settings: pop"):
        ParadigmsConfig.from_dict({"evolution": {"pop": 10}})
    cfg = ParadigmsConfig.from_dict({"rules": ["backprop", "hebbian"], "hidden": [8], "hebbian": {"lr": 0.01}})
    assert ParadigmsConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="flat inputs"):
        Run(toy_dataset("moons", 100).__class__(**{**toy_dataset("moons", 100).__dict__,
                                                    "input_shape": (1, 2, 1)}), ParadigmsConfig())


def test_forward_forward_passes_each_layer_only_the_direction_of_its_activity_and_still_learns():
    cfg = ParadigmsConfig(rules=("forward_forward",), dataset="moons", n=400, noise=0.1, hidden=(32, 32),
                          steps=300, curvature=False)
    ds = toy_dataset("moons", 400, 0.1)
    run = Run(ds, cfg)
    ff = run.learners["forward_forward"]
    X = run.data.X_train[:50]
    labels = ff._labels(run.data.y_train[:50])
    for _ in range(5):
        ff.step(*run.next_batch())
    h1, h2 = ff.hidden(X, labels)
    (W2, b2) = ff._pairs()[1]
    given = ff.normalise(h1)
    assert torch.allclose(given.norm(dim=1), torch.ones(50), atol=1e-5)
    assert torch.allclose(h2, ff.phi(given @ W2.T + b2), atol=1e-6)
    # The first layer's goodness Σh₁² varies by example; what layer 2 receives does not.
    assert float(h1.pow(2).sum(1).std()) > 0.1
    *_, last = train("forward_forward", build_network(2, (32, 32), 2, "tanh", seed=0), ds, cfg)
    assert not last.diverged and last.test_acc > 0.8 and last.extras["goodness_test_acc"] > 0.8, last
