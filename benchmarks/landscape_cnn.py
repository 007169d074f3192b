"""Loss surface of the MRI CNN: the engine against the loss-landscapes package and this machine's peak.

The MRI phantoms' SmallCNN (64 px, 17 classes) on 256 training images, a 41×41 grid (1,681
forward passes over the 256 images, about 9 TFLOP).

- Project: `engine.landscape.loss_surface` with the loss of `surface_loss_function`, two
  filter-normalised directions. That loss is a `PlaneLoss`: the first convolution's im2col
  matrix of the images is built once and shared by every grid point (one small matrix product
  per point, its ReLU and 2×2 max-pool taken in cache), and the rest of the network runs
  channels-last on cache-sized blocks of images.
- Peer: loss-landscapes 3.0.6 (`pip install loss-landscapes`, the `bench` extra),
  `random_plane(model, Loss(...), steps=41, normalization="filter")` on the same model, data and
  grid size: it moves the model's weights in place point by point and runs the model's own
  forward.
- Peak: the FLOP rate of a 1024³ sgemm and of a large channels-last 3×3 convolution, measured
  here with the same threads; the surface's rate is reported as a fraction of each.

Agreement: the engine's surface against the obvious loop (write θ + α·d₁ + β·d₂ into a model,
one forward) at 16 grid points, within 1e-4 relative (the layouts sum in different orders).
The peer's plane is its own random one, so only its values' finiteness is checked.
Times are wall-clock and CPU (process) seconds; on a busy machine the CPU ratio is the steadier.
Prints one JSON line; exits non-zero on disagreement, a ratio below 5 or a rate below 30% of
the sgemm peak. `--resolution 9 --images 64` runs a quick version.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.data import mri_phantoms  # noqa: E402
from engine.device import pick_device  # noqa: E402
from engine.landscape import loss_surface, orthogonal_directions, points_per_chunk, surface_loss_function  # noqa: E402
from engine.models import model_for  # noqa: E402
from engine.params import flat_params, set_flat_params  # noqa: E402

REQUIRED_RATIO = 5.0
REQUIRED_PEAK_FRACTION = 0.30


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device):
    wall, out, _ = timed_cpu(fn, device)
    return wall, out


def timed_cpu(fn, device: torch.device):
    """(wall s, output, CPU s of this process)."""
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out, time.process_time() - c0


def forward_flops(model: torch.nn.Module, X: torch.Tensor) -> int:
    """FLOPs of one forward pass over X: 2 × the multiply-adds of every conv and dense layer."""
    macs = []

    def hook(m, _inputs, out):
        if isinstance(m, torch.nn.Conv2d):
            k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            macs.append(out.numel() * k)
        elif isinstance(m, torch.nn.Linear):
            macs.append(out.numel() * m.in_features)

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in handles:
            h.remove()
    return 2 * sum(macs)


def best_rate(fn, flops: float, device: torch.device, repeats: int = 5) -> float:
    fn()
    best = min(timed(fn, device)[0] for _ in range(repeats))
    return flops / best / 1e9


def sgemm_gflops(device: torch.device, n: int = 1024) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return best_rate(lambda: a @ b, 2 * n**3, device)


def conv_gflops(device: torch.device) -> float:
    x = torch.randn(64, 64, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(64, 64, 3, 3, device=device).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return best_rate(lambda: F.conv2d(x, w, padding=1), 2 * 64 * 64 * 32 * 32 * 64 * 9, device)


def main(resolution: int = 41, images: int = 256, threads: int | None = None) -> dict:
    from loss_landscapes import random_plane  # the bench extra
    from loss_landscapes.metrics import Loss

    if threads:
        torch.set_num_threads(threads)
    # loss-landscapes draws its directions on the CPU (torch.rand without a device) and adds them
    # to the model's weights, so it cannot run a GPU model: both sides run on the CPU here
    # (benchmarks/device.py times the engine's surface on the GPU against the CPU).
    device = pick_device("cpu")
    ds = mri_phantoms(n_per_class=40, size=64, seed=0)
    X, y = ds.X_train[:images].to(device), ds.y_train[:images].to(device)
    torch.manual_seed(0)
    model = model_for(ds).to(device)
    # A few Adam steps: a trained network's surface, and no all-zero bias (loss-landscapes'
    # filter normalisation divides by each bias entry's norm and fails on zeros).
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(20):
        batch = torch.arange(step * 32, step * 32 + 32, device=device) % len(y)
        opt.zero_grad()
        F.cross_entropy(model(X[batch]), y[batch]).backward()
        opt.step()
    model.eval()
    theta = flat_params(model)
    d1, d2 = orthogonal_directions(model, "filter", seed=0, theta=theta)
    grid = torch.linspace(-1.0, 1.0, resolution, device=device)
    L = surface_loss_function(model, X, y)
    chunk = points_per_chunk(model, X)

    loss_surface(L, theta, d1, d2, grid[:2], grid[:1], chunk)  # warm-up
    project_s, Z, project_cpu_s = timed_cpu(lambda: loss_surface(L, theta, d1, d2, grid, grid, chunk), device)

    peer_model = model_for(ds).to(device).eval()
    peer_model.load_state_dict(model.state_dict())
    metric = Loss(torch.nn.CrossEntropyLoss(), X, y)
    torch.manual_seed(0)
    peer_s, Z_peer, peer_cpu_s = timed_cpu(lambda: random_plane(peer_model, metric, distance=1, steps=resolution,
                                                normalization="filter"), device)

    # The obvious loop at 16 grid points, for agreement.
    g = torch.Generator().manual_seed(0)
    picks = torch.randint(0, resolution, (16, 2), generator=g)
    loop_model = model_for(ds).to(device).eval()
    rel = 0.0
    with torch.no_grad():
        for i, j in picks.tolist():
            set_flat_params(loop_model, theta + grid[i] * d1 + grid[j] * d2)
            ref = float(F.cross_entropy(loop_model(X), y))
            rel = max(rel, abs(float(Z[i, j]) - ref) / max(abs(ref), 1e-12))

    flops = forward_flops(model, X) * resolution**2
    rate = flops / project_s / 1e9
    sgemm, conv = sgemm_gflops(device), conv_gflops(device)
    out = {"name": f"landscape_cnn_surface_{resolution}x{resolution}_{images}_images", "project_s": project_s,
           "baseline_s": peer_s, "baseline": "loss-landscapes random_plane (filter normalisation)",
           "ratio": peer_s / project_s, "required_ratio": REQUIRED_RATIO,
           "project_cpu_s": project_cpu_s, "baseline_cpu_s": peer_cpu_s, "cpu_ratio": peer_cpu_s / project_cpu_s,
           "agree": bool(rel < 1e-4 and torch.isfinite(torch.as_tensor(Z_peer)).all()), "max_rel_diff_vs_loop": rel,
           "achieved_gflops": rate, "peer_gflops": flops / peer_s / 1e9, "sgemm_gflops": sgemm, "conv_gflops": conv,
           "fraction_of_sgemm_peak": rate / sgemm, "fraction_of_conv_peak": rate / conv,
           "required_peak_fraction": REQUIRED_PEAK_FRACTION, "points_per_chunk": chunk,
           "device": str(device), "threads": torch.get_num_threads()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=41)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (default: PyTorch's)")
    args = parser.parse_args()
    r = main(args.resolution, args.images, args.threads or None)
    ok = r["agree"] and r["ratio"] >= REQUIRED_RATIO and r["fraction_of_sgemm_peak"] >= REQUIRED_PEAK_FRACTION
    if not r["agree"]:
        print(f"FAIL: the surface differs from the loop by {r['max_rel_diff_vs_loop']:.1e}", file=sys.stderr)
    if r["ratio"] < REQUIRED_RATIO:
        print(f"FAIL: {r['ratio']:.2f}× loss-landscapes, below {REQUIRED_RATIO:g}×", file=sys.stderr)
    if r["fraction_of_sgemm_peak"] < REQUIRED_PEAK_FRACTION:
        print(f"FAIL: {r['fraction_of_sgemm_peak']:.0%} of the sgemm peak, below {REQUIRED_PEAK_FRACTION:.0%}",
              file=sys.stderr)
    sys.exit(0 if ok else 1)
