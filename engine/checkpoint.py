"""Checkpoints of a run: everything needed to train on from a step exactly as the run would have.

A checkpoint is a flat dict of arrays: the model's state_dict (parameters and buffers), the
optimiser's state (momentum buffers, Adam's moments and step), and the trainer's place in the
data (step count, samples seen, the shuffled order, the cursor in it, the batch generator).
Taken in the training thread as numpy copies (`take_checkpoint`), saved with torch.save as a
dict of tensors (so `torch.load(..., weights_only=True)` reads it back, nothing unpickled), and
put back with `restore_checkpoint`.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch

from .experiment import Experiment

CHECKPOINT_PROBE = "checkpoint"  # the probe name under which a live frame carries one
MODEL = "model."
OPTIM = "optim."
TRAINER = "trainer."


@torch.no_grad()
def take_checkpoint(experiment: Experiment) -> dict[str, np.ndarray]:
    """The run's state now, as numpy copies (safe to hand to another thread)."""
    out: dict[str, np.ndarray] = {}
    for name, t in experiment.model.state_dict().items():
        out[MODEL + name] = t.detach().cpu().numpy().copy()
    tr = experiment.trainer
    opt = tr._optimizer  # noqa: SLF001 - None until the first step
    if opt is not None:
        for i, st in opt.state.items():
            for key, v in st.items():
                arr = v.detach().cpu().numpy().copy() if isinstance(v, torch.Tensor) else np.asarray(v)
                out[f"{OPTIM}{i}.{key}"] = arr
    out[TRAINER + "step_count"] = np.asarray(tr.step_count, dtype=np.int64)
    out[TRAINER + "samples_seen"] = np.asarray(tr.samples_seen, dtype=np.int64)
    out[TRAINER + "cursor"] = np.asarray(tr._cursor, dtype=np.int64)  # noqa: SLF001
    out[TRAINER + "order"] = tr._order.detach().cpu().numpy().astype(np.int64)  # noqa: SLF001
    out[TRAINER + "generator"] = tr.generator.get_state().numpy().copy()
    out[TRAINER + "start_loss"] = np.asarray(np.nan if tr.start_loss is None else tr.start_loss, dtype=np.float64)
    return out


def checkpoint_step(ckpt: dict[str, np.ndarray]) -> int:
    return int(ckpt[TRAINER + "step_count"])


@torch.no_grad()
def restore_checkpoint(experiment: Experiment, ckpt: dict[str, np.ndarray | torch.Tensor]) -> None:
    """Put a checkpoint back into an experiment built with the same settings (any device).

    Raises ValueError with the reason when the checkpoint does not fit the model."""
    arrays = {k: (v if isinstance(v, torch.Tensor) else torch.from_numpy(np.asarray(v))) for k, v in ckpt.items()}
    state = {k[len(MODEL):]: v for k, v in arrays.items() if k.startswith(MODEL)}
    model = experiment.model
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ValueError(f"the saved weights do not fit this network (missing {missing[:3]}, unexpected {extra[:3]})")
    for name, t in state.items():
        if tuple(t.shape) != tuple(expected[name].shape):
            raise ValueError(f"the saved weights do not fit this network ({name}: {tuple(t.shape)} vs "
                             f"{tuple(expected[name].shape)})")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    tr = experiment.trainer
    device = next(model.parameters()).device
    params = tr.optimizer.params
    opt_state: dict[int, dict] = {}
    for k, v in arrays.items():
        if not k.startswith(OPTIM):
            continue
        index, _, key = k[len(OPTIM):].partition(".")
        i = int(index)
        if i >= len(params):
            raise ValueError("the saved optimiser state does not fit this network")
        value = int(v) if key == "step" else v.to(device=device, dtype=params[i].dtype).clone()
        opt_state.setdefault(i, {})[key] = value
    tr.optimizer.state = opt_state
    tr.step_count = int(arrays[TRAINER + "step_count"])
    tr.samples_seen = int(arrays[TRAINER + "samples_seen"])
    tr._cursor = int(arrays[TRAINER + "cursor"])  # noqa: SLF001
    tr._order = arrays[TRAINER + "order"].to(torch.long).to(tr.device)  # noqa: SLF001
    tr.generator.set_state(arrays[TRAINER + "generator"].to(torch.uint8).clone())
    start = float(arrays[TRAINER + "start_loss"])
    tr.start_loss = None if math.isnan(start) else start
    tr.diverged = False


def checkpoint_bytes(ckpt: dict[str, np.ndarray]) -> bytes:
    """torch.save of the checkpoint as a dict of tensors."""
    buf = io.BytesIO()
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in ckpt.items()}, buf)
    return buf.getvalue()


def checkpoint_from_bytes(data: bytes) -> dict[str, np.ndarray]:
    """Read a checkpoint written by `checkpoint_bytes`; nothing is unpickled (weights_only)."""
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise ValueError(f"the saved weights cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in loaded.items()):
        raise ValueError("the saved weights are not a table of arrays")
    if TRAINER + "step_count" not in loaded:
        raise ValueError("the saved weights lack the step they were taken at")
    return {k: v.numpy() for k, v in loaded.items()}
