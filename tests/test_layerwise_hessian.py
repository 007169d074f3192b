"""The layer-wise Hessian products equal autograd's double backward, on every layer kind it knows."""

from collections import OrderedDict

import pytest
import torch
from torch import nn

from engine.hessian import HessianOperator, eigenpairs, hessian_trace
from engine.layerwise_hessian import layer_chain, layerwise_hessian
from engine.models import mlp, small_cnn
from engine.params import flat_params, loss_function


def _pooled_cnn() -> nn.Module:
    """Strided first convolution on three channels, overlapping max pooling (the gather path),
    an average pool and a Flatten, then a GELU head: every branch the tiled SmallCNN does not take."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 4, 3, stride=2, padding=1)), ("act1", nn.Tanh()),
        ("pool1", nn.MaxPool2d(3, stride=2, padding=1)),
        ("conv2", nn.Conv2d(4, 5, 3, padding=1)), ("act2", nn.ReLU()),
        ("pool2", nn.AvgPool2d(2)), ("flat", nn.Flatten(1)),
        ("fc", nn.Linear(5 * 2 * 2, 6)), ("act3", nn.GELU()), ("out", nn.Linear(6, 3)),
    ]))


CASES = {
    "tanh-mlp": (lambda: mlp(2, (16, 16), 3, "tanh"), (48, 2), 3, "cross_entropy"),
    "sigmoid-mlp-mse": (lambda: mlp(5, (8,), 4, "sigmoid"), (32, 5), 4, "mse"),
    "relu-mlp": (lambda: mlp(3, (12, 12), 3, "relu"), (40, 3), 3, "cross_entropy"),
    "small-cnn": (lambda: small_cnn(1, 5, 16), (6, 1, 16, 16), 5, "cross_entropy"),
    "pooled-cnn": (_pooled_cnn, (5, 3, 16, 16), 3, "cross_entropy"),
}


def _case(name: str):
    make, shape, classes, loss = CASES[name]
    torch.manual_seed(0)
    model = make().double()
    X = torch.randn(*shape, dtype=torch.float64)
    y = torch.randint(0, classes, (shape[0],))
    L = loss_function(model, X, y, loss)
    return L, flat_params(model)


@pytest.mark.parametrize("name", list(CASES))
def test_products_and_quadratic_forms_equal_double_backward(name):
    L, theta = _case(name)
    lw = layerwise_hessian(L, theta)
    assert lw is not None
    V = torch.randn(5, theta.numel(), generator=torch.Generator().manual_seed(1), dtype=theta.dtype)
    reference = HessianOperator(L, theta, mode="reverse")(V)
    scale = float(reference.norm())
    for chunk in (1, 3):  # one vector at a time, and blocks through vmap
        lw.chunk = chunk
        assert float((lw.hvp(V) - reference).norm()) < 1e-10 * scale, chunk
        quadratic = (reference * V).sum(1)
        assert float((lw.quadratic_forms(V) - quadratic).abs().max()) < 1e-10 * float(quadratic.abs().max()), chunk
    assert float((lw.hvp(V[0]) - reference[0]).norm()) < 1e-10 * scale  # a single vector (P,)


def test_the_operator_takes_the_layerwise_path_and_its_results_stay_exact():
    L, theta = _case("tanh-mlp")
    op = HessianOperator(L, theta)
    assert op.layerwise is not None
    H = torch.func.hessian(L)(theta)
    exact = torch.linalg.eigvalsh(H)
    r = eigenpairs(L, theta, k=2, tol=1e-8)
    assert torch.allclose(r.values, exact.flip(0)[:2], rtol=1e-6)
    V = (torch.randint(0, 2, (9, theta.numel()), generator=torch.Generator().manual_seed(2)) * 2 - 1).double()
    expected = float(torch.einsum("np,pq,nq->n", V, H, V).mean())
    assert abs(hessian_trace(L, theta, probes=V) - expected) < 1e-10 * abs(expected)


def test_models_that_are_not_a_known_chain_fall_back_to_autograd():
    torch.manual_seed(0)
    X, y = torch.randn(20, 2, dtype=torch.float64), torch.randint(0, 2, (20,))
    residual = mlp(2, (8, 8), 2, "tanh", residual=True).double()
    assert layer_chain(residual) is None
    assert layerwise_hessian(loss_function(residual, X, y), flat_params(residual)) is None

    class Doubled(nn.Sequential):
        def forward(self, x):  # not its layers in turn: the check against the loss refuses it
            return 2 * super().forward(x)

    doubled = Doubled(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    L = loss_function(doubled, X, y)
    assert layer_chain(doubled) is not None and layerwise_hessian(L, flat_params(doubled)) is None
    op = HessianOperator(L, flat_params(doubled))
    v = torch.randn(flat_params(doubled).numel(), dtype=torch.float64)
    assert op.layerwise is None
    assert torch.allclose(op(v), torch.func.hessian(L)(flat_params(doubled)) @ v, atol=1e-12)


@pytest.mark.parametrize("name", ["tanh-mlp", "small-cnn", "pooled-cnn"])
def test_sums_over_blocks_of_samples_equal_one_pass(name, monkeypatch):
    import engine.layerwise_hessian as lh

    L, theta = _case(name)
    whole = layerwise_hessian(L, theta)
    monkeypatch.setattr(lh, "DENSE_BLOCK_BYTES", 1)  # one sample per block
    monkeypatch.setattr(lh, "CONV_BLOCK_BYTES", 1)
    blocked = layerwise_hessian(L, theta)
    assert len(whole.row_blocks) == 1 and len(blocked.row_blocks) == len(L.structure[1])
    V = torch.randn(3, theta.numel(), generator=torch.Generator().manual_seed(4), dtype=theta.dtype)
    for chunk in (1, 3):
        blocked.chunk = chunk
        assert torch.allclose(blocked.hvp(V), whole.hvp(V), rtol=1e-10, atol=1e-12), chunk
        assert torch.allclose(blocked.quadratic_forms(V), whole.quadratic_forms(V), rtol=1e-10, atol=1e-12), chunk


def test_largest_in_magnitude_holds_a_negative_eigenvalue_when_it_is_the_larger():
    L, theta = _case("relu-mlp")
    exact = torch.linalg.eigvalsh(torch.func.hessian(L)(theta))
    by_size = exact[torch.argsort(exact.abs(), descending=True)][:4]
    assert bool((by_size < 0).any())  # this network's four largest |λ| include a negative one
    r = eigenpairs(L, theta, k=4, which="magnitude", tol=1e-10, iters=400)
    # Compared as sets: ±λ pairs of equal size may come in either order.
    assert torch.allclose(r.values.sort().values, by_size.sort().values, rtol=1e-6, atol=1e-9)
    top = eigenpairs(L, theta, k=4, which="top", tol=1e-10, iters=400)
    assert bool((top.values > 0).all())
