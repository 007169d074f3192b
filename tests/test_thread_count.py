"""Intra-op thread counts and CPU priority change per thread, so a worker never disturbs another
one computing, nor the GUI thread."""

import sys
import threading

import pytest
import torch

from engine.device import intra_op_threads, set_thread_count


def test_a_worker_thread_count_leaves_the_other_threads_alone():
    outer = torch.get_num_threads()
    seen: dict[str, int] = {}
    changed, release = threading.Event(), threading.Event()

    def worker():
        with intra_op_threads(1):
            seen["inside"] = torch.get_num_threads()
            changed.set()
            release.wait(10)
        seen["after"] = torch.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    assert changed.wait(10)
    seen["main while the worker holds one"] = torch.get_num_threads()
    release.set()
    t.join(10)
    if outer > 1:
        assert seen["inside"] == 1
    assert seen["main while the worker holds one"] == outer
    assert seen["after"] == outer


def test_many_threads_changing_counts_while_others_multiply_do_not_crash():
    # Once, torch.set_num_threads from a worker crashed a neighbour in mid-matmul (a per-tab job
    # beside training); the count is now per thread and this runs to the end.
    stop = threading.Event()
    errors: list[BaseException] = []

    def multiply():
        a = torch.randn(64, 64, 64)
        try:
            while not stop.is_set():
                (a @ a).sum().item()
                torch.nn.functional.conv2d(torch.randn(4, 3, 16, 16), torch.randn(8, 3, 3, 3)).sum().item()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def toggle():
        for i in range(300):
            set_thread_count(1 + i % 2)
        set_thread_count(torch.get_num_threads())

    workers = [threading.Thread(target=multiply) for _ in range(2)]
    togglers = [threading.Thread(target=toggle) for _ in range(2)]
    for t in workers + togglers:
        t.start()
    for t in togglers:
        t.join(60)
    stop.set()
    for t in workers:
        t.join(60)
    assert not errors


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_a_worker_lowers_its_own_priority_and_leaves_the_gui_threads_alone():
    import os

    from engine.priority import BACKGROUND_NICENESS
    from gui.worker import Job

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def work():
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        child: list[int] = []  # threads it starts (a compute team) inherit its priority
        t = threading.Thread(target=lambda: child.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        t.start()
        t.join()
        seen.extend(child)
        yield

    from gui.app import make_app

    make_app()  # a full QApplication: a bare QCoreApplication would stay and break later window tests
    job = Job(work, name="priority").start()
    assert job.wait(5.0)
    job.finish_now()
    expected = min(19, main_before + BACKGROUND_NICENESS)
    assert seen == [expected, expected]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before


def test_one_thread_block_also_limits_mkl_after_an_explicit_thread_count():
    # torch.set_num_threads fixes MKL's count process-wide; a one-thread block must still run its
    # BLAS and LAPACK calls on one thread (else small solves crawl on a busy 2-core machine).
    from engine.device import _mkl_runtime

    mkl = _mkl_runtime()
    if mkl is None or torch.get_num_threads() < 2:
        return  # no MKL in this torch build, or one thread anyway
    torch.set_num_threads(torch.get_num_threads())
    outer = mkl.MKL_Get_Max_Threads()
    with intra_op_threads(1):
        assert mkl.MKL_Get_Max_Threads() == 1
    assert mkl.MKL_Get_Max_Threads() == outer
