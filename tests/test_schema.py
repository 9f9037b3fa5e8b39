"""Typed records serialise to plain JSON and back without loss, and reject bad shapes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mosaic.schema import (
    Constraint,
    DataAction,
    EvalItem,
    EvalReport,
    Evidence,
    FocusCriteria,
    JudgedSample,
    Message,
    MixtureManifest,
    ObjectivePlan,
    ObjectiveReport,
    PoolRow,
    PromptChannel,
    Redistribution,
    ResponseChannel,
    RoundRecord,
    SliceStats,
    action_json_schema,
    user_turns,
)

PROMPT = PromptChannel(slice="complexity_3", weight=3,
                       l3={"pressure": {"authority": 1}}, l2={"pressure": 3, "pc_pattern": "P3_C2"},
                       notes=["pressure.urgency: missing, read as 0"])
RESPONSE = ResponseChannel(score=4.0, l3={"utility": {"safe_alternative": 1}},
                           l2={"safety": "safe", "utility": 2}, diag={"first_leak_turn": None})
ACTION = DataAction(
    ratios={"xguard": 0.5, "orbench": 0.3, "ifeval": 0.2},
    objectives={"xguard": ObjectivePlan(
        bucket_weights={"complexity_4": 0.6, "complexity_5": 0.4},
        focus=FocusCriteria(include={"pc_patterns": ["P4_C3"], "pressure_range": [3, 5]},
                            exclude={"category": ["fiction"]}),
        focus_share=0.3)},
    rationale="complexity_5 fails most often",
    evidence=[Evidence(objective="xguard", slice="complexity_5", metric="mean", value=2.1)],
)

EXAMPLES = [
    Message(role="user", content="hi ✓ \u0000 end"),
    PoolRow(id="r1", objective="xguard", messages=[Message(role="user", content="a"),
                                                   Message(role="assistant", content="b")],
            slice="complexity_2", attributes={"pressure": 2, "category": "cyber", "ids": [1, 2]},
            quality=4.0, tokens=120, assistant_tokens=40, source="x.jsonl"),
    EvalItem(id="e1", objective="ifeval", messages=[Message(role="user", content="q")],
             meta={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
             prompt=PROMPT),
    PROMPT,
    RESPONSE,
    ResponseChannel(score=None, error="judge returned malformed JSON 3 times"),
    JudgedSample(id="e1", objective="xguard", prompt=PROMPT, response=RESPONSE,
                 replies=["no", "still no"], judge="rules-v1"),
    SliceStats(slice="complexity_3", n=12, n_unscored=1, mean=3.25, ci_low=2.9, ci_high=3.6,
               fail_rate=0.25, reliability="medium"),
    EvalReport(model="tiny", adapter=None, system_prompt="Be safe.",
               decoding={"max_new_tokens": 64},
               objectives={"xguard": ObjectiveReport(
                   objective="xguard", mean=3.1, count=20, n_unscored=2, ci_low=2.8, ci_high=3.4,
                   histogram={"1": 3, "5": 17},
                   slices={"complexity_3": SliceStats(slice="complexity_3", n=20, mean=3.1)},
                   first_leak_turn={"2": 3})},
               created_at="2026-11-27T17:00:00Z"),
    ACTION,
    Constraint(kind="min_share", objective="orbench", value=0.2, origin="chat", note="keep OR"),
    Constraint(kind="forbid_bucket", objective="xguard", slice="complexity_1"),
    MixtureManifest(action_hash="abc", seed=7, budget=10000, token_count="templated:tiny",
                    realised_tokens=9990, assistant_tokens=4000,
                    tokens_by_objective={"xguard": 9990},
                    tokens_by_bucket={"xguard": {"complexity_4": 9990}},
                    focus_tokens={"xguard": 3000}, row_ids={"xguard": ["r1", "r1", "r2"]},
                    pool_fingerprints={"xguard": "f00"},
                    bucket_budgets={"xguard": {"complexity_4": 5000, "complexity_5": 5000}},
                    redistributed=[Redistribution(objective="xguard", bucket="complexity_5",
                                                  planned=5000, realised=0, reason="exhausted",
                                                  note="no rows")],
                    content_hash="def"),
    RoundRecord(round=1, action=ACTION, mixture_hash="m", adapter="a", means={"xguard": 3.2},
                ci={"xguard": (3.0, 3.4)}, accepted=True, notes=["first round"]),
    RoundRecord(round=0),
]


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_plain_json(record):
    text = json.dumps(record.model_dump(mode="json"))
    again = type(record).model_validate(json.loads(text))
    assert again == record
    assert type(record).model_validate_json(record.model_dump_json()) == record


@given(st.dictionaries(st.sampled_from(["xguard", "orbench", "ifeval", "x"]),
                       st.floats(allow_nan=False, allow_infinity=False), max_size=4),
       st.text(max_size=50))
def test_actions_with_any_finite_ratios_round_trip(ratios, rationale):
    action = DataAction(ratios=ratios, rationale=rationale)
    assert DataAction.model_validate_json(action.model_dump_json()) == action


def test_unknown_fields_and_non_finite_numbers_are_rejected():
    with pytest.raises(ValidationError, match="extra"):
        DataAction.model_validate({"ratios": {}, "weights": {}})
    with pytest.raises(ValidationError):
        DataAction(ratios={"xguard": float("nan")})
    with pytest.raises(ValidationError):
        Message(role="robot", content="x")


def test_response_has_exactly_one_of_score_and_error():
    with pytest.raises(ValidationError, match="exactly one"):
        ResponseChannel(score=None)
    with pytest.raises(ValidationError, match="exactly one"):
        ResponseChannel(score=3.0, error="x")


@pytest.mark.parametrize(("fields", "problem"), [
    ({"kind": "min_share", "objective": "orbench"}, "needs `value`"),
    ({"kind": "pin_bucket", "objective": "xguard", "value": 0.4}, "needs `slice`"),
    ({"kind": "forbid_bucket", "objective": "xguard", "slice": "c", "value": 1},
     "takes no `value`"),
    ({"kind": "score_floor", "objective": "ifeval", "slice": "c", "value": 3.5},
     "takes no `slice`"),
])
def test_constraints_require_the_fields_of_their_kind(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        Constraint(**fields)


def test_constraints_describe_themselves():
    assert Constraint(kind="pin_bucket", objective="xguard", slice="complexity_5",
                      value=0.4).describe() == "xguard bucket complexity_5 weight = 0.4"
    assert Constraint(kind="score_floor", objective="ifeval",
                      value=3.5).describe() == "ifeval mean score stays >= 3.5"


def test_action_json_schema_is_published_and_describes_fields():
    schema = action_json_schema()
    assert schema["title"] == "DataAction" and schema["required"] == ["ratios"]
    assert set(schema["properties"]) == {"ratios", "objectives", "rationale", "evidence"}
    assert "share of the token budget" in schema["properties"]["ratios"]["description"]
    assert schema["$defs"]["ObjectivePlan"]["additionalProperties"] is False
    json.dumps(schema)  # plain JSON


def test_user_turns_keeps_only_user_messages_in_order():
    messages = [Message(role="system", content="s"), Message(role="user", content="1"),
                Message(role="assistant", content="a"), Message(role="user", content="2")]
    assert user_turns(messages) == ["1", "2"]
