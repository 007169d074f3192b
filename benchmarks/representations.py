"""One live frame of the Representations tab against the obvious per-layer, per-pair calls.

The project path (`RepresentationWatcher.frame`) centres each layer once and reuses its Gram
matrix for PCA, TwoNN and all CKA pairs in one product. The baseline computes the same
numbers with the public one-purpose functions: per layer `pca`, `explained_variance`,
`intrinsic_dimension_twonn`, `neural_collapse_nc1`, and `linear_cka` for every pair of
layers and for each layer against its start. Network: the small CNN on 8×8 digit images
(7 representations, the widest 256 features), 400 inputs. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.data import toy_dataset  # noqa: E402
from engine.models import small_cnn  # noqa: E402
from engine.params import flat_params, set_flat_params  # noqa: E402
from engine.representations import (  # noqa: E402
    RepresentationWatcher,
    explained_variance,
    fixed_subset,
    intrinsic_dimension_twonn,
    layer_activations,
    linear_cka,
    neural_collapse_nc1,
    pca,
    single_threaded_blas,
)


def baseline_frame(model, theta0, theta, X, y) -> dict:
    set_flat_params(model, torch.as_tensor(theta0))
    start = layer_activations(model, X)
    set_flat_params(model, torch.as_tensor(theta))
    acts = layer_activations(model, X)
    names = list(acts)
    out = {"twonn": {}, "nc1": {}, "spectra": {}, "projections": {}}
    for n in names:
        out["projections"][n] = pca(acts[n], 2)[0]
        out["spectra"][n] = explained_variance(acts[n])
        out["twonn"][n] = intrinsic_dimension_twonn(acts[n])
        out["nc1"][n] = neural_collapse_nc1(acts[n], y)
    out["cka"] = np.array([[linear_cka(acts[a], acts[b]) for b in names] for a in names])
    out["cka_to_start"] = np.array([linear_cka(start[n], acts[n]) for n in names])
    return out


def main(points: int = 400, reps: int = 5) -> dict:
    ds = toy_dataset("digits", n=1797, noise=0.0, seed=0)
    idx = fixed_subset(ds.y_train, points)
    X, y = ds.X_train[idx].reshape(-1, 1, 8, 8), ds.y_train[idx].numpy()
    torch.manual_seed(0)
    model = small_cnn(1, 10, size=8)
    theta0 = flat_params(model).numpy()
    theta = theta0 + 0.05 * np.random.default_rng(0).standard_normal(theta0.shape).astype(np.float32)
    copy = small_cnn(1, 10, size=8)

    with single_threaded_blas():
        watcher = RepresentationWatcher(small_cnn(1, 10, size=8), X, y, theta0=theta0)
        watcher.frame(theta, 1)  # the start's Gram matrices are made once per run
        t0 = time.perf_counter()
        for _ in range(reps):
            frame = watcher.frame(theta, 1)
        project = (time.perf_counter() - t0) / reps
        t0 = time.perf_counter()
        for _ in range(reps):
            base = baseline_frame(copy, theta0, theta, X, y)
        baseline = (time.perf_counter() - t0) / reps

    names = frame.names
    agree = bool(
        np.allclose(frame.cka, base["cka"], atol=1e-8)
        and np.allclose(frame.cka_to_start, base["cka_to_start"], atol=1e-8)
        and all(np.isclose(frame.twonn[n], base["twonn"][n], rtol=1e-6) for n in names)
        and all(np.isclose(frame.nc1[n], base["nc1"][n], rtol=1e-6) for n in names)
        and all(np.allclose(frame.spectra[n][:10], base["spectra"][n][:10], atol=1e-9) for n in names)
        # Same plane: the aligned axes of the live view span the top-2 principal subspace.
        and all(np.linalg.matrix_rank(np.hstack([frame.projections[n], base["projections"][n]]), tol=1e-3) <= 2
                for n in names)
    )
    out = {"name": "representations_frame", "project_s": project, "baseline_s": baseline,
           "ratio": baseline / project, "agree": agree, "layers": len(names), "points": points}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
