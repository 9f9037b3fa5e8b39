"""The analyst: the offline diagnoser. Eval samples in, a DataAction out, deterministically.

Need-driven, as the reference's `score/need.py` describes (§1.6) but never used: a sample's
need is `valid x (6 - score) x weight`, a slice's need the sum over its samples. The target
shares are proportional to need: objectives by their total need, each objective's buckets by
their slice need. The analyst then moves from the previous action towards that target by at
most `step` per share (rounds stay comparable and one noisy evaluation cannot swing the
mixture), and hands the result to repair, so it never breaks a Constraint or asks a pool for
more than it holds. The rationale and evidence name the slices with the most need.

Need alone starves an objective the base model already does well but that training on the
others' data breaks (on the demo, orbench: the base model answers benign prompts well, so it
gets little budget, and a mixture with little orbench data makes the model over-refuse). So
an objective that a round tried since the anchor lost beyond noise against the anchor is
protected: the next action gives it at least `step` more share than the anchor's action
did (`protected_shares`), whatever the shrink.

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
from mosaic.tools.evaluation.paired import records_delta
from mosaic.tools.evaluation.pareto import recommend
from mosaic.tools.mixing.builder import action_hash
from mosaic.tools.mixing.capacity import capacity, natural_weights, normalised
from mosaic.tools.mixing.repair import repair_action

STEP = 0.15
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


def _step_towards(current: Mapping[str, float], target: Mapping[str, float], step: float,
                  shrink: float = 1.0) -> dict[str, float]:
    """Shares moved along the straight line towards `target`, no share by more than
    `step`, and then only `shrink` of that way (both sides are shares summing to 1, so
    the result does too)."""
    names = sorted(set(current) | set(target))
    here, there = normalised({n: current.get(n, 0.0) for n in names}), normalised(
        {n: target.get(n, 0.0) for n in names})
    if not any(here.values()):
        return there
    largest = max(abs(there[n] - here[n]) for n in names)
    fraction = (1.0 if largest <= step else step / largest) * shrink
    return {n: here[n] + fraction * (there[n] - here[n]) for n in names}


def _lift(shares: Mapping[str, float], floors: Mapping[str, float]) -> dict[str, float]:
    """`shares` with every share below its floor raised to it and the others scaled down
    in proportion to make room (floors that sum past 1 are scaled to fit first; floors on
    names `shares` lacks are ignored)."""
    floors = {n: f for n, f in floors.items() if n in shares}
    total = sum(floors.values())
    if total > 1:
        floors = {n: f / total for n, f in floors.items()}
    lifted = dict(shares)
    for _ in range(len(lifted) + 1):  # every pass fixes at least one more share
        low = {n for n in lifted if lifted[n] < floors.get(n, 0.0) - 1e-12}
        if not low:
            break
        lifted.update({n: floors[n] for n in low})
        held = {n for n in lifted if n in floors and lifted[n] <= floors[n] + 1e-12}
        free = {n: v for n, v in lifted.items() if n not in held}
        room, spare = 1.0 - sum(lifted[n] for n in held), sum(free.values())
        lifted.update({n: v * room / spare if spare > 0 else 0.0 for n, v in free.items()})
    return lifted


def analyse(samples: Mapping[str, Sequence[JudgedSample]], pools: Mapping[str, PoolTable],
            settings: MixSettings, constraints: Sequence[Constraint] = (), *,
            previous: DataAction | None = None, step: float = STEP,
            shrink: float = 1.0, floors: Mapping[str, float] | None = None) -> DataAction:
    """The next round's action from this round's judged samples (see the module docstring).
    Without a previous action the target is taken whole; `shrink` < 1 takes only that part
    of the step from the previous action; `floors` (objective -> share) are the least
    shares the ratios keep after the step."""
    needs = {name: per for name, per in slice_needs(samples).items() if name in pools}
    totals = {name: sum(per.values()) for name, per in needs.items()}
    target = normalised({name: totals.get(name, 0.0) for name in pools})
    ratios = (target if previous is None else
              _step_towards({n: previous.ratios.get(n, 0.0) for n in pools}, target, step,
                            shrink))
    if floors:
        ratios = _lift(ratios, floors)
    plans = {}
    for name, per_slice in needs.items():
        weights = normalised(per_slice)
        before = previous.objectives.get(name) if previous is not None else None
        if before is not None and before.bucket_weights:
            weights = _step_towards(before.bucket_weights, weights, step, shrink)
        plans[name] = ObjectivePlan(bucket_weights={b: w for b, w in weights.items() if w > 0})
    neediest = sorted(((v, n, s) for n, per in needs.items() for s, v in per.items()),
                      reverse=True)[:EVIDENCE_SLICES]
    evidence = [Evidence(objective=n, slice=s, metric="need", value=round(v, 2))
                for v, n, s in neediest]
    rationale = ("Need-driven: shares follow total need per objective and slice "
                 f"(valid x (6 - score) x weight), moved at most {step * shrink:.3g} per "
                 "share from the previous action; neediest: "
                 + ", ".join(f"{n}/{s} ({v:.0f})" for v, n, s in neediest) + ".")
    action = repair_action(DataAction(ratios=ratios, objectives=plans, rationale=rationale,
                                      evidence=evidence), pools, settings, constraints).action
    if floors:  # what the repaired action gives them (a Constraint or a pool may hold less)
        action = action.model_copy(update={"rationale": rationale + (
            " Protected (lost beyond noise since the anchor): " + ", ".join(
                f"{n} share {action.ratios.get(n, 0.0):.2f} (floor {f:.2f})"
                for n, f in sorted(floors.items())) + ".")})
    return action


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
                constraints: Sequence[Constraint] = (), *, step: float = STEP,
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
    floors = protected_shares(records, anchor, previous, list(pools), step)
    shrink = 0.5 ** tried
    for _ in range(REPEAT_HALVINGS):
        action = analyse(samples, pools, settings, constraints, previous=previous,
                         step=step, shrink=shrink, floors=floors)
        if action_hash(action) not in seen:
            break
        shrink /= 2
    where = ("the base model (from the starting mixture)" if anchor.action is None
             else f"round {anchor.round}, the best round so far")
    return action.model_copy(update={"rationale": (
        f"Anchored on {where}; {tried} round(s) tried since it. " + action.rationale)})


def protected_shares(records: Sequence[RoundRecord], anchor: RoundRecord,
                     anchor_action: DataAction, objectives: Sequence[str],
                     margin: float = STEP) -> dict[str, float]:
    """Objective -> the least share the next action gives it: `margin` (one analyst step)
    more than the anchor's action gives it, for every objective that a round tried since
    `anchor` scored below the anchor beyond noise (paired interval wholly below zero).
    Whether that round gave it less (the mixture moved the wrong way for it) or not (the
    other data hurt it), it needs more than the anchor had; one step more, however many
    rounds lost it, so the floor never ratchets past the step limit around the anchor."""
    lost = {name for record in records
            if record.round > anchor.round and record.action is not None
            for name in objectives
            if (delta := records_delta(record, anchor, name)) is not None
            and delta.ci_high is not None and delta.ci_high < 0}
    return {name: min(1.0, anchor_action.ratios.get(name, 0.0) + margin)
            for name in sorted(lost)}


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
    floors = [(c.objective, c.value) for c in constraints
              if c.kind == "score_floor" and c.value is not None]

    def shortfall(record: RoundRecord) -> float:
        return sum(max(0.0, value - (record.means.get(objective) or 0.0))
                   for objective, value in floors)

    return min(reversed(records), key=shortfall)
