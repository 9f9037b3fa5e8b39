"""The published DataAction schema is current, and the run-narrowed schema accepts what
repair produces and refuses names outside the run."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings

from mosaic.config import MixSettings
from mosaic.schema import DataAction, action_json_schema
from mosaic.tools.mixing.action_schema import run_action_schema
from mosaic.tools.mixing.repair import repair_action
from tests.test_repair import POOLS, actions, budgets

PUBLISHED = Path(__file__).resolve().parents[1] / "docs" / "schema" / "data-action.schema.json"
RUN = run_action_schema(["xguard", "orbench", "ifeval"])


def test_the_published_schema_file_is_what_the_code_generates():
    """If this fails, regenerate the file:
    mosaic schema action --out docs/schema/data-action.schema.json"""
    assert json.loads(PUBLISHED.read_text()) == action_json_schema()
    jsonschema.Draft202012Validator.check_schema(action_json_schema())
    jsonschema.Draft202012Validator.check_schema(RUN)


def errors(instance, schema=RUN):
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(instance)]


BASE = {"ratios": {"xguard": 0.5, "orbench": 0.25, "ifeval": 0.25}, "rationale": "why"}


def test_the_run_schema_refuses_names_and_values_outside_the_run():
    assert errors(BASE) == []
    assert errors({**BASE, "ratios": {"math": 1.0}})
    assert errors({**BASE, "ratios": {**BASE["ratios"], "xguard": 1.2}})
    assert errors({**BASE, "objectives": {"xguard": {"bucket_weights": {"boundary_1": 1}}}})
    assert errors({**BASE, "objectives": {"orbench": {"focus": {"include": {
        "pressure_range": [1, 2]}}}}})
    assert errors({**BASE, "objectives": {"xguard": {"focus": {"include": {
        "pressure_range": [0, 9]}}}}})
    assert errors({**BASE, "objectives": {"ifeval": {"focus": {"exclude": {
        "instruction_ids": ["not:an_id"]}}}}})
    assert errors({**BASE, "objectives": {"xguard": {"bucket_weights": {"complexity_5": 1}}}}
                  ) == []


def test_the_run_schema_asks_for_every_share_and_bounds_the_free_text():
    """What keeps guided decoding of a small model from rambling to the token limit."""
    assert errors({"ratios": {"xguard": 0.5, "orbench": 0.5}, "rationale": "r"}) == [
        "'ifeval' is a required property"]
    assert errors({"ratios": BASE["ratios"]}) == ["'rationale' is a required property"]
    assert errors({**BASE, "rationale": "x" * 801})
    assert errors({**BASE, "evidence": [{"objective": "xguard", "metric": "mean",
                                         "value": 1.0}] * 7})
    assert errors({**BASE, "evidence": [{"objective": "math", "metric": "mean", "value": 1}]})
    # the general schema takes any names; only validation knows the run
    assert errors({"ratios": {"math": 1.0}}, action_json_schema()) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions(), budgets)
def test_every_repaired_action_fits_the_run_schema(action, budget):
    repaired = repair_action(action, POOLS, MixSettings(budget=budget)).action
    assert errors(repaired.model_dump(mode="json")) == []
    assert DataAction.model_validate(repaired.model_dump(mode="json")) == repaired
