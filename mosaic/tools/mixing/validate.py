"""Validation of DataActions: every problem, with a stable code, a path and a sentence.

Every action passes through here, whoever proposed it (an LLM, the analyst, a person), so
this is where the token budget and the run's Constraints are enforced. The report is
returned, never raised: the diagnoser gets it back to retry, a reviewer sees it on the
approval card, `repair_action` (tools/repair.py) fixes what it lists.

Every code, with what it means, is in `PROBLEM_CODES` below.

Feasibility is judged on the budget the pools can fill (`effective_budget`): when the pools
hold less than the budget under the Constraints, the best any action can do is use all of
it, and shares are checked against that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from pydantic import ValidationError

from mosaic.config import MixSettings
from mosaic.data.pool_table import PoolTable
from mosaic.objectives import Objective, get_objective
from mosaic.schema import (
    Constraint,
    DataAction,
    ObjectivePlan,
    Problem,
    ValidationReport,
)
from mosaic.tools.mixing.capacity import (
    TOKEN_SLACK,
    TOLERANCE,
    Capacity,
    bucket_rules,
    capacity,
    effective_budget,
    focus_problems,
    max_objective_tokens,
    natural_weights,
    normalised,
    share_bounds,
    valid_criteria,
)

PROBLEM_CODES: dict[str, str] = {
    "malformed": "the text is not JSON, or not shaped like a DataAction",
    "unknown_objective": "an objective that is not part of this run",
    "negative_ratio": "a ratio below 0",
    "ratios_zero": "no objective has a positive ratio",
    "ratios_sum": "ratios do not sum to 1",
    "unknown_slice": "a bucket that is not one of the objective's slices",
    "negative_weight": "a bucket weight below 0",
    "weights_zero": "bucket weights given, all 0",
    "weights_sum": "bucket weights do not sum to 1",
    "unknown_focus_key": "a focus key outside the objective's focus vocabulary",
    "focus_value": "a focus value outside the key's domain, or an empty value list",
    "focus_range": "a range key that is not [lo, hi] with lo <= hi inside its domain",
    "focus_share": "focus_share outside [0, 1]",
    "objective_too_small": "the objective's usable rows hold fewer tokens than its share",
    "bucket_too_small": "a bucket's usable rows hold fewer tokens than its share",
    "repetition_above_cap": "the share could only be met by repeating rows more often than "
                            "the repetition cap allows",
    "focus_empty": "`include` matches no usable row where the objective has budget",
    "focus_too_small": "(warning) the focus rows cannot fill focus_share of every bucket; "
                       "the builder fills the rest with the bucket's other rows",
    "constraint_min_share": "the objective's ratio is below a min_share Constraint",
    "constraint_max_share": "the objective's ratio is above a max_share Constraint",
    "constraint_pin_bucket": "a pinned bucket's weight is not its pinned value",
    "constraint_forbid_bucket": "a forbidden bucket would be sampled",
    "constraint_unknown": "a Constraint names an objective or slice this run does not have",
    "constraints_infeasible": "the Constraints contradict each other or the pools; no "
                              "action can satisfy them",
    "budget_exceeds_pools": "(warning) the pools cannot fill the budget under the "
                            "Constraints and this action's exclusions; shares are checked "
                            "against what they hold, and a share beyond its pool is a warning",
    "unlabelled_rows": "(warning) pool rows without a slice of the objective are never "
                       "sampled",
    "quality_filtered": "(warning) rows left out by the quality bar (unjudged included)",
}
"""Every problem code validation can report, and what it means (stable: tools match on it)."""


# ---------------------------------------------------------------------------------------
# Parsing


def parse_action(raw: str | bytes | Mapping[str, Any]) -> tuple[DataAction | None,
                                                                 ValidationReport]:
    """Read an action from JSON text or a dict; on failure, a report of what is malformed."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            return None, ValidationReport(problems=[Problem(
                code="malformed", path="", message=f"not valid JSON: {error}")])
    try:
        return DataAction.model_validate(raw), ValidationReport()
    except ValidationError as error:
        problems = [Problem(code="malformed", path=".".join(map(str, e["loc"])),
                            message=f"{e['msg']} (see `mosaic schema action`)")
                    for e in error.errors()]
        return None, ValidationReport(problems=problems)


# ---------------------------------------------------------------------------------------
# Validation


def validate_action(action: DataAction, pools: Mapping[str, PoolTable], settings: MixSettings,
                    constraints: Sequence[Constraint] = ()) -> ValidationReport:
    """Every problem of `action` for a run over `pools` (its objectives) under `constraints`."""
    problems: list[Problem] = []
    problems += _ratio_problems(action, pools)
    for name, plan in action.objectives.items():
        if name not in pools:
            problems.append(_unknown_objective(f"objectives.{name}", name, pools))
            continue
        problems += _plan_problems(get_objective(name), plan, f"objectives.{name}")
    constraint_problems = _constraint_problems(action, pools, settings, constraints)
    problems += constraint_problems
    problems += _pool_warnings(pools, settings)
    if not any(p.code == "constraints_infeasible" for p in constraint_problems):
        problems += _capacity_problems(action, pools, settings, constraints)
    return ValidationReport(problems=problems)


def _unknown_objective(path: str, name: str, pools: Mapping[str, PoolTable]) -> Problem:
    return Problem(code="unknown_objective", path=path,
                   message=f"'{name}' is not an objective of this run; use one of "
                   f"{', '.join(pools)}")


def _ratio_problems(action: DataAction, pools: Mapping[str, PoolTable]) -> list[Problem]:
    problems = []
    for name, value in action.ratios.items():
        if name not in pools:
            problems.append(_unknown_objective(f"ratios.{name}", name, pools))
        if value < 0:
            problems.append(Problem(code="negative_ratio", path=f"ratios.{name}",
                                    message=f"ratio {value:g} is negative; use 0 to leave "
                                    f"'{name}' out"))
    known = [max(v, 0.0) for n, v in action.ratios.items() if n in pools]
    total = sum(action.ratios.values())
    if sum(known) == 0:
        problems.append(Problem(code="ratios_zero", path="ratios",
                                message="no objective of this run has a positive ratio; give "
                                f"at least one of {', '.join(pools)} a share"))
    elif abs(total - 1) > TOLERANCE:
        problems.append(Problem(code="ratios_sum", path="ratios",
                                message=f"ratios sum to {total:.6g}, not 1"))
    return problems


def _plan_problems(objective: Objective, plan: ObjectivePlan, path: str) -> list[Problem]:
    problems = []
    weights = plan.bucket_weights
    for bucket, weight in weights.items():
        where = f"{path}.bucket_weights.{bucket}"
        if bucket not in objective.slices:
            problems.append(Problem(code="unknown_slice", path=where,
                                    message=f"'{bucket}' is not a slice of {objective.name}; "
                                    f"slices: {', '.join(objective.slices)}"))
        if weight < 0:
            problems.append(Problem(code="negative_weight", path=where,
                                    message=f"weight {weight:g} is negative; use 0"))
    if weights:
        total = sum(weights.values())
        if sum(max(w, 0.0) for b, w in weights.items() if b in objective.slices) == 0:
            problems.append(Problem(code="weights_zero", path=f"{path}.bucket_weights",
                                    message="every known bucket has weight 0; leave "
                                    "bucket_weights empty to sample the pool as it comes"))
        elif abs(total - 1) > TOLERANCE:
            problems.append(Problem(code="weights_sum", path=f"{path}.bucket_weights",
                                    message=f"bucket weights sum to {total:.6g}, not 1"))
    for side in ("include", "exclude"):
        for key, values in getattr(plan.focus, side).items():
            for code, message in focus_problems(objective, key, values):
                problems.append(Problem(code=code, path=f"{path}.focus.{side}.{key}",
                                        message=message))
    if not 0 <= plan.focus_share <= 1:
        problems.append(Problem(code="focus_share", path=f"{path}.focus_share",
                                message=f"focus_share {plan.focus_share:g} is outside [0, 1]"))
    return problems


def _constraint_problems(action: DataAction, pools: Mapping[str, PoolTable],
                         settings: MixSettings, constraints: Sequence[Constraint]
                         ) -> list[Problem]:
    problems = []
    for i, c in enumerate(constraints):
        where = f"constraints[{i}]"
        if c.objective not in pools:
            problems.append(Problem(code="constraint_unknown", path=where,
                                    message=f"'{c.describe()}' names '{c.objective}', not an "
                                    "objective of this run"))
        elif c.slice is not None and c.slice not in pools[c.objective].slice_names:
            problems.append(Problem(code="constraint_unknown", path=where,
                                    message=f"'{c.describe()}' names '{c.slice}', not a slice "
                                    f"of {c.objective}"))
    problems += _contradictions(pools, settings, constraints)
    if problems:
        return problems
    for c in constraints:
        problems += _broken(action, pools, settings, c)
    return problems


def _contradictions(pools: Mapping[str, PoolTable], settings: MixSettings,
                    constraints: Sequence[Constraint]) -> list[Problem]:
    found = []
    bounds = {name: share_bounds(constraints, name, table.slice_names)
              for name, table in pools.items()}
    if sum(lo for lo, _ in bounds.values()) > 1 + TOLERANCE:
        found.append("minimum shares add up to more than 1")
    if sum(hi for _, hi in bounds.values()) < 1 - TOLERANCE:
        found.append("maximum shares add up to less than 1")
    found += [f"{name}: minimum share {lo:g} is above maximum share {hi:g}"
              for name, (lo, hi) in bounds.items() if lo > hi + TOLERANCE]
    for name, table in pools.items():
        pins, forbidden = bucket_rules(constraints, name)
        pinned = sum(pins.values())
        if pinned > 1 + TOLERANCE:
            found.append(f"{name}: pinned bucket weights add up to more than 1")
        found += [f"{name}: bucket {b} is both pinned and forbidden" for b in pins
                  if b in forbidden]
        for bucket in pins:
            # A pin_bucket constraint always has a value (Constraint's validator).
            values = sorted({cast(float, c.value) for c in constraints if c.kind == "pin_bucket"
                             and c.objective == name and c.slice == bucket})
            if len(values) > 1:
                found.append(f"{name}: bucket {bucket} is pinned at {values[0]:g} and at "
                             f"{values[-1]:g}")
        free = [b for b in table.slice_names if b not in pins and b not in forbidden]
        if pins and not free and pinned < 1 - TOLERANCE:
            found.append(f"{name}: pinned bucket weights add up to {pinned:g} and every other "
                         "bucket is forbidden or pinned")
    if not found and any(lo > 0 for lo, _ in bounds.values()):
        found += _constraints_beyond_pools(pools, settings, constraints, bounds)
    return [Problem(code="constraints_infeasible", path="constraints",
                    message=f"no action can satisfy the constraints: {reason}; remove or "
                    "change one") for reason in found]


def _constraints_beyond_pools(pools: Mapping[str, PoolTable], settings: MixSettings,
                              constraints: Sequence[Constraint],
                              bounds: Mapping[str, tuple[float, float]]) -> list[str]:
    """Minimum shares of the budget that the pools cannot hold, even with no exclusions."""
    found = []
    for name, (lo, _) in bounds.items():
        pins, forbidden = bucket_rules(constraints, name)
        holds = max_objective_tokens(capacity(pools[name], None, settings), pins, forbidden)
        if lo * settings.budget > holds + TOKEN_SLACK:
            found.append(f"{name}: minimum share {lo:g} of the {settings.budget:,}-token budget "
                         f"needs {lo * settings.budget:,.0f} tokens but its usable rows (under "
                         f"the bucket constraints) hold {holds:,.0f}; lower the share or the "
                         "budget")
    return found


def _broken(action: DataAction, pools: Mapping[str, PoolTable], settings: MixSettings,
            c: Constraint) -> list[Problem]:
    ratio = action.ratios.get(c.objective, 0.0)
    plan = action.objectives.get(c.objective)
    weights = plan.bucket_weights if plan else {}
    path = f"objectives.{c.objective}.bucket_weights.{c.slice}"
    # Constraint's validator sets `value` for every kind but forbid_bucket and `slice` for
    # the bucket kinds: each is read below only for kinds that have it.
    value, bucket = cast(float, c.value), cast(str, c.slice)
    if c.kind == "min_share" and ratio < value - TOLERANCE:
        return [Problem(code="constraint_min_share", path=f"ratios.{c.objective}",
                        message=f"ratio {ratio:g} breaks '{c.describe()}' (set by {c.origin})")]
    if c.kind == "max_share" and ratio > value + TOLERANCE:
        return [Problem(code="constraint_max_share", path=f"ratios.{c.objective}",
                        message=f"ratio {ratio:g} breaks '{c.describe()}' (set by {c.origin})")]
    if c.kind not in ("pin_bucket", "forbid_bucket"):
        return []  # score_floor is judged on results, by the loop
    # The weight the bucket actually gets: explicit, or its share of the pool "as it comes".
    if weights:
        weight, got = weights.get(bucket, 0.0), f"weight {weights.get(bucket, 0.0):g}"
    elif ratio > 0:
        weight = natural_weights(capacity(pools[c.objective], plan, settings)).get(bucket, 0.0)
        got = f"sampling {c.objective} as it comes (bucket weight {weight:.3g})"
    else:
        weight, got = 0.0, "no explicit bucket weights"
    fix = "" if weights else "; give explicit bucket weights"
    if c.kind == "pin_bucket" and abs(weight - value) > TOLERANCE:
        return [Problem(code="constraint_pin_bucket", path=path,
                        message=f"{got} breaks '{c.describe()}' (set by {c.origin}){fix}")]
    if c.kind == "forbid_bucket" and weight > 0:
        return [Problem(code="constraint_forbid_bucket", path=path,
                        message=f"{got} breaks '{c.describe()}' (set by {c.origin})"
                        f"{fix or '; set it to 0'}")]
    return []


def _pool_warnings(pools: Mapping[str, PoolTable], settings: MixSettings) -> list[Problem]:
    problems = []
    for name, table in pools.items():
        unlabelled = int((table.slices < 0).sum())
        if unlabelled:
            labels = ", ".join(f"{label} ({n})" for label, n in
                               sorted(table.unknown_slices.items())[:8])
            problems.append(Problem(code="unlabelled_rows", path=f"pools.{name}",
                                    severity="warning",
                                    message=f"{unlabelled} of {len(table)} rows have no slice "
                                    f"of {name} and are never sampled"
                                    + (f"; their labels: {labels}" if labels else "")))
        if settings.min_quality is not None:
            low = int(((table.slices >= 0) & ~(table.quality >= settings.min_quality)).sum())
            if low:
                problems.append(Problem(code="quality_filtered", path=f"pools.{name}",
                                        severity="warning",
                                        message=f"{low} rows are below quality "
                                        f"{settings.min_quality:g} (or unjudged) and left out"))
    return problems


def _capacity_problems(action: DataAction, pools: Mapping[str, PoolTable],
                       settings: MixSettings, constraints: Sequence[Constraint]
                       ) -> list[Problem]:
    plans = {name: action.objectives.get(name) for name in pools}
    caps = {name: capacity(table, plans[name], settings) for name, table in pools.items()}
    budget = effective_budget(caps, constraints, settings.budget)
    problems = []
    if budget < settings.budget:
        problems.append(Problem(code="budget_exceeds_pools", path="ratios", severity="warning",
                                message=f"the pools hold only {int(budget):,} usable tokens "
                                f"under the constraints and exclusions, below the budget "
                                f"{settings.budget:,}; shares are checked against that"))
    # Shares are normalised first, so a sum error is reported once (as ratios_sum), not
    # again as every objective's shortfall.
    shares = normalised({n: r for n, r in action.ratios.items() if n in pools})
    for name, share in shares.items():
        if share > 0:
            found = _objective_capacity(name, plans[name], caps[name], share * budget,
                                        settings.repetition_cap)
            if budget < settings.budget:
                # No action can fill this budget: the builder takes all the rows it can, so
                # a share beyond a pool only shifts the mix; worth a warning, not a refusal.
                found = [p.model_copy(update={"severity": "warning"}) for p in found]
            problems += found
    return problems


def _shortfall(path: str, what: str, need: float, has: int, repetition_cap: int,
               code: str) -> Problem:
    if repetition_cap > 1:
        return Problem(code="repetition_above_cap", path=path,
                       message=f"{what} needs {need:,.0f} tokens; its usable rows repeated "
                       f"{repetition_cap} times (the cap) give {has:,}; lower its share")
    return Problem(code=code, path=path,
                   message=f"{what} needs {need:,.0f} tokens but its usable rows hold {has:,}; "
                   "lower its share or raise the repetition cap")


def _objective_capacity(name: str, plan: ObjectivePlan | None, cap: Capacity, tokens: float,
                        repetition_cap: int) -> list[Problem]:
    weights = normalised({b: w for b, w in (plan.bucket_weights if plan else {}).items()
                           if b in cap.buckets})
    weights = {b: w for b, w in weights.items() if w > 0}
    problems = []
    if not weights:
        if tokens > cap.total() + TOKEN_SLACK:
            problems.append(_shortfall(f"ratios.{name}", f"objective {name}", tokens,
                                       cap.total(), repetition_cap, "objective_too_small"))
        weights = natural_weights(cap)
    else:
        for bucket, weight in weights.items():
            need = weight * tokens
            if need > cap.buckets[bucket] + TOKEN_SLACK:
                problems.append(_shortfall(f"objectives.{name}.bucket_weights.{bucket}",
                                           f"bucket {name}/{bucket}", need,
                                           cap.buckets[bucket], repetition_cap,
                                           "bucket_too_small"))
    # A malformed include is reported where it is malformed, not again as an empty focus.
    if plan is not None and plan.focus.include and plan.focus_share > 0 \
            and valid_criteria(get_objective(name), plan.focus.include) == plan.focus.include:
        problems += _focus_capacity(name, plan, cap, weights, tokens)
    return problems


def _focus_capacity(name: str, plan: ObjectivePlan, cap: Capacity, weights: Mapping[str, float],
                    tokens: float) -> list[Problem]:
    path = f"objectives.{name}.focus.include"
    if not any(cap.focus[b] > 0 for b in weights):
        return [Problem(code="focus_empty", path=path,
                        message=f"`include` matches no usable row of {name} in the buckets "
                        "it samples; widen it or drop it")]
    wanted = plan.focus_share * tokens
    reachable = sum(min(plan.focus_share * w * tokens, cap.focus[b]) for b, w in weights.items())
    if reachable < wanted * 0.99:
        return [Problem(code="focus_too_small", path=path, severity="warning",
                        message=f"focus rows can fill {reachable:,.0f} of the "
                        f"{wanted:,.0f} focus tokens asked ({plan.focus_share:g} of each "
                        "bucket); the rest comes from the buckets' other rows")]
    return []
