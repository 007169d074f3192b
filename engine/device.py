"""Where computations run."""

from __future__ import annotations

import torch


def pick_device(prefer: str | torch.device = "auto") -> torch.device:
    """Return a torch device. "auto" picks cuda, then mps, then cpu.

    An explicit request for an accelerator that is missing falls back to the CPU rather than
    failing, so a preset written on a GPU machine still opens on a laptop.
    """
    if isinstance(prefer, torch.device):
        return prefer
    prefer = (prefer or "auto").lower()
    if prefer == "cpu":
        return torch.device("cpu")
    if prefer in ("auto", "cuda") or prefer.startswith("cuda:"):
        if torch.cuda.is_available():
            return torch.device(prefer if prefer.startswith("cuda:") else "cuda")
        if prefer != "auto":
            return torch.device("cpu")
    if prefer in ("auto", "mps"):
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
    return torch.device("cpu")


def describe(device: torch.device) -> str:
    """A short human-readable name for the status bar."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "GPU: Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
