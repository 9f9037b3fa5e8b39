"""Paired comparison of two evaluations on the same frozen items (issue 16, step 3).

    deltas = compare(read_samples(run, 3), read_samples(run, 0))   # round 3 vs the base model
    deltas["xguard"].delta.mean, deltas["xguard"].delta.ci_low      # and per slice: .slices

Every round is evaluated on the same items with greedy decoding, so the question "is round
3 better than the base model?" is answered item by item: the difference of the two scores
of each item, averaged, with a paired interval (mosaic.stats.paired_interval). That is far
more sensitive than asking whether two unpaired intervals overlap, because the items'
own difficulty cancels out. Items scored in only one of the two evaluations are left out
(and counted: `n` is the number of pairs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from mosaic.schema import JudgedSample, ObjectiveDelta, PairedDelta, RoundRecord
from mosaic.stats import paired_interval


def paired_delta(first: Sequence[float], second: Sequence[float], *, seed: int = 0
                 ) -> PairedDelta:
    """mean(first - second) with its paired interval (the two lists pair item by item)."""
    if not first:
        return PairedDelta(n=0, mean=None)
    low, high = paired_interval(first, second, seed=seed)
    mean = sum(a - b for a, b in zip(first, second, strict=True)) / len(first)
    return PairedDelta(n=len(first), mean=round(mean, 4), ci_low=low, ci_high=high)


def compare(these: Mapping[str, Sequence[JudgedSample]],
            those: Mapping[str, Sequence[JudgedSample]], *, seed: int = 0
            ) -> dict[str, ObjectiveDelta]:
    """Per objective both evaluations have: these - those, paired by item id."""
    result = {}
    for objective in [o for o in these if o in those]:
        theirs = {s.id: s for s in those[objective] if s.scored}
        pairs = sorted(((s, theirs[s.id]) for s in these[objective]
                        if s.scored and s.id in theirs), key=lambda pair: pair[0].id)
        by_slice: dict[str, list[tuple[JudgedSample, JudgedSample]]] = {}
        for pair in pairs:
            by_slice.setdefault(pair[0].prompt.slice, []).append(pair)
        result[objective] = ObjectiveDelta(
            objective=objective, delta=_delta(pairs, seed),
            slices={name: _delta(members, seed) for name, members in sorted(by_slice.items())})
    return result


def _delta(pairs: Sequence[tuple[JudgedSample, JudgedSample]], seed: int) -> PairedDelta:
    # Only scored samples are paired (compare), so every score is set.
    return paired_delta([float(cast(float, a.response.score)) for a, _ in pairs],
                        [float(cast(float, b.response.score)) for _, b in pairs], seed=seed)


def records_delta(a: RoundRecord, b: RoundRecord, objective: str) -> PairedDelta | None:
    """a - b on the items both round records scored; None where they share none (records
    written before item scores were kept, or an eval set whose ids changed)."""
    mine, theirs = a.item_scores.get(objective), b.item_scores.get(objective)
    common = sorted(set(mine or ()) & set(theirs or ()))  # by id: independent of order
    if not common:
        return None
    assert mine is not None and theirs is not None  # both hold every id in `common`
    return paired_delta([mine[i] for i in common], [theirs[i] for i in common])
