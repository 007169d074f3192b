"""Reading a 2,000-image folder: the engine's threaded reader against a one-file-at-a-time loop.

Writes 2,000 PNG and JPEG scans of 96–160 pixels into a temporary folder (not timed), reads
them with `iter_image_folder` (a few decoding threads) and with the same reader on one
thread; both must give the same arrays. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from engine import image_folder as module  # noqa: E402
from engine.phantoms import phantom_slice  # noqa: E402


def write_folder(root: Path, n: int = 2000, classes: int = 4) -> None:
    rng = np.random.default_rng(0)
    bases = [phantom_slice(k, 160, 0.0, 0, 0) for k in range(classes)]
    for i in range(n):
        k = i % classes
        d = root / f"class{k}"
        d.mkdir(parents=True, exist_ok=True)
        side = int(rng.integers(96, 161))
        img = Image.fromarray((np.clip(bases[k] + rng.normal(0, 0.05, bases[k].shape), 0, 1) * 255).astype(np.uint8))
        img = img.resize((side, side))
        img.save(d / f"{i:05d}.{'png' if i % 2 else 'jpg'}")


def read(root: Path, workers: int) -> tuple[float, torch.Tensor]:
    module._CACHE.clear()
    t0 = time.perf_counter()
    ds = None
    for item in module.iter_image_folder(root, size=64, workers=workers):
        ds = item
    return time.perf_counter() - t0, torch.cat([ds.X_train, ds.X_test])


def main(n: int = 2000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_folder(root, n)
        # Best of two each: a busy machine only ever slows a run down.
        baseline, b = min(read(root, workers=1), read(root, workers=1), key=lambda r: r[0])
        project, a = min(read(root, workers=4), read(root, workers=4), key=lambda r: r[0])
    out = {"name": "image_folder_read", "project_s": project, "baseline_s": baseline,
           "ratio": baseline / project, "agree": bool(torch.equal(a, b)), "images": n,
           "images_per_second": n / project}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
