"""What every objective is made of, and the small helpers their scoring rules share.

An objective is data plus pure functions (no base class to inherit from):

    Objective(name, slices, focus_keys, prompt_items, response_items,
              label_prompt, score_response, is_failure, ...)

`label_prompt(l3, turns=...)` turns raw prompt-side L3 items into a `PromptChannel` (slice,
weight, L2); `score_response(l3, prompt)` turns raw response-side L3 items into a
`ResponseChannel` (L2 and the 1..5 score, or an explicit error). Both coerce what a judge
returns into the objective's item set and note every coercion; neither raises on bad data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mosaic.schema import PromptChannel, ResponseChannel

S_MAX = 5
"""Top of every objective's L1 scale (docs/reference.md §1.6: need = (S_MAX + 1 - score) *
weight)."""

ItemGroups = Mapping[str, tuple[str, ...]]
"""L3 item names grouped as the judge returns them, e.g. {"pressure": ("authority", ...)}."""


@dataclass(frozen=True)
class FocusKey:
    """One key an action may use in `focus.include` / `focus.exclude` for an objective.

    Focus keys only ever describe the *input* side of a training row (prompt-side labels or
    pool attributes): "train on more prompts like this". Keys over the pool's own gold
    responses (docs/reference.md §3.2) would select the opposite of what is meant.
    """

    name: str
    attribute: str
    """The `PoolRow.attributes` entry this key matches."""
    kind: Literal["values", "range"]
    """`values`: the row's attribute equals one of the listed values (or, for a list-valued
    attribute, contains one); `range`: `[lo, hi]` inclusive over a numeric attribute."""
    domain: tuple[str | int, ...] | None
    """Allowed values (or the numeric bounds of a range); None for an open vocabulary."""
    description: str


@dataclass(frozen=True)
class Objective:
    """One thing the loop optimises: its slices, focus vocabulary and L3 -> L2 -> L1 rules."""

    name: str
    version: str
    """Bumped whenever a rule changes, so cached judgements and reports stay comparable."""
    description: str
    slices: tuple[str, ...]
    """The prompt-side slice labels, in their natural order."""
    multi_turn: bool
    """Whether eval items are replayed turn by turn (user turns fixed, model replies carried)."""
    prompt_items: ItemGroups
    """Judge-produced prompt-side L3 items (empty when the data states them, as in IFEval)."""
    response_items: ItemGroups
    """Judge-produced response-side L3 items (empty when a checker produces them)."""
    focus_keys: Mapping[str, FocusKey]
    label_prompt: Callable[..., PromptChannel]
    """(l3: Mapping, *, turns: int = 1) -> PromptChannel."""
    score_response: Callable[[Mapping[str, Any], PromptChannel], ResponseChannel]
    is_failure: Callable[[ResponseChannel], bool]
    """Whether a *scored* response counts as a failure (the diagnoser's fail rate)."""
    failure_rule: str
    """`is_failure` in words, for reports and prompts."""
    eval_format: str = ""
    """Which loader reads its eval sets (a key of `mosaic.data.formats.LOADERS`)."""
    pool_format: str = "chat-sft"
    """Which loader reads a public training set of it (`mosaic data score`'s default)."""
    args: Mapping[str, Any] = field(default_factory=dict)
    """Arguments the objective was built with (recorded in round records)."""
    standard_metrics: Callable[[Sequence[ResponseChannel]], dict[str, tuple[int, int]]] = (
        lambda responses: {})
    """The field's usual rates beside the 1..5 scale, as (hits, out of) over scored
    responses, e.g. xguard's attack success rate; reports add their intervals."""
    lower_is_better: tuple[str, ...] = ()
    """The standard metrics where a smaller rate is the better model (attack success)."""


# ---------------------------------------------------------------------------------------
# Coercion of judge output into 0/1 items


def _as_number(value: Any) -> float | None:
    """A finite number from a judge's value (bool, number or numeric string), else None."""
    if isinstance(value, bool | int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def coerce_flag(value: Any) -> tuple[int, str | None]:
    """A judge's value for a binary item as 0/1, plus a note when it was not already 0/1.

    Docs/reference.md §1.2: missing, None or unparsable -> 0; bool -> int; any non-zero number -> 1.
    Numeric strings ("1", "0.0") are read as numbers; NaN and infinities are unparsable.
    """
    number = _as_number(value)
    if number is None:
        return 0, f"unparsable value {value!r} read as 0"
    flag = int(number != 0)
    if isinstance(value, bool) or (not isinstance(value, str) and number in (0, 1)):
        return flag, None
    return flag, f"value {value!r} read as {flag}"


def coerce_int(value: Any, lo: int, hi: int, *, default: int) -> tuple[int, str | None]:
    """A small integer item clamped to [lo, hi]; unparsable or non-finite -> default."""
    number = _as_number(value)
    if number is None:
        return default, f"unparsable value {value!r} read as {default}"
    clamped = min(hi, max(lo, int(number)))
    if isinstance(value, bool | str) or clamped != value:
        return clamped, f"value {value!r} read as {clamped} (range {lo}..{hi})"
    return clamped, None


def coerce_groups(
    raw: Mapping[str, Any] | None,
    groups: ItemGroups,
    *,
    defaults: Mapping[str, int] | None = None,
    ints: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Read grouped L3 items from a judge's JSON into exactly the expected item set.

    Missing items take `defaults[item]` (else 0); items named in `ints` are small integers
    clamped to their (lo, hi); all others are 0/1 flags. Extra keys are ignored. Every
    coercion is returned as a note "group.item: what happened".
    """
    defaults = defaults or {}
    ints = ints or {}
    raw = raw if isinstance(raw, Mapping) else {}
    out: dict[str, dict[str, int]] = {}
    notes: list[str] = []
    for group, items in groups.items():
        got = raw.get(group)
        if not isinstance(got, Mapping):
            if group in raw:
                kind = type(got).__name__
                notes.append(f"{group}: not an object ({kind}); items read as missing")
            got = {}
        values: dict[str, int] = {}
        for item in items:
            where = f"{group}.{item}"
            if item not in got or (got[item] is None and item in defaults):
                values[item] = defaults.get(item, 0)
                state = "missing" if item not in got else "null"
                notes.append(f"{where}: {state}, read as {values[item]}")
                continue
            if item in ints:
                lo, hi = ints[item]
                values[item], note = coerce_int(got[item], lo, hi, default=defaults.get(item, 0))
            else:
                values[item], note = coerce_flag(got[item])
            if note:
                notes.append(f"{where}: {note}")
        out[group] = values
    return out, notes


def need(prompt: PromptChannel, response: ResponseChannel) -> float | None:
    """How much a sample asks for more training (docs/reference.md §1.6); None when unscored.

    valid * (S_MAX + 1 - score) * weight: a perfect valid sample still needs `weight`.
    """
    if response.score is None:
        return None
    return float(int(prompt.valid) * (S_MAX + 1 - response.score) * prompt.weight)


def json_safe(value: Any) -> Any:
    """A judge's raw value made storable: non-finite floats and non-JSON objects as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def unscored(reason: str, *, l3: Mapping[str, Any] | None = None, **diag: Any) -> ResponseChannel:
    """A response record that could not be scored, keeping why and what the checker or judge
    returned (made storable), never a silent zero."""
    return ResponseChannel(score=None, error=reason, l3=json_safe(dict(l3 or {})),
                           diag=json_safe(diag))
