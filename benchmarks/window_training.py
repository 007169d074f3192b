"""Training speed in the window: steps per second with the real window on the Train tab, against
the engine's training loop with no Qt at all, measured in the same run.

Headless: `live_training` on an `Experiment` of the same settings, as `main.py --headless` trains
it: the run's history recorded and the Train tab's probes computed, no views.
Window: the real MainWindow (offscreen, 1920×1080) on the Train tab, Play, steps counted over a
fixed time while the event loop draws every frame. The two take turns for a few rounds and the
median of the rounds' ratios is reported, so a change in the machine's load biases neither side.
Both configurations: the default (two moons, 2-16-16-2 tanh, SGD) and the MRI CNN. Prints one
JSON line; exits non-zero when the window trains at less than half the headless speed.

    python benchmarks/window_training.py [--seconds 2] [--rounds 3] [--only default|mri]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


from engine.experiment import Experiment, ExperimentConfig  # noqa: E402
from engine.live import live_training  # noqa: E402

MIN_RATIO = 0.5
CONFIGS = {
    "default": ExperimentConfig(),
    "mri": ExperimentConfig(dataset="mri", n=680, noise=0.05, test_fraction=0.2, image_size=64,
                            optimizer="adam", lr=1e-3, momentum=0.0, batch_size=32, eval_every=25),
}


def headless_rate(config: ExperimentConfig, seconds: float, experiment: Experiment | None = None) -> float:
    """Steps per second of the engine's live loop (frames every 1/30 s, nothing reads them), run
    in a thread of its own as the window's worker runs it: PyTorch's intra-op thread pool behaves
    differently on the main thread, and that difference is not the window's cost."""
    out: list[float] = []
    worker = threading.Thread(target=lambda: out.append(_loop_rate(experiment or Experiment(config), seconds)))
    worker.start()
    worker.join()
    return out[0]


def _loop_rate(exp: Experiment, seconds: float) -> float:
    # What `main.py --headless` trains with on the Train tab: the run's history (λmax, trace,
    # NC1, within their budget) and the tab's probes, from step 0 as the window's round starts.
    from engine.history import HistoryRecorder, default_probes
    from gui.panels.train import TrainPanel

    exp.reset()
    probes = TrainPanel.probes(None)  # the tab's probes do not depend on the tab's state
    gen = live_training(exp, probes, frame_interval=0.05, history=HistoryRecorder(default_probes()))
    try:
        next(gen)  # warm-up: first kernels, allocator
        start, t0 = exp.step_count, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            next(gen)
        return (exp.step_count - start) / (time.perf_counter() - t0)
    finally:
        gen.close()


def window_rate(win, config: ExperimentConfig, seconds: float) -> float:
    """Steps per second with the window on the Train tab while training, the event loop running."""
    lab = win.lab
    _run_until(lambda: lab.state == "idle" and lab.last_frame is not None, 60)
    if lab.experiment.config != config:
        lab.apply_config(config)
        win.bar.load(config)
        _run_until(lambda: lab.state == "idle" and lab.experiment.config == config, 120)
    win.show_panel("train")
    lab.reset()
    _run_until(lambda: lab.state == "idle" and lab.experiment.step_count == 0, 60)
    lab.play()
    _run_until(lambda: lab.experiment.step_count > 0, 60)
    _run_for(0.5)  # warm-up, like the headless side's first frame
    start, t0 = lab.experiment.step_count, time.perf_counter()
    _run_for(seconds)
    rate = (lab.experiment.step_count - start) / (time.perf_counter() - t0)
    lab.pause()
    _run_until(lambda: lab.state == "idle", 60)
    return rate


def _run_for(seconds: float) -> None:
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _run_until(condition, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit("the window did not get ready in time")
        _run_for(0.02)


def main(seconds: float = 2.0, rounds: int = 3, only: str | None = None) -> dict:
    from gui.app import make_app
    from gui.headless import dispose
    from gui.main_window import MainWindow

    names = [only] if only else list(CONFIGS)
    experiments = {name: Experiment(CONFIGS[name]) for name in names}
    make_app()
    win = MainWindow()
    win.bar.confirm = lambda text: True
    win.resize(1920, 1080)
    win.show()
    results = {}
    for name in names:
        # Headless and window take turns: the machine's load drifts, and each round compares
        # two measurements a few seconds apart. The event loop is idle while headless runs.
        headless, in_window = [], []
        for _ in range(rounds):
            headless.append(headless_rate(CONFIGS[name], seconds, experiments[name]))
            in_window.append(window_rate(win, CONFIGS[name], seconds))
        ratios = sorted(w / h for w, h in zip(in_window, headless))
        results[name] = {"headless_steps_per_s": round(statistics.median(headless), 1),
                         "window_steps_per_s": round(statistics.median(in_window), 1),
                         "ratio": round(ratios[len(ratios) // 2], 3),
                         "rounds": [[round(h, 1), round(w, 1)] for h, w in zip(headless, in_window)]}
    win.close()
    dispose(win)
    worst = min(r["ratio"] for r in results.values())
    first = results[names[0]]
    out = {"name": "window_training", "project_s": 1 / first["window_steps_per_s"],
           "baseline_s": 1 / first["headless_steps_per_s"], "ratio": worst, "agree": worst >= MIN_RATIO,
           "min_ratio": MIN_RATIO, "seconds": seconds, **results}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="headless/window pairs per configuration")
    parser.add_argument("--only", choices=list(CONFIGS))
    args = parser.parse_args()
    sys.exit(0 if main(args.seconds, args.rounds, args.only)["agree"] else 1)
