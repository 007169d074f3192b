"""Every preset at its full settings: seconds to render its figures headless, against 60 s.

Each preset runs in a fresh process (`main.py --headless --preset NAME`), as a lecturer's
command would, so the time includes start-up, building the data and model, training and
writing the figures. The baseline is the promise itself: under a minute on this machine.
Prints one JSON line; exits non-zero when a preset fails or takes a minute or more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gui.presets import load_presets  # noqa: E402

LIMIT_S = 60.0


def main(names: list[str] | None = None) -> dict:
    names = names or sorted(load_presets())
    seconds: dict[str, float] = {}
    failed: list[str] = []
    for name in names:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "main.py", "--headless", "--preset", name, "--out", out],
                                 cwd=ROOT, capture_output=True, text=True, timeout=600,
                                 env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
            seconds[name] = time.perf_counter() - t0
            if res.returncode != 0 or not list(Path(out).rglob("*.png")):
                failed.append(name)
        print(f"{name}: {seconds[name]:.1f} s", file=sys.stderr)
    slowest = max(seconds, key=seconds.get)
    out = {"name": "presets_full_settings", "presets": len(seconds), "limit_s": LIMIT_S,
           "slowest": slowest, "slowest_s": seconds[slowest], "total_s": sum(seconds.values()),
           "over_limit": sorted(n for n, s in seconds.items() if s >= LIMIT_S), "failed": failed,
           "seconds": {k: round(v, 1) for k, v in seconds.items()}}
    out["agree"] = not out["over_limit"] and not failed
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:] or None)["agree"] else 1)
