"""Where computations run."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


# -- intra-op threads -----------------------------------------------------------------------
# `torch.set_num_threads` is process-wide: besides the calling thread's OpenMP team size it
# resizes shared pools and clears oneDNN's primitive cache, which crashes a second thread that is
# computing at that moment (a worker per tab runs beside training). The OpenMP team size alone is
# per thread, and ATen's CPU kernels read it: set only that, through the OpenMP runtime torch loaded.
_OPENMP_NAMES = ("libgomp*.so*", "libomp*.dylib", "libomp*.so*", "libiomp5*", "vcomp*.dll")
_openmp: ctypes.CDLL | None | bool = False  # False: not looked up yet; None: not available


def _openmp_runtime() -> ctypes.CDLL | None:
    global _openmp
    if _openmp is not False:
        return _openmp  # type: ignore[return-value]
    _openmp = None
    lib_dir = Path(torch.__file__).parent / "lib"
    candidates = [p for name in _OPENMP_NAMES for p in sorted(lib_dir.glob(name))]
    for path in candidates:
        try:
            lib = ctypes.CDLL(str(path))
            set_threads = lib.omp_set_num_threads
        except (OSError, AttributeError):
            continue
        # Only the runtime ATen uses answers: check that setting it is what torch then reports.
        before = torch.get_num_threads()
        probe = 1 if before != 1 else 2
        set_threads(probe)
        took = torch.get_num_threads() == probe
        set_threads(before)
        if took:
            _openmp = lib
            break
    return _openmp  # type: ignore[return-value]


def set_thread_count(n: int) -> None:
    """Use n intra-op threads in the calling thread from now on.

    Off the main thread only the calling thread's OpenMP team changes (a no-op where torch's
    OpenMP runtime is not found); on the main thread, with no workers to disturb, torch's own
    setting is used.
    """
    n = max(1, int(n))
    if n == torch.get_num_threads():
        return
    lib = _openmp_runtime()
    if lib is not None:
        lib.omp_set_num_threads(n)
    elif threading.current_thread() is threading.main_thread():
        torch.set_num_threads(n)


# MKL (torch's BLAS and LAPACK on x86) keeps its own thread count. Once anything has called
# `torch.set_num_threads` (test set-ups, command-line tools), MKL uses that count whatever the
# calling thread's OpenMP team size is: a "one thread" block then still runs its many small solves
# on two MKL threads, several times slower on a busy 2-core machine. MKL's thread-local setting
# limits the calling thread only, like the OpenMP one.
_mkl: ctypes.CDLL | None | bool = False  # False: not looked up yet; None: not available


def _mkl_runtime() -> ctypes.CDLL | None:
    """torch's CPU library where it carries MKL's thread-local setter (C entry, argument by value)."""
    global _mkl
    if _mkl is False:
        _mkl = None
        lib_dir = Path(torch.__file__).parent / "lib"
        for path in sorted(lib_dir.glob("libtorch_cpu.*")) + sorted(lib_dir.glob("torch_cpu.dll")):
            try:
                lib = ctypes.CDLL(str(path))
                lib.MKL_Set_Num_Threads_Local.argtypes = [ctypes.c_int]
            except (OSError, AttributeError):
                continue
            lib.MKL_Set_Num_Threads_Local.restype = ctypes.c_int
            _mkl = lib
            break
    return _mkl  # type: ignore[return-value]


@contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """Use at most n intra-op threads in the calling thread for the block (None: leave as is):
    torch's OpenMP team and, where torch uses MKL, MKL's own count for this thread.

    A surface computed beside a training run on a small machine should take one core and leave
    the other to training: two thread teams on two cores slow both down many times over.
    """
    if n is None or n >= torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    set_thread_count(n)
    mkl = _mkl_runtime()
    # The thread's previous setting comes back (0: none of its own, MKL's global count applies).
    mkl_before = mkl.MKL_Set_Num_Threads_Local(max(1, int(n))) if mkl is not None else 0
    try:
        yield
    finally:
        if mkl is not None:
            mkl.MKL_Set_Num_Threads_Local(mkl_before)
        set_thread_count(before)

