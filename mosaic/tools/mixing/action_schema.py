"""The DataAction JSON Schema narrowed to one run's objectives.

`mosaic.schema.action_json_schema()` is the general schema (any objective names; published as
docs/schema/data-action.schema.json). A diagnoser that decodes against a schema does better
with this narrowed one: ratios only over the run's objectives, bucket weights only over each
objective's slices, focus keys only from each objective's vocabulary with their domains,
shares in [0, 1], every objective's ratio and a rationale required, the free text bounded
(rationale, evidence). Small models in particular need such tight schemas (environment.md: loose
ones make a 135M model loop). What a schema cannot say (sums, capacities, Constraints) is
left to validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mosaic.objectives import Objective, get_objective
from mosaic.schema import action_json_schema

SHARE = {"type": "number", "minimum": 0, "maximum": 1}


def _criteria(objective: Objective) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for key in objective.focus_keys.values():
        if key.kind == "range":
            lo, hi = key.domain or (None, None)
            bound = {"type": "integer"} | ({"minimum": lo, "maximum": hi} if lo is not None
                                           else {})
            properties[key.name] = {"type": "array", "items": bound, "minItems": 2,
                                    "maxItems": 2, "description": key.description}
        else:
            items = ({"enum": list(key.domain)} if key.domain is not None
                     else {"type": ["string", "integer"], "maxLength": 80})
            properties[key.name] = {"type": "array", "items": items, "minItems": 1,
                                    "maxItems": len(key.domain) if key.domain else 20,
                                    "description": key.description}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _plan(objective: Objective) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"What the action asks of the {objective.name} pool.",
        "properties": {
            "bucket_weights": {
                "type": "object", "additionalProperties": False,
                "description": "Slice -> share of the objective's budget (sum 1); leave it "
                "out to sample the pool as it comes.",
                "properties": {s: SHARE for s in objective.slices}},
            "focus": {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "include": _criteria(objective) | {
                        "description": "Rows to fill first: a row is focus when it matches "
                        "every key here (AND across keys; OR within a key's values)."},
                    "exclude": _criteria(objective) | {
                        "description": "Rows never to train on: a row matching any key here "
                        "is removed."}}},
            "focus_share": SHARE,
        },
        "additionalProperties": False,
    }


def run_action_schema(objectives: Sequence[str]) -> dict[str, Any]:
    """The DataAction schema for a run over `objectives` (registered objective names)."""
    specs = [get_objective(name) for name in objectives]
    schema = action_json_schema()
    schema["$id"] = "https://mosaic.invalid/schema/data-action-" + "-".join(objectives) + ".json"
    props = schema["properties"]
    props["ratios"] = {"type": "object", "additionalProperties": False,
                       "description": props["ratios"].get("description", ""),
                       "properties": {o.name: SHARE for o in specs}}
    props["objectives"] = {"type": "object", "additionalProperties": False,
                           "description": props["objectives"].get("description", ""),
                           "properties": {o.name: _plan(o) for o in specs}}
    for name in ("ObjectivePlan", "FocusCriteria"):
        schema.get("$defs", {}).pop(name, None)  # replaced by the per-objective plans
    # Bounds on the free text, so guided decoding of a small model cannot ramble to the
    # token limit (and leave truncated JSON); every objective's share is asked for.
    props["ratios"]["required"] = [o.name for o in specs]
    props["rationale"] = {"type": "string", "maxLength": RATIONALE_CHARS,
                          "description": props["rationale"].get("description", "")}
    props["evidence"]["maxItems"] = EVIDENCE_ITEMS
    schema["required"] = ["ratios", "rationale"]
    evidence = schema.get("$defs", {}).get("Evidence")
    if evidence is not None:
        fields = evidence["properties"]
        fields["objective"] = {"type": "string", "enum": [o.name for o in specs]}
        fields["slice"] = {"anyOf": [{"type": "string", "maxLength": 40}, {"type": "null"}],
                           "default": None}
        fields["metric"] = {"type": "string", "maxLength": 40,
                            "description": fields["metric"].get("description", "")}
        fields["note"] = {"type": "string", "maxLength": 200, "default": ""}
    return schema


RATIONALE_CHARS = 800
EVIDENCE_ITEMS = 6
