"""Loss-surface pictures: L(θ + α·d₁ + β·d₂) over a grid, evaluated many points at a time.

Directions come from three sources: a Gaussian draw normalised filter by filter (Li et al.
2018), the principal components of the training path, or the top Hessian eigenvectors.
`loss_line` and `loss_surface` evaluate a whole chunk of grid points in one batched forward
(`torch.func.vmap` over θ), never one model copy per point. `surface_levels` yields a coarse
grid first and refines it, reusing every point already computed, and can be stopped between
chunks; `landscape_events` strings the pieces together for the live view.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from .device import intra_op_threads
from .params import LOSSES, flat_params, loss_function, loss_value, model_device, unflatten
from .progress import Progress

NORMS = ("filter", "layer", "none")
AXES = ("filter", "layer", "none", "pca", "hessian")
AXIS_LABELS = {
    "filter": "random, filter-normalised",
    "layer": "random, layer-normalised",
    "none": "random unit vectors",
    "pca": "PCA of the training path",
    "hessian": "top-2 Hessian eigenvectors",
}

LossFn = Callable[[torch.Tensor], torch.Tensor]
Device = str | torch.device | None  # where a routine computes; None: where its inputs are


# -- directions ------------------------------------------------------------------------------
def _as_tensor(x, device=None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    return t.to(device) if device is not None else t


def _gaussian_like(model: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    # Drawn on the CPU so that a seed gives the same direction on every device.
    return [torch.randn(p.shape, generator=generator, dtype=torch.float32) for p in model.parameters()]


def _normalise(model: nn.Module, draws: list[torch.Tensor], theta: torch.Tensor, norm: str) -> torch.Tensor:
    if norm not in NORMS:
        raise ValueError(f"unknown normalisation {norm!r}; choose one of {', '.join(NORMS)}")
    theta = theta.detach().to("cpu", torch.float32)
    if norm == "none":
        d = torch.cat([g.reshape(-1) for g in draws])
        return d / d.norm()
    parts, offset = [], 0
    for p, g in zip(model.parameters(), draws):
        n = p.numel()
        w = theta[offset : offset + n].view(p.shape)
        offset += n
        if p.dim() <= 1:
            parts.append(torch.zeros(n))  # biases (and other 1-D tensors) stay put
            continue
        if norm == "filter":
            # One filter = one output unit: a row of a Linear weight, a kernel stack of a Conv.
            g2, w2 = g.reshape(g.shape[0], -1), w.reshape(w.shape[0], -1)
            scale = w2.norm(dim=1, keepdim=True) / g2.norm(dim=1, keepdim=True).clamp_min(1e-12)
            parts.append((g2 * scale).reshape(-1))
        else:
            parts.append((g * (w.norm() / g.norm().clamp_min(1e-12))).reshape(-1))
    if offset != theta.numel():
        raise ValueError(f"θ has {theta.numel()} entries but the model has {offset} parameters")
    return torch.cat(parts)


def random_direction(model: nn.Module, norm: str = "filter", seed: int = 0,
                     theta: torch.Tensor | None = None, device: Device = None) -> torch.Tensor:
    """A Gaussian direction in parameter space, normalised to θ.

    "filter": each output filter (a row of a weight matrix, one output channel of a conv
    kernel) is rescaled to the norm of the same filter of θ, and 1-D tensors (biases) are
    zeroed (Li et al. 2018). "layer": each weight tensor is rescaled to the norm of θ's tensor,
    1-D tensors zeroed. "none": a unit vector over all of θ.
    `theta` defaults to the model's current parameters; the result is on `device` (default: the
    model's device). The draw itself is made on the CPU, so a seed gives one direction everywhere.
    """
    theta = flat_params(model) if theta is None else _as_tensor(theta)
    g = torch.Generator().manual_seed(int(seed))
    d = _normalise(model, _gaussian_like(model, g), theta, norm)
    return d.to(model_device(model) if device is None else torch.device(device))


def direction_cosine(d1: torch.Tensor, d2: torch.Tensor) -> float:
    """cos∠(d₁, d₂)."""
    d1, d2 = d1.double(), d2.double()
    return float(d1 @ d2 / (d1.norm() * d2.norm()).clamp_min(1e-300))


def direction_pair(model: nn.Module, norm: str = "filter", seed: int = 0,
                   theta: torch.Tensor | None = None, device: Device = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two normalised random directions from one seed, not yet orthogonalised.

    d₁ equals `random_direction(model, norm, seed)`; d₂ continues the same random stream.
    """
    theta = flat_params(model) if theta is None else _as_tensor(theta)
    g = torch.Generator().manual_seed(int(seed))
    d1 = _normalise(model, _gaussian_like(model, g), theta, norm)
    d2 = _normalise(model, _gaussian_like(model, g), theta, norm)
    dev = model_device(model) if device is None else torch.device(device)
    return d1.to(dev), d2.to(dev)


def orthogonalise(d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """d₂ with its d₁ component removed, rescaled to its former length (so its scale, set by
    the normalisation, survives)."""
    length = d2.norm()
    d2 = d2 - (d2 @ d1) / (d1 @ d1).clamp_min(1e-30) * d1
    return d2 * (length / d2.norm().clamp_min(1e-30))


def _split(model: nn.Module, d: torch.Tensor) -> list[torch.Tensor]:
    parts, offset = [], 0
    for p in model.parameters():
        parts.append(d[offset : offset + p.numel()].view(p.shape))
        offset += p.numel()
    return parts


def orthogonalise_normalised(model: nn.Module, d1: torch.Tensor, d2: torch.Tensor, theta: torch.Tensor,
                             norm: str = "filter", rounds: int = 3) -> tuple[torch.Tensor, float]:
    """d₂ made orthogonal to d₁ while keeping its per-filter (per-layer) norms equal to θ's.

    Removing d₁'s component changes every filter's norm, and re-normalising the filters brings a
    small cosine back; a few alternations of the two shrink it. Returns d₂ (normalised, as the
    plane uses it) and the cos∠(d₁, d₂) that remains. With `norm="none"` one projection is exact.
    """
    if norm == "none":
        d2 = orthogonalise(d1, d2)
        return d2, direction_cosine(d1, d2)
    dev = d2.device
    theta_cpu = theta.detach().to("cpu", torch.float32)
    a, b = d1.detach().to("cpu", torch.float32), d2.detach().to("cpu", torch.float32)
    for _ in range(max(1, rounds)):
        b = _normalise(model, _split(model, orthogonalise(a, b)), theta_cpu, norm)
    return b.to(dev), direction_cosine(a, b)


def orthogonal_directions(model: nn.Module, norm: str = "filter", seed: int = 0,
                          theta: torch.Tensor | None = None, device: Device = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random directions normalised to θ, then d₂ made orthogonal to d₁ and re-normalised,
    so each filter of d₂ keeps θ's filter norm (`orthogonalise_normalised`).

    In many dimensions two random directions are already nearly orthogonal: see
    `direction_cosine(*direction_pair(...))` for how far from it they were.
    """
    theta = flat_params(model) if theta is None else _as_tensor(theta)
    d1, d2 = direction_pair(model, norm, seed, theta, device)
    return d1, orthogonalise_normalised(model, d1, d2, theta, norm)[0]


def pca_directions(trajectory, center=None, device: Device = None,
                   centred: bool = True) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The two principal directions of a recorded path (Li et al. 2018).

    trajectory: (T, P) snapshots θ_t; the rows θ_t − center (center defaults to the last
    snapshot, θ_final) are mean-centred, as Li et al.'s PCA does, and decomposed; `centred=False`
    decomposes them as they are. Returns unit vectors d₁, d₂ and the fraction of the variance
    (uncentred: of the summed squared norm) each explains. Signs are fixed so that the first
    snapshot has non-negative coordinates. `device`: where to compute (default: where the
    trajectory is).
    """
    traj = _as_tensor(trajectory, device)
    if traj.dim() != 2 or traj.shape[0] < 2:
        raise ValueError("the PCA plane needs a path of at least 2 recorded parameter vectors")
    c = traj[-1] if center is None else _as_tensor(center, traj.device).to(traj.dtype)
    offsets = (traj - c).double()
    rows = offsets - offsets.mean(0) if centred else offsets
    # SVD through the small T×T Gram matrix: T is hundreds, P may be hundreds of thousands.
    gram = rows @ rows.T
    evals, evecs = torch.linalg.eigh(gram)
    evals, evecs = evals.flip(0).clamp_min(0), evecs.flip(1)
    total = float(evals.sum())
    if total <= 0:
        raise ValueError("the path has not moved yet: train a few steps before asking for its PCA plane")
    dirs = []
    for k in range(2):
        if k < len(evals) and evals[k] > total * 1e-12:
            v = rows.T @ evecs[:, k] / evals[k].sqrt()
        else:  # a straight path: any unit vector orthogonal to the first will do
            g = torch.Generator().manual_seed(1)
            v = torch.randn(rows.shape[1], generator=g, dtype=torch.float64).to(rows.device)
            for u in dirs:
                v = v - (v @ u) * u
        v = v / v.norm()
        if float(offsets[0] @ v) < 0:
            v = -v
        dirs.append(v)
    explained = np.array([float(evals[k]) / total if k < len(evals) else 0.0 for k in range(2)])
    dtype = traj.dtype if traj.dtype.is_floating_point else torch.float32
    return dirs[0].to(dtype), dirs[1].to(dtype), explained


def hessian_directions(loss_fn: LossFn, theta: torch.Tensor, seed: int = 0,
                       iters: int = 100) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The eigenvectors of the two largest Hessian eigenvalues at θ (unit vectors) and those
    eigenvalues. Needs the curvature module (engine.hessian)."""
    try:
        from .hessian import top_eigenvalues
    except ImportError as exc:
        raise ValueError("Hessian axes need the curvature module (engine.hessian), "
                         "which this installation lacks") from exc
    vals, vecs = top_eigenvalues(loss_fn, theta, k=2, iters=iters, seed=seed)
    d1, d2 = vecs[0].detach(), vecs[1].detach()
    # An eigenvector's sign is arbitrary; fix it so that refreshed pictures do not flip.
    d1 = d1 * torch.sign(d1[d1.abs().argmax()])
    d2 = d2 * torch.sign(d2[d2.abs().argmax()])
    return d1 / d1.norm(), d2 / d2.norm(), np.asarray(vals.detach().cpu(), dtype=np.float64)


def hessian_available() -> bool:
    try:
        from .hessian import top_eigenvalues  # noqa: F401
    except ImportError:
        return False
    return True


# -- batched evaluation ----------------------------------------------------------------------
# Floats held per chunk (activations + batched θ), 16 MiB: big enough to amortise the Python
# overhead of a batched call, small enough to stay near the cache.
DEFAULT_BUDGET = 1 << 22


def points_per_chunk(model: nn.Module, X: torch.Tensor, budget: int = DEFAULT_BUDGET) -> int:
    """How many parameter vectors to evaluate in one batched forward on inputs X.

    Counts the activations one sample makes (a forward of one input with hooks) and sizes the
    chunk so that chunk × (N × activations + P) stays within `budget` floats.
    """
    per_point = len(X) * _activation_floats(model, X) + sum(p.numel() for p in model.parameters())
    return int(max(1, min(4096, budget // per_point)))


def default_chunk(n_params: int) -> int:
    """A chunk size when only the parameter count is known (about 4 M floats of θ per chunk)."""
    return int(max(1, min(1024, (1 << 22) // max(1, n_params))))


def _losses_at(loss_fn: LossFn, theta: torch.Tensor, dirs: Sequence[torch.Tensor],
               coords: torch.Tensor) -> torch.Tensor:
    """loss_fn(θ + Σ_k coords[:, k]·dirs[k]) for every row of coords, in one batched call."""
    on_plane = getattr(loss_fn, "losses_on_plane", None)
    if on_plane is not None:  # a loss that knows a faster way through the plane (`PlaneLoss`)
        return on_plane(theta, dirs, coords)
    thetas = theta.unsqueeze(0).expand(len(coords), -1)
    for k, d in enumerate(dirs):
        thetas = thetas + coords[:, k : k + 1] * d.unsqueeze(0)
    if len(coords) == 1:  # one point per call (a CNN on many images): a plain call, no vmap
        return loss_fn(thetas[0]).reshape(1)
    return vmap(loss_fn)(thetas)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    try:
        return t.contiguous(memory_format=torch.channels_last)
    except RuntimeError:  # inside vmap, where the layout cannot be chosen
        return t


def _channels_last_params(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: _channels_last(v) if v.ndim == 4 else v for k, v in params.items()}


# -- surfaces through the first layer --------------------------------------------------------
# Every point of a surface runs the network on the same images X, and the first convolution
# reads X alone: its im2col matrix (one row per output pixel, the kernel's receptive field) is
# the same for every point and is built once per loss function. Per point the first layer is
# then one matrix product with that point's kernel, giving channels-last outputs directly; a
# ReLU and a 2×2 max-pool right after it are taken on the product while it is in cache (max-pool
# first: ReLU is monotone, so the two commute). The rest of the network runs on blocks of
# images whose activations stay near the cache, within one reparametrisation per point.
_CUT_BLOCK_FLOATS = 1 << 19  # first-layer outputs per product: 2 MiB, about one core's L2
_REST_BLOCK_FLOATS = 1 << 23  # activations per block of images through the rest: 32 MiB
_MAX_COLUMNS_FLOATS = 1 << 25  # a bigger im2col matrix (128 MiB) is not kept: no split


def _is_plain_2x2_pool(m: nn.MaxPool2d) -> bool:
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    return (pair(m.kernel_size) == (2, 2) and pair(m.stride or m.kernel_size) == (2, 2)
            and pair(m.padding) == (0, 0) and pair(m.dilation) == (1, 1) and not m.ceil_mode)


def _max_2x2_nhwc(x: torch.Tensor, out: torch.Tensor) -> None:
    """out = the 2×2 max-pool of x, both (N, H, W, C) contiguous: rows first (pairs of whole
    image rows, long contiguous runs), then columns on the halved tensor."""
    n, h, w, c = x.shape
    rows = x.reshape(n, h // 2, 2, w * c)
    half = torch.maximum(rows[:, :, 0], rows[:, :, 1]).view(n, h // 2, w // 2, 2, c)
    torch.maximum(half[:, :, :, 0], half[:, :, :, 1], out=out)


def _max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """F.max_pool2d(x, 2); on a channels-last batch as two pairwise maxima over (N, H, W, C)
    views, several times faster on the CPU than the pooling kernel (which also makes indices)."""
    if x.dim() != 4 or x.shape[-1] % 2 or x.shape[-2] % 2 or x.is_contiguous() or not x.is_contiguous(
            memory_format=torch.channels_last):
        return F.max_pool2d(x, 2)
    n, c, h, w = x.shape
    out = x.new_empty(n, h // 2, w // 2, c)
    _max_2x2_nhwc(x.permute(0, 2, 3, 1), out)
    return out.permute(0, 3, 1, 2)


def _module_sequence(model: nn.Module) -> list[nn.Module] | None:
    """The model's layers in the order its forward applies them, where the model says so: an
    `nn.Sequential` (nested ones flattened) or a module whose forward runs its `layer_chain()`
    (the image CNN). None for any other forward."""
    if isinstance(model, nn.Sequential):
        items = list(model.children())
    elif getattr(type(model), "forward_runs_layer_chain", False) and callable(getattr(model, "layer_chain", None)):
        items = list(model.layer_chain())
    else:
        return None
    out: list[nn.Module] = []
    for m in items:
        inner = _module_sequence(m) if m is not model else None
        out.extend(inner if inner is not None else [m])
    return out


def _rest_steps(layers: list[nn.Module]) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """The layers after the cut as steps to run in turn, with every ReLU → MaxPool2d pair taken
    as MaxPool2d → ReLU (the same values: ReLU is monotone), so the ReLU runs on the 4× smaller
    pooled tensor, and every plain 2×2 max-pool as `_max_pool_2x2`."""
    def pool_step(m: nn.MaxPool2d) -> Callable[[torch.Tensor], torch.Tensor]:
        return _max_pool_2x2 if _is_plain_2x2_pool(m) else m

    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    i = 0
    while i < len(layers):
        m = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(m, nn.ReLU) and isinstance(nxt, nn.MaxPool2d) and not nxt.return_indices:
            steps += [pool_step(nxt), torch.relu]
            i += 2
            continue
        steps.append(pool_step(m) if isinstance(m, nn.MaxPool2d) and not m.return_indices else m)
        i += 1
    return steps


class _ChainRest(nn.Module):
    """The network after the cut: its steps run in turn. It holds the model copy's top-level
    children under their own names, so that its parameters are named as the model's (what
    `PlaneLoss` maps θ by); the first convolution is no longer among them."""

    def __init__(self, holder: nn.Module, steps: list[Callable[[torch.Tensor], torch.Tensor]]):
        super().__init__()
        for name, child in holder.named_children():
            self.add_module(name, child)
        self.steps = steps  # the children's own modules (a deep copy maps them along)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for step in self.steps:
            x = step(x)
        return x


@dataclass
class _FirstLayerSplit:
    """The network cut after its first convolution (and a ReLU / 2×2 max-pool right after it)."""

    first: nn.Conv2d  # applied to the input alone
    first_name: str
    out_hw: tuple[int, int]  # its output's height and width
    relu: bool  # a ReLU follows the first layer
    pool: bool  # then a 2×2 max-pool (even output height and width)
    rest: nn.Module  # the remaining network: its input is what the cut passes on


def _activation_floats(model: nn.Module, X: torch.Tensor) -> int:
    """Floats of every leaf module's output for one input (a forward of X[:1] with hooks)."""
    sizes: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel()))
             for m in model.modules() if len(list(m.children())) == 0]
    try:
        with torch.no_grad():
            model(X[:1])
    finally:
        for h in hooks:
            h.remove()
    return max(1, sum(sizes))


def _split_first_layer(model: nn.Module, X: torch.Tensor) -> _FirstLayerSplit | None:
    """`model` as first convolution + rest, when it is a chain of layers (see `_module_sequence`)
    that starts with a Conv2d (one group, zero padding); None when it is not, or when the im2col
    matrix would be too big to keep.

    Read from the chain, not traced: torch.fx's tracer swaps `nn.Module.__call__` for the whole
    process while it runs, and a network training in another thread then fails its step."""
    if X.ndim != 4:
        return None
    holder = copy.deepcopy(model)
    layers = _module_sequence(holder)
    if not layers or not isinstance(layers[0], nn.Conv2d):
        return None
    conv = layers[0]
    if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        return None
    with torch.no_grad():
        out_hw = tuple(conv(X[:1]).shape[-2:])
    if len(X) * out_hw[0] * out_hw[1] * conv.weight[0].numel() > _MAX_COLUMNS_FLOATS:
        return None
    cut, relu, pool = 1, False, False
    if len(layers) > 1 and isinstance(layers[1], nn.ReLU):
        cut, relu = 2, True
        m = layers[2] if len(layers) > 2 else None
        if (isinstance(m, nn.MaxPool2d) and not m.return_indices and _is_plain_2x2_pool(m)
                and out_hw[0] % 2 == 0 and out_hw[1] % 2 == 0):
            cut, pool = 3, True
    first_name = next(name for name, m in holder.named_modules() if m is conv)
    parent, _, attr = first_name.rpartition(".")
    setattr(holder.get_submodule(parent) if parent else holder, attr, nn.Identity())
    rest = _ChainRest(holder, _rest_steps(layers[cut:]))
    rest.train(model.training)
    return _FirstLayerSplit(conv, first_name, out_hw, relu, pool, rest)


class _BlockwiseRest(nn.Module):
    """The rest of the network, run on blocks of images: one module, so that one
    `functional_call` puts a point's parameters in place for every block."""

    def __init__(self, rest: nn.Module):
        super().__init__()
        self.rest = rest

    def forward(self, cut: Callable[[int, int], torch.Tensor], y: torch.Tensor, loss: str,
                start: int, stop: int, block: int) -> torch.Tensor:
        """Σ over images start … stop−1 of their loss (each block's mean × its size)."""
        total = None
        for i in range(start, stop, block):
            b = min(block, stop - i)
            part = loss_value(self.rest(cut(i, b)), y[i : i + b], loss) * b
            total = part if total is None else total + part
        return total


class PlaneLoss:
    """L(θ) on a fixed batch of images, which also evaluates planes through a first-layer split.

    Called with θ it is the plain loss (channels-last images and kernels; differentiable, works
    under vmap). `losses_on_plane` gives L(θ + Σ cₖ·dₖ) for rows of coefficients c: the first
    convolution's im2col matrix of X is built once and shared by every point, and the network
    runs image block by image block (see the comment above `_CUT_BLOCK_FLOATS`).
    """

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str,
                 split: _FirstLayerSplit | None):
        self.model, self.y, self.loss = model, y, loss
        self.X = X.contiguous(memory_format=torch.channels_last)
        self.buffers = dict(model.named_buffers())
        self.split = split
        self._columns: torch.Tensor | None = None
        if split is not None:  # the first layer's parameters and buffers are not the rest's
            self._blockwise = [_BlockwiseRest(split.rest)]  # one per worker thread
            self._rest_names = {k for k, _ in split.rest.named_parameters()}
            rest_buffers = {k for k, _ in split.rest.named_buffers()}
            self._rest_buffers = {"rest." + k: v for k, v in self.buffers.items() if k in rest_buffers}
            # Batch statistics in training mode see the whole batch: no blocks then.
            self._batch_statistics = any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
                                                        nn.SyncBatchNorm)) for m in model.modules())
            per_image = _activation_floats(model, X)
            n_blocks = -(-len(X) * per_image // _REST_BLOCK_FLOATS)
            self._block = max(1, -(-len(X) // max(1, n_blocks)))

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        params = _channels_last_params(unflatten(self.model, theta))
        return loss_value(functional_call(self.model, (params, self.buffers), (self.X,)), self.y, self.loss)

    def _im2col(self) -> torch.Tensor:
        """The first convolution's input patches and a column of ones (for the bias):
        (N·H·W, C·kh·kw + 1). Rows in (n, h, w) order, or with the pool in (n, dy, dx, h/2, w/2)
        order, so that the four pixels of each 2×2 window lie in four contiguous slabs."""
        if self._columns is None:
            conv, (h, w) = self.split.first, self.split.out_hw
            cols = F.unfold(self.X, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
            n, k = cols.shape[:2]
            cols = torch.cat([cols, cols.new_ones(n, 1, h * w)], 1)
            if self.split.pool:
                cols = cols.view(n, k + 1, h // 2, 2, w // 2, 2).permute(0, 3, 5, 2, 4, 1)
            else:
                cols = cols.transpose(1, 2)
            self._columns = cols.reshape(-1, k + 1).contiguous()
        return self._columns

    def _cut(self, kernel: torch.Tensor, start: int, count: int) -> torch.Tensor:
        """What the split passes on for images start … start+count−1: the first convolution
        (kernel as (C·kh·kw + 1, C_out), its last row the bias), then its ReLU and 2×2 max-pool;
        channels-last NCHW."""
        split, columns = self.split, self._im2col()
        (h, w), c = split.out_hw, kernel.shape[1]
        rows_per_image = h * w
        if not split.pool:
            z = columns[start * rows_per_image : (start + count) * rows_per_image] @ kernel
            if split.relu:
                z.relu_()
            return z.view(count, h, w, c).permute(0, 3, 1, 2)
        window = rows_per_image // 4
        out = columns.new_empty(count, window, c)
        step = max(1, _CUT_BLOCK_FLOATS // (rows_per_image * c))
        z = columns.new_empty(min(step, count) * rows_per_image, c)
        for i in range(0, count, step):
            b = min(step, count - i)
            part = columns[(start + i) * rows_per_image : (start + i + b) * rows_per_image]
            zb = torch.mm(part, kernel, out=z[: b * rows_per_image]).view(b, 4, window, c)
            torch.maximum(zb[:, 0], zb[:, 1], out=zb[:, 0])
            torch.maximum(zb[:, 2], zb[:, 3], out=zb[:, 2])
            torch.maximum(zb[:, 0], zb[:, 2], out=out[i : i + b])
        return out.relu_().view(count, h // 2, w // 2, c).permute(0, 3, 1, 2)

    def _point_loss(self, theta: torch.Tensor) -> torch.Tensor:
        params = unflatten(self.model, theta)
        prefix = self.split.first_name + "."
        weight = params[prefix + "weight"].reshape(self.split.first.out_channels, -1)
        bias = params.get(prefix + "bias")
        bias = weight.new_zeros(len(weight)) if bias is None else bias
        kernel = torch.cat([weight, bias[:, None]], 1).t()
        rest = _channels_last_params({"rest." + k: v for k, v in params.items() if k in self._rest_names})
        n = len(self.y)
        self._im2col()  # built here, once, before any worker reads it
        if self._batch_statistics and self.model.training:
            return self._images_loss(0, rest, kernel, 0, n, n) / n
        # Two or more intra-op threads: as many workers, each on its share of the images with
        # one thread of its own. They meet once per point; a thread team would meet at every
        # small operation, and on a busy machine each meeting waits for a descheduled thread.
        workers = max(1, min(torch.get_num_threads(), -(-n // self._block)))
        if workers == 1:
            return self._images_loss(0, rest, kernel, 0, n, self._block) / n
        while len(self._blockwise) < workers:
            self._blockwise.append(_BlockwiseRest(copy.deepcopy(self.split.rest)))
        bounds = [n * k // workers for k in range(workers + 1)]

        def share(k: int) -> torch.Tensor:
            with intra_op_threads(1):
                return self._images_loss(k, rest, kernel, bounds[k], bounds[k + 1], self._block)

        with ThreadPoolExecutor(workers - 1) as pool:
            others = [pool.submit(share, k) for k in range(1, workers)]
            total = share(0)
            for f in others:
                total = total + f.result()
        return total / n

    def _images_loss(self, worker: int, rest: dict[str, torch.Tensor], kernel: torch.Tensor,
                     start: int, stop: int, block: int) -> torch.Tensor:
        """Σ of the loss over images start … stop−1 at one point, on worker's copy of the rest."""
        module = self._blockwise[worker]
        if module.training != self.model.training:
            module.train(self.model.training)
        return functional_call(module, (rest, self._rest_buffers),
                               (lambda i, count: self._cut(kernel, i, count), self.y, self.loss, start, stop, block))

    def losses_on_plane(self, theta: torch.Tensor, dirs: Sequence[torch.Tensor],
                        coords: torch.Tensor) -> torch.Tensor:
        """L(θ + Σ_k coords[:, k]·dirs[k]) for every row of coords: (len(coords),)."""
        thetas = theta.unsqueeze(0).expand(len(coords), -1)
        for k, d in enumerate(dirs):
            thetas = thetas + coords[:, k : k + 1] * d.unsqueeze(0)
        if self.split is None:
            if len(coords) == 1:
                return self(thetas[0]).reshape(1)
            return vmap(self)(thetas)
        # Point by point: each forward is already a large batch of images, and the layout
        # tricks of the cut need real tensors, not vmap's.
        return torch.stack([self._point_loss(t) for t in thetas])


def surface_loss_function(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                          loss: str = "cross_entropy") -> LossFn:
    """L(θ) on (X, y) for surfaces: `loss_function`, except that image batches (N, C, H, W) and
    the convolution kernels are laid out channels-last (NHWC), where oneDNN's CPU convolutions
    run about twice as fast as in the default layout, and that it is a `PlaneLoss`: a surface
    shares the first convolution's im2col matrix among its points and runs the network on
    cache-sized blocks of images. Same values to float rounding."""
    if X.ndim != 4:
        return loss_function(model, X, y, loss)
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return PlaneLoss(model, X, y, loss, _split_first_layer(model, X))


def _prepare(theta, dirs, values, device: Device = None):
    theta = _as_tensor(theta, device)
    dev, dtype = theta.device, theta.dtype
    dirs = [_as_tensor(d, dev).to(dtype) for d in dirs]
    values = [_as_tensor(v).to(dev, dtype).reshape(-1) for v in values]
    return theta, dirs, values


@torch.no_grad()
def loss_line(loss_fn: LossFn, theta, direction, alphas, chunk: int | None = None,
              device: Device = None) -> torch.Tensor:
    """L(θ + αᵢ·d) for every α, batched: (A,). `device`: where θ + αd is formed and evaluated
    (default θ's; the loss function's data must be there)."""
    theta, (d,), (a,) = _prepare(theta, [direction], [alphas], device)
    chunk = chunk or default_chunk(theta.numel())
    out = [_losses_at(loss_fn, theta, [d], a[i : i + chunk, None]) for i in range(0, len(a), chunk)]
    return torch.cat(out) if out else torch.empty(0)


def _grid_coords(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    A, B = torch.meshgrid(a, b, indexing="ij")
    return torch.stack([A.reshape(-1), B.reshape(-1)], 1)


@torch.no_grad()
def loss_surface(loss_fn: LossFn, theta, d1, d2, alphas, betas, chunk: int | None = None,
                 device: Device = None) -> torch.Tensor:
    """Z[i, j] = L(θ + αᵢ·d₁ + βⱼ·d₂), evaluated `chunk` grid points per batched forward: (A, B).
    `device`: where the points are formed and evaluated (default θ's; the loss function's data
    must be there)."""
    theta, dirs, (a, b) = _prepare(theta, [d1, d2], [alphas, betas], device)
    chunk = chunk or default_chunk(theta.numel())
    coords = _grid_coords(a, b)
    out = [_losses_at(loss_fn, theta, dirs, coords[i : i + chunk]) for i in range(0, len(coords), chunk)]
    return torch.cat(out).reshape(len(a), len(b))


@dataclass
class SurfaceProgress(Progress):
    """Between chunks: `done` points computed so far (all levels) of the finest grid's `total`,
    and the resolution of the level being computed."""

    resolution: tuple[int, int] = (0, 0)


@dataclass
class SurfaceGrid:
    """A finished level: Z[i, j] = L(θ + αᵢ·d₁ + βⱼ·d₂) on a sub-grid of the final one."""

    alphas: np.ndarray
    betas: np.ndarray
    Z: np.ndarray  # (len(alphas), len(betas))
    level: int  # 0 = coarsest
    n_levels: int
    done: int
    total: int

    @property
    def final(self) -> bool:
        return self.level == self.n_levels - 1


def refinement_strides(n_a: int, n_b: int, min_points: int = 11) -> list[int]:
    """Strides of the nested grids, coarsest first: (41, 41) -> [4, 2, 1] (11², 21², 41²).

    A coarser level keeps every other point of the next, so every point is computed once.
    """
    strides = [1]
    s = 1
    while ((n_a - 1) % (2 * s) == 0 and (n_b - 1) % (2 * s) == 0
           and (n_a - 1) // (2 * s) + 1 >= min_points and (n_b - 1) // (2 * s) + 1 >= min_points):
        s *= 2
        strides.insert(0, s)
    return strides


@torch.no_grad()
def surface_levels(loss_fn: LossFn, theta, d1, d2, alphas, betas, chunk: int | None = None,
                   min_points: int = 11) -> Iterator[SurfaceProgress | SurfaceGrid]:
    """The surface of `loss_surface`, coarse to fine (e.g. 11×11, 21×21, 41×41).

    Yields a `SurfaceProgress` after every chunk and a `SurfaceGrid` after every level; close
    the generator to stop at the next chunk. The last grid equals `loss_surface`.
    """
    theta, dirs, (a, b) = _prepare(theta, [d1, d2], [alphas, betas])
    chunk = chunk or default_chunk(theta.numel())
    na, nb = len(a), len(b)
    Z = torch.full((na, nb), float("nan"), dtype=theta.dtype)
    done_mask = torch.zeros(na, nb, dtype=torch.bool)
    strides = refinement_strides(na, nb, min_points)
    total, done = na * nb, 0
    a_np, b_np = a.cpu().numpy(), b.cpu().numpy()
    for level, s in enumerate(strides):
        want = torch.zeros(na, nb, dtype=torch.bool)
        want[::s, ::s] = True
        idx = torch.nonzero(want & ~done_mask)
        res = ((na - 1) // s + 1, (nb - 1) // s + 1)
        for i in range(0, len(idx), chunk):
            part = idx[i : i + chunk]
            coords = torch.stack([a[part[:, 0]], b[part[:, 1]]], 1)
            Z[part[:, 0], part[:, 1]] = _losses_at(loss_fn, theta, dirs, coords).to("cpu", Z.dtype)
            done_mask[part[:, 0], part[:, 1]] = True
            done += len(part)
            yield SurfaceProgress(done, total, "loss surface", resolution=res)
        yield SurfaceGrid(a_np[::s].copy(), b_np[::s].copy(), Z[::s, ::s].numpy().copy(), level,
                          len(strides), done, total)


# -- contour lines ---------------------------------------------------------------------------
def contour_segments(Z: np.ndarray, level: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Marching squares: where Z crosses `level`, as line segments (rows a₀, b₀, a₁, b₁, …).

    Z[i, j] is the value at (xs[i], ys[j]). Computed with whole-array numpy, so the GUI only
    draws the segments (pyqtgraph's own isocurves are computed on the GUI thread).
    """
    Z = np.asarray(Z, dtype=np.float64)
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    z00, z10, z01, z11 = Z[:-1, :-1], Z[1:, :-1], Z[:-1, 1:], Z[1:, 1:]
    x0, x1 = xs[:-1, None], xs[1:, None]
    y0, y1 = ys[None, :-1], ys[None, 1:]
    shape = z00.shape

    def crossing(a, b):
        below_a, below_b = a < level, b < level
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.clip((level - a) / (b - a), 0.0, 1.0)
        return (below_a != below_b) & np.isfinite(a) & np.isfinite(b), np.nan_to_num(t)

    # Edges: 0 = (00→10) along x at y0; 1 = (10→11) along y at x1; 2 = (01→11) along x at y1;
    # 3 = (00→01) along y at x0.
    m0, t0 = crossing(z00, z10)
    m1, t1 = crossing(z10, z11)
    m2, t2 = crossing(z01, z11)
    m3, t3 = crossing(z00, z01)
    px = np.stack([np.broadcast_to(x0 + t0 * (x1 - x0), shape), np.broadcast_to(x1, shape),
                   np.broadcast_to(x0 + t2 * (x1 - x0), shape), np.broadcast_to(x0, shape)])
    py = np.stack([np.broadcast_to(y0, shape), np.broadcast_to(y0 + t1 * (y1 - y0), shape),
                   np.broadcast_to(y1, shape), np.broadcast_to(y0 + t3 * (y1 - y0), shape)])
    M = np.stack([m0, m1, m2, m3])
    count = M.sum(0)
    segments = []
    two = np.nonzero(count == 2)
    if two[0].size:
        Mt = M[:, two[0], two[1]]
        first = Mt.argmax(0)
        second = 3 - Mt[::-1].argmax(0)
        cols = np.arange(two[0].size)
        a = np.stack([px[:, two[0], two[1]][first, cols], py[:, two[0], two[1]][first, cols]], 1)
        b = np.stack([px[:, two[0], two[1]][second, cols], py[:, two[0], two[1]][second, cols]], 1)
        segments.append(np.stack([a, b], 1).reshape(-1, 2))
    four = np.nonzero(count == 4)
    if four[0].size:  # a saddle cell: the centre decides which corners are joined
        i, j = four
        centre = (z00[i, j] + z10[i, j] + z01[i, j] + z11[i, j]) / 4
        joined = (centre < level) == (z00[i, j] < level)  # 00 and 11 joined: cut off 10 and 01
        pairs = np.where(joined[:, None], np.array([[0, 1, 2, 3]]), np.array([[0, 3, 1, 2]]))
        for k in (0, 2):
            ea, eb = pairs[:, k], pairs[:, k + 1]
            a = np.stack([px[ea, i, j], py[ea, i, j]], 1)
            b = np.stack([px[eb, i, j], py[eb, i, j]], 1)
            segments.append(np.stack([a, b], 1).reshape(-1, 2))
    return np.concatenate(segments) if segments else np.empty((0, 2))


@dataclass
class Contours:
    """Contour lines of a grid at evenly spaced levels of the loss or of log₁₀ loss."""

    levels: np.ndarray
    segments: np.ndarray  # (2K, 2): segment ends, pairwise
    log_scale: bool


def grid_contours(grid: SurfaceGrid, log_scale: bool = True, n_levels: int = 9) -> Contours:
    values = grid.Z.astype(np.float64)
    if log_scale:
        values = np.log10(np.clip(values, 1e-12, None))
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.max() <= finite.min():
        return Contours(np.empty(0), np.empty((0, 2)), log_scale)
    levels = np.linspace(finite.min(), finite.max(), n_levels + 2)[1:-1]
    segs = np.concatenate([contour_segments(values, lv, grid.alphas, grid.betas) for lv in levels])
    return Contours(levels, segs, log_scale)


# -- paths and planes ------------------------------------------------------------------------
def _plane_fit(trajectory, theta, d1, d2, device: Device = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares coordinates of θ_t − θ in span(d₁, d₂), the in-plane parts and the residuals."""
    traj = _as_tensor(trajectory, device).double()
    theta = _as_tensor(theta, traj.device).double()
    D = torch.stack([_as_tensor(d1, traj.device).double(), _as_tensor(d2, traj.device).double()], 1)
    rows = traj - theta
    coords = torch.linalg.solve(D.T @ D, D.T @ rows.T).T
    inside = coords @ D.T
    return coords, inside, rows - inside


def project_trajectory(trajectory, theta, d1, d2, device: Device = None) -> np.ndarray:
    """(T, 2) coordinates (α, β) of each θ_t − θ in the plane spanned by d₁, d₂ (least squares;
    for orthogonal directions, ⟨θ_t − θ, dₖ⟩ / ‖dₖ‖²)."""
    return _plane_fit(trajectory, theta, d1, d2, device)[0].cpu().numpy()


@dataclass
class PathProjection:
    """Where a recorded path lies relative to a plane."""

    steps: np.ndarray  # (T,)
    coords: np.ndarray  # (T, 2) plane coordinates
    in_plane: np.ndarray  # (T,) ‖α d₁ + β d₂‖: distance from the centre within the plane
    off_plane: np.ndarray  # (T,) distance from the plane
    explained: float  # share of Σ‖θ_t − θ‖² that lies in the plane (1: the path is in the plane)


def path_projection(trajectory, steps, theta, d1, d2) -> PathProjection:
    coords, inside, resid = _plane_fit(trajectory, theta, d1, d2)
    total = float(inside.pow(2).sum() + resid.pow(2).sum())
    return PathProjection(np.asarray(steps), coords.cpu().numpy(), inside.norm(dim=1).cpu().numpy(),
                          resid.norm(dim=1).cpu().numpy(),
                          float(inside.pow(2).sum()) / total if total > 0 else 1.0)


class PathRecorder:
    """Snapshots θ_t of a training run, evenly spread over it within a memory budget.

    When full, every other snapshot is dropped and new ones are kept at the same (now wider)
    spacing in steps, so the record stays even from the first step to the newest; the newest
    snapshot is always kept.
    """

    def __init__(self, max_points: int = 400, max_bytes: int = 64 << 20):
        self.max_points = max_points
        self.max_bytes = max_bytes
        self.steps: list[int] = []
        self.thetas: list[np.ndarray] = []
        self.spacing = 0  # minimum steps between kept snapshots (0: keep all)

    def __len__(self) -> int:
        return len(self.steps)

    def clear(self) -> None:
        self.steps, self.thetas, self.spacing = [], [], 0

    def add(self, step: int, theta: np.ndarray) -> None:
        step = int(step)
        if self.steps and step <= self.steps[-1]:
            if step == self.steps[-1]:
                self.thetas[-1] = theta
                return
            self.clear()  # time went backwards: a new run
        if len(self.steps) >= 2 and step - self.steps[-2] < self.spacing:
            self.steps[-1], self.thetas[-1] = step, theta  # the newest slot moves on
            return
        self.steps.append(step)
        self.thetas.append(theta)
        cap = max(8, min(self.max_points, self.max_bytes // max(1, theta.nbytes)))
        if len(self.steps) > cap:
            keep = list(range(0, len(self.steps) - 1, 2)) + [len(self.steps) - 1]
            self.steps = [self.steps[i] for i in keep]
            self.thetas = [self.thetas[i] for i in keep]
            self.spacing = max(1, (self.steps[-1] - self.steps[0]) // max(1, len(self.steps) - 1))

    def snapshot(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """(steps, list of θ): lists copied, arrays shared (they are never written to)."""
        return np.asarray(self.steps, dtype=np.int64), list(self.thetas)


# -- the live view's computation -------------------------------------------------------------
@dataclass
class LandscapeSettings:
    """What the Landscape tab asks for."""

    axes: str = "filter"  # one of AXES
    span: float | None = 1.0  # grid half-width in direction units; None: fit the path
    resolution: int = 41  # odd: the grid's centre row and column are the 1-D profiles
    seed: int = 0
    max_samples: int | None = None  # evaluate on this many training samples (None: all)
    hessian_iters: int = 60
    log_scale: bool = True  # contour levels evenly spaced in log₁₀ loss (else in loss)
    refine: bool = True  # coarse grids first; off for live refreshes of a picture already shown

    def problems(self) -> dict[str, str]:
        out = {}
        if self.axes not in AXES:
            out["axes"] = f"unknown axes {self.axes!r}"
        if self.span is not None and not (math.isfinite(self.span) and self.span > 0):
            out["span"] = f"the range must be a positive number, got {self.span}"
        if not 3 <= self.resolution <= 201 or self.resolution % 2 == 0:
            out["resolution"] = f"resolution must be odd, between 3 and 201, got {self.resolution}"
        if self.max_samples is not None and self.max_samples < 1:
            out["max_samples"] = "use at least one sample"
        return out


@dataclass
class Plane:
    """A plane through `center` spanned by d₁, d₂, and where it came from."""

    center: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor
    axes: str
    unit: bool  # True: d₁, d₂ are unit vectors (coordinates are distances in θ-space)
    cosine: float = 0.0  # cos∠(d₁, d₂) before orthogonalisation (random planes)
    residual_cosine: float = 0.0  # cos∠(d₁, d₂) left after orthogonalising and re-normalising
    explained: np.ndarray | None = None  # PCA: explained ratios of PC1, PC2
    eigenvalues: np.ndarray | None = None  # Hessian: λ₁, λ₂
    path_points: int = 0  # PCA: snapshots the plane was fitted to
    step: int = 0  # training step of the centre

    def describe(self) -> str:
        what = AXIS_LABELS.get(self.axes, self.axes)
        if self.axes in NORMS:
            return (f"{what} (cos∠(d₁, d₂): {self.cosine:+.3f} drawn, "
                    f"{self.residual_cosine:+.1e} after orthogonalising and re-normalising)")
        if self.axes == "pca" and self.explained is not None:
            e = 100 * self.explained
            return (f"{what}: PC1 {e[0]:.1f} %, PC2 {e[1]:.1f} % of its variance about the path's mean "
                    f"({self.path_points} snapshots)")
        if self.axes == "hessian" and self.eigenvalues is not None:
            return f"{what}: λ₁ = {self.eigenvalues[0]:.4g}, λ₂ = {self.eigenvalues[1]:.4g}"
        return what


@dataclass
class LineProfiles:
    """1-D cuts through the plane's centre: train loss along d₁ and d₂ (the grid's centre column
    and row), test loss along d₁ (None until computed, after the surface)."""

    alphas: np.ndarray
    train_d1: np.ndarray
    train_d2: np.ndarray
    test_d1: np.ndarray | None = None

    @classmethod
    def from_grid(cls, grid: SurfaceGrid) -> LineProfiles:
        i, j = len(grid.alphas) // 2, len(grid.betas) // 2
        return cls(grid.alphas, grid.Z[:, j].copy(), grid.Z[i, :].copy())


@dataclass
class LandscapeData:
    """The data and model a landscape is computed on (a copy, never the training model)."""

    model: nn.Module
    X: torch.Tensor
    y: torch.Tensor
    X_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    loss: str = "cross_entropy"
    n_train_total: int = 0  # before any subset was taken

    @classmethod
    def from_split(cls, model: nn.Module, X, y, X_test=None, y_test=None, loss: str = "cross_entropy",
                   max_samples: int | None = None) -> LandscapeData:
        dev = model_device(model)
        n = len(y)
        if max_samples is not None and n > max_samples:
            X, y = X[:max_samples], y[:max_samples]
            if X_test is not None and len(y_test) > max_samples:
                X_test, y_test = X_test[:max_samples], y_test[:max_samples]

        def move(t):
            return None if t is None else t.to(dev)

        return cls(model, move(X), move(y), move(X_test), move(y_test), loss, n)

    def samples_used(self) -> SamplesUsed:
        return SamplesUsed(len(self.y), self.n_train_total)

    def train_loss(self) -> LossFn:
        return surface_loss_function(self.model, self.X, self.y, self.loss)

    def test_loss(self) -> LossFn | None:
        if self.X_test is None or len(self.X_test) == 0:
            return None
        return surface_loss_function(self.model, self.X_test, self.y_test, self.loss)


def make_plane(data: LandscapeData, theta: torch.Tensor, settings: LandscapeSettings,
               trajectory: Sequence[np.ndarray] | None = None, step: int = 0) -> Plane:
    """The plane the settings ask for, centred at θ."""
    model, axes = data.model, settings.axes
    if axes in NORMS:
        d1, d2 = direction_pair(model, axes, settings.seed, theta)
        cos = direction_cosine(d1, d2)
        d2, left = orthogonalise_normalised(model, d1, d2, theta, axes)
        return Plane(theta, d1, d2, axes, unit=axes == "none", cosine=cos, residual_cosine=left, step=step)
    if axes == "pca":
        if trajectory is None or len(trajectory) < 3:
            raise ValueError("the PCA plane needs a training path: train a few steps first")
        traj = torch.from_numpy(np.stack(trajectory)).to(theta.device)
        d1, d2, explained = pca_directions(traj, theta)
        return Plane(theta, d1.to(theta.dtype), d2.to(theta.dtype), axes, unit=True, explained=explained,
                     path_points=len(trajectory), step=step)
    if axes == "hessian":
        d1, d2, vals = hessian_directions(data.train_loss(), theta, settings.seed, settings.hessian_iters)
        return Plane(theta, d1.to(theta.dtype), d2.to(theta.dtype), axes, unit=True, eigenvalues=vals,
                     step=step)
    raise ValueError(f"unknown axes {axes!r}; choose one of {', '.join(AXES)}")


NICE_SPANS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def fit_span(projection: PathProjection | None, default: float = 1.0) -> float:
    """A grid half-width that holds the whole projected path with a margin of at least 20%,
    rounded up to 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10ᵏ: while the path grows, a live
    surface keeps its range (and its axes their ticks) for many refreshes instead of moving at
    every one."""
    if projection is None or len(projection.coords) == 0:
        return default
    m = float(np.abs(projection.coords).max())
    if not (m > 0 and math.isfinite(m)):
        return default
    need = 1.2 * m
    decade = 10.0 ** math.floor(math.log10(need))
    return next(s * decade for s in NICE_SPANS if s * decade >= need * (1 - 1e-9))


def roughness(Z: np.ndarray) -> float:
    """Total variation of the surface's slope over its own total variation:

        R = (Σ |Δ²_α L| + Σ |Δ²_β L|) / (Σ |Δ_α L| + Σ |Δ_β L|)

    with Δ and Δ² the first and second differences along each grid axis, summed over every row
    and column of the grid. A plane gives 0; a smooth bowl sampled at n points per axis about
    4/n (its slope turns once per line); a surface whose slope changes sign at every grid step
    up to 2. It does not change when the loss is scaled or shifted, so surfaces of different
    heights compare; compare surfaces at the same resolution. Non-finite points are left out.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or min(Z.shape) < 3:
        raise ValueError(f"roughness needs a grid of at least 3×3 points, got shape {Z.shape}")
    num = den = 0.0
    for axis in (0, 1):
        d1, d2 = np.diff(Z, 1, axis), np.diff(Z, 2, axis)
        num += float(np.abs(d2[np.isfinite(d2)]).sum())
        den += float(np.abs(d1[np.isfinite(d1)]).sum())
    return num / den if den > 0 else 0.0


@dataclass
class SamplesUsed:
    """How many training samples a landscape is computed on, of how many there are."""

    used: int
    total: int


@dataclass
class LandscapeEvent:
    """What `landscape_events` yields: one piece per event (a grid comes with its contours,
    its 1-D profiles and its roughness)."""

    plane: Plane | None = None
    path: PathProjection | None = None
    lines: LineProfiles | None = None
    span: float | None = None  # the grid's half-width, before the surface starts
    progress: SurfaceProgress | None = None
    grid: SurfaceGrid | None = None
    contours: Contours | None = None  # with `grid`
    roughness: float | None = None  # with `grid`: `roughness(grid.Z)`


def landscape_events(data: LandscapeData, theta, settings: LandscapeSettings,
                     path_steps: np.ndarray | None = None, path: Sequence[np.ndarray] | None = None,
                     plane: Plane | None = None, surface: bool = True, span: float | None = None,
                     step: int = 0, chunk: int | None = None) -> Iterator[LandscapeEvent]:
    """Everything the Landscape tab draws, in the order it can be drawn.

    With `plane=None` a new plane is built at θ (else the given plane is kept: "fixed plane").
    Then the path is projected onto it and the surface computed coarse to fine, each level with
    its contour lines and its 1-D profiles through the centre; last, the test loss along d₁.
    `surface=False` stops after the path. Closing the generator stops at the next chunk.
    """
    problems = settings.problems()
    if problems:
        raise ValueError("; ".join(problems.values()))
    dev = model_device(data.model)
    if plane is None:
        theta = _as_tensor(theta, dev).to(torch.float32)
        plane = make_plane(data, theta, settings, path, step)
        yield LandscapeEvent(plane=plane)
    projection = None
    if path is not None and len(path) > 0:
        traj = torch.from_numpy(np.stack(path)).to(dev)
        projection = path_projection(traj, path_steps, plane.center, plane.d1, plane.d2)
        yield LandscapeEvent(path=projection)
    if not surface:
        return
    if span is None:
        span = settings.span if settings.span is not None else fit_span(projection)
    yield LandscapeEvent(span=span)
    if chunk is None:
        chunk = points_per_chunk(data.model, data.X)
    L = data.train_loss()
    grid = torch.linspace(-span, span, settings.resolution, device=dev)
    lines = None
    coarsest = 11 if settings.refine else settings.resolution
    for item in surface_levels(L, plane.center, plane.d1, plane.d2, grid, grid, chunk, min_points=coarsest):
        if isinstance(item, SurfaceGrid):
            lines = LineProfiles.from_grid(item)
            yield LandscapeEvent(grid=item, contours=grid_contours(item, settings.log_scale), lines=lines,
                                 roughness=roughness(item.Z))
        else:
            yield LandscapeEvent(progress=item)
    Lt = data.test_loss()
    if Lt is not None and lines is not None:
        lines.test_d1 = loss_line(Lt, plane.center, plane.d1, grid, chunk).cpu().numpy()
        yield LandscapeEvent(lines=lines)


def data_from_experiment(experiment, model: nn.Module | None = None,
                         max_samples: int | None = None) -> LandscapeData:
    """LandscapeData on an experiment's splits (`model` should be a copy of its network)."""
    ds = experiment.dataset
    model = model if model is not None else experiment.model_copy()
    return LandscapeData.from_split(model, ds.X_train, ds.y_train, ds.X_test, ds.y_test,
                                    experiment.config.train_config().loss, max_samples)


__all__ = ["random_direction", "orthogonal_directions", "pca_directions", "loss_line", "loss_surface",
           "project_trajectory", "direction_pair", "direction_cosine", "orthogonalise",
           "orthogonalise_normalised",
           "hessian_directions", "hessian_available", "surface_levels", "refinement_strides",
           "points_per_chunk", "surface_loss_function", "PlaneLoss",
           "path_projection", "PathRecorder", "LandscapeSettings", "Plane",
           "LandscapeData", "LandscapeEvent", "landscape_events", "make_plane", "SurfaceGrid", "roughness",
           "SamplesUsed",
           "SurfaceProgress", "LineProfiles", "PathProjection", "data_from_experiment", "fit_span",
           "contour_segments", "grid_contours", "Contours"]
