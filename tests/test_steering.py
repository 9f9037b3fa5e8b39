"""The offline steering grammar: commands become typed Constraints, stops and notes."""

from __future__ import annotations

import pytest

from mosaic.agents.steering import SteeringError, parse_command


def test_each_command_becomes_its_typed_constraint():
    rule = parse_command("/min-share orbench 0.2").constraint
    assert (rule.kind, rule.objective, rule.value, rule.origin) == (
        "min_share", "orbench", 0.2, "chat")
    assert rule.describe() == "orbench share of the budget >= 0.2"
    pin = parse_command("/pin xguard complexity_5 0.4", origin="reviewer").constraint
    assert (pin.kind, pin.slice, pin.value, pin.origin) == (
        "pin_bucket", "complexity_5", 0.4, "reviewer")
    forbid = parse_command("/forbid ifeval complexity_1").constraint
    assert (forbid.kind, forbid.slice, forbid.value) == ("forbid_bucket", "complexity_1", None)
    assert parse_command("/floor ifeval 3.5").constraint.kind == "score_floor"
    assert parse_command("/max-share xguard 0.5").constraint.kind == "max_share"


def test_stop_and_notes():
    assert parse_command(" /stop ").kind == "stop"
    note = parse_command("/note try more boundary prompts")
    assert note.kind == "note" and note.text == "try more boundary prompts"
    assert parse_command("never below 20% orbench").kind == "note"  # free text, offline


@pytest.mark.parametrize(("text", "message"), [
    ("/min-share orbench", "takes 2 argument"),
    ("/min-share orbench lots", "'lots' is not a number"),
    ("/min-share orbench 1.5", "outside [0, 1]"),
    ("/floor ifeval 9", "outside [1, 5]"),
    ("/pin xguard 0.4", "takes 3 argument"),
    ("/bogus x", "unknown command '/bogus'"),
    ('/note "unclosed', "cannot read"),
])
def test_a_malformed_command_names_its_expected_form(text, message):
    with pytest.raises(SteeringError, match=message.replace("[", r"\[")):
        parse_command(text)


def test_a_command_that_makes_an_invalid_rule_is_a_steering_error():
    """Regression: an empty slice reached pydantic's ValidationError, which escaped review
    mode's answer handling and was replayed by LangGraph on every later answer."""
    with pytest.raises(SteeringError, match="/pin"):
        parse_command('/pin xguard "" 0.4')
    assert parse_command("/help").kind == "note"
