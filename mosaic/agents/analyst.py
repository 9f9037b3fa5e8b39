"""The analyst: the offline diagnoser. Eval samples in, a DataAction out, deterministically.

Need-driven, as the reference's `score/need.py` describes (§1.6) but never used: a sample's
need is `valid x (6 - score) x weight`, a slice's need the sum over its samples. The target
shares are proportional to need: objectives by their total need, each objective's buckets by
their slice need. The analyst then moves from the previous action towards that target by at
most `max_step` per share (rounds stay comparable and one noisy evaluation cannot swing the
mixture), and hands the result to repair, so it never breaks a Constraint or asks a pool for
more than it holds. The rationale and evidence name the slices with the most need.

Used when no LLM endpoint is configured, and as the fallback when the LLM diagnoser fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from mosaic.config import MixSettings
from mosaic.data.pool_table import PoolTable
from mosaic.objectives import need
from mosaic.schema import (
    Constraint,
    DataAction,
    Evidence,
    JudgedSample,
    ObjectivePlan,
    RoundRecord,
)
from mosaic.tools.capacity import capacity, natural_weights, normalised
from mosaic.tools.mixture import action_hash
from mosaic.tools.pareto import recommend
from mosaic.tools.repair import repair_action

MAX_STEP = 0.15
"""Largest change of any one share (ratio or bucket weight) from one round to the next."""
EVIDENCE_SLICES = 3
"""How many of the neediest slices the evidence lists."""


def slice_needs(samples: Mapping[str, Sequence[JudgedSample]]) -> dict[str, dict[str, float]]:
    """Objective -> slice -> total need of its scored samples (unscored samples carry none)."""
    needs: dict[str, dict[str, float]] = {}
    for name, judged in samples.items():
        per_slice = needs.setdefault(name, {})
        for sample in judged:
            value = need(sample.prompt, sample.response)
            if value is not None:
                per_slice[sample.prompt.slice] = per_slice.get(sample.prompt.slice, 0.0) + value
    return needs


def _step_towards(current: Mapping[str, float], target: Mapping[str, float], max_step: float,
                  shrink: float = 1.0) -> dict[str, float]:
    """Shares moved along the straight line towards `target`, no share by more than
    `max_step`, and then only `shrink` of that way (both sides are shares summing to 1, so
    the result does too)."""
    names = sorted(set(current) | set(target))
    here, there = normalised({n: current.get(n, 0.0) for n in names}), normalised(
        {n: target.get(n, 0.0) for n in names})
    if not any(here.values()):
        return there
    largest = max(abs(there[n] - here[n]) for n in names)
    fraction = (1.0 if largest <= max_step else max_step / largest) * shrink
    return {n: here[n] + fraction * (there[n] - here[n]) for n in names}


def analyse(samples: Mapping[str, Sequence[JudgedSample]], pools: Mapping[str, PoolTable],
            settings: MixSettings, constraints: Sequence[Constraint] = (), *,
            previous: DataAction | None = None, max_step: float = MAX_STEP,
            shrink: float = 1.0) -> DataAction:
    """The next round's action from this round's judged samples (see the module docstring).
    Without a previous action the target is taken whole; `shrink` < 1 takes only that part
    of the step from the previous action."""
    needs = {name: per for name, per in slice_needs(samples).items() if name in pools}
    totals = {name: sum(per.values()) for name, per in needs.items()}
    target = normalised({name: totals.get(name, 0.0) for name in pools})
    ratios = (target if previous is None else
              _step_towards({n: previous.ratios.get(n, 0.0) for n in pools}, target, max_step,
                            shrink))
    plans = {}
    for name, per_slice in needs.items():
        weights = normalised(per_slice)
        before = previous.objectives.get(name) if previous is not None else None
        if before is not None and before.bucket_weights:
            weights = _step_towards(before.bucket_weights, weights, max_step, shrink)
        plans[name] = ObjectivePlan(bucket_weights={b: w for b, w in weights.items() if w > 0})
    neediest = sorted(((v, n, s) for n, per in needs.items() for s, v in per.items()),
                      reverse=True)[:EVIDENCE_SLICES]
    evidence = [Evidence(objective=n, slice=s, metric="need", value=round(v, 2))
                for v, n, s in neediest]
    rationale = ("Need-driven: shares follow total need per objective and slice "
                 f"(valid x (6 - score) x weight), moved at most {max_step * shrink:.3g} per "
                 "share from the previous action; neediest: "
                 + ", ".join(f"{n}/{s} ({v:.0f})" for v, n, s in neediest) + ".")
    action = DataAction(ratios=ratios, objectives=plans, rationale=rationale,
                        evidence=evidence)
    return repair_action(action, pools, settings, constraints).action


def starting_action(pools: Mapping[str, PoolTable], settings: MixSettings) -> DataAction:
    """Where the search starts from: equal ratios, each objective's buckets as its pool
    comes (the "static mixture" the paper compares against)."""
    share = 1.0 / len(pools)
    return DataAction(
        ratios=dict.fromkeys(pools, share),
        objectives={name: ObjectivePlan(bucket_weights=natural_weights(
            capacity(table, None, settings))) for name, table in pools.items()},
        rationale="Equal ratios over objectives, buckets as their pools come.")


def next_action(records: Sequence[RoundRecord],
                samples_of: Callable[[int], Mapping[str, Sequence[JudgedSample]]],
                pools: Mapping[str, PoolTable], settings: MixSettings,
                constraints: Sequence[Constraint] = (), *, max_step: float = MAX_STEP,
                avoid: Sequence[str] = ()) -> DataAction:
    """The analyst's proposal for the round after `records` (the archive so far); actions
    whose hash is in `avoid` (rejected by a reviewer) count as already tried.

    It anchors on the best round so far (`anchor_round`): its action (the starting action
    when that is the base model) and its judged samples, and steps towards that round's
    needs. The step halves for every round already tried since the anchor without
    displacing it (a trust region that shrinks around the best point), and halves again
    while the result is an action the archive already holds, so a round is not spent on
    a mixture that was already measured.
    """
    anchor = anchor_round(records, list(pools), constraints)
    tried = sum(1 for r in records if r.round > anchor.round)
    previous = anchor.action or starting_action(pools, settings)
    samples = samples_of(anchor.round)
    seen = {action_hash(r.action) for r in records if r.action is not None} | set(avoid)
    shrink = 0.5 ** tried
    for _ in range(REPEAT_HALVINGS):
        action = analyse(samples, pools, settings, constraints, previous=previous,
                         max_step=max_step, shrink=shrink)
        if action_hash(action) not in seen:
            break
        shrink /= 2
    where = ("the base model (from the starting mixture)" if anchor.action is None
             else f"round {anchor.round}, the best round so far")
    return action.model_copy(update={"rationale": (
        f"Anchored on {where}; {tried} round(s) tried since it. " + action.rationale)})


REPEAT_HALVINGS = 8
"""How often the step is halved to avoid an action the archive holds; after that the
repeat stands (the anchor's needs point nowhere new, and the cache answers the round)."""


def anchor_round(records: Sequence[RoundRecord], objectives: Sequence[str],
                 constraints: Sequence[Constraint] = ()) -> RoundRecord:
    """The round to move from: the recommended round of the front; when every round breaks
    a score floor (no front), the one that misses the floors by least, then the latest."""
    best = recommend(records, objectives)
    if best is not None:
        return best
    floors = [c for c in constraints if c.kind == "score_floor" and c.value is not None]

    def shortfall(record: RoundRecord) -> float:
        return sum(max(0.0, c.value - (record.means.get(c.objective) or 0.0)) for c in floors)

    return min(reversed(records), key=shortfall)
