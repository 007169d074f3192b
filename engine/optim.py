"""SGD (with momentum) and Adam, step for step the same as torch.optim's.

Written out because building a torch.optim optimiser imports PyTorch's compiler stack (more
than a second on a laptop) the first time, which would stall the app at its first Play. These
need nothing beyond tensor arithmetic and keep the same `param_groups` interface, so learning
rate, momentum and weight decay can change between steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class _Optimizer:
    def __init__(self, params: Iterable[torch.Tensor], defaults: dict):
        self.params = [p for p in params if p.requires_grad]
        self.param_groups = [dict(defaults, params=self.params)]
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()


class SGD(_Optimizer):
    """θ ← θ − η·v with v ← β·v + (g + λθ) (v starts at the first gradient), as torch.optim.SGD."""

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self) -> None:
        g = self.param_groups[0]
        lr, mom, wd = g["lr"], g["momentum"], g["weight_decay"]
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
            if mom != 0:
                st = self.state.setdefault(i, {})
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = d.detach().clone()
                else:
                    st["momentum_buffer"].mul_(mom).add_(d)
                d = st["momentum_buffer"]
            p.add_(d, alpha=-lr)


class Adam(_Optimizer):
    """Adam with bias correction and L2 weight decay added to the gradient, as torch.optim.Adam."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self) -> None:
        g = self.param_groups[0]
        lr, (b1, b2), eps, wd = g["lr"], g["betas"], g["eps"], g["weight_decay"]
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
            st = self.state.setdefault(i, {})
            if "step" not in st:
                st["step"] = 0
                st["exp_avg"] = torch.zeros_like(p)
                st["exp_avg_sq"] = torch.zeros_like(p)
            st["step"] += 1
            t = st["step"]
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m.lerp_(grad, 1 - b1)
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            denom = (v.sqrt() / (1 - b2**t) ** 0.5).add_(eps)
            p.addcdiv_(m, denom, value=-lr / (1 - b1**t))
