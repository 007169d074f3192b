"""Flat parameter vectors θ and loss functions of θ.

The analyses (surfaces, curvature, kernels) treat a network as a function of one flat vector
θ. `loss_function` builds that function with `torch.func.functional_call`, so it works under
`torch.func.grad`, `vmap`, `jvp` and `vjp` without touching the module's own parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


def param_shapes(model: nn.Module) -> list[tuple[str, torch.Size]]:
    return [(name, p.shape) for name, p in model.named_parameters()]


def flat_params(model: nn.Module) -> torch.Tensor:
    """All trainable parameters, concatenated in `named_parameters` order: (P,), detached copy."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def set_flat_params(model: nn.Module, theta: torch.Tensor) -> None:
    """Write θ back into the module's parameters (in place, no autograd history)."""
    theta = torch.as_tensor(theta)
    total = sum(p.numel() for p in model.parameters())
    if theta.numel() != total:
        raise ValueError(f"θ has {theta.numel()} entries but the model has {total} parameters")
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            n = p.numel()
            p.copy_(theta[offset : offset + n].view_as(p).to(p.device, p.dtype))
            offset += n


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """θ as a {name: tensor} dict of views; works on batched θ under vmap."""
    out, offset = {}, 0
    for name, p in model.named_parameters():
        n = p.numel()
        out[name] = theta[offset : offset + n].view(p.shape)
        offset += n
    return out


def param_slices(model: nn.Module) -> dict[str, slice]:
    """Where each named parameter lives inside θ."""
    out, offset = {}, 0
    for name, p in model.named_parameters():
        out[name] = slice(offset, offset + p.numel())
        offset += p.numel()
    return out


def functional_forward(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """f(θ, X) -> outputs, through `functional_call` (buffers are taken from the module)."""
    buffers = dict(model.named_buffers())

    def forward(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return functional_call(model, (unflatten(model, theta), buffers), (X,))

    return forward


LOSSES = ("cross_entropy", "mse")


def loss_value(outputs: torch.Tensor, y: torch.Tensor, loss: str = "cross_entropy") -> torch.Tensor:
    """Mean loss of a batch of outputs. "mse" accepts real targets or class labels (one-hot)."""
    if loss == "cross_entropy":
        # Written out (log-softmax, then pick the label's entry): vmap has a batching rule for
        # each step, while F.cross_entropy's nll_loss falls back to a slow per-sample loop.
        logp = outputs.log_softmax(-1)
        return -logp.gather(-1, y.unsqueeze(-1)).mean()
    if loss == "mse":
        if y.dtype in (torch.int64, torch.int32) and outputs.ndim == 2 and outputs.shape[1] > 1:
            y = F.one_hot(y, outputs.shape[1]).to(outputs.dtype)
        return F.mse_loss(outputs, y.reshape(outputs.shape).to(outputs.dtype))
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")


def loss_function(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str = "cross_entropy"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """L(θ) on the fixed batch (X, y), evaluated through `functional_call`.

    The data should already be on the model's device; θ must be too.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    forward = functional_forward(model)

    def L(theta: torch.Tensor) -> torch.Tensor:
        return loss_value(forward(theta, X), y, loss)

    # What the loss is made of, so curvature routines can take the layer-wise path
    # (`engine.layerwise_hessian`) where the model allows it.
    L.structure = (model, X, y, loss)
    return L


def model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
