"""Curvature against PyHessian: top-1 and top-5 eigenvalues and the Hutchinson trace.

Two networks, each a little trained so the spectrum is not that of the initialisation:

- "mlp": 2-64-64-3 tanh on 4,096 points of three Gaussian blobs (4,547 parameters);
- "cnn": the MRI phantoms' SmallCNN (64 px) on 256 images (355,857 parameters).

Peer: PyHessian 0.1 (`pip install pyhessian`, the `bench` extra), its `hessian(model, criterion,
data=...)` on the same batch: power iteration with deflation for the top eigenvalues (power
iteration finds the largest |λ|, so where a negative eigenvalue is larger in size than the fifth
positive one, PyHessian's "top 5" holds it; the engine is asked for the same, `which="magnitude"`),
stopped when the eigenvalue moves by less than `tol` (relative) between iterations, and Hutchinson's estimator
stopped when the running mean moves by less than its tolerance. Its constructor (the gradient with
its graph) is timed as part of its work, as the engine's first product is part of ours.

Project: `engine.hessian.eigenpairs` (Lanczos with full re-orthogonalisation, stopped by the same
rule on the Ritz values, `criterion="value"`, at the same `tol`; the residuals ‖Hv − λv‖ it reports
are Lanczos's estimates, and the benchmark checks them against fresh products outside the timing)
and `engine.hessian.hessian_trace` on exactly the probe vectors PyHessian drew (replayed from the
same seed), so both traces are the same estimator and must agree. Both networks are chains of
layers, so the engine's products are the layer-wise ones (`engine.layerwise_hessian`): H·v for
Lanczos, and for the trace vᵀHv from a forward pass per probe, with no backward pass at all.

Agreement: every eigenvalue and the trace within 1e-3 (relative). Both run on one intra-op thread
(the machine may be shared; CPU seconds are reported beside wall seconds). Prints one JSON line
per network and task, then a summary line; exits non-zero on disagreement or a ratio below 3.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.data import mri_phantoms, toy_dataset  # noqa: E402
from engine.device import pick_device  # noqa: E402
from engine.hessian import eigen_residuals, eigenpairs, hessian_trace  # noqa: E402
from engine.models import mlp, model_for  # noqa: E402
from engine.params import flat_params, loss_function  # noqa: E402

REQUIRED_RATIO = 3.0
AGREEMENT = 1e-3


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int):
    """(fastest wall s, its CPU s, result) over `repeats` runs."""
    best = (float("inf"), 0.0, None)
    for _ in range(repeats):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        _sync(device)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if wall < best[0]:
            best = (wall, cpu, out)
    return best


def _train(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int, lr: float, batch: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(y), (batch,), generator=g).to(X.device)
        opt.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()


def mlp_case(device: torch.device):
    ds = toy_dataset("blobs", n=6000, noise=0.3, test_fraction=0.3, seed=0)
    X, y = ds.X_train[:4096].to(device), ds.y_train[:4096].to(device)
    torch.manual_seed(0)
    model = mlp(2, (64, 64), 3).to(device)
    _train(model, X, y, steps=300, lr=1e-2, batch=256)
    return model, X, y


def cnn_case(device: torch.device, images: int = 256):
    ds = mri_phantoms(n_per_class=40, size=64, seed=0)
    X, y = ds.X_train[:images].to(device), ds.y_train[:images].to(device)
    torch.manual_seed(0)
    model = model_for(ds).to(device)
    _train(model, X, y, steps=30, lr=1e-3, batch=32)
    return model, X, y


def pyhessian_probes(model: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """The Rademacher vectors PyHessian's `trace` draws after `torch.manual_seed(seed)`, flattened."""
    torch.manual_seed(seed)
    rows = []
    for _ in range(n):
        v = [torch.randint_like(p, high=2) for p in model.parameters()]
        for vi in v:
            vi[vi == 0] = -1
        rows.append(torch.cat([vi.reshape(-1) for vi in v]))
    return torch.stack(rows)


class ProductCounter:
    """Counts PyHessian's Hessian-vector products (wraps its module-level function)."""

    def __init__(self):
        import pyhessian  # noqa: F401  (its package exports a class that shadows the module's name)

        module = sys.modules["pyhessian.hessian"]
        self.module, self.inner, self.count = module, module.hessian_vector_product, 0

        def counted(*args, **kwargs):
            self.count += 1
            return self.inner(*args, **kwargs)

        module.hessian_vector_product = counted

    def take(self) -> int:
        n, self.count = self.count, 0
        return n


def compare(name: str, model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, device: torch.device,
            tol: float, repeats: int) -> list[dict]:
    from pyhessian import hessian  # the bench extra

    counter = ProductCounter()

    cuda = device.type == "cuda"
    L = loss_function(model, X, y)
    theta = flat_params(model).detach()
    rows = []
    for k in (1, 5):
        def peer(k=k):
            torch.manual_seed(0)
            h = hessian(model, torch.nn.CrossEntropyLoss(), data=(X, y), cuda=cuda)
            values, vectors = h.eigenvalues(maxIter=100, tol=tol, top_n=k)
            flat = torch.stack([torch.cat([t.detach().reshape(-1) for t in v]) for v in vectors])
            order = sorted(range(k), key=lambda i: -abs(values[i]))
            return torch.tensor([values[i] for i in order], dtype=torch.float64), flat[order]

        def project(k=k):
            return eigenpairs(L, theta, k=k, which="magnitude", iters=100, tol=tol, criterion="value")

        peer_s, peer_cpu, (peer_values, peer_vectors) = timed(peer, device, repeats)
        peer_products = counter.take() // repeats
        project_s, project_cpu, r = timed(project, device, repeats)
        ours = r.values.detach().cpu().double()
        true_res = eigen_residuals(L, theta, r.values, r.vectors)
        # Each side's ‖Hv − λv‖ bounds its eigenvalue's error: where the two differ by more than
        # the tolerance, these say which one has not converged.
        peer_vectors = peer_vectors / peer_vectors.norm(dim=1, keepdim=True)
        peer_res = eigen_residuals(L, theta, peer_values.to(theta), peer_vectors.to(theta)).double().cpu()
        consistent = bool(((ours - peer_values).abs() <= true_res.double().cpu() + peer_res + 1e-12).all())
        estimate_ok = bool(((true_res - r.residuals).abs() <= 1e-3 * r.values.abs() + 1e-6).all())
        rel = float(((ours - peer_values).abs() / peer_values.abs().clamp_min(1e-12)).max())
        rows.append({"name": f"hessian_top{k}_vs_pyhessian_{name}", "project_s": project_s, "baseline_s": peer_s,
                     "ratio": peer_s / project_s, "cpu_ratio": peer_cpu / project_cpu,
                     "agree": rel < AGREEMENT and estimate_ok,
                     "max_rel_diff": rel, "residual_estimates_hold": estimate_ok, "eigenvalues": ours.tolist(),
                     "residuals": true_res.cpu().tolist(), "pyhessian_residuals": peer_res.tolist(),
                     "difference_within_residuals": consistent,
                     "pyhessian_eigenvalues": peer_values.tolist(),
                     "lanczos_steps": r.iterations, "project_products": r.matvecs,
                     "pyhessian_products": peer_products, "project_cpu_s": project_cpu, "baseline_cpu_s": peer_cpu,
                     "relative_residuals": r.relative_residuals.cpu().tolist(), "tol": tol})

    trace_tol = 1e-3  # PyHessian's default for the trace

    def peer_trace():
        torch.manual_seed(1)
        h = hessian(model, torch.nn.CrossEntropyLoss(), data=(X, y), cuda=cuda)
        return h.trace(maxIter=100, tol=trace_tol)

    peer_s, peer_cpu, samples = timed(peer_trace, device, repeats)
    counter.take()
    probes = pyhessian_probes(model, len(samples), seed=1).to(device)
    project_s, project_cpu, ours = timed(lambda: hessian_trace(L, theta, probes=probes), device, repeats)
    theirs = sum(samples) / len(samples)
    rel = abs(ours - theirs) / max(abs(theirs), 1e-12)
    rows.append({"name": f"hessian_trace_vs_pyhessian_{name}", "project_s": project_s, "baseline_s": peer_s,
                 "ratio": peer_s / project_s, "cpu_ratio": peer_cpu / project_cpu, "agree": rel < AGREEMENT,
                 "max_rel_diff": rel, "trace": ours, "pyhessian_trace": theirs, "probes": len(samples),
                 "project_cpu_s": project_cpu, "baseline_cpu_s": peer_cpu})
    return rows


def main(tol: float = 1e-4, threads: int = 1, cases: tuple[str, ...] = ("mlp", "cnn"), images: int = 256
         ) -> list[dict]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    device = pick_device("auto")
    rows = []
    try:
        for name in cases:
            model, X, y = mlp_case(device) if name == "mlp" else cnn_case(device, images)
            for row in compare(name, model, X, y, device, tol, repeats=3 if name == "mlp" else 1):
                row.update(device=str(device), threads=torch.get_num_threads(),
                           n_params=sum(p.numel() for p in model.parameters()), n_samples=len(y))
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        torch.set_num_threads(before)
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # argparse checks a positional's default against `choices` as a whole, so the names are checked here.
    parser.add_argument("cases", nargs="*", metavar="{mlp,cnn}", help="networks to time (both by default)")
    parser.add_argument("--images", type=int, default=256, help="CNN images (256; fewer for a quick look)")
    args = parser.parse_args()
    unknown = sorted(set(args.cases) - {"mlp", "cnn"})
    if unknown:
        parser.error(f"unknown network {', '.join(unknown)}: choose mlp or cnn")
    results = main(cases=tuple(args.cases) or ("mlp", "cnn"), images=args.images)
    ok = all(r["agree"] and r["ratio"] >= REQUIRED_RATIO for r in results)
    for r in results:
        if not r["agree"]:
            print(f"FAIL {r['name']}: differs by {r['max_rel_diff']:.1e}, above {AGREEMENT:g}", file=sys.stderr)
        if r["ratio"] < REQUIRED_RATIO:
            print(f"FAIL {r['name']}: {r['ratio']:.2f}× PyHessian, below {REQUIRED_RATIO:g}×", file=sys.stderr)
    sys.exit(0 if ok else 1)
