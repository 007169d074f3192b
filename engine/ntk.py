"""The neural tangent kernel (NTK) of a network, kernel regression, and linearised training.

For a network f(x; θ) with K outputs the empirical NTK at θ is

    K(x, x′) = Σ_k ⟨∂f_k(x; θ)/∂θ, ∂f_k(x′; θ)/∂θ⟩          (traced over outputs)

or, per output pair, K_kl(x, x′) = ⟨∂f_k(x)/∂θ, ∂f_l(x′)/∂θ⟩. Under gradient descent on the
squared loss the outputs move as df/dt = −η K (f − y): while K stays what it was at θ₀ (the
infinite-width limit of Jacot et al. 2018), training is kernel regression with K₀, and the
network behaves like its linearisation f₀ + J₀(θ − θ₀) (Lee et al. 2019).

Two ways to build K with `torch.func`, as in the PyTorch NTK tutorial and neural-tangents:

- Jacobian contraction: per-sample Jacobians J (N, K, P) from `vmap(jacrev)`, then J₁ J₂ᵀ.
  Cheapest for the traced kernel of an MLP; it holds Jacobian rows (in blocks when needed).
- NTK-vector products: a row of J₁ from one `vjp`, pushed through J₂ with one `jvp`; no
  Jacobian is stored. Chosen for the per-output kernel with many outputs, where its cost
  N₁N₂K·P beats the contraction's N₁N₂K²·P, and when not even a Jacobian row fits in memory.

A third, "layers", is used whenever every parameter sits in a dense layer y = c_w·W a + c_b·b
(an MLP, in either parameterisation): the gradient of f_k with respect to W is the outer product
c_w·δ_k aᵀ of the layer's output gradient and its input, so the layer adds
(c_w²·⟨a, a′⟩ + c_b²)·⟨δ_k, δ′_k⟩ to the kernel. One forward and K backward passes give every
a and δ; no per-sample gradient is ever formed (the "structured derivatives" of Novak et al.
2022). Its cost is N₁N₂·Σ(fan_in + fan_out) instead of N₁N₂·P. For a plain MLP (an
nn.Sequential of dense layers and tanh/ReLU/sigmoid/GELU/identity) the δ are pushed back by
hand, δ_l = σ′(z_l) ⊙ c_w·δ_{l+1} W_{l+1}, with no autograd graph or hooks; any other
arrangement of dense layers gets them from autograd.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import jacrev, vjp, vmap

from .data import Dataset
from .device import intra_op_threads, pick_device
from .forward_ad import jvp
from .models import ACTIVATIONS, mlp
from .params import flat_params, functional_forward, model_device
from .specs import OptimSpec, activation_problem
from .training import TrainConfig, Trainer

FLOAT_BYTES = 4
DEFAULT_MAX_BYTES = 512 * 2**20  # Jacobians (or NTK-vector-product intermediates) held at once
MAX_KERNEL_BYTES = 2 * 2**30  # the kernel matrix itself
METHODS = ("auto", "jacobian", "ntvp", "layers")


# -- the empirical NTK --------------------------------------------------------------------------
def ntk_method(n1: int, n2: int, n_outputs: int, n_params: int, per_output: bool = False,
               max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Which way of computing the NTK is cheaper: "jacobian" (contraction) or "ntvp".

    Cost model in multiply-adds, with a forward pass ≈ P: the contraction builds Jacobians for
    ≈ 3(N₁+N₂)·K·P and contracts them for N₁N₂·K·P (traced) or N₁N₂·K²·P (per output pair);
    NTK-vector products cost ≈ 3·N₁N₂·K·P and store no Jacobian. The contraction works in row
    blocks that fit `max_bytes`; when not even two Jacobian rows fit, products are the only way.
    (n2 = 0 means x2 is x1.)
    """
    if 2 * n_outputs * n_params * FLOAT_BYTES > max_bytes:
        return "ntvp"
    n_cols = n2 or n1
    k_pair = n_outputs if per_output else 1
    jacobian_cost = 3 * (n1 + n2) * n_outputs * n_params + n1 * n_cols * n_outputs * k_pair * n_params
    ntvp_cost = 3 * n1 * n_cols * n_outputs * n_params
    return "ntvp" if ntvp_cost < jacobian_cost else "jacobian"


def _prepare(model: nn.Module, theta: torch.Tensor | None, device) -> tuple[nn.Module, torch.Tensor]:
    dev = pick_device(device) if device is not None else model_device(model)
    if model_device(model) != dev:
        model = copy.deepcopy(model).to(dev)
    theta = flat_params(model) if theta is None else torch.as_tensor(theta)
    return model, theta.detach().to(dev, torch.float32)


def _single_output(forward: Callable) -> Callable:
    """f(θ, x) for one input x (no batch axis) -> (K,)."""

    def f(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return forward(theta, x.unsqueeze(0)).reshape(-1)

    return f


def empirical_ntk(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None = None, *,
                  per_output: bool = False, method: str = "auto", theta: torch.Tensor | None = None,
                  device: str | torch.device | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES) -> torch.Tensor:
    """The empirical NTK between the inputs x1 (N₁, …) and x2 (N₂, …; default x1).

    Returns (N₁, N₂) with K[i, j] = Σ_k ⟨∂f_k(x1_i)/∂θ, ∂f_k(x2_j)/∂θ⟩, or with `per_output`
    (N₁, N₂, K, K) with K[i, j, k, l] = ⟨∂f_k(x1_i)/∂θ, ∂f_l(x2_j)/∂θ⟩.

    `theta` evaluates the kernel at another flat parameter vector than the model's own (the
    module is not modified). `method`: "auto" ("layers" for a network of dense layers, else see
    `ntk_method`), "jacobian", "ntvp" or "layers".
    A kernel that would not fit in memory is refused with a message naming `ntk_matvec`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown NTK method {method!r}; choose one of {', '.join(METHODS)}")
    model, theta = _prepare(model, theta, device)
    dev = theta.device
    x1 = torch.as_tensor(x1, dtype=torch.float32).to(dev)
    same = x2 is None
    x2 = x1 if same else torch.as_tensor(x2, dtype=torch.float32).to(dev)
    if len(x1) == 0 or len(x2) == 0:
        raise ValueError("the NTK needs at least one input on each side")
    forward = functional_forward(model)
    chain = _dense_chain(model)
    if chain is not None:  # a plain MLP: its last dense layer says how many outputs, no probe needed
        n_out = next(m for m in reversed(chain) if isinstance(m, (nn.Linear, NTKLinear))).out_features
    else:
        with torch.no_grad():
            n_out = int(forward(theta, x1[:1]).reshape(-1).numel())
    n1, n2, P = len(x1), len(x2), theta.numel()
    kernel_bytes = n1 * n2 * (n_out * n_out if per_output else 1) * FLOAT_BYTES
    if kernel_bytes > MAX_KERNEL_BYTES:
        raise ValueError(
            f"the exact NTK on {n1:,} × {n2:,} inputs would take {kernel_bytes / 2**30:.1f} GB; use fewer "
            "inputs, or the matrix-free product ntk_matvec (K·v) with an iterative method such as "
            "Lanczos (scipy.sparse.linalg.eigsh) or conjugate gradients instead")
    # A plain MLP's dense layers own every parameter (its activations have none).
    layers = _dense_layers(model) if chain is None else [m for m in chain if isinstance(m, (nn.Linear, NTKLinear))]
    if method == "layers":
        if layers is None:
            raise ValueError("method='layers' needs a network whose parameters all sit in Linear layers; "
                             "use 'jacobian' or 'ntvp'")
        kernel = _ntk_by_layers(model, layers, theta, x1, None if same else x2, per_output, chain)
        if kernel is None:
            raise ValueError("method='layers' needs each Linear layer applied once to (N, features) inputs")
        return kernel
    if method == "auto":
        kernel = None if layers is None else _ntk_by_layers(model, layers, theta, x1, None if same else x2,
                                                            per_output, chain)
        if kernel is not None:
            return kernel
        method = ntk_method(n1, 0 if same else n2, n_out, P, per_output, max_bytes)
    if method == "jacobian":
        return _ntk_by_jacobians(forward, theta, x1, None if same else x2, per_output, n_out, max_bytes)
    return _ntk_by_products(forward, theta, x1, x2, per_output, n_out, max_bytes)


def _jacobians(forward: Callable, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Jacobians (N, K, P), one batched reverse pass per output."""
    return vmap(jacrev(_single_output(forward)), in_dims=(None, 0))(theta, x)


def _contract(j1: torch.Tensor, j2: torch.Tensor, per_output: bool) -> torch.Tensor:
    if per_output:
        return torch.einsum("nkp,mlp->nmkl", j1, j2)
    # Σ_k ⟨J1[i,k], J2[j,k]⟩: flatten (k, p) together and take one matrix product.
    return j1.reshape(len(j1), -1) @ j2.reshape(len(j2), -1).T


def _ntk_by_jacobians(forward, theta, x1, x2, per_output, n_out, max_bytes) -> torch.Tensor:
    row_bytes = n_out * theta.numel() * FLOAT_BYTES
    if 2 * row_bytes > max_bytes:
        raise ValueError(f"one Jacobian row has {theta.numel():,} parameters × {n_out} outputs, more than the "
                         f"{max_bytes / 2**20:,.0f} MB budget allows; use method='ntvp'")
    symmetric = x2 is None
    xb = x1 if symmetric else x2
    if (len(x1) + (0 if symmetric else len(xb))) * row_bytes <= max_bytes:  # the usual case: all at once
        j1 = _jacobians(forward, theta, x1)
        return _contract(j1, j1 if symmetric else _jacobians(forward, theta, xb), per_output)
    # Row blocks, two held at a time; the lower triangle of a symmetric kernel is mirrored.
    rows = max(1, max_bytes // (2 * row_bytes))
    shape = (len(x1), len(xb)) + ((n_out, n_out) if per_output else ())
    out = torch.empty(shape, device=theta.device, dtype=theta.dtype)
    for i in range(0, len(x1), rows):
        ja = _jacobians(forward, theta, x1[i : i + rows])
        for j in range(0, len(xb), rows):
            if symmetric and j < i:
                block = out[j : j + rows, i : i + rows]
                out[i : i + rows, j : j + rows] = block.transpose(0, 1).transpose(2, 3) if per_output else block.T
                continue
            jb = ja if symmetric and j == i else _jacobians(forward, theta, xb[j : j + rows])
            out[i : i + rows, j : j + rows] = _contract(ja, jb, per_output)
    return out


def _ntk_by_products(forward, theta, x1, x2, per_output, n_out, max_bytes) -> torch.Tensor:
    f_single = _single_output(forward)
    basis = torch.eye(n_out, device=theta.device, dtype=theta.dtype)

    def against_x2(g: torch.Tensor) -> torch.Tensor:
        # J₂ g: one forward-mode pass over all of x2 -> (N₂, K).
        return jvp(lambda t: forward(t, x2), (theta,), (g,))[1].reshape(len(x2), n_out)

    def rows_of(x: torch.Tensor) -> torch.Tensor:
        # The K rows ∂f_k(x)/∂θ from one vjp each, pushed through J₂ -> (K, N₂, K).
        _, pullback = vjp(lambda t: f_single(t, x), theta)
        return vmap(lambda e: against_x2(pullback(e)[0]))(basis)

    # Each vmapped sample holds K tangents of size P and K forward passes over x2.
    per_sample = n_out * (theta.numel() + 8 * len(x2) * max(n_out, 64)) * FLOAT_BYTES
    chunk = int(max(1, min(len(x1), max_bytes // max(per_sample, 1))))
    out = vmap(rows_of, chunk_size=chunk)(x1)  # (N₁, K, N₂, K)
    if per_output:
        return out.permute(0, 2, 1, 3).contiguous()
    return torch.diagonal(out, dim1=1, dim2=3).sum(-1)


def _dense_layers(model: nn.Module) -> list[nn.Module] | None:
    """The dense layers (nn.Linear, NTKLinear) when they own every parameter, else None."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, NTKLinear))]
    owned = {id(p) for m in layers for p in m.parameters(recurse=False)}
    if not layers or owned != {id(p) for p in model.parameters()}:
        return None
    return layers


def _layer_scales(layer: nn.Module) -> tuple[float, float]:
    """(c_w, c_b) of y = c_w·W a + c_b·b; c_b = 0 without a bias."""
    if isinstance(layer, NTKLinear):
        return layer.sigma_w / math.sqrt(layer.in_features), layer.sigma_b
    return 1.0, 0.0 if layer.bias is None else 1.0


# Derivatives of the activations a plain MLP may use, from the activation's input z and output h,
# so that a chain of dense layers needs no autograd for its output gradients δ (None: σ′ = 1).
def _gelu_derivative(z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(z * (1 / math.sqrt(2)))) + z * torch.exp(-0.5 * z * z) * (1 / math.sqrt(2 * math.pi))


_ACTIVATION_DERIVATIVES: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor | None]] = {
    nn.Tanh: lambda z, h: torch.addcmul(torch.ones_like(h), h, h, value=-1),
    nn.Sigmoid: lambda z, h: h * (1 - h),
    nn.ReLU: lambda z, h: (h > 0).to(h.dtype),
    nn.GELU: _gelu_derivative,
    nn.Identity: lambda z, h: None,
}


def _dense_chain(model: nn.Module) -> list[nn.Module] | None:
    """The steps of a plain MLP — an nn.Sequential of dense layers, each applied once, and
    activations with a known derivative — in order; None for any other network."""
    if type(model) is not nn.Sequential:
        return None
    steps = list(model)  # not children(): a module listed twice is applied twice
    dense = [m for m in steps if isinstance(m, (nn.Linear, NTKLinear))]
    if not dense or len({id(m) for m in dense}) != len(dense):
        return None
    for m in steps:
        if isinstance(m, (nn.Linear, NTKLinear)):
            continue
        if type(m) not in _ACTIVATION_DERIVATIVES or (isinstance(m, nn.GELU) and m.approximate != "none"):
            return None
    return steps


def _chain_factors(steps: list[nn.Module], model: nn.Module, theta: torch.Tensor, x: torch.Tensor
                   ) -> tuple[list[tuple[torch.Tensor, torch.Tensor | None]], int]:
    """`_layer_factors` for a plain MLP, by hand, and the number of outputs K: one forward pass,
    then the output gradients pushed back layer by layer (δ_l = σ′(z_l) ⊙ c_w·δ_{l+1} W_{l+1}),
    with no autograd graph. δ is None for a layer whose output is the network's (δ[k, n] = e_k)."""
    views, offset = {}, 0
    for p in model.parameters():
        views[id(p)] = theta[offset : offset + p.numel()].view(p.shape)
        offset += p.numel()
    dense = [m for m in steps if isinstance(m, (nn.Linear, NTKLinear))]
    first, n_out, n = dense[0], dense[-1].out_features, len(x)
    trace = []  # (step, its input, its output)
    h = x
    for i, m in enumerate(steps):
        if i == len(steps) - 1 and m is dense[-1]:
            trace.append((m, h, None))  # the network's output itself is not needed
            break
        if m in dense:
            c_w, c_b = _layer_scales(m)
            w = views[id(m.weight)]
            if m.bias is None:
                out = torch.mm(h, w.T)
                if c_w != 1.0:
                    out.mul_(c_w)
            else:
                out = torch.addmm(views[id(m.bias)], h, w.T, beta=c_b, alpha=c_w)
        else:
            out = m(h)
        trace.append((m, h, out))
        h = out
    grad = None  # ∂f_k/∂(current output), (K, N, width); None is the identity
    factors = []
    for m, inp, out in reversed(trace):
        if m in dense:
            factors.append((inp, grad))
            if m is first:
                break
            w = views[id(m.weight)] * _layer_scales(m)[0]
            grad = w[:, None, :].expand(n_out, n, w.shape[1]) if grad is None else torch.matmul(grad, w)
            continue
        slope = _ACTIVATION_DERIVATIVES[type(m)](inp, out)
        if slope is None:
            continue
        if grad is None:
            eye = torch.eye(n_out, dtype=out.dtype, device=out.device)
            grad = eye[:, None, :] * slope
        else:
            grad = grad * slope
    return factors[::-1], n_out


def _layer_factors(model: nn.Module, layers: list[nn.Module], theta: torch.Tensor, x: torch.Tensor
                   ) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """Per dense layer: its inputs a (N, fan_in) and output gradients δ (K, N, fan_out), where
    δ[k, n] = ∂f_k(x_n)/∂y_n. None when a layer is not applied exactly once to (N, features)."""
    inputs: dict[int, list[torch.Tensor]] = {id(m): [] for m in layers}
    taps: dict[int, list[torch.Tensor]] = {id(m): [] for m in layers}

    def hook(module, args, output):
        # A zero added to the layer's output: its gradient is δ, sample by sample.
        tap = torch.zeros_like(output, requires_grad=True)
        inputs[id(module)].append(args[0].detach())
        taps[id(module)].append(tap)
        return output + tap

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.enable_grad():
            out = functional_forward(model)(theta, x)
    finally:
        for h in handles:
            h.remove()
    if any(len(inputs[id(m)]) != 1 or inputs[id(m)][0].ndim != 2 or taps[id(m)][0].shape[0] != len(x)
           for m in layers):
        return None
    out = out.reshape(len(x), -1)
    n_out = out.shape[1]
    tap_list = [taps[id(m)][0] for m in layers]
    if n_out == 1:
        grads = torch.autograd.grad(out, tap_list, torch.ones_like(out), allow_unused=True)
        grads = [None if g is None else g[None] for g in grads]
    else:
        seeds = torch.eye(n_out, dtype=out.dtype, device=out.device)[:, None, :].expand(n_out, len(x), n_out)
        grads = torch.autograd.grad(out, tap_list, seeds, is_grads_batched=True, allow_unused=True)
    factors = []
    for m, g in zip(layers, grads):
        a = inputs[id(m)][0]
        if g is None:  # a layer the output does not depend on
            g = a.new_zeros(n_out, len(x), taps[id(m)][0].shape[1])
        factors.append((a, g.detach()))
    return factors


def _ntk_by_layers(model: nn.Module, layers: list[nn.Module], theta: torch.Tensor, x1: torch.Tensor,
                   x2: torch.Tensor | None, per_output: bool, steps: list[nn.Module] | None = None
                   ) -> torch.Tensor | None:
    """The kernel from each dense layer's inputs and output gradients (see the module's notes).
    `steps`: the model as a plain MLP (`_dense_chain`; then `layers` are its dense steps in
    order), whose factors need no autograd."""
    if steps is not None and x1.ndim == 2 and x1.shape[1] == layers[0].in_features:
        f1, n_out = _chain_factors(steps, model, theta, x1)
        f2 = f1 if x2 is None else _chain_factors(steps, model, theta, x2)[0]
    else:
        f1 = _layer_factors(model, layers, theta, x1)
        f2 = f1 if x2 is None else _layer_factors(model, layers, theta, x2)
        if f1 is None or f2 is None:
            return None
        n_out = f1[0][1].shape[0]
    total = None
    for m, (a1, d1), (a2, d2) in zip(layers, f1, f2):
        c_w, c_b = _layer_scales(m)
        if d1 is None and not per_output and total is not None:
            # The output layer (δ = e_k): K·(c_w²⟨a, a′⟩ + c_b²), added in place.
            total.addmm_(a1, a2.T, alpha=n_out * c_w * c_w).add_(n_out * c_b * c_b)
            continue
        inputs = torch.addmm(a1.new_full((), c_b * c_b), a1, a2.T, alpha=c_w * c_w)  # (N₁, N₂)
        if per_output:
            if d1 is None:
                eye = torch.eye(n_out, dtype=inputs.dtype, device=inputs.device)
                term = inputs[:, :, None, None] * eye
            else:
                term = inputs[:, :, None, None] * torch.einsum("knp,lmp->nmkl", d1, d2)
            total = term if total is None else total.add_(term)
            continue
        if d1 is None:
            total = inputs.mul_(n_out) if total is None else total.add_(inputs, alpha=n_out)
            continue
        k, n1, width = d1.shape
        if k == 1 and width == 1 and bool((d1 == 1).all()) and bool((d2 == 1).all()):
            g = None  # the output layer of a one-output network: δ = 1
        elif k == 1:
            g = d1[0] @ d2[0].T
        else:
            g = d1.permute(1, 0, 2).reshape(n1, k * width) @ d2.permute(1, 0, 2).reshape(len(a2), k * width).T
        if g is None:
            total = inputs if total is None else total.add_(inputs)
        else:
            total = inputs.mul_(g) if total is None else total.addcmul_(inputs, g)
    return total


def ntk_matvec(model: nn.Module, x: torch.Tensor, v: torch.Tensor, theta: torch.Tensor | None = None,
               device: str | torch.device | None = None) -> torch.Tensor:
    """K·v without forming K: v (N,) against the traced kernel, or (N, K) against the per-output one.

    One vjp and one jvp per output (traced) or one of each (per output): memory of a few
    parameter vectors, so it works for input sets whose kernel would not fit in memory.
    """
    model, theta = _prepare(model, theta, device)
    x = torch.as_tensor(x, dtype=torch.float32).to(theta.device)
    v = torch.as_tensor(v, dtype=torch.float32).to(theta.device)
    forward = functional_forward(model)
    raw, pullback = vjp(lambda t: forward(t, x), theta)
    out = raw.reshape(len(x), -1)
    n_out = out.shape[1]

    def apply(cotangent: torch.Tensor) -> torch.Tensor:
        # J (Jᵀ c): pull the cotangent back to θ, push it forward again.
        g = pullback(cotangent.reshape(raw.shape))[0]
        return jvp(lambda t: forward(t, x), (theta,), (g,))[1].reshape(len(x), n_out)

    if v.ndim == 2:
        if v.shape != out.shape:
            raise ValueError(f"v must have shape {tuple(out.shape)} for the per-output kernel, got {tuple(v.shape)}")
        return apply(v)
    if v.shape != (len(x),):
        raise ValueError(f"v must have shape ({len(x)},) for the traced kernel, got {tuple(v.shape)}")
    basis = torch.eye(n_out, device=theta.device, dtype=theta.dtype)

    def one_output(e: torch.Tensor) -> torch.Tensor:
        # Output k alone: (Σ_j v_j ∂f_k(x_j)/∂θ) pushed through ∂f_k(x_i)/∂θ.
        return apply(v[:, None] * e[None, :]) @ e

    return vmap(one_output)(basis).sum(0)


# -- kernel regression --------------------------------------------------------------------------
def kernel_regression(k_train: torch.Tensor, y_train: torch.Tensor, k_test_train: torch.Tensor,
                      ridge: float = 0.0, device: str | torch.device | None = None) -> torch.Tensor:
    """Closed-form kernel (ridge) regression: K(test, train) (K(train, train) + λI)⁻¹ y.

    k_train (N, N), y_train (N,) or (N, K), k_test_train (M, N) -> (M,) or (M, K). Per-output
    kernels (N, N, K, K) and (M, N, K, K) with y (N, K) are accepted too. Solved in float64
    through an eigendecomposition; with λ = 0 directions of K that are numerically zero are
    dropped, which is the limit that gradient descent from zero reaches. `device`: where to
    solve (default: where k_train is); the result comes back there.
    """
    if not (isinstance(ridge, (int, float)) and math.isfinite(ridge)) or ridge < 0:
        raise ValueError(f"the ridge must be a number ≥ 0, got {ridge}")
    k_train = torch.as_tensor(k_train)
    dev = k_train.device if device is None else torch.device(device)
    k_train = k_train.to(dev)
    k_test_train = torch.as_tensor(k_test_train).to(dev)
    y = torch.as_tensor(y_train).to(dev)
    out_dtype = k_test_train.dtype if k_test_train.is_floating_point() else torch.float32
    if k_train.ndim == 4:
        n, _, k, _ = k_train.shape
        m = k_test_train.shape[0]
        if y.shape != (n, k) or k_test_train.shape[1:] != (n, k, k):
            raise ValueError("per-output kernels need k_train (N, N, K, K), k_test_train (M, N, K, K), y (N, K)")
        flat = kernel_regression(k_train.permute(0, 2, 1, 3).reshape(n * k, n * k), y.reshape(n * k),
                                 k_test_train.permute(0, 2, 1, 3).reshape(m * k, n * k), ridge)
        return flat.reshape(m, k)
    if k_train.ndim != 2 or k_train.shape[0] != k_train.shape[1]:
        raise ValueError(f"k_train must be a square (N, N) matrix, got {tuple(k_train.shape)}")
    n = k_train.shape[0]
    if k_test_train.ndim != 2 or k_test_train.shape[1] != n:
        raise ValueError(f"k_test_train must be (M, {n}), got {tuple(k_test_train.shape)}")
    if y.shape[0] != n:
        raise ValueError(f"y_train has {y.shape[0]} rows but the kernel has {n}")
    K = k_train.to(torch.float64)
    K = (K + K.T) / 2
    evals, evecs = torch.linalg.eigh(K)
    shifted = evals + ridge
    cutoff = max(float(evals.abs().max()), 1e-300) * n * torch.finfo(k_train.dtype if k_train.is_floating_point()
                                                                         else torch.float64).eps
    inv = torch.where(shifted > cutoff, 1.0 / shifted.clamp_min(cutoff), torch.zeros_like(shifted))
    y64 = y.to(K.device, torch.float64)
    alpha = evecs @ (inv[:, None] * (evecs.T @ (y64 if y64.ndim == 2 else y64[:, None])))
    pred = k_test_train.to(torch.float64) @ alpha
    return (pred if y.ndim == 2 else pred[:, 0]).to(out_dtype)


# -- NTK parameterisation ------------------------------------------------------------------------
class NTKLinear(nn.Module):
    """y = (σ_w/√fan_in)·W x + σ_b·b with W, b ~ N(0, 1): the NTK parameterisation.

    The scale sits in the forward pass, not in the initial weights, so the kernel stays O(1)
    as the width grows and one learning rate suits every width (Jacot et al. 2018).
    """

    def __init__(self, in_features: int, out_features: int, sigma_w: float = 1.0, sigma_b: float = 1.0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.sigma_w, self.sigma_b = float(sigma_w), float(sigma_b)
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.randn(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, None) * (self.sigma_w / math.sqrt(self.in_features)) + self.sigma_b * self.bias

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, σ_w={self.sigma_w:g}, σ_b={self.sigma_b:g}"


def ntk_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh",
            sigma_w: float = 1.5, sigma_b: float = 1.0) -> nn.Module:
    """An MLP in the NTK parameterisation, named like `engine.models.mlp` (fc1, act1, …, out).

    The output layer uses σ_w = 1 so that f(x; θ₀) has unit scale.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    hidden = [int(h) for h in hidden]
    if not hidden or any(h < 1 for h in hidden):
        raise ValueError(f"every hidden layer needs at least 1 unit, got {hidden}")
    layers: list[tuple[str, nn.Module]] = []
    width = in_dim
    for i, h in enumerate(hidden, start=1):
        layers.append((f"fc{i}", NTKLinear(width, h, sigma_w, sigma_b)))
        layers.append((f"act{i}", ACTIVATIONS[activation]()))
        width = h
    layers.append(("out", NTKLinear(width, out_dim, 1.0, sigma_b)))
    from collections import OrderedDict

    return nn.Sequential(OrderedDict(layers))


# -- the 1-D regression task ------------------------------------------------------------------------
TARGETS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sine": lambda x: np.sin(np.pi * x),
    "two tones": lambda x: 0.8 * np.sin(2.2 * x) + 0.4 * np.cos(5.0 * x),
    "smooth step": lambda x: np.tanh(4.0 * x),
    "bump": lambda x: 1.6 * np.exp(-8.0 * x**2) - 0.6,
}
TARGET_NAMES = tuple(TARGETS)
X_RANGE = (-1.0, 1.0)  # where the training points lie
PLOT_RANGE = (-1.15, 1.15)  # where predictions are drawn (a little beyond the data)


def regression_1d(n: int = 10, target: str = "sine", noise: float = 0.0, grid: int = 200,
                  seed: int = 0) -> Dataset:
    """A few points of a smooth function on [−1, 1]; the test set is a dense grid with the true values.

    Points are spread by jittered strata (one per 1/n of the interval) so none coincide.
    y is float32 of shape (N, 1): train with loss "mse".
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if not 2 <= n <= 500:
        raise ValueError(f"use between 2 and 500 training points, got {n}")
    if noise < 0 or not math.isfinite(noise):
        raise ValueError(f"noise must be a number ≥ 0, got {noise}")
    rng = np.random.default_rng(seed)
    lo, hi = X_RANGE
    x = lo + (np.arange(n) + rng.uniform(0.15, 0.85, n)) * (hi - lo) / n
    y = TARGETS[target](x) + noise * rng.standard_normal(n)
    xg = np.linspace(*PLOT_RANGE, grid)
    t = lambda a: torch.as_tensor(a, dtype=torch.float32).reshape(-1, 1)  # noqa: E731
    return Dataset(name=f"1-D {target}", X_train=t(x), y_train=t(y), X_test=t(xg), y_test=t(TARGETS[target](xg)),
                   n_classes=1, input_shape=(1,), class_names=["y"],
                   notes=[f"{n} points of {target} on [{lo:g}, {hi:g}], noise {noise:g}"])


# -- settings ----------------------------------------------------------------------------------------
PARAMETERIZATIONS = ("ntk", "standard")


@dataclass
class NTKConfig(OptimSpec):
    """How the networks of a width study are built and trained (GD on the squared loss): the
    optimiser (`OptimSpec`, full batch and heavy-ball momentum by default) and the study's own
    network family, whose width the study varies (so it has depth and activation, not `hidden`)."""

    lr: float = 0.3  # about a quarter of the stability limit on the default task, at every width
    momentum: float = 0.9
    batch_size: int = 0  # 0: full batch
    hidden_layers: int = 1
    activation: str = "tanh"
    parameterization: str = "ntk"  # "ntk" (1/√fan-in in the forward pass) or "standard" (PyTorch's)
    sigma_w: float = 1.5
    sigma_b: float = 1.0
    centered: bool = True  # subtract f(x; θ₀), so every model starts from f₀ = 0
    steps: int = 1500
    ridge: float = 0.0  # for the NTK regression prediction (0: the limit gradient descent reaches)
    kernel_ridge: float = 1e-3  # for the kernel-methods comparison, relative to the mean diagonal
    rbf_length: float = 0.3
    kernel_grid: int = 64  # inputs on which the kernel is drawn and its spectrum taken
    max_params: int = 2_000_000
    device: str = "auto"

    def problems(self, n_train: int | None = None) -> dict[str, str]:
        """Field -> a specific message for every invalid setting (empty when valid)."""
        out = super().problems(n_train)
        if not 1 <= self.hidden_layers <= 4:
            out["hidden_layers"] = f"use 1 to 4 hidden layers, got {self.hidden_layers}"
        bad = activation_problem(self.activation)
        if bad:
            out["activation"] = bad
        if self.parameterization not in PARAMETERIZATIONS:
            out["parameterization"] = f"parameterization is 'ntk' or 'standard', got {self.parameterization!r}"
        for name in ("sigma_w", "sigma_b", "rbf_length"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)) or v <= 0:
                out[name] = f"{name} must be a positive number, got {v}"
        for name in ("ridge", "kernel_ridge"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)) or v < 0:
                out[name] = f"the ridge must be a number ≥ 0, got {v}"
        if not 1 <= self.steps <= 200_000:
            out["steps"] = f"use 1 to 200,000 steps, got {self.steps}"
        if not 4 <= self.kernel_grid <= 1000:
            out["kernel_grid"] = f"the kernel grid needs 4 to 1000 points, got {self.kernel_grid}"
        return out

    def train_config(self, seed: int, n_train: int) -> TrainConfig:
        return TrainConfig(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                           batch_size=0 if self.batch_size >= n_train else self.batch_size,
                           weight_decay=self.weight_decay, steps=self.steps, eval_every=max(1, self.steps),
                           seed=seed, device=self.device, loss="mse")

    @classmethod
    def from_train_config(cls, config: TrainConfig, **kw) -> NTKConfig:
        """The study's settings from a plain `TrainConfig` (optimizer, lr, momentum, steps, device)."""
        return cls(optimizer=config.optimizer, lr=config.lr, momentum=config.momentum, steps=config.steps,
                   batch_size=config.batch_size, device=config.device, **kw)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def n_params_for(width: int, config: NTKConfig, in_dim: int = 1, out_dim: int = 1) -> int:
    """How many parameters the study's network has at this width."""
    dims = [in_dim] + [width] * config.hidden_layers + [out_dim]
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))


def build_network(width: int, config: NTKConfig, seed: int = 0, in_dim: int = 1, out_dim: int = 1) -> nn.Module:
    """The study's network at one width; same seed, same weights."""
    if width < 1:
        raise ValueError(f"the width must be at least 1, got {width}")
    n = n_params_for(width, config, in_dim, out_dim)
    if n > config.max_params:
        raise ValueError(f"width {width:,} with {config.hidden_layers} hidden layers has {n:,} parameters, above "
                         f"the limit of {config.max_params:,}; lower the width or the number of layers")
    torch.manual_seed(int(seed))
    hidden = [int(width)] * config.hidden_layers
    if config.parameterization == "ntk":
        return ntk_mlp(in_dim, hidden, out_dim, config.activation, config.sigma_w, config.sigma_b)
    return mlp(in_dim, hidden, out_dim, config.activation)


# -- the linearised network ----------------------------------------------------------------------------
class LinearizedNetwork(nn.Module):
    """f_lin(x; θ) = f(x; θ₀) + J(x; θ₀)(θ − θ₀): the first-order Taylor model around θ₀.

    Its one parameter is the flat vector θ (starting at θ₀), so the ordinary `Trainer` trains it
    with the same optimiser and batches as the network. The output is one `jvp` at θ₀ (no
    Jacobian stored); for inputs named in `fixed_inputs` (e.g. a full training batch) the
    Jacobian is built once and each step is a matrix-vector product.
    """

    def __init__(self, model: nn.Module, theta0: torch.Tensor | None = None,
                 fixed_inputs: Sequence[torch.Tensor] = (), max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__()
        # A private copy, kept out of the module tree so its weights are not parameters here.
        self._network = (copy.deepcopy(model),)
        self._forward = functional_forward(self._network[0])
        theta0 = flat_params(model) if theta0 is None else torch.as_tensor(theta0, dtype=torch.float32)
        self.register_buffer("theta0", theta0.detach().clone().to(model_device(model)))
        self.theta = nn.Parameter(self.theta0.clone())
        self._fixed: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        budget = max_bytes
        for x in fixed_inputs:
            x = x.to(self.theta0.device)
            with torch.no_grad():
                f0 = self._forward(self.theta0, x)
            size = f0.numel() * self.theta0.numel() * FLOAT_BYTES
            if size > budget:
                continue  # too big to hold: those inputs take the jvp path
            budget -= size
            jac = _jacobians(self._forward, self.theta0, x).reshape(f0.numel(), -1)
            self._fixed.append((x, f0, jac))

    def _apply(self, fn, *args, **kw):
        self._network[0]._apply(fn, *args, **kw)
        self._fixed = [(fn(x), fn(f0), fn(j)) for x, f0, j in self._fixed]
        return super()._apply(fn, *args, **kw)

    def _cached(self, x: torch.Tensor):
        for xc, f0, jac in self._fixed:
            if xc.shape == x.shape and xc.device == x.device and (xc.data_ptr() == x.data_ptr()
                                                                  or torch.equal(xc, x)):
                return f0, jac
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hit = self._cached(x)
        if hit is not None:
            f0, jac = hit
            return f0 + (jac @ (self.theta - self.theta0)).reshape(f0.shape)
        f0, change = jvp(lambda t: self._forward(t, x), (self.theta0,), (self.theta - self.theta0,))
        return f0 + change


def train_linearized(model: nn.Module, dataset: Dataset, config: TrainConfig,
                     theta0: torch.Tensor | None = None, record_theta_every: int = 0):
    """Train the linearisation of `model` around θ₀ (default: its current weights) like `train`
    trains the network: same optimiser, same batch order for the same seed; yields `TrainEvent`s
    whose θ is the linear model's parameter vector."""
    from .training import train

    yield from train(LinearizedNetwork(model, theta0), dataset, config, record_theta_every)


def linearized_closed_form(k_train: torch.Tensor, k_test_train: torch.Tensor, residual0: torch.Tensor,
                           lr: float, steps: int) -> torch.Tensor:
    """Test-output change of the linearised model after `steps` of full-batch GD (no momentum)
    on the mean squared loss: K(test, train) K⁻¹ (I − (I − 2ηK/N)ᵗ) r₀, with r₀ = y − f₀(train).

    (The exact function-space solution; used to check the parameter-space trainer.)
    """
    K = k_train.to(torch.float64)
    n = K.shape[0]
    evals, evecs = torch.linalg.eigh((K + K.T) / 2)
    a = 2.0 * lr / n
    # K⁻¹(I − (I − aK)ᵗ) per eigenvalue; → a·t as λ → 0.
    lam = evals.clamp_min(0.0)
    small = lam * a < 1e-12
    factor = torch.where(small, torch.full_like(lam, a * steps),
                         (1 - (1 - a * lam) ** steps) / torch.where(small, torch.ones_like(lam), lam))
    r0 = residual0.to(torch.float64).reshape(n, -1)
    coef = evecs @ (factor[:, None] * (evecs.T @ r0))
    return (k_test_train.to(torch.float64) @ coef).reshape(-1).to(torch.float32)


# -- a network against its kernel, at one width ---------------------------------------------------
@dataclass
class StudyProgress:
    """Where a width study is (yielded often, so a cancel takes effect quickly)."""

    width: int
    stage: str
    step: int = 0
    steps: int = 0
    loss: float = float("nan")
    linearized_loss: float = float("nan")
    fraction: float = 0.0  # of the whole study


@dataclass
class WidthResult:
    """Everything the NTK tab draws for one width (numpy arrays, on the CPU).

    Predictions are on `x_plot` (the test inputs); kernels on `x_kernel`; the training kernel
    (on the training inputs) gives `relative_change`. All outputs are reported with f₀
    subtracted when the study is centred.
    """

    width: int
    n_params: int
    seed: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_plot: np.ndarray
    y_true: np.ndarray
    f_network: np.ndarray  # the trained network
    f_linearized: np.ndarray  # its linearisation at θ₀, trained the same way
    f_kernel: np.ndarray  # NTK regression with K₀ (the t → ∞ limit of the linearised model)
    train_loss: float
    linearized_train_loss: float
    train_kernel_0: np.ndarray
    train_kernel_T: np.ndarray
    relative_change: float  # ‖K_T − K₀‖_F / ‖K₀‖_F on the training inputs
    linearized_gap: float  # RMS over x_plot of f_network − f_linearized
    kernel_gap: float  # RMS over x_plot of f_network − f_kernel
    x_kernel: np.ndarray
    kernel_0: np.ndarray  # K₀ on x_kernel
    kernel_T: np.ndarray  # K_T on x_kernel
    eig_0: np.ndarray  # eigenvalues of kernel_0, descending
    eig_T: np.ndarray
    eig_rbf: np.ndarray  # of the RBF kernel on x_kernel
    f_ntk_ridge: np.ndarray  # kernel ridge with K₀ (ridge relative to its mean diagonal)
    f_rbf_ridge: np.ndarray  # scikit-learn's RBF kernel ridge, same relative ridge
    lr_limit: float  # learning rate above which full-batch GD on this kernel diverges (NaN for Adam)
    steps: int
    diverged: bool = False
    message: str = ""
    seconds: float = 0.0

    def summary(self) -> dict:
        """The scalar figures, for JSON."""
        keys = ("width", "n_params", "seed", "train_loss", "linearized_train_loss", "relative_change",
                "linearized_gap", "kernel_gap", "lr_limit", "steps", "diverged", "message", "seconds")
        return {k: getattr(self, k) for k in keys}


@dataclass
class DriftPoint:
    """One width of `ntk_drift`."""

    width: int
    relative_change: float  # ‖K_T − K₀‖_F / ‖K₀‖_F
    linearized_gap: float  # RMS(f_network − f_linearized) on the test inputs
    kernel_gap: float = float("nan")
    n_params: int = 0
    diverged: bool = False
    result: WidthResult | None = field(default=None, repr=False)


def _targets(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Float targets (N, K): regression values as they are, class labels one-hot."""

    def convert(y: torch.Tensor) -> torch.Tensor:
        if y.dtype in (torch.int64, torch.int32):
            return F.one_hot(y.long(), dataset.n_classes).float()
        return y.float().reshape(len(y), -1)

    return convert(dataset.y_train), convert(dataset.y_test)


def _kernel_inputs(dataset: Dataset, n: int) -> torch.Tensor:
    """Where the kernel is drawn: an even 1-D grid over the test range, else the first test inputs."""
    X = dataset.X_test
    if dataset.in_features == 1:
        lo, hi = float(X.min()), float(X.max())
        return torch.linspace(lo, hi, n).reshape(-1, *dataset.input_shape)
    return X[:n]


def _threads(n: int | None):
    """Run the block with n intra-op threads (None: unchanged), then restore the count."""
    return intra_op_threads(n)


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a)))) if a.size else float("nan")


def _eigvals(k: torch.Tensor) -> np.ndarray:
    k = k.to(torch.float64)
    return torch.linalg.eigvalsh((k + k.T) / 2).flip(0).cpu().numpy()


def compare_at_width(width: int, dataset: Dataset, config: NTKConfig | None = None,
                     seed: int = 0) -> Iterator[StudyProgress | WidthResult]:
    """Train one network of this width and its linearisation; compare with NTK regression.

    Yields `StudyProgress` while it works and one `WidthResult` at the end. Stop early by
    closing the generator.
    """
    import time

    from sklearn.kernel_ridge import KernelRidge
    from sklearn.metrics.pairwise import rbf_kernel

    config = config or NTKConfig()
    config.check()
    t_start = time.perf_counter()
    device = pick_device(config.device)
    Y_train, Y_test = _targets(dataset)
    n_out = Y_train.shape[1]
    in_dim = dataset.in_features
    yield StudyProgress(width, "building the network and its kernel at θ₀")
    model = build_network(width, config, seed, in_dim, n_out).to(device)
    model.train(False)
    theta0 = flat_params(model)
    forward = functional_forward(model)
    X_train = dataset.X_train.reshape(len(Y_train), in_dim).to(device)
    X_test = dataset.X_test.reshape(len(Y_test), in_dim).to(device)
    X_kernel = _kernel_inputs(dataset, config.kernel_grid).reshape(-1, in_dim).to(device)
    with torch.no_grad():
        f0_train, f0_test = forward(theta0, X_train), forward(theta0, X_test)
    # Small kernels are many small tensor operations: one thread does them fastest (a second one
    # mostly waits, and on a busy machine it can wait for a long time).
    one_thread = 1 if device.type == "cpu" and (len(X_test) + len(X_kernel)) * theta0.numel() < 20_000_000 else None
    with _threads(one_thread):
        K0_train = empirical_ntk(model, X_train)
        K0_test = empirical_ntk(model, X_test, X_train)
        K0_kernel = empirical_ntk(model, X_kernel)
    offset_train = f0_train if config.centered else torch.zeros_like(f0_train)
    offset_test = f0_test if config.centered else torch.zeros_like(f0_test)
    Yd_train, Yd_test = Y_train.to(device), Y_test.to(device)
    mean_diag = float(torch.diagonal(K0_train).mean())
    # The t → ∞ limit of the linearised model: f₀ + K₀(x, X) K₀⁻¹ (y − f₀(X)).
    f_kernel = kernel_regression(K0_train, Yd_train - (f0_train - offset_train), K0_test,
                                 config.ridge * mean_diag) + (f0_test - offset_test)

    # Both models learn y + f₀ when centred, i.e. the centred output f − f₀ learns y.
    shifted = Dataset(dataset.name, X_train.cpu(), (Yd_train + offset_train).cpu(), X_test.cpu(),
                      (Yd_test + offset_test).cpu(), n_out, (in_dim,), list(dataset.class_names))
    tc = config.train_config(seed, len(Y_train))
    # Full-batch GD on the mean squared loss moves outputs by −η (2/(N·K)) K_full r; it is stable
    # while η (2/(N·K)) λmax < 2(1 + β). The traced kernel is about K times the per-output one.
    lam_full = float(torch.linalg.eigvalsh(K0_train.double()).max()) / n_out
    lr_limit = ((1.0 + config.momentum) * len(Y_train) * n_out / lam_full
                if config.optimizer == "sgd" and lam_full > 0 else float("nan"))
    net = Trainer(model, shifted, tc)
    lin = Trainer(LinearizedNetwork(model, theta0, fixed_inputs=[X_train]), shifted, tc)
    every = max(1, config.steps // 60)
    diverged, message = False, ""
    loss = lin_loss = float("nan")
    # Each step touches tensors of batch × width numbers: for small ones, splitting the work
    # over threads costs more than it saves (badly so on a busy machine).
    small = device.type == "cpu" and len(Y_train) * theta0.numel() < 2_000_000
    step = done = 0
    while done < config.steps and not diverged:
        chunk_start = time.perf_counter()
        with _threads(1 if small else None):
            for step in range(done + 1, min(done + every, config.steps) + 1):
                ev, lev = net.step(), lin.step()
                loss, lin_loss = ev.batch_loss, lev.batch_loss
                if ev.diverged or lev.diverged:
                    diverged = True
                    which = "the network" if ev.diverged else "the linearised model"
                    limit = f" (gradient descent on this kernel is stable below lr ≈ {lr_limit:.3g})" \
                        if math.isfinite(lr_limit) else ""
                    message = (f"width {width}: {which} diverged at step {step}: learning rate {config.lr:g} is "
                               f"too large{limit}")
                    break
                if time.perf_counter() - chunk_start > 0.1:  # report (and allow a stop) often enough
                    break
        done = step
        if not diverged:
            yield StudyProgress(width, "training the network and its linearisation", step, config.steps,
                                loss, lin_loss)
    yield StudyProgress(width, "kernel after training", config.steps, config.steps, loss, lin_loss)
    thetaT = flat_params(net.model)
    with torch.no_grad():
        f_net = forward(thetaT, X_test) - offset_test
        f_lin = lin.model(X_test) - offset_test
        train_loss = float(F.mse_loss(forward(thetaT, X_train) - offset_train, Yd_train))
        lin_train_loss = float(F.mse_loss(lin.model(X_train) - offset_train, Yd_train))
    if diverged:
        KT_train, KT_kernel = torch.full_like(K0_train, float("nan")), torch.full_like(K0_kernel, float("nan"))
    else:
        with _threads(one_thread):
            KT_train = empirical_ntk(model, X_train, theta=thetaT)
            KT_kernel = empirical_ntk(model, X_kernel, theta=thetaT)
    rel = float(torch.linalg.norm(KT_train - K0_train) / torch.linalg.norm(K0_train))

    # Kernel methods: the same data through ridge regression with K₀ and with an RBF kernel.
    xk_np = X_kernel.cpu().numpy().astype(np.float64)
    gamma = 1.0 / (2.0 * config.rbf_length**2)
    rbf = KernelRidge(alpha=max(config.kernel_ridge, 1e-10), kernel="rbf", gamma=gamma)
    rbf.fit(X_train.cpu().numpy().astype(np.float64), Y_train.numpy().astype(np.float64))
    f_rbf = rbf.predict(X_test.cpu().numpy().astype(np.float64))
    f_ntk_ridge = kernel_regression(K0_train, Yd_train - (f0_train - offset_train), K0_test,
                                    config.kernel_ridge * mean_diag) + (f0_test - offset_test)
    eig_rbf = np.linalg.eigvalsh(rbf_kernel(xk_np, xk_np, gamma=gamma))[::-1].copy()

    def np1(t: torch.Tensor) -> np.ndarray:
        a = t.detach().cpu().numpy()
        return a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a

    f_net_np, f_lin_np, f_kernel_np = np1(f_net), np1(f_lin), np1(f_kernel)
    yield WidthResult(
        width=width, n_params=theta0.numel(), seed=seed,
        x_train=np1(X_train.cpu()), y_train=np1(Y_train), x_plot=np1(X_test.cpu()), y_true=np1(Y_test),
        f_network=f_net_np, f_linearized=f_lin_np, f_kernel=f_kernel_np,
        train_loss=train_loss, linearized_train_loss=lin_train_loss,
        train_kernel_0=K0_train.cpu().numpy(), train_kernel_T=KT_train.cpu().numpy(), relative_change=rel,
        linearized_gap=_rms(f_net_np - f_lin_np), kernel_gap=_rms(f_net_np - f_kernel_np),
        x_kernel=np1(X_kernel.cpu()), kernel_0=K0_kernel.cpu().numpy(), kernel_T=KT_kernel.cpu().numpy(),
        eig_0=_eigvals(K0_kernel), eig_T=_eigvals(KT_kernel) if not diverged else np.full(len(X_kernel), np.nan),
        eig_rbf=eig_rbf, f_ntk_ridge=np1(f_ntk_ridge), f_rbf_ridge=f_rbf[:, 0] if f_rbf.ndim == 2 and
        f_rbf.shape[1] == 1 else f_rbf,
        lr_limit=lr_limit, steps=config.steps, diverged=diverged, message=message,
        seconds=time.perf_counter() - t_start)


def width_study(widths: Sequence[int], dataset: Dataset, config: NTKConfig | TrainConfig | None = None,
                seed: int = 0) -> Iterator[StudyProgress | DriftPoint]:
    """`compare_at_width` for each width in turn, same seed: progress events and one
    `DriftPoint` (carrying its full `WidthResult`) per width."""
    if isinstance(config, TrainConfig):
        config = NTKConfig.from_train_config(config)
    config = config or NTKConfig()
    config.check()
    widths = [int(w) for w in widths]
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"give one or more widths ≥ 1, got {widths}")
    for w in widths:
        build_network(w, replace(config), seed)  # refuse oversized widths before any work
    # Time per width ≈ a fixed overhead plus a part that grows with the parameter count.
    cost = [20_000 + n_params_for(w, config) for w in widths]
    done = 0.0
    for w, c in zip(widths, cost):
        share = c / sum(cost)
        for item in compare_at_width(w, dataset, config, seed):
            if isinstance(item, StudyProgress):
                inner = item.step / item.steps if item.steps else 0.0
                item.fraction = done + share * inner
                yield item
            else:
                yield DriftPoint(w, item.relative_change, item.linearized_gap, item.kernel_gap, item.n_params,
                                 item.diverged, item)
        done += share


def ntk_drift(widths: Sequence[int], dataset: Dataset, config: NTKConfig | TrainConfig | None = None,
              seed: int = 0) -> Iterator[DriftPoint]:
    """How far the NTK moves during training, and how far the network strays from its
    linearisation, for each width: yields one `DriftPoint` per width, in order.

    `config` is an `NTKConfig` (or a `TrainConfig`, whose optimiser settings are used). Theory:
    the relative change ‖K_T − K₀‖_F / ‖K₀‖_F is O(1/√width); it is often measured near 1/width.
    """
    for item in width_study(widths, dataset, config, seed):
        if isinstance(item, DriftPoint):
            yield item
