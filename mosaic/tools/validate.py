"""Validation of DataActions: every problem, with a stable code, a path and a sentence.

Every action passes through here, whoever proposed it (an LLM, the analyst, a person), so
this is where the token budget and the run's Constraints are enforced. The report is
returned, never raised: the diagnoser gets it back to retry, a reviewer sees it on the
approval card, `repair_action` (tools/repair.py) fixes what it lists.

Codes (errors unless marked warning):

  malformed               the text is not JSON, or not shaped like a DataAction
  unknown_objective       an objective that is not part of this run
  negative_ratio          a ratio below 0
  ratios_zero             no objective has a positive ratio
  ratios_sum              ratios do not sum to 1
  unknown_slice           a bucket that is not one of the objective's slices
  negative_weight         a bucket weight below 0
  weights_zero            bucket weights given, all 0
  weights_sum             bucket weights do not sum to 1
  unknown_focus_key       a focus key outside the objective's focus vocabulary
  focus_value             a focus value outside the key's domain, or an empty value list
  focus_range             a range key that is not [lo, hi] with lo <= hi inside its domain
  focus_share             focus_share outside [0, 1]
  objective_too_small     the objective's usable rows hold fewer tokens than its share
  bucket_too_small        a bucket's usable rows hold fewer tokens than its share
  repetition_above_cap    the share could only be met by repeating rows more often than
                          the repetition cap allows
  focus_empty             `include` matches no usable row where the objective has budget
  focus_too_small         (warning) the focus rows cannot fill focus_share of every bucket;
                          the builder fills the rest with the bucket's other rows
  constraint_min_share, constraint_max_share, constraint_pin_bucket,
  constraint_forbid_bucket  the action breaks a Constraint
  constraint_unknown      a Constraint names an objective or slice this run does not have
  constraints_infeasible  the Constraints contradict each other (or the pools); no action
                          can satisfy them
  budget_exceeds_pools    (warning) the pools cannot fill the budget under this action's
                          exclusions; shares are checked against what they can give
  unlabelled_rows         (warning) pool rows without a slice are never sampled
  quality_filtered        (warning) rows left out by the quality filter (unjudged included)

Feasibility is judged on the budget the pools can fill (`effective_budget`): when the pools
hold less than the budget under the Constraints, the best any action can do is use all of
it, and shares are checked against that.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from mosaic.config import MixSettings
from mosaic.data.pool_table import PoolTable, match_criteria
from mosaic.objectives import Objective, get_objective
from mosaic.schema import (
    Constraint,
    DataAction,
    FocusValue,
    ObjectivePlan,
    Problem,
    ValidationReport,
)

TOLERANCE = 1e-6
"""How far a sum may be from 1 (and a share from its bound) and still count as equal."""
TOKEN_SLACK = 1
"""Tokens a bucket's share may exceed its capacity by (float rounding of shares)."""


# ---------------------------------------------------------------------------------------
# What the pools can give an action


def valid_criteria(objective: Objective, criteria: Mapping[str, Sequence[FocusValue]]
                   ) -> dict[str, list[FocusValue]]:
    """The keys of `criteria` that are well-formed for the objective (invalid ones dropped)."""
    return {key: list(values) for key, values in criteria.items()
            if not _focus_problems(objective, key, values)}


def _key(criteria: Mapping[str, Sequence[FocusValue]]) -> str:
    return json.dumps(criteria, sort_keys=True)


def usable_rows(table: PoolTable, plan: ObjectivePlan | None, settings: MixSettings
                ) -> np.ndarray:
    """Rows the builder may sample: labelled, above the quality bar, not excluded
    (read-only; remembered per table)."""
    exclude = plan.focus.exclude if plan is not None else {}

    def compute() -> np.ndarray:
        mask = table.slices >= 0
        if settings.min_quality is not None:
            mask &= table.quality >= settings.min_quality  # NaN (unjudged) compares False
        if exclude:
            objective = get_objective(table.objective)
            mask &= ~match_criteria(table, objective, valid_criteria(objective, exclude),
                                    mode="any")
        return mask

    return table.remember(("usable", settings.min_quality, _key(exclude)), compute)


def focus_rows(table: PoolTable, plan: ObjectivePlan | None, usable: np.ndarray) -> np.ndarray:
    """Usable rows matching the plan's `include` (none when it has no include)."""
    if plan is None or not plan.focus.include:
        return np.zeros(len(table), dtype=bool)
    objective = get_objective(table.objective)
    include = valid_criteria(objective, plan.focus.include)
    if not include:
        return np.zeros(len(table), dtype=bool)
    matches = table.remember(("include", _key(include)),
                             lambda: match_criteria(table, objective, include, mode="all"))
    return usable & matches


def bucket_tokens(table: PoolTable, mask: np.ndarray) -> np.ndarray:
    """Tokens of the masked rows per slice (index = slice code)."""
    # Codes shifted by one so unlabelled rows (-1) land in a bin that is dropped.
    shifted = table.slices.astype(np.intp) + 1
    counts = np.bincount(shifted, weights=np.where(mask, table.tokens, 0),
                         minlength=len(table.slice_names) + 1)
    return counts[1:].astype(np.int64)


@dataclass(frozen=True)
class Capacity:
    """What one objective's pool can give an action (tokens, counting allowed repeats)."""

    buckets: dict[str, int]
    """Slice -> usable tokens x repetition cap."""
    focus: dict[str, int]
    """Slice -> tokens of usable focus rows x repetition cap."""

    def total(self) -> int:
        return sum(self.buckets.values())


def capacity(table: PoolTable, plan: ObjectivePlan | None, settings: MixSettings) -> Capacity:
    """What the table can give the plan, per bucket (remembered per table)."""
    focus = plan.focus if plan is not None else None

    def compute() -> Capacity:
        usable = usable_rows(table, plan, settings)
        cap = settings.repetition_cap
        tokens = bucket_tokens(table, usable) * cap
        in_focus = bucket_tokens(table, focus_rows(table, plan, usable)) * cap
        return Capacity(buckets=dict(zip(table.slice_names, tokens.tolist(), strict=True)),
                        focus=dict(zip(table.slice_names, in_focus.tolist(), strict=True)))

    key = ("capacity", settings.min_quality, settings.repetition_cap,
           focus.model_dump_json() if focus else "")
    return table.remember(key, compute)


def bucket_rules(constraints: Sequence[Constraint], objective: str
                 ) -> tuple[dict[str, float], set[str]]:
    """The pinned buckets (slice -> weight) and forbidden buckets of one objective."""
    mine = [c for c in constraints if c.objective == objective and c.slice]
    pins = {c.slice: float(c.value) for c in mine
            if c.kind == "pin_bucket" and c.value is not None}
    forbidden = {c.slice for c in mine if c.kind == "forbid_bucket"}
    return pins, forbidden


def share_bounds(constraints: Sequence[Constraint], objective: str) -> tuple[float, float]:
    """The objective's [min, max] share of the budget under the Constraints."""
    lo = max([c.value for c in constraints if c.kind == "min_share"
              and c.objective == objective and c.value is not None], default=0.0)
    hi = min([c.value for c in constraints if c.kind == "max_share"
              and c.objective == objective and c.value is not None], default=1.0)
    return float(lo), float(hi)


def max_objective_tokens(cap: Capacity, pins: Mapping[str, float], forbidden: set[str]) -> float:
    """The largest objective budget some bucket weights within the rules can hold."""
    free = [b for b in cap.buckets if b not in pins and b not in forbidden]
    limits = [cap.buckets[b] / v for b, v in pins.items() if v > 0 and b in cap.buckets]
    pinned = sum(pins.values())
    if pinned < 1 - TOLERANCE:
        free_tokens = sum(cap.buckets[b] for b in free)
        limits.append(free_tokens / (1 - pinned))
    return float(min(limits, default=math.inf))


def effective_budget(capacities: Mapping[str, Capacity], constraints: Sequence[Constraint],
                     budget: int) -> float:
    """The budget the pools can fill under the Constraints: min(budget, what they hold)."""
    total = 0.0
    for name, cap in capacities.items():
        pins, forbidden = bucket_rules(constraints, name)
        _, hi = share_bounds(constraints, name)
        total += min(hi * budget, max_objective_tokens(cap, pins, forbidden))
    return min(float(budget), total)


def natural_weights(cap: Capacity) -> dict[str, float]:
    """Bucket weights "as the pool comes": each bucket's share of the usable tokens."""
    total = cap.total()
    if total == 0:
        return {}
    return {b: t / total for b, t in cap.buckets.items() if t > 0}


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
            for code, message in _focus_problems(objective, key, values):
                problems.append(Problem(code=code, path=f"{path}.focus.{side}.{key}",
                                        message=message))
    if not 0 <= plan.focus_share <= 1:
        problems.append(Problem(code="focus_share", path=f"{path}.focus_share",
                                message=f"focus_share {plan.focus_share:g} is outside [0, 1]"))
    return problems


def _focus_problems(objective: Objective, key: str, values: Sequence[FocusValue]
                    ) -> list[tuple[str, str]]:
    focus_key = objective.focus_keys.get(key)
    if focus_key is None:
        return [("unknown_focus_key", f"'{key}' is not a focus key of {objective.name}; keys: "
                 f"{', '.join(objective.focus_keys)}")]
    domain = focus_key.domain
    if focus_key.kind == "range":
        numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        if len(values) != 2 or len(numbers) != 2 or numbers[0] > numbers[1]:
            return [("focus_range", f"'{key}' takes [lo, hi] integers with lo <= hi, got "
                     f"{list(values)}")]
        if domain and (numbers[0] < domain[0] or numbers[1] > domain[1]):
            return [("focus_range", f"'{key}' {list(values)} reaches outside "
                     f"[{domain[0]}, {domain[1]}]")]
        return []
    if not values:
        return [("focus_value", f"'{key}' lists no values; drop the key or name some")]
    if domain is None:
        return []
    bad = [v for v in values if v not in domain or isinstance(v, bool)]
    if bad:
        shown = ", ".join(map(str, domain[:12])) + (" ..." if len(domain) > 12 else "")
        return [("focus_value", f"'{key}' values {bad} are outside its domain ({shown})")]
    return []


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
    problems += _contradictions(pools, constraints)
    if problems:
        return problems
    for c in constraints:
        problems += _broken(action, pools, settings, c)
    return problems


def _contradictions(pools: Mapping[str, PoolTable], constraints: Sequence[Constraint]
                    ) -> list[Problem]:
    found = []
    lows = {name: share_bounds(constraints, name) for name in pools}
    if sum(lo for lo, _ in lows.values()) > 1 + TOLERANCE:
        found.append("minimum shares add up to more than 1")
    found += [f"{name}: minimum share {lo:g} is above maximum share {hi:g}"
              for name, (lo, hi) in lows.items() if lo > hi + TOLERANCE]
    for name in pools:
        pins, forbidden = bucket_rules(constraints, name)
        if sum(pins.values()) > 1 + TOLERANCE:
            found.append(f"{name}: pinned bucket weights add up to more than 1")
        found += [f"{name}: bucket {b} is both pinned and forbidden" for b in pins
                  if b in forbidden]
    return [Problem(code="constraints_infeasible", path="constraints",
                    message=f"no action can satisfy the constraints: {reason}; remove or "
                    "change one") for reason in found]


def _broken(action: DataAction, pools: Mapping[str, PoolTable], settings: MixSettings,
            c: Constraint) -> list[Problem]:
    ratio = action.ratios.get(c.objective, 0.0)
    plan = action.objectives.get(c.objective)
    weights = plan.bucket_weights if plan else {}
    path = f"objectives.{c.objective}.bucket_weights.{c.slice}"
    if c.kind == "min_share" and ratio < c.value - TOLERANCE:
        return [Problem(code="constraint_min_share", path=f"ratios.{c.objective}",
                        message=f"ratio {ratio:g} breaks '{c.describe()}' (set by {c.origin})")]
    if c.kind == "max_share" and ratio > c.value + TOLERANCE:
        return [Problem(code="constraint_max_share", path=f"ratios.{c.objective}",
                        message=f"ratio {ratio:g} breaks '{c.describe()}' (set by {c.origin})")]
    if c.kind == "pin_bucket" and abs(weights.get(c.slice, 0.0) - c.value) > TOLERANCE:
        got = f"weight {weights.get(c.slice, 0.0):g}" if weights else "no explicit weights"
        return [Problem(code="constraint_pin_bucket", path=path,
                        message=f"{got} breaks '{c.describe()}' (set by {c.origin})")]
    if c.kind == "forbid_bucket":
        if weights.get(c.slice, 0.0) > 0:
            return [Problem(code="constraint_forbid_bucket", path=path,
                            message=f"weight {weights[c.slice]:g} breaks '{c.describe()}' "
                            f"(set by {c.origin}); set it to 0")]
        if not weights and ratio > 0:
            cap = capacity(pools[c.objective], plan, settings)
            if cap.buckets.get(c.slice, 0) > 0:
                return [Problem(code="constraint_forbid_bucket", path=path,
                                message=f"sampling {c.objective} as it comes uses bucket "
                                f"{c.slice}, which breaks '{c.describe()}'; give explicit "
                                "bucket weights with it at 0")]
    return []


def _pool_warnings(pools: Mapping[str, PoolTable], settings: MixSettings) -> list[Problem]:
    problems = []
    for name, table in pools.items():
        unlabelled = int((table.slices < 0).sum())
        if unlabelled:
            problems.append(Problem(code="unlabelled_rows", path=f"pools.{name}",
                                    severity="warning",
                                    message=f"{unlabelled} of {len(table)} rows have no slice "
                                    "and are never sampled"))
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
    shares = _normalised({n: r for n, r in action.ratios.items() if n in pools})
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


def _normalised(values: Mapping[str, float]) -> dict[str, float]:
    """Non-negative values scaled to sum 1 (all zero stays all zero)."""
    total = sum(max(v, 0.0) for v in values.values())
    return {k: (max(v, 0.0) / total if total else 0.0) for k, v in values.items()}


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
    weights = _normalised({b: w for b, w in (plan.bucket_weights if plan else {}).items()
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
