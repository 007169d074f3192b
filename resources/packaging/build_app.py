"""Build the one-folder app with PyInstaller, then run its --self-test.

    python resources/packaging/build_app.py [--dist build/dist]

Prints the build time, the folder's size, the self-test's line and a headless run of every tab;
exits non-zero if the build or either check of the frozen app fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dist", default=str(ROOT / "build" / "dist"))
    ap.add_argument("--work", default=str(ROOT / "build" / "pyinstaller"))
    ap.add_argument("--self-test-only", action="store_true", help="skip the headless run of every tab")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", args.dist, "--workpath", args.work, str(ROOT / "resources" / "packaging" / "saddle_lab.spec")]
    res = subprocess.run(cmd, cwd=ROOT)
    build_s = time.perf_counter() - t0
    if res.returncode != 0:
        print(f"build failed after {build_s:.0f} s")
        return res.returncode
    app_dir = Path(args.dist) / "saddle-lab"
    exe = app_dir / ("saddle-lab.exe" if os.name == "nt" else "saddle-lab")
    size = folder_size(app_dir)
    t1 = time.perf_counter()
    test = subprocess.run([str(exe), "--self-test"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    test_s = time.perf_counter() - t1
    print(f"built {app_dir} in {build_s:.0f} s, {size / 2**20:.0f} MiB")
    said = test.stdout.strip() or test.stderr.strip()[-2000:]
    print(f"frozen self-test ({test_s:.1f} s, exit {test.returncode}): {said}")
    if test.returncode != 0 or args.self_test_only:
        return test.returncode
    # Every tab once, headless: catches a module or data file the build left out.
    t2 = time.perf_counter()
    tabs = subprocess.run([str(exe), "--headless", "--tab", "all", "--quick", "--out", str(Path(args.work) / "tabs")],
                          capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    files = [line for line in tabs.stdout.splitlines() if line.strip()]
    print(f"frozen headless run of every tab ({time.perf_counter() - t2:.0f} s, exit {tabs.returncode}): "
          f"{len(files)} files written" + ("" if tabs.returncode == 0 else f"\n{tabs.stderr[-3000:]}"))
    return tabs.returncode


if __name__ == "__main__":
    sys.exit(main())
