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


# ---------------------------------------------------------------------------------------
# Free text through an LLM (a scripted OpenAI-compatible server on loopback)


def _interpret(reply, text="never below 20% orbench, and pin xguard c9 to 0.4"):
    from mosaic.agents.steering import interpret
    from mosaic.config import DiagnoserSettings
    from tests.openai_server import ScriptedServer

    with ScriptedServer(lambda request: reply) as server:
        settings = DiagnoserSettings(base_url=server.url, model="scripted", max_retries=0,
                                     timeout_s=5)
        result = interpret(text, settings=settings,
                           objectives={"orbench": ["boundary_1"], "xguard": ["complexity_5"]})
    return result, server.requests


def test_free_text_becomes_grammar_commands_parsed_like_typed_ones():
    from tests.openai_server import Reply

    (steerings, how), requests = _interpret(Reply.json({
        "commands": ["/min-share orbench 0.2", "/pin xguard complexity_9 0.4 extra",
                     "/stop-everything"], "explanation": "a floor on orbench's share"}))
    assert [s.kind for s in steerings] == ["note", "constraint"]
    assert steerings[0].text.startswith("never below 20% orbench")  # the message is kept
    rule = steerings[1].constraint
    assert (rule.kind, rule.objective, rule.value, rule.origin) == ("min_share", "orbench",
                                                                    0.2, "chat")
    assert "read as: /min-share orbench 0.2" in how and "not used" in how
    assert "/pin xguard complexity_9" in how and "/stop-everything" in how
    assert requests[0]["response_format"] == {"type": "json_object"}
    assert "boundary_1" in requests[0]["messages"][0]["content"]


@pytest.mark.parametrize("reply", ["error", "prose", "wrong shape"])
def test_free_text_is_a_note_when_the_llm_fails(reply):
    from tests.openai_server import Reply

    answer = {"error": Reply.error(500), "prose": Reply.text("Sure! I'd add a rule."),
              "wrong shape": Reply.json({"commands": "/stop"})}[reply]
    (steerings, how), _ = _interpret(answer)
    assert [s.kind for s in steerings] == ["note"] and "kept as a note" in how


def test_typed_commands_and_offline_runs_never_ask_the_llm():
    from mosaic.agents.steering import interpret
    from mosaic.config import DiagnoserSettings

    steerings, how = interpret("/stop", settings=DiagnoserSettings(base_url="http://127.0.0.1:9",
                                                                   model="x"), objectives={})
    assert [s.kind for s in steerings] == ["stop"] and how == ""
    steerings, _ = interpret("more safety please", settings=DiagnoserSettings(),
                             objectives={})
    assert [s.kind for s in steerings] == ["note"]


def test_an_llm_cannot_stop_the_run_and_every_unused_command_is_named():
    from tests.openai_server import Reply

    (steerings, how), _ = _interpret(Reply.json({"commands": [
        "/stop", "min-share orbench 0.2", "/note fine", "/max-share xguard 0.5"]}),
        text="keep going, don't stop, and cap xguard at half")
    assert [s.kind for s in steerings] == ["note", "constraint"]
    assert "/stop (type /stop yourself" in how
    assert "min-share orbench 0.2 (not a rule)" in how and "/note fine (not a rule)" in how


def test_chat_with_an_llm_adds_what_it_can_and_names_what_it_could_not(tmp_path):
    """`mosaic chat` free text on a run with an endpoint: the LLM's rules are shown first;
    nothing is applied unconfirmed; confirmed, one rule holds, one contradicts the rules in
    force and is named (the same check a typed rule gets), the message is kept as a note."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.context import RunContext
    from mosaic.loop.driver import chat
    from mosaic.loop.inbox import Inbox
    from tests.openai_server import Reply, ScriptedServer

    reply = Reply.json({"commands": ["/min-share orbench 0.3", "/min-share xguard 0.9"],
                        "explanation": "floors"})
    shown = []
    with ScriptedServer(lambda request: reply) as server:
        config, _ = apply_overrides(load_preset("tiny"), [
            f"cache={tmp_path / 'cache'}", f"diagnoser.base_url={server.url}",
            "diagnoser.model=scripted", "diagnoser.max_retries=0"])
        ctx = RunContext.create(config, tmp_path / "run", progress=False)
        unconfirmed = chat(tmp_path / "run", "at least 30% orbench and 90% xguard")
        assert ctx.constraints == []
        said = chat(tmp_path / "run", "at least 30% orbench and 90% xguard",
                    confirm=lambda commands: shown.append(commands) or True)
    assert "not applied: /min-share orbench 0.3, /min-share xguard 0.9" in unconfirmed
    assert "--yes" in unconfirmed
    assert shown == [["/min-share orbench 0.3", "/min-share xguard 0.9"]]
    assert "added for every later round: orbench share of the budget >= 0.3" in said
    assert "not used:" in said and "xguard" in said
    assert [c.describe() for c in ctx.constraints] == ["orbench share of the budget >= 0.3"]
    assert Inbox(ctx.run).notes() == ["at least 30% orbench and 90% xguard"] * 2


def test_an_llm_rule_that_fails_the_checks_is_never_offered_for_confirmation(tmp_path):
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.context import RunContext
    from mosaic.loop.driver import chat
    from tests.openai_server import Reply, ScriptedServer

    reply = Reply.json({"commands": ["/min-share orbench 0.3", "/max-share orbench 0.1"]})
    shown = []
    with ScriptedServer(lambda request: reply) as server:
        config, _ = apply_overrides(load_preset("tiny"), [
            f"cache={tmp_path / 'cache'}", f"diagnoser.base_url={server.url}",
            "diagnoser.model=scripted", "diagnoser.max_retries=0",
            "constraints=[{kind: min_share, objective: orbench, value: 0.25}]"])
        ctx = RunContext.create(config, tmp_path / "run", progress=False)
        said = chat(tmp_path / "run", "orbench between 30% and 10%",
                    confirm=lambda commands: shown.append(commands) or True)
    assert shown == [["/min-share orbench 0.3"]]
    assert "not used: /max-share orbench 0.1" in said and "contradicts" in said
    assert [c.describe() for c in ctx.constraints][-1] == "orbench share of the budget >= 0.3"


@pytest.mark.parametrize("setting", ["diagnoser.base_url=http://me:sk-1@host/v1",
                                     "diagnoser.base_url=http://host/v1?api_key=sk-1",
                                     "diagnoser.base_url=http://host/v1#sk-1",
                                     "diagnoser.api_key_env=sk-live-123"])
def test_a_key_in_the_diagnoser_settings_is_refused_before_it_reaches_the_run(setting):
    from mosaic.config import apply_overrides, load_preset
    from mosaic.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        apply_overrides(load_preset("tiny"), [setting, "diagnoser.model=m"])
    assert "sk-" not in str(error.value)
