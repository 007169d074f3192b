"""Build the one-folder app with PyInstaller, then run its --self-test.

    python resources/packaging/build_app.py [--dist build/dist]

Prints the build time, the folder's size and the self-test's line; exits non-zero if the build
or the frozen self-test fails.
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
    return test.returncode


if __name__ == "__main__":
    sys.exit(main())
