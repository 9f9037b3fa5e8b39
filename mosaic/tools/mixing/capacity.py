"""What the pools can give an action: usable rows, focus rows and tokens per bucket.

Shared by validation (is the action feasible?), repair (what is the nearest feasible one?)
and the builder (which rows?), so all three count the same way. A row is usable when it
has a slice, passes the quality bar and matches no `exclude` key; capacity is the usable
tokens of each bucket times the repetition cap. Selections are remembered per table
(`PoolTable.remember`): validating and then building the same action computes them once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

import numpy as np

from mosaic.config import MixSettings
from mosaic.data.pool_table import PoolTable, match_criteria
from mosaic.objectives import Objective, get_objective
from mosaic.schema import Constraint, FocusValue, ObjectivePlan

TOLERANCE = 1e-6
"""How far a sum may be from 1 (and a share from its bound) and still count as equal."""
TOKEN_SLACK = 1
"""Tokens a bucket's share may exceed its capacity by (float rounding of shares)."""


def valid_criteria(objective: Objective, criteria: Mapping[str, Sequence[FocusValue]]
                   ) -> dict[str, list[FocusValue]]:
    """The keys of `criteria` that are well-formed for the objective (invalid ones dropped)."""
    return {key: list(values) for key, values in criteria.items()
            if not focus_problems(objective, key, values)}


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
    sums = np.bincount(table.slice_bins, weights=np.where(mask, table.token_weights, 0.0),
                       minlength=len(table.slice_names) + 1)
    return np.rint(sums[1:]).astype(np.int64)  # bin 0: rows without a known slice


@dataclass(frozen=True)
class Capacity:
    """What one objective's pool can give an action (tokens, counting allowed repeats)."""

    buckets: Mapping[str, int]
    """Slice -> usable tokens x repetition cap."""
    focus: Mapping[str, int]
    """Slice -> tokens of usable focus rows (each counted once: the focus phase takes a row
    at most once)."""

    def total(self) -> int:
        return sum(self.buckets.values())


def capacity(table: PoolTable, plan: ObjectivePlan | None, settings: MixSettings) -> Capacity:
    """What the table can give the plan, per bucket (remembered per table)."""
    focus = plan.focus if plan is not None else None

    def compute() -> Capacity:
        usable = usable_rows(table, plan, settings)
        cap = settings.repetition_cap
        tokens = bucket_tokens(table, usable) * cap
        # Focus rows are taken first once; their repeats come with the bucket's other rows.
        in_focus = bucket_tokens(table, focus_rows(table, plan, usable))
        # Read-only views: the same Capacity is handed to every later caller (memo).
        return Capacity(
            buckets=MappingProxyType(dict(zip(table.slice_names, tokens.tolist(), strict=True))),
            focus=MappingProxyType(dict(zip(table.slice_names, in_focus.tolist(), strict=True))))

    key = ("capacity", settings.min_quality, settings.repetition_cap,
           focus.model_dump_json() if focus else "")
    return table.remember(key, compute)


def bucket_rules(constraints: Sequence[Constraint], objective: str
                 ) -> tuple[dict[str, float], set[str]]:
    """The pinned buckets (slice -> weight) and forbidden buckets of one objective."""
    mine = [(c.slice, c) for c in constraints if c.objective == objective and c.slice]
    pins = {bucket: float(c.value) for bucket, c in mine
            if c.kind == "pin_bucket" and c.value is not None}
    forbidden = {bucket for bucket, c in mine if c.kind == "forbid_bucket"}
    return pins, forbidden


def share_bounds(constraints: Sequence[Constraint], objective: str,
                 slices: Sequence[str] = ()) -> tuple[float, float]:
    """The objective's [min, max] share of the budget under the Constraints. Given its
    `slices`, an objective whose every bucket is forbidden or pinned at 0 has max share 0."""
    lo = max([c.value for c in constraints if c.kind == "min_share"
              and c.objective == objective and c.value is not None], default=0.0)
    hi = min([c.value for c in constraints if c.kind == "max_share"
              and c.objective == objective and c.value is not None], default=1.0)
    if slices:
        pins, forbidden = bucket_rules(constraints, objective)
        if all(s in forbidden or pins.get(s) == 0 for s in slices):
            hi = 0.0
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


def normalised(values: Mapping[str, float]) -> dict[str, float]:
    """Shares from weights: negatives read as 0, scaled to sum 1 (all zero stays all zero)."""
    total = sum(max(v, 0.0) for v in values.values())
    return {k: (max(v, 0.0) / total if total else 0.0) for k, v in values.items()}


def natural_weights(cap: Capacity) -> dict[str, float]:
    """Bucket weights "as the pool comes": each bucket's share of the usable tokens."""
    total = cap.total()
    if total == 0:
        return {}
    return {b: t / total for b, t in cap.buckets.items() if t > 0}


def focus_problems(objective: Objective, key: str, values: Sequence[FocusValue]
                   ) -> list[tuple[str, str]]:
    """(code, message) for each way `values` are wrong for focus key `key` (none if fine)."""
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
        bounds = cast("tuple[int, ...] | None", domain)  # a range's domain: integer bounds
        if bounds and (numbers[0] < bounds[0] or numbers[1] > bounds[1]):
            return [("focus_range", f"'{key}' {list(values)} reaches outside "
                     f"[{bounds[0]}, {bounds[1]}]")]
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
