"""Repair: the nearest feasible action to any parseable one, and exactly what changed.

A valid action comes back unchanged. Otherwise, in order:

1. What cannot mean anything is dropped: objectives outside the run, unknown slices, unknown
   focus keys, focus values outside their domain (a range is sorted and clipped into its
   domain); negative ratios and weights become 0; focus_share is clipped into [0, 1].
2. Ratios are fitted into the bounds the Constraints and the pools set (`fit_shares`): each
   objective's share lies between its min/max share and what its pool can hold.
3. Each objective's bucket weights are fitted the same way: forbidden buckets 0, pinned
   buckets at their value, every bucket at most what its rows hold. An objective sampled
   "as it comes" that a bucket Constraint touches gets explicit weights first (each bucket's
   share of the usable tokens).
4. An `include` that matches no usable row is dropped.

"Nearest" keeps proportions: shares that must shrink are cut to their bound and the freed
share goes to the others in proportion to what they had (relative-entropy projection onto
the feasible box), so a bucket the action left at 0 stays at 0 unless nothing else can take
the share. The result validates whenever the Constraints are satisfiable together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mosaic.config import MixSettings
from mosaic.data.pool_table import PoolTable
from mosaic.objectives import Objective, get_objective
from mosaic.schema import (
    Change,
    Constraint,
    DataAction,
    FocusCriteria,
    FocusValue,
    ObjectivePlan,
    ValidationReport,
)
from mosaic.tools.mixing.capacity import (
    TOLERANCE,
    Capacity,
    bucket_rules,
    capacity,
    effective_budget,
    max_objective_tokens,
    natural_weights,
    normalised,
    share_bounds,
)
from mosaic.tools.mixing.validate import validate_action


@dataclass
class Repair:
    """What `repair_action` returns: the action, its edits, and its report after them."""

    action: DataAction
    changes: list[Change] = field(default_factory=list)
    report: ValidationReport = field(default_factory=ValidationReport)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def fit_shares(target: Mapping[str, float], lo: Mapping[str, float], hi: Mapping[str, float]
               ) -> dict[str, float] | None:
    """Shares summing to 1 with lo <= share <= hi, as close to `target`'s proportions as the
    bounds allow; None when the bounds admit no such shares.

    Water-filling: scale the free shares to fill what the fixed ones leave; fix the side
    (above hi or below lo) that overshoots more at its bound; repeat. When no free name has
    a positive target, what is left is spread evenly over the free names.
    """
    names = list(target)
    if not names or sum(lo[n] for n in names) > 1 + TOLERANCE \
            or sum(hi[n] for n in names) < 1 - TOLERANCE \
            or any(lo[n] > hi[n] + TOLERANCE for n in names):
        return None
    top = max(target.values())
    if top > 0:  # scale first: huge targets (1e308) would overflow their sum
        target = {n: v / top for n, v in target.items()}
    fixed: dict[str, float] = {}
    while True:
        free = [n for n in names if n not in fixed]
        rest = 1 - sum(fixed.values())
        if not free:
            break
        mass = sum(max(target[n], 0.0) for n in free)
        # rest * (t / mass), not rest * t / mass: a subnormal t would underflow to 0
        share = ({n: rest * (max(target[n], 0.0) / mass) for n in free} if mass > 0
                 else {n: rest / len(free) for n in free})
        over = {n: share[n] - hi[n] for n in free if share[n] > hi[n]}
        under = {n: lo[n] - share[n] for n in free if share[n] < lo[n]}
        if not over and not under:
            fixed.update(share)
            break
        if sum(over.values()) >= sum(under.values()):
            fixed.update({n: hi[n] for n in over})
        else:
            fixed.update({n: lo[n] for n in under})
    result = {n: min(hi[n], max(lo[n], fixed.get(n, 0.0))) for n in names}
    # Put float dust on the share with the most room, so the sum is 1 to the last bit.
    residual = 1 - sum(result.values())
    # (Never onto a share already at its bound: a forbidden bucket must stay exactly 0.)
    room = max(names, key=lambda n: (hi[n] - result[n]) if residual > 0 else (result[n] - lo[n]))
    result[room] = min(hi[room], max(lo[room], result[room] + residual))
    return result if abs(sum(result.values()) - 1) <= TOLERANCE else None


class _Editor:
    """Collects edits as it makes them."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def note(self, path: str, before: object, after: object, reason: str) -> None:
        self.changes.append(Change(path=path, before=before, after=after, reason=reason))


def repair_action(action: DataAction, pools: Mapping[str, PoolTable], settings: MixSettings,
                  constraints: Sequence[Constraint] = ()) -> Repair:
    """The nearest feasible action to `action`, the edits that led there, and its report."""
    report = validate_action(action, pools, settings, constraints)
    if report.ok:
        return Repair(action=action, report=report)
    edit = _Editor()
    plans = {name: _clean_plan(get_objective(name), action.objectives[name], edit,
                               f"objectives.{name}")
             for name in action.objectives if name in pools}
    for name in action.objectives:
        if name not in pools:
            edit.note(f"objectives.{name}", name, None, "not an objective of this run")
    ratios = _clean_ratios(action.ratios, pools, edit)

    caps = {name: capacity(table, plans.get(name), settings) for name, table in pools.items()}
    budget = effective_budget(caps, constraints, settings.budget)
    for name in _exclusions_below_min_share(plans, caps, settings, constraints):
        edit.note(f"objectives.{name}.focus.exclude", plans[name].focus.exclude, {},
                  "leaves too few rows for the objective's minimum share")
        plans[name] = plans[name].model_copy(update={"focus": plans[name].focus.model_copy(
            update={"exclude": {}})})
        caps[name] = capacity(pools[name], plans[name], settings)
    budget = effective_budget(caps, constraints, settings.budget)
    bounds, room = {}, {}
    for name in pools:
        bounds[name] = share_bounds(constraints, name, pools[name].slice_names)
        pins, forbidden = bucket_rules(constraints, name)
        room[name] = max_objective_tokens(caps[name], pins, forbidden) / budget if budget else 0.0
    ratios = _fit(ratios, bounds, room, edit, "ratios",
                  "the share constraints and what each pool holds")

    for name in pools:
        pins, forbidden = bucket_rules(constraints, name)
        plan = plans.get(name)
        explicit = plan is not None and bool(plan.bucket_weights)
        if not explicit and (pins or (forbidden and ratios[name] > 0)):
            plans[name] = _explicit_weights(plan, caps[name], name, edit)
    for name, plan in plans.items():
        plans[name] = _fit_buckets(name, plan, caps[name], ratios.get(name, 0.0) * budget,
                                   constraints, edit)
        plans[name] = _drop_empty_focus(name, plans[name], caps[name], ratios.get(name, 0.0),
                                        edit)

    repaired = action.model_copy(update={"ratios": ratios, "objectives": plans})
    repaired = DataAction.model_validate(repaired.model_dump())
    return Repair(action=repaired, changes=edit.changes,
                  report=validate_action(repaired, pools, settings, constraints))


def _exclusions_below_min_share(plans: Mapping[str, ObjectivePlan], caps: Mapping[str, Capacity],
                                settings: MixSettings, constraints: Sequence[Constraint]
                                ) -> list[str]:
    """Objectives whose `exclude` leaves fewer tokens than a min_share Constraint needs."""
    found = []
    for name, plan in plans.items():
        lo, _ = share_bounds(constraints, name)
        pins, forbidden = bucket_rules(constraints, name)
        if lo > 0 and plan.focus.exclude \
                and max_objective_tokens(caps[name], pins, forbidden) + 1 < lo * settings.budget:
            found.append(name)
    return found


def _clean_ratios(ratios: Mapping[str, float], pools: Mapping[str, PoolTable], edit: _Editor
                  ) -> dict[str, float]:
    out = {}
    for name, value in ratios.items():
        if name not in pools:
            edit.note(f"ratios.{name}", value, None, "not an objective of this run")
        elif value < 0:
            edit.note(f"ratios.{name}", value, 0.0, "negative ratio set to 0")
    for name in pools:
        out[name] = max(ratios.get(name, 0.0), 0.0)
    return out


def _clean_plan(objective: Objective, plan: ObjectivePlan, edit: _Editor, path: str
                ) -> ObjectivePlan:
    weights = {}
    for bucket, weight in plan.bucket_weights.items():
        where = f"{path}.bucket_weights.{bucket}"
        if bucket not in objective.slices:
            edit.note(where, weight, None, f"not a slice of {objective.name}")
        elif weight < 0:
            edit.note(where, weight, 0.0, "negative weight set to 0")
            weights[bucket] = 0.0
        else:
            weights[bucket] = weight
    if weights and sum(weights.values()) == 0:
        edit.note(f"{path}.bucket_weights", weights, {}, "all weights 0: sample the pool as "
                  "it comes")
        weights = {}
    focus = FocusCriteria(include=_clean_criteria(objective, plan.focus.include, edit,
                                                  f"{path}.focus.include"),
                          exclude=_clean_criteria(objective, plan.focus.exclude, edit,
                                                  f"{path}.focus.exclude"))
    share = min(1.0, max(0.0, plan.focus_share))
    if share != plan.focus_share:
        edit.note(f"{path}.focus_share", plan.focus_share, share, "clipped into [0, 1]")
    return ObjectivePlan(bucket_weights=weights, focus=focus, focus_share=share)


def _clean_criteria(objective: Objective, criteria: Mapping[str, list[FocusValue]],
                    edit: _Editor, path: str) -> dict[str, list[FocusValue]]:
    out: dict[str, list[FocusValue]] = {}
    for key, values in criteria.items():
        where = f"{path}.{key}"
        focus_key = objective.focus_keys.get(key)
        if focus_key is None:
            edit.note(where, values, None, f"not a focus key of {objective.name}")
            continue
        if focus_key.kind == "range":
            fixed = _clean_range(values, focus_key.domain)
        else:
            domain = focus_key.domain
            fixed = [v for v in values if not isinstance(v, bool)
                     and (domain is None or v in domain)]
        if not fixed:
            edit.note(where, values, None, "no usable value left")
            continue
        if fixed != list(values):
            edit.note(where, values, fixed, "values outside the key's domain removed")
        out[key] = fixed
    return out


def _clean_range(values: list[FocusValue], domain: tuple | None) -> list[FocusValue]:
    numbers = sorted(v for v in values if isinstance(v, int) and not isinstance(v, bool))
    if not numbers:
        return []
    lo, hi = numbers[0], numbers[-1]
    if domain:
        lo, hi = max(lo, domain[0]), min(hi, domain[1])
    return [lo, hi] if lo <= hi else []


def _fit(target: Mapping[str, float], bounds: Mapping[str, tuple[float, float]],
         room: Mapping[str, float], edit: _Editor, path: str, bounded_by: str, *,
         before: Mapping[str, float] | None = None) -> dict[str, float]:
    """Shares within `bounds` (hard: the Constraints) and `room` (what the pools hold);
    when both cannot hold, the Constraints win and the pools' shortfall stays in the report;
    when even the Constraints cannot, the shares are only rescaled, and the edit says so."""
    lo = {n: bounds[n][0] for n in target}
    hard = {n: bounds[n][1] for n in target}
    fitted = fit_shares(target, lo, {n: min(hard[n], room[n]) for n in target})
    if fitted is None:
        fitted = fit_shares(target, lo, hard)
        if fitted is not None:
            edit.note(path, None, None, "the pools cannot hold the constrained shares; "
                      "shares kept to the constraints")
    if fitted is None:
        fitted = normalised(target) if any(v > 0 for v in target.values()) else {
            n: 1 / len(target) for n in target}
        edit.note(path, None, None, "the constraints contradict each other; shares only "
                  "rescaled to sum 1")
    _record_shares(edit, path, before if before is not None else target, fitted, bounded_by)
    return fitted


def _record_shares(edit: _Editor, path: str, before: Mapping[str, float],
                   after: Mapping[str, float], bounded_by: str) -> None:
    """One Change per share that moved, saying whether it was only rescaled to sum 1 or
    moved by a bound."""
    total = sum(max(v, 0.0) for v in before.values())
    for name in after:
        old, new = before.get(name, 0.0), after[name]
        if abs(old - new) <= TOLERANCE:
            continue
        scaled = max(old, 0.0) / total if total else None
        reason = ("scaled with the others so they sum to 1"
                  if scaled is not None and abs(scaled - new) <= TOLERANCE
                  else f"moved to fit {bounded_by}")
        edit.note(f"{path}.{name}", round(old, 6), round(new, 6), reason)


def _explicit_weights(plan: ObjectivePlan | None, cap: Capacity, name: str, edit: _Editor
                      ) -> ObjectivePlan:
    plan = plan or ObjectivePlan()
    weights = natural_weights(cap) or {b: 1 / len(cap.buckets) for b in cap.buckets}
    edit.note(f"objectives.{name}.bucket_weights", {}, {b: round(w, 6) for b, w in
                                                        weights.items()},
              "a bucket constraint needs explicit weights: each bucket's share of the pool")
    return plan.model_copy(update={"bucket_weights": weights})


def _fit_buckets(name: str, plan: ObjectivePlan, cap: Capacity, tokens: float,
                 constraints: Sequence[Constraint], edit: _Editor) -> ObjectivePlan:
    if not plan.bucket_weights:
        return plan
    pins, forbidden = bucket_rules(constraints, name)
    slices = list(cap.buckets)
    target = {b: plan.bucket_weights.get(b, 0.0) for b in slices}
    bounds = {b: (0.0, 0.0) if b in forbidden else (pins[b], pins[b]) if b in pins
              else (0.0, 1.0) for b in slices}
    room = {b: 1.0 if tokens <= 0 else cap.buckets[b] / tokens for b in slices}
    fitted = _fit(target, bounds, room, edit, f"objectives.{name}.bucket_weights",
                  "the bucket constraints and what each bucket holds",
                  before=plan.bucket_weights)
    weights = {b: w for b, w in fitted.items() if w > 0 or b in plan.bucket_weights}
    return plan.model_copy(update={"bucket_weights": weights})


def _drop_empty_focus(name: str, plan: ObjectivePlan, cap: Capacity, ratio: float, edit: _Editor
                      ) -> ObjectivePlan:
    if not plan.focus.include or plan.focus_share <= 0 or ratio <= 0:
        return plan
    sampled = [b for b, w in plan.bucket_weights.items() if w > 0] or list(cap.buckets)
    if any(cap.focus.get(b, 0) > 0 for b in sampled):
        return plan
    edit.note(f"objectives.{name}.focus.include", plan.focus.include, {},
              "matches no usable row in the buckets it samples")
    return plan.model_copy(update={"focus": plan.focus.model_copy(update={"include": {}})})
