"""The archive's Pareto front over objective means, with noise-aware acceptance.

The paper's code accepted a point on raw means (docs/reference.md §3.9), although its judges
are stochastic and eval sets small. Here a round enters the front unless an archived round
*clearly dominates* it: at least as good on every objective, and better beyond noise on at
least one. Every round is scored on the same frozen items, so both are judged item by item:
on the items both rounds scored, the mean difference is >= 0 on every objective, and its
paired 95% interval (mosaic.stats.paired_interval) lies above zero on one. Records written
before item scores were kept fall back to the unpaired test (a's interval wholly above b's).
When a round enters, archived rounds it clearly dominates leave the front. Rounds whose
differences are inside the noise therefore sit on the front together, which is what the data
can tell apart.

Hypervolume is measured from the reference point 1 on every objective (the bottom of the
1..5 scales); the recommended round is the front round with the best worst objective
(max-min), ties broken by the mean over objectives, then the earlier round. A front round
that scores an objective below the base model beyond noise (paired interval wholly below
zero) is recommended only when every front round does: max-min over means alone picked,
on the demo, a round that had lost orbench against the base model by -1.92 [-3.00, -0.37]
because its worst mean was still the best (docs/search.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise, product
from typing import cast

from mosaic.schema import Constraint, RoundRecord
from mosaic.tools.evaluation.paired import records_delta

FLOOR = 1.0
"""The hypervolume's reference point on every objective (the bottom of the 1..5 scales)."""


def _means(record: RoundRecord, objectives: Sequence[str]) -> list[float]:
    return [mean if (mean := record.means.get(o)) is not None else FLOOR for o in objectives]


def clearly_dominates(a: RoundRecord, b: RoundRecord, objectives: Sequence[str]) -> bool:
    """a is at least as good as b on every objective and better beyond noise on one: paired
    by item where both records kept item scores, else by unpaired intervals."""
    # The means first (cheap, and what hypervolume and the recommendation use).
    if any(x < y for x, y in zip(_means(a, objectives), _means(b, objectives), strict=True)):
        return False
    paired = [records_delta(a, b, o) for o in objectives]
    deltas = [d for d in paired if d is not None]
    if len(deltas) == len(paired):
        # records_delta gives None rather than a delta over no items: every mean is set.
        if any(cast(float, d.mean) < 0 for d in deltas):
            return False
        return any(d.ci_low is not None and d.ci_low > 0 for d in deltas)
    for o in objectives:
        a_low = a.ci.get(o, (a.means.get(o), a.means.get(o)))[0]
        b_high = b.ci.get(o, (b.means.get(o), b.means.get(o)))[1]
        if a_low is not None and b_high is not None and a_low > b_high:
            return True
    return False


def front(records: Sequence[RoundRecord], objectives: Sequence[str]) -> list[RoundRecord]:
    """The rounds no other round clearly dominates, in round order. Rounds that break a
    score floor (`breaches`) take no part."""
    eligible = [r for r in records if not r.breaches]
    return [r for r in eligible
            if not any(clearly_dominates(o, r, objectives) for o in eligible if o is not r)]


def hypervolume(points: Sequence[Sequence[float]], floor: float = FLOOR) -> float:
    """Volume dominated by `points` above `floor` on every axis (exact, by grid cells:
    fine for the few points an archive holds)."""
    points = [[max(v, floor) for v in p] for p in points]
    if not points:
        return 0.0
    axes = [sorted({floor, *(p[d] for p in points)}) for d in range(len(points[0]))]
    volume = 0.0
    for cell in product(*(range(len(axis) - 1) for axis in axes)):
        upper = [axes[d][i + 1] for d, i in enumerate(cell)]
        if any(all(p[d] >= upper[d] for d in range(len(upper))) for p in points):
            size = 1.0
            for d, i in enumerate(cell):
                size *= axes[d][i + 1] - axes[d][i]
            volume += size
    return volume


def losses_to_base(record: RoundRecord, records: Sequence[RoundRecord],
                   objectives: Sequence[str]) -> list[str]:
    """The objectives on which `record` scores below the base model (round 0 of `records`)
    beyond noise: the paired interval over the items both scored lies wholly below zero.
    Empty when there is no base round or no item scores to pair on."""
    base = next((r for r in records if r.round == 0), None)
    if base is None or record is base:
        return []
    deltas = {o: records_delta(record, base, o) for o in objectives}
    return [o for o, d in deltas.items()
            if d is not None and d.ci_high is not None and d.ci_high < 0]


def recommend(records: Sequence[RoundRecord], objectives: Sequence[str]) -> RoundRecord | None:
    """The front round with the best worst objective (then best mean, then earliest),
    among the front rounds that lose no objective to the base model beyond noise (all
    front rounds when every one does)."""
    candidates = front(records, objectives)
    if not candidates:
        return None
    candidates = ([r for r in candidates if not losses_to_base(r, records, objectives)]
                  or candidates)
    return max(candidates, key=lambda r: (min(_means(r, objectives)),
                                          sum(_means(r, objectives)), -r.round))


def front_hypervolume(records: Sequence[RoundRecord], objectives: Sequence[str]) -> float:
    """Hypervolume of the front of `records`."""
    return round(hypervolume([_means(r, objectives) for r in front(records, objectives)]), 4)


def archive_summary(records: Sequence[RoundRecord], objectives: Sequence[str]
                    ) -> Mapping[str, object]:
    """Front, hypervolume after each round, and the recommended round, as plain data."""
    volumes = [front_hypervolume(records[:i + 1], objectives) for i in range(len(records))]
    best = recommend(records, objectives)
    return {"front": [r.round for r in front(records, objectives)],
            "hypervolume": volumes,
            "recommended": best.round if best is not None else None}


IMPROVEMENT = 1e-6
"""Smallest hypervolume gain that counts as the front improving."""


def stalled_rounds(records: Sequence[RoundRecord]) -> int:
    """How many of the latest trained rounds in a row did not grow the front's hypervolume
    (each record carries the hypervolume after it; round 0 never counts as stalled)."""
    stalled = 0
    for before, after in reversed(list(pairwise(records))):
        if (after.hypervolume or 0.0) > (before.hypervolume or 0.0) + IMPROVEMENT:
            break
        stalled += 1
    return stalled


def floor_breaches(means: Mapping[str, float | None], constraints: Sequence[Constraint]
                   ) -> list[str]:
    """The score_floor Constraints these objective means break, as sentences. A round that
    breaks one is archived but never enters the front (and is never recommended)."""
    breaches = []
    for rule in constraints:
        if rule.kind != "score_floor" or rule.value is None:
            continue
        mean = means.get(rule.objective)
        if mean is None or mean < rule.value:
            shown = "nothing scored" if mean is None else f"mean {mean:.3f}"
            breaches.append(f"{rule.describe()} ({shown})")
    return breaches
