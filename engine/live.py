"""Live training: steps grouped into frames, each frame carrying what the views draw.

A *probe* is a small computation on the model that a visible view wants refreshed while
training runs (a decision map, sample predictions, layer activations). Probes run in the
training thread between steps, on the live model, and return numpy arrays, so a frame never
shares a tensor with the GUI.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .device import set_thread_count
from .experiment import Experiment
from .history import HistoryPoint, HistoryRecorder
from .training import TrainEvent


@dataclass
class Probe:
    """fn(experiment) -> numpy payload, computed at most every `min_interval` seconds."""

    fn: Callable[[Experiment], Any]
    min_interval: float = 0.0


@dataclass
class Frame:
    step: int
    epoch: float
    events: list[TrainEvent]
    theta: np.ndarray | None
    probes: dict[str, Any] = field(default_factory=dict)
    steps_per_second: float = 0.0
    diverged: bool = False
    message: str = ""
    history: list[HistoryPoint] = field(default_factory=list)  # recorded since the last frame


ProbeSource = Callable[[], Mapping[str, Probe]] | Mapping[str, Probe]


def _resolve(probes: ProbeSource | None) -> Mapping[str, Probe]:
    if probes is None:
        return {}
    return probes() if callable(probes) else probes


PROBE_SHARE = 0.2  # each probe takes at most about this share of the training thread's time


@torch.no_grad()
def run_probes(experiment: Experiment, probes: Mapping[str, Probe], last_run: dict[str, float],
               force: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    now = time.perf_counter()
    was_training = experiment.model.training
    experiment.model.eval()
    try:
        for name, probe in probes.items():
            # A probe slower than its interval allows (a busy machine) runs less often instead
            # of taking the training thread's time.
            interval = max(probe.min_interval, last_run.get(name + ":seconds", 0.0) / PROBE_SHARE)
            if force or now - last_run.get(name, -1e9) >= interval:
                out[name] = probe.fn(experiment)
                last_run[name] = now
                last_run[name + ":seconds"] = time.perf_counter() - now
                now = time.perf_counter()
    finally:
        experiment.model.train(was_training)
    return out


def snapshot_frame(experiment: Experiment, probes: ProbeSource | None = None,
                   event: TrainEvent | None = None, history: HistoryRecorder | None = None) -> Frame:
    """A frame for the current weights without training (after a reset, or a replayed step);
    with `history`, the recorder measures this step if it is due (step 0 after a reset)."""
    ev = event if event is not None else experiment.initial_event()
    return Frame(step=experiment.step_count, epoch=experiment.trainer.epoch, events=[ev],
                 theta=experiment.theta().cpu().numpy(),
                 probes=run_probes(experiment, _resolve(probes), {}, force=True),
                 history=history.measure(experiment) if history is not None else [])


SMALL_STEP_FLOPS = 2e7  # below this a step is faster on one thread than split across several


def step_thread_count(experiment: Experiment) -> int | None:
    """One intra-op thread for a small fully connected network, None (leave PyTorch's count) else.

    A step of a few thousand parameters takes a few hundred microseconds; splitting its small
    operations across threads costs more in waking and waiting than it saves, and on a busy
    machine (the window drawing, other programs) a waiting thread can hold a step up for a whole
    scheduler slice. Convolutions on pictures are large enough to gain from more threads."""
    if len(tuple(experiment.dataset.input_shape)) == 3:
        return None
    flops = 6.0 * experiment.n_params * experiment.trainer.batch_size  # forward and backward
    return 1 if flops < SMALL_STEP_FLOPS else None


def live_training(experiment: Experiment, probes: ProbeSource | None = None,
                  frame_interval: float = 1 / 30, max_steps: int | None = None,
                  min_steps_per_frame: int = 1, history: HistoryRecorder | None = None,
                  spare_threads: int = 0) -> Iterator[Frame]:
    """Train until closed (or `max_steps` more steps), yielding a frame about every
    `frame_interval` seconds with all step events since the last frame, and the points
    `history` recorded meanwhile (it measures after each step, within its time budget).
    `spare_threads`: intra-op threads left to the caller by a fully connected network's steps (a
    window's GUI thread needs a core of its own: a team of threads on small operations sharing
    cores with it waits at every barrier for the one that was descheduled, 3× slower on two
    cores); an image network's steps take every thread (see below).

    Ends after a frame with `diverged=True` if the run diverges.
    """
    last_run: dict[str, float] = {}
    pending: list[TrainEvent] = []
    done = 0
    t_frame = time.perf_counter()
    rate_t, rate_steps, rate = t_frame, 0, 0.0
    # A small network's steps run on one intra-op thread; the caller's count is back at every yield.
    outer_threads = torch.get_num_threads()
    step_threads = step_thread_count(experiment)
    if step_threads is None:
        # A convolution's step is long enough that its thread team seldom waits on the caller's
        # thread: the MRI CNN in the window measured 9.7 steps/s on two threads against 6.5 on
        # one, with the GUI thread's stalls as low (p99 31 against 36 ms, on two cores).
        images = len(tuple(experiment.dataset.input_shape)) == 3
        step_threads = outer_threads if images else max(1, outer_threads - spare_threads)
    recorded = history.measure(experiment) if history is not None else []  # step 0, if not yet
    while max_steps is None or done < max_steps:
        set_thread_count(step_threads)
        t_step = time.perf_counter()
        event = experiment.step()
        if history is not None:
            recorded += history.measure(experiment, time.perf_counter() - t_step)
        pending.append(event)
        done += 1
        rate_steps += 1
        now = time.perf_counter()
        last = event.diverged or (max_steps is not None and done >= max_steps)
        if last or (now - t_frame >= frame_interval and len(pending) >= min_steps_per_frame):
            if now - rate_t > 0.25:
                rate = rate_steps / (now - rate_t)
                rate_t, rate_steps = now, 0
            frame = Frame(step=experiment.step_count, epoch=experiment.trainer.epoch, events=pending,
                          theta=None if event.diverged else experiment.theta().cpu().numpy(),
                          steps_per_second=rate, diverged=event.diverged, message=event.message,
                          history=recorded)
            if not event.diverged:
                frame.probes = run_probes(experiment, _resolve(probes), last_run, force=last)
            pending, recorded = [], []
            set_thread_count(outer_threads)
            yield frame
            t_frame = time.perf_counter()
            if event.diverged:
                return
