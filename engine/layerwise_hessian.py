"""Exact Hessian-vector products and quadratic forms vᵀHv of a layered network, layer by layer.

For a network that is a chain of layers (Linear, Conv2d, elementwise activations, max pooling,
and parameter-free linear maps such as average pooling or Flatten) under the mean cross-entropy
or mean squared error, the Hessian's action follows from one forward and one backward pass that
are kept, then a second-order pass per vector written out layer by layer (Pearlmutter's R-op):

- forward tangent: ż = f(ȧ; W) + f(a; V) + v_b for a layer z = f(a; W) + b, ȧ = σ′(z)·ż for an
  activation; the input's tangent is zero.
- H·v: the backward pass differentiated along v. A layer's weight gets
  ∂²L·v = ∇_W f(a; ḡ′) + ∇_W f(ȧ; ḡ), where ḡ is the kept adjoint at its output and ḡ′ the
  adjoint's own tangent; an activation passes on ḡ′·σ′(z) + ḡ·σ″(z)·ż.
- vᵀHv without the backward: L̈ = żₒᵀ ∇²ℓ żₒ + Σ_layers 2⟨ḡ, f(ȧ; V)⟩ + Σ_activations ⟨ḡ·σ″(z), ż²⟩,
  the loss's curvature on the output's tangent plus each layer's own second derivative weighed by
  its kept adjoint (ReLU and max pooling have none).

Each formula is written for one vector and `vmap` batches a block of them: the products with the
shared weights become one large matrix product or convolution over vectors × samples, and the
products with the vectors' own weights one grouped convolution. Autograd's double backward
(what PyHessian and `torch.autograd.grad(create_graph=True)` do) rebuilds the same quantities
through a graph twice the size of the forward pass, one vector at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vjp, vmap
from torch.nn.grad import conv2d_input, conv2d_weight

ELEMENTWISE = (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.GELU, nn.Identity, nn.LeakyReLU, nn.SiLU, nn.ELU,
               nn.Softplus)
LINEAR_MAPS = (nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.Flatten)
DEFAULT_BUDGET = 256 * 2**20  # bytes of per-vector intermediates one vmapped block may hold
# Samples per pass: the per-sample terms are summed block by block, so that on a CPU the widest
# layer's intermediates of one block stay in cache between the operations (bytes of that layer).
DENSE_BLOCK_BYTES = 512 * 2**10
CONV_BLOCK_BYTES = 16 * 2**20  # measured: 64 MRI images per block, vᵀHv 1.45× faster than one pass


def layer_chain(model: nn.Module) -> list[nn.Module] | None:
    """The model as a flat list of layers applied one after another, or None when it is not one.

    `nn.Sequential` is flattened; a module with a `layer_chain()` method (the image CNN) gives its
    own. Only the layer types this module knows are accepted."""
    own = getattr(model, "layer_chain", None)
    if callable(own):
        items = list(own())
    elif isinstance(model, nn.Sequential):
        items = list(model.children())
    else:
        return None
    chain: list[nn.Module] = []
    for m in items:
        if isinstance(m, nn.Sequential) or callable(getattr(m, "layer_chain", None)):
            inner = layer_chain(m)
            if inner is None:
                return None
            chain.extend(inner)
        elif isinstance(m, nn.Conv2d):
            if m.groups != 1 or m.padding_mode != "zeros" or isinstance(m.padding, str):
                return None
            chain.append(m)
        elif isinstance(m, (nn.Linear, nn.MaxPool2d) + ELEMENTWISE + LINEAR_MAPS):
            chain.append(m)
        else:
            return None
    return chain


def _derivatives(act: nn.Module, z: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """σ′(z) and σ″(z) of an elementwise activation (σ″ None where it is zero everywhere)."""
    if isinstance(act, nn.Tanh):
        d1 = 1 - out * out
        return d1, -2 * out * d1
    if isinstance(act, nn.Sigmoid):
        d1 = out * (1 - out)
        return d1, d1 * (1 - 2 * out)
    if isinstance(act, nn.ReLU):
        return (z > 0).to(z.dtype), None
    if isinstance(act, nn.Identity):
        return torch.ones_like(z), None
    with torch.enable_grad():
        zz = z.clone().requires_grad_(True)
        d1 = torch.autograd.grad(act(zz).sum(), zz, create_graph=True)[0]
        d2 = torch.autograd.grad(d1.sum(), zz, allow_unused=True)[0] if d1.requires_grad else None
    return d1.detach(), None if d2 is None or not bool(d2.any()) else d2.detach()


@dataclass
class _Layer:
    module: nn.Module
    kind: str  # "linear", "conv", "act", "folded" (a ReLU inside the next max pooling), "maxpool", "map"
    a: torch.Tensor  # input
    g: torch.Tensor  # adjoint ∂L/∂(output)
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    w_slice: slice | None = None
    b_slice: slice | None = None
    d1: torch.Tensor | None = None  # σ′(z) for activations
    d2: torch.Tensor | None = None  # σ″(z), None where it is zero (ReLU)
    curvature: torch.Tensor | None = None  # ḡ·σ″(z), the activation's weight in vᵀHv
    indices: torch.Tensor | None = None  # max pooling's argmax, flattened over H·W
    window_mask: torch.Tensor | None = None  # non-overlapping max pooling: 1 at each window's argmax
    columns: torch.Tensor | None = None  # the first convolution's fixed input, unfolded (N·L, C·k·k)
    out_shape: torch.Size | None = None
    transpose: Callable | None = None  # a linear map's adjoint


def _pair(k) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else tuple(k)


def _tiles(pool: nn.MaxPool2d, a: torch.Tensor) -> bool:
    """Whether the pooling windows tile the input exactly (no overlap, padding or remainder)."""
    k, st = _pair(pool.kernel_size), _pair(pool.stride if pool.stride is not None else pool.kernel_size)
    return (k == st and _pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1)
            and a.shape[-2] % k[0] == 0 and a.shape[-1] % k[1] == 0)


def _plus_matmul(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """c + a @ b in one call, into c (a temporary of the caller's): the sum is done inside the
    matrix product, with no copy of c (out of place under vmap, which has no batching rule for it)."""
    if torch._C._functorch.is_functorch_wrapped_tensor(c):
        return torch.addmm(c, a, b)
    return c.addmm_(a, b)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.dot(a.reshape(-1), b.reshape(-1))


class LayerwiseHessian:
    """H(θ)·v and vᵀH(θ)v for a layered network on a fixed batch (see the module's notes).

    Built once per θ (one forward and one backward pass, kept); `hvp(V)` and
    `quadratic_forms(V)` take a block of vectors (n, P) or one (P,). `chunk` bounds how many
    vectors one vmapped pass holds (by default one at a time on a CPU, where that measured
    fastest; on a GPU as many as fit `DEFAULT_BUDGET`).
    """

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str, theta: torch.Tensor,
                 chain: list[nn.Module] | None = None, chunk: int | None = None):
        if loss not in ("cross_entropy", "mse"):
            raise ValueError(f"no layer-wise Hessian for the loss {loss!r}")
        chain = layer_chain(model) if chain is None else chain
        if chain is None:
            raise ValueError("the model is not a chain of layers this module knows")
        self.loss, self.theta, self.chunk = loss, theta.detach(), chunk
        self.size = theta.numel()
        offsets, offset = {}, 0
        for p in model.parameters():
            offsets[id(p)] = slice(offset, offset + p.numel())
            offset += p.numel()
        if offset != self.size:
            raise ValueError(f"θ has {self.size} entries, the model {offset} parameters")
        owned = {id(p) for m in chain if isinstance(m, (nn.Linear, nn.Conv2d)) for p in m.parameters()}
        if owned != set(offsets):
            raise ValueError("a parameter of the model lies outside the layers of its chain")
        self._build(chain, offsets, X, y)

    # -- the kept forward and backward pass ----------------------------------------------------
    def _build(self, chain: list[nn.Module], offsets: dict[int, slice], X: torch.Tensor, y: torch.Tensor) -> None:
        """One forward pass that keeps each layer's input, then the adjoints ∂L/∂(each output) by a
        backward pass written out like the products' (no autograd graph, no weight gradients)."""
        theta = self.theta
        layers: list[_Layer] = []
        # Images and kernels channels-last: the CPU's convolutions (oneDNN) and GPUs' tensor-core
        # kernels run fastest on that layout, and elementwise steps keep it.
        self._channels_last = X.ndim == 4 and any(isinstance(m, nn.Conv2d) for m in chain)
        h = X.contiguous(memory_format=torch.channels_last) if self._channels_last else X
        with torch.no_grad():
            for i, m in enumerate(chain):
                a = h
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    w_slice = offsets[id(m.weight)]
                    weight = self._weight_layout(theta[w_slice].view(m.weight.shape))
                    b_slice = offsets[id(m.bias)] if m.bias is not None else None
                    bias = theta[b_slice].view(m.bias.shape) if b_slice is not None else None
                    kind = "linear" if isinstance(m, nn.Linear) else "conv"
                    layer = _Layer(m, kind, a, a, weight, bias, w_slice, b_slice)
                    if kind == "conv" and i == 0 and weight[0].numel() <= 32:
                        # A few input channels: as a matrix product over unfolded patches the data
                        # side is computed once and each vector's kernel is a small GEMM, where a
                        # convolution with one or three input channels runs far below peak.
                        cols = F.unfold(a, m.kernel_size, m.dilation, m.padding, m.stride)
                        layer.columns = cols.transpose(1, 2).reshape(-1, cols.shape[1]).contiguous()
                    z = F.linear(a, weight, bias) if kind == "linear" else \
                        F.conv2d(a, weight, bias, m.stride, m.padding, m.dilation)
                elif isinstance(m, ELEMENTWISE):
                    layer = _Layer(m, "act", a, a)
                    z = m(a)
                    nxt = chain[i + 1] if i + 1 < len(chain) else None
                    if isinstance(m, nn.ReLU) and isinstance(nxt, nn.MaxPool2d) and _tiles(nxt, z):
                        # A ReLU right before pooling windows that tile: its 0/1 derivative joins
                        # the pooling's mask (below), and the activation passes tangents and
                        # adjoints on unchanged: two fewer passes over the largest tensors.
                        layer.kind = "folded"
                    else:
                        layer.d1, layer.d2 = _derivatives(m, a, z)
                elif isinstance(m, nn.MaxPool2d):
                    k, st, pad, dil = (list(_pair(v)) for v in (m.kernel_size, m.stride or m.kernel_size,
                                                                  m.padding, m.dilation))
                    z, idx = F.max_pool2d(a, k, st, pad, dil, m.ceil_mode, return_indices=True)
                    layer = _Layer(m, "maxpool", a, a, indices=idx.flatten(-2), out_shape=z.shape)
                    if _tiles(m, a):
                        # Windows that tile the image: the argmax as a 0/1 mask (the pooling's own
                        # backward of ones marks exactly the positions a gather would pick), so the
                        # tangent is a sum-pool of mask·t and the adjoint an upsampling times the
                        # mask, both on the channels-last layout.
                        marks = torch.ones_like(z)
                        if layers and layers[-1].kind == "folded":
                            # The ReLU's derivative at a window's argmax is 1 exactly where the
                            # pooled value is positive.
                            marks = (z > 0).to(z.dtype)
                        layer.window_mask = torch.ops.aten.max_pool2d_with_indices_backward(
                            marks, a, k, st, pad, dil, m.ceil_mode, idx)
                else:
                    layer = _Layer(m, "map", a, a)
                    z = m(a)
                    layer.transpose = vjp(m, a)[1]
                layer.out_shape = z.shape
                layers.append(layer)
                h = z
            value = self._loss(h, y)
            g = self._output_adjoint(h, y)
            for i in range(len(layers) - 1, -1, -1):
                layer = layers[i]
                layer.g = g
                if layer.kind == "act" and layer.d2 is not None:
                    layer.curvature = g * layer.d2
                if i == 0:
                    break
                if layer.kind in ("linear", "conv"):
                    g = self._input_grad(layer, layer.weight, g)
                elif layer.kind == "act":
                    g = layer.d1 * g
                elif layer.kind == "maxpool":
                    g = self._pool_adjoint(layer, g)
                elif layer.kind == "map":
                    g = layer.transpose(g)[0]
                # "folded": the ReLU's derivative is applied by the pooling's mask after it
        logits = h.detach()
        self.value = value.detach()
        self.layers = layers
        self._n = logits.shape[0]
        self._numel = logits.numel()
        self._p = logits.softmax(-1) if self.loss == "cross_entropy" else None
        per_vector = 4 * sum(layer.a.numel() + layer.g.numel() for layer in layers) * theta.element_size()
        # On a CPU one vector at a time measured fastest (its intermediates stay in cache); a GPU
        # wants blocks as large as memory allows.
        self._auto_chunk = 1 if theta.device.type == "cpu" else max(1, int(DEFAULT_BUDGET // max(per_vector, 1)))
        self.row_blocks = self._row_blocks(theta.device.type == "cpu")

    def _row_blocks(self, split: bool) -> list[tuple[list[_Layer], torch.Tensor | None]]:
        """The layers (and softmax rows) cut into blocks of samples, as views of the kept tensors."""
        n = self._n
        widest = max(layer.a[0].numel() for layer in self.layers) * self.theta.element_size()
        budget = CONV_BLOCK_BYTES if self._channels_last else DENSE_BLOCK_BYTES
        rows = n if not split else max(1, min(n, budget // max(widest, 1)))
        if rows >= n:
            return [(self.layers, self._p)]
        blocks = []
        for i in range(0, n, rows):
            j = min(n, i + rows)
            layers = [self._rows(layer, i, j) for layer in self.layers]
            blocks.append((layers, None if self._p is None else self._p[i:j]))
        return blocks

    @staticmethod
    def _rows(layer: _Layer, i: int, j: int) -> _Layer:
        def cut(t):
            return None if t is None else t[i:j]

        out = replace(layer, a=layer.a[i:j], g=layer.g[i:j], d1=cut(layer.d1), d2=cut(layer.d2),
                      curvature=cut(layer.curvature), indices=cut(layer.indices),
                      window_mask=cut(layer.window_mask), out_shape=torch.Size((j - i, *layer.out_shape[1:])))
        if layer.columns is not None:
            per = layer.out_shape[2] * layer.out_shape[3]
            out.columns = layer.columns[i * per : j * per]
        if layer.transpose is not None:
            out.transpose = vjp(layer.module, out.a)[1]
        return out

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from .params import loss_value

        return loss_value(out, y, self.loss)

    def _output_adjoint(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """∂L/∂(outputs) of the mean loss, as `engine.params.loss_value` defines it."""
        if self.loss == "cross_entropy":
            return (out.softmax(-1) - F.one_hot(y, out.shape[-1]).to(out.dtype)) / out.shape[0]
        if y.dtype in (torch.int64, torch.int32) and out.ndim == 2 and out.shape[1] > 1:
            y = F.one_hot(y, out.shape[1])
        return 2 * (out - y.reshape(out.shape).to(out.dtype)) / out.numel()

    def _weight_layout(self, w: torch.Tensor) -> torch.Tensor:
        return w.contiguous(memory_format=torch.channels_last) if self._channels_last and w.ndim == 4 else w

    @staticmethod
    def _apply(layer: _Layer, a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        m = layer.module
        if layer.kind == "linear":
            return F.linear(a, weight, bias)
        if layer.columns is not None and a is layer.a:
            n, _, h, w = layer.out_shape
            z = F.linear(layer.columns, weight.reshape(len(weight), -1), bias)  # (N·L, C_out)
            return z.view(n, h, w, -1).permute(0, 3, 1, 2)  # channels-last, no copy
        return F.conv2d(a, weight, bias, m.stride, m.padding, m.dilation)

    # -- one vector at a time (vmapped over blocks) --------------------------------------------
    def _split(self, layer: _Layer, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        vw = v[layer.w_slice].view(layer.weight.shape)
        if not torch._C._functorch.is_functorch_wrapped_tensor(vw):  # vmap cannot change layouts
            vw = self._weight_layout(vw)
        vb = v[layer.b_slice].view(layer.bias.shape) if layer.b_slice is not None else None
        return vw, vb

    def _pool_tangent(self, layer: _Layer, t: torch.Tensor) -> torch.Tensor:
        if layer.window_mask is not None:
            k = _pair(layer.module.kernel_size)
            return F.avg_pool2d(layer.window_mask * t, k) * (k[0] * k[1])
        return t.contiguous().flatten(-2).gather(-1, layer.indices).view(layer.out_shape)

    def _pool_adjoint(self, layer: _Layer, g: torch.Tensor) -> torch.Tensor:
        if layer.window_mask is not None:
            # Each pooled adjoint spread over its window by broadcasting (keeps the layout).
            (kh, kw), (h, w) = _pair(layer.module.kernel_size), g.shape[-2:]
            mask = layer.window_mask.unflatten(-2, (h, kh)).unflatten(-1, (w, kw))
            return (mask * g[..., :, None, :, None]).flatten(-2).flatten(-3, -2)
        flat = torch.zeros(layer.a.flatten(-2).shape, dtype=g.dtype, device=g.device)
        return flat.scatter_add(-1, layer.indices, g.contiguous().flatten(-2)).view(layer.a.shape)

    def _forward_tangent(self, splits, layers: list[_Layer]):
        """Each layer's input tangent ȧ (None at the input) and the output's tangent."""
        tangents: list[torch.Tensor | None] = []
        t: torch.Tensor | None = None
        for i, layer in enumerate(layers):
            tangents.append(t)
            if layer.kind in ("linear", "conv"):
                vw, vb = splits[i]
                z = self._apply(layer, layer.a, vw, vb)
                if t is not None:
                    t = _plus_matmul(z, t, layer.weight.T) if layer.kind == "linear" and t.ndim == 2 else \
                        z + self._apply(layer, t, layer.weight, None)
                else:
                    t = z
            elif t is None or layer.kind == "folded":
                continue  # activations and maps of a zero tangent; a ReLU folded into the next pooling
            elif layer.kind == "act":
                t = layer.d1 * t
            elif layer.kind == "maxpool":
                t = self._pool_tangent(layer, t)
            else:
                t = layer.module(t)
        return tangents, t

    def _loss_curvature(self, t: torch.Tensor, p: torch.Tensor | None) -> torch.Tensor:
        """∇²ℓ · ż at the output (the adjoint's tangent there); p: the block's softmax rows."""
        if self.loss == "mse":
            return t * (2.0 / self._numel)
        return p * (t - (p * t).sum(-1, keepdim=True)) / self._n

    def _splits(self, v: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None] | None]:
        return [self._split(layer, v) if layer.kind in ("linear", "conv") else None for layer in self.layers]

    def _hvp_one(self, v: torch.Tensor) -> torch.Tensor:
        splits = self._splits(v)
        sums: dict[int, list[torch.Tensor | None]] = {}
        for layers, p in self.row_blocks:
            self._hvp_block(splits, layers, p, sums)
        out = torch.zeros_like(v)
        for i, (hw, hb) in sums.items():
            layer = self.layers[i]
            out[layer.w_slice] = hw.reshape(-1)
            if hb is not None:
                out[layer.b_slice] = hb
        return out

    def _hvp_block(self, splits, layers: list[_Layer], p: torch.Tensor | None,
                   sums: dict[int, list[torch.Tensor | None]]) -> None:
        """Adds one block of samples' share of H·v to `sums` (layer index -> [weight, bias])."""
        tangents, t = self._forward_tangent(splits, layers)
        rg = self._loss_curvature(t, p)  # the adjoint's tangent, walked back layer by layer
        for i in range(len(layers) - 1, -1, -1):
            layer, ta = layers[i], tangents[i]
            if layer.kind in ("linear", "conv"):
                vw, _ = splits[i]
                hw = self._weight_grad(layer, layer.a, rg)
                if ta is not None:
                    hw = self._weight_grad(layer, ta, layer.g, hw)
                hb = None
                if layer.b_slice is not None:
                    hb = rg.sum((0, 2, 3)) if layer.kind == "conv" else rg.reshape(-1, rg.shape[-1]).sum(0)
                if i in sums:
                    sums[i] = [sums[i][0] + hw, None if hb is None else sums[i][1] + hb]
                else:
                    sums[i] = [hw, hb]
                if i == 0:
                    break
                rg = self._input_grad(layer, layer.weight, rg, self._input_grad(layer, vw, layer.g))
            elif layer.kind == "folded":
                continue
            elif layer.kind == "act":
                if ta is None:
                    break
                rg = layer.d1 * rg if layer.d2 is None else torch.addcmul(layer.d1 * rg, layer.curvature, ta)
            elif layer.kind == "maxpool":
                rg = self._pool_adjoint(layer, rg)
            else:
                rg = layer.transpose(rg)[0]

    def _quadratic_one(self, v: torch.Tensor) -> torch.Tensor:
        splits = self._splits(v)
        total = None
        for layers, p in self.row_blocks:
            part = self._quadratic_block(splits, layers, p)
            total = part if total is None else total + part
        return total

    def _quadratic_block(self, splits, layers: list[_Layer], p: torch.Tensor | None) -> torch.Tensor:
        tangents, t = self._forward_tangent(splits, layers)
        total = (t * self._loss_curvature(t, p)).sum()
        for i, (layer, ta) in enumerate(zip(layers, tangents)):
            if ta is None:
                continue
            if layer.kind in ("linear", "conv"):
                # ⟨ḡ, f(ȧ; V)⟩ = ⟨∇_W f(ȧ; ḡ), V⟩: a weight-sized result instead of an output-sized one.
                total = total + 2 * _dot(self._weight_grad(layer, ta, layer.g), splits[i][0])
            elif layer.kind == "act" and layer.curvature is not None:
                # The activation's input tangent is the previous layer's output tangent.
                total = total + _dot(layer.curvature * ta, ta)
        return total

    @staticmethod
    def _weight_grad(layer: _Layer, a: torch.Tensor, g: torch.Tensor,
                     plus: torch.Tensor | None = None) -> torch.Tensor:
        """∇_W of ⟨g, f(a; W)⟩ (+ `plus`)."""
        m = layer.module
        if layer.columns is not None and a is layer.a:
            g2 = g.permute(0, 2, 3, 1).reshape(-1, g.shape[1])  # (N·L, C_out); a view when channels-last
            out = (g2.T @ layer.columns).view(layer.weight.shape)
            return out if plus is None else out + plus
        if layer.kind == "linear":
            gt, a2 = g.reshape(-1, g.shape[-1]).T, a.reshape(-1, a.shape[-1])
            return gt @ a2 if plus is None else _plus_matmul(plus, gt, a2)
        out = conv2d_weight(a, layer.weight.shape, g, m.stride, m.padding, m.dilation)
        return out if plus is None else out + plus

    @staticmethod
    def _input_grad(layer: _Layer, weight: torch.Tensor, g: torch.Tensor,
                    plus: torch.Tensor | None = None) -> torch.Tensor:
        """∇_a of ⟨g, f(a; weight)⟩ (+ `plus`)."""
        m = layer.module
        if layer.kind == "linear":
            return g @ weight if plus is None or g.ndim != 2 else _plus_matmul(plus, g, weight)
        out = conv2d_input(layer.a.shape, weight, g, m.stride, m.padding, m.dilation)
        return out if plus is None else out + plus

    # -- blocks -----------------------------------------------------------------------------
    def _blocks(self, fn, V: torch.Tensor) -> torch.Tensor:
        single = V.ndim == 1
        V = V.reshape(-1, self.size).to(self.theta)
        if len(V) == 1:  # a single vector needs no batching
            out = fn(V[0])[None]
            return out[0] if single else out
        step = self.chunk or self._auto_chunk
        if step == 1:
            return torch.stack([fn(v) for v in V])
        batched = vmap(fn)
        parts = [batched(V[i : i + step]) for i in range(0, len(V), step)]
        out = torch.cat(parts)
        return out[0] if single else out

    def hvp(self, V: torch.Tensor) -> torch.Tensor:
        """H·v for each row of V (n, P), or for one vector (P,)."""
        with torch.no_grad():
            return self._blocks(self._hvp_one, V)

    def quadratic_forms(self, V: torch.Tensor) -> torch.Tensor:
        """vᵀHv for each row of V (n, P) -> (n,), without forming H·v."""
        with torch.no_grad():
            return self._blocks(self._quadratic_one, V)


def layerwise_hessian(loss_fn, theta: torch.Tensor, chunk: int | None = None) -> LayerwiseHessian | None:
    """A `LayerwiseHessian` for a loss made by `engine.params.loss_function` whose model is a chain
    of known layers, checked against the loss itself at θ; None otherwise (use autograd)."""
    structure = getattr(loss_fn, "structure", None)
    if structure is None:
        return None
    model, X, y, loss = structure
    chain = layer_chain(model)
    if chain is None or loss not in ("cross_entropy", "mse") or any(m.training and isinstance(m, nn.Dropout)
                                                                   for m in model.modules()):
        return None
    try:
        op = LayerwiseHessian(model, X, y, loss, theta, chain, chunk)
        if _forward_is_chain(model):
            return op
        with torch.no_grad():
            reference = loss_fn(theta)
    except (RuntimeError, ValueError, TypeError):
        return None
    # The chain must compute what the model computes: otherwise its curvature is another network's.
    if not torch.allclose(op.value, reference, rtol=1e-5, atol=1e-7):
        return None
    return op


def _forward_is_chain(model: nn.Module) -> bool:
    """Whether the model's forward pass is, by its definition, its chain of layers applied in turn
    (then the chain needs no check against the loss)."""
    if getattr(type(model), "forward_runs_layer_chain", False):
        return True
    return type(model) is nn.Sequential and all(
        type(m) is not nn.Sequential or _forward_is_chain(m) for m in model.children())
