"""Start-up: time from launching `main.py --self-test` to the window's first painted frame.

The baseline is the bare import of the app's heavy libraries (PyTorch, Qt, pyqtgraph) in a
fresh interpreter: what no start-up can beat. Prints one JSON line (median of 3 launches).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def launch_to_paint() -> float:
    env = {**os.environ, "SADDLE_LAB_REPORT_PAINT": "1", "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.time()
    res = subprocess.run([sys.executable, "main.py", "--self-test"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    if res.returncode != 0:
        raise SystemExit(f"self-test failed: {res.stdout}{res.stderr}")
    line = next(l for l in res.stderr.splitlines() if l.startswith("first-paint-epoch"))
    return float(line.split()[1]) - t0


def bare_imports() -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", "import torch, PySide6.QtWidgets, pyqtgraph"], check=True, timeout=300)
    return time.time() - t0


def main(repeats: int = 3) -> dict:
    project = statistics.median(launch_to_paint() for _ in range(repeats))
    baseline = statistics.median(bare_imports() for _ in range(repeats))
    out = {"name": "startup_to_first_paint", "project_s": project, "baseline_s": baseline,
           "ratio": project / baseline, "agree": project < 3.0, "target_s": 3.0}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
