"""Every claim a preset states holds on held-out seeds (seeds no other test or preset uses).

The preset's sentence and this check come from one record (engine/claims), so they cannot drift
apart. A failure prints what each seed measured.
"""

import pytest

from engine.claims import HELD_OUT_SEEDS, claims, verdict
from gui.presets import load_presets

CLAIMS = claims()


def test_preset_texts_come_from_their_claim_records():
    for p in load_presets().values():
        if p.claim_id is not None:
            assert p.claim == CLAIMS[p.claim_id].text, p.name


def test_verdict_states_a_comparison_only_when_every_seed_holds():
    from engine.claims import Claim

    c = Claim("demo", "a beats b", measure=lambda s: {"a": 1.0}, holds=lambda n: n["a"] > 0)
    assert verdict(c, [(1, {"a": 1.0}, True), (2, {"a": 2.0}, True)]).startswith("holds on all 2 seeds")
    assert verdict(c, [(1, {"a": 1.0}, True), (2, {"a": -1.0}, False)]).startswith("within noise")
    assert verdict(c, [(1, {"a": -1.0}, False), (2, {"a": -2.0}, False)]).startswith("does not hold")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claim_holds_on_held_out_seeds(name):
    claim = CLAIMS[name]
    assert set(claim.seeds).isdisjoint({0, 1, 2, 3, 42}), "claims are checked on held-out seeds"
    results = claim.check()
    report = "; ".join(f"seed {s}: {claim.summary(n)} ({'holds' if ok else 'FAILS'})" for s, n, ok in results)
    assert all(ok for _, _, ok in results), f"{claim.text!r} — {report}"


def test_held_out_seeds_are_not_the_presets_seeds():
    used = {p.config().seed for p in load_presets().values() if hasattr(p.config(), "seed")}
    assert used.isdisjoint(HELD_OUT_SEEDS)
