"""Claims: what a preset states, how it is measured, and when it holds — in one record.

A preset's sentence on the start page and the check in tests/test_claims.py both come from the
same `Claim`, so the text cannot say more than the check asserts. A claim module (one per topic,
in this package) defines claims with `register`; each `Claim` has

- `text`: the sentence shown with the preset (short, exact, stating only what is measured);
- `measure(seed)`: runs the comparison on one seed and returns named numbers;
- `holds(numbers)`: whether the comparison the text states holds on that seed;
- `seeds`: the held-out seeds the claims suite checks (seeds no other test or preset uses).

`verdict(claim, results)` turns per-seed numbers into the caption a spread view shows: the
comparison is stated only when it holds on every seed; else it says it is within noise (it held
on some seeds) or that it does not hold (on none).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Numbers = dict[str, float]

HELD_OUT_SEEDS = (9101, 9202, 9303)


@dataclass(frozen=True)
class Claim:
    name: str
    text: str
    measure: Callable[[int], Numbers]
    holds: Callable[[Numbers], bool]
    seeds: tuple[int, ...] = HELD_OUT_SEEDS
    # How one seed's numbers read in a failure message or a caption, e.g. "GD 63 vs momentum 24".
    summary: Callable[[Numbers], str] = field(default=lambda n: ", ".join(f"{k} {v:.4g}" for k, v in n.items()))

    def check(self, seeds: Sequence[int] | None = None) -> list[tuple[int, Numbers, bool]]:
        out = []
        for s in self.seeds if seeds is None else seeds:
            n = self.measure(int(s))
            out.append((int(s), n, bool(self.holds(n))))
        return out


_REGISTRY: dict[str, Claim] = {}
_LOADED = False


def register(claim: Claim) -> Claim:
    if claim.name in _REGISTRY:
        raise ValueError(f"claim {claim.name!r} is registered twice")
    _REGISTRY[claim.name] = claim
    return claim


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def claims() -> Mapping[str, Claim]:
    """Every registered claim by name (the topic modules are imported on first use)."""
    _load()
    return dict(_REGISTRY)


def get_claim(name: str) -> Claim:
    found = claims()
    if name not in found:
        raise KeyError(f"no claim {name!r}; known: {', '.join(sorted(found))}")
    return found[name]


def verdict(claim: Claim, results: Sequence[tuple[int, Numbers, bool]]) -> str:
    """A caption for a claim measured on several seeds: the claim only if it held on all of them."""
    if not results:
        return "not measured yet"
    held = sum(ok for _, _, ok in results)
    n = len(results)
    if held == n:
        return f"holds on all {n} seed{'s' if n > 1 else ''}: {claim.text}"
    if held == 0:
        return f"does not hold on any of the {n} seed{'s' if n > 1 else ''}, so the run does not show “{claim.text}”"
    return (f"within noise: it held on {held} of {n} seeds, so the run does not show "
            f"“{claim.text}”")


__all__ = ["Claim", "Numbers", "HELD_OUT_SEEDS", "register", "claims", "get_claim", "verdict"]
