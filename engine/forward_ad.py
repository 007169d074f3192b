"""`torch.func.jvp` behind one process-wide lock.

PyTorch keeps forward-mode AD's dual level in global, not per-thread, state: two threads in a
`jvp` at the same moment can fail with "no level exists". The app runs several workers at once
(the experiment's thread and each tab's own jobs), so every jvp of the engine goes through here.
"""

from __future__ import annotations

import threading
from typing import Any

import torch.func

_LOCK = threading.RLock()  # re-entrant: a jvp may nest inside another on the same thread


def jvp(func, primals, tangents, **kwargs) -> Any:
    """torch.func.jvp, one thread at a time."""
    with _LOCK:
        return torch.func.jvp(func, primals, tangents, **kwargs)
