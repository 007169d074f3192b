"""Background threads yield the CPU to the GUI thread (no torch, no Qt: any thread may call it)."""

from __future__ import annotations

import ctypes
import os
import sys
import threading

BACKGROUND_NICENESS = 5  # how much less CPU priority a worker thread takes than the GUI thread


def lower_thread_priority(steps: int = BACKGROUND_NICENESS) -> bool:
    """Give the calling thread (and the compute threads it starts from now on) a lower CPU
    priority than the rest of the process, so that on a busy laptop the scheduler runs the GUI
    thread first and training or a sweep takes what is left. Returns whether it took.

    Linux keeps a nice value per thread (and new threads inherit it); Windows has thread
    priorities; elsewhere this does nothing. A thread's priority cannot be raised again by an
    ordinary user, so call it only on threads that do background work until they end.
    """
    try:
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + steps)
            return True
        if sys.platform == "win32":
            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            below_normal = -1
            return bool(kernel32.SetThreadPriority(kernel32.GetCurrentThread(), below_normal))
    except (OSError, AttributeError):
        pass
    return False
