"""Evolution strategies: one gradient estimate from a population of perturbations.

Project: `engine.paradigms.es_gradient`, which evaluates all n perturbed networks θ ± σεᵢ in one
`torch.func.vmap`-batched forward. Baseline: the obvious Python loop, one forward per
perturbation, on the same noise. Both on the default setting (digits, a 64-32-10 tanh network,
a batch of 64, n = 100), on one thread, best of several repeats; the two estimates must agree.
Also times the default comparison rule by rule (each must take well under a minute).
Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.data import toy_dataset  # noqa: E402
from engine.paradigms import (  # noqa: E402
    RULES,
    ParadigmsConfig,
    RuleEvent,
    build_network,
    centered_ranks,
    compare,
    es_gradient,
)
from engine.params import flat_params, loss_function  # noqa: E402


def loop_es_gradient(loss_fn, theta, sigma, population, generator):
    """The same estimate, one perturbation at a time."""
    half = population // 2
    eps = torch.randn(half, theta.numel(), generator=generator)
    eps = torch.cat([eps, -eps])
    losses = torch.empty(population)
    with torch.no_grad():
        for i in range(population):
            losses[i] = loss_fn(theta + sigma * eps[i])
    w = centered_ranks(-losses)
    total = torch.zeros_like(theta)
    for i in range(population):
        total += w[i] * eps[i]
    return -total / (population * sigma), losses


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> dict:
    torch.set_num_threads(1)
    cfg = ParadigmsConfig()
    ds = toy_dataset("digits", cfg.n, cfg.noise)
    model = build_network(ds.in_features, cfg.hidden, ds.n_classes, cfg.activation, seed=0)
    theta = flat_params(model)
    L = loss_function(model, ds.X_train[:cfg.batch_size], ds.y_train[:cfg.batch_size])
    n, sigma, calls = cfg.evolution.population, cfg.evolution.sigma, 20

    def project():
        g = torch.Generator().manual_seed(0)
        return [es_gradient(L, theta, sigma, n, g) for _ in range(calls)]

    def baseline():
        g = torch.Generator().manual_seed(0)
        return [loop_es_gradient(L, theta, sigma, n, g) for _ in range(calls)]

    project()  # warm-up
    project_s, mine = best_of(project, 5)
    baseline_s, theirs = best_of(baseline, 3)
    agree = all(torch.allclose(a[1], b[1], atol=1e-5) and torch.allclose(a[0], b[0], atol=1e-4)
                for a, b in zip(mine, theirs))

    # The default comparison: each rule's own compute time over 600 steps.
    t0 = time.perf_counter()
    seconds = {}
    for item in compare(ParadigmsConfig(curvature=False)):
        if isinstance(item, RuleEvent):
            seconds[item.rule] = item.seconds
    compare_s = time.perf_counter() - t0
    out = {"name": "paradigms_es_population_100", "project_s": project_s / calls, "baseline_s": baseline_s / calls,
           "ratio": baseline_s / project_s, "agree": bool(agree), "population": n, "params": theta.numel(),
           "default_comparison_s": compare_s, **{f"{r}_s": seconds[r] for r in RULES},
           "each_rule_under_a_minute": all(v < 60 for v in seconds.values()), "threads": torch.get_num_threads()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["agree"] else 1)
