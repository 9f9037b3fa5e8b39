"""Review mode end to end on the tiny preset, each answer from a new process: a run pauses
at its approval card, is edited, steered with a rule, approved, and finishes; the rule
holds in every later round. Plus the review functions on their own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mosaic.agents.probes import planned_tokens, token_diff
from mosaic.loop.graph import after_approve as after_review
from mosaic.schema import DataAction, ObjectivePlan


def mosaic(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "mosaic.cli", *args], capture_output=True,
                            text=True, timeout=600, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"mosaic {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def test_a_review_run_is_paused_edited_steered_approved_and_keeps_the_rule(tmp_path):
    out = tmp_path / "run"
    first = mosaic("run", "--preset", "tiny", "--review", "--out", str(out),
                   f"cache={tmp_path / 'cache'}", "eval.per_slice=1")
    assert "paused for approval" in first.stdout and "round 1: action proposed by analyst" \
        in first.stdout
    assert not (out / "rounds" / "001" / "manifest.json").exists()  # nothing built yet

    edited = tmp_path / "edit.json"
    edited.write_text(json.dumps({"ratios": {"xguard": 0.6, "orbench": 0.2, "ifeval": 0.2},
                                  "rationale": "a person's choice"}))
    second = mosaic("approve", str(out), "--edit", str(edited))
    assert "round 1: action proposed by person" in second.stdout
    assert "xguard 0.600" in second.stdout

    third = mosaic("chat", str(out), "/min-share orbench 0.3")
    assert "answered the approval card" in third.stdout
    status = mosaic("status", str(out)).stdout
    assert "orbench share of the budget >= 0.3 (chat)" in status
    assert "paused for approval" in status

    rejected = mosaic("approve", str(out), "--message", "/pin xguard nope 0.5")
    assert "'nope' is not a slice of xguard" in rejected.stdout  # answered on the next card

    mosaic("approve", str(out))  # round 1 runs; round 2's card waits
    final = mosaic("approve", str(out))
    assert "finished: round limit (2 rounds)" in final.stdout

    archive = json.loads((out / "archive.json").read_text())
    actions = [r["action"] for r in archive["records"][1:]]
    assert len(actions) == 2
    assert archive["records"][1]["diagnoser"] == "person"
    for action in actions:
        assert action["ratios"]["orbench"] >= 0.3 - 1e-9
    rules = json.loads((out / "constraints.json").read_text())
    assert [(r["kind"], r["objective"], r["value"], r["origin"]) for r in rules] == [
        ("min_share", "orbench", 0.3, "chat")]
    again = mosaic("approve", str(out), check=False)
    assert again.returncode == 2 and "not waiting for an approval" in again.stderr


def test_planned_tokens_and_their_diff_per_objective_and_bucket():
    before = DataAction(ratios={"xguard": 0.5, "orbench": 0.5})
    now = DataAction(ratios={"xguard": 0.25, "orbench": 0.75}, objectives={
        "xguard": ObjectivePlan(bucket_weights={"complexity_5": 1.0})})
    plan = planned_tokens(now, 10_000)
    assert plan == {"xguard": {"total": 2500, "complexity_5": 2500},
                    "orbench": {"total": 7500}}
    diff = token_diff(plan, planned_tokens(before, 10_000))
    assert diff["xguard"] == {"complexity_5": 2500, "total": -2500}
    assert diff["orbench"] == {"total": 2500}


def test_each_decision_leads_to_its_node():
    def route(kind):
        return after_review({"review": {"kind": kind}})

    assert route("approve") == "build_mixture"
    assert route("edit") == route("constraint") == "validate"
    assert route("reject") == "diagnose" and route("stop") == "report"
    assert route("note") == route("again") == "approve"


def test_langgraph_json_names_the_compiled_graph():
    config = json.loads((Path(__file__).parents[1] / "langgraph.json").read_text())
    module, _, name = config["graphs"]["mosaic"].partition(":")
    assert module == "./mosaic/loop/graph.py" and name == "graph"
    from mosaic.loop import graph

    assert "approve" in graph.graph.get_graph().nodes


def test_an_answer_that_fails_is_shown_on_the_card_not_replayed(tmp_path):
    """apply_decision never raises: a bad edit or a broken rule comes back as `again`."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.context import RunContext
    from mosaic.loop.review import apply_decision

    config, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp_path / 'cache'}"])
    ctx = RunContext.create(config, tmp_path / "run", progress=False)
    state = {"round": 1, "action": {"ratios": {"xguard": 1.0}}, "records": []}
    for decision in ({"kind": "message", "text": '/pin xguard "" 0.4'},
                     {"kind": "edit", "action": "not an action"},
                     {"kind": "message", "text": "/min-share nope 0.2"},
                     {"kind": "dance"}, None):
        update = apply_decision(ctx, state, decision)
        assert update["review"]["kind"] == "again", decision
    assert apply_decision(ctx, state, {"kind": "approve"})["review"]["kind"] == "approve"


def test_enormous_free_text_in_an_answer_is_refused_naming_its_limit(tmp_path):
    """A 10 MB rationale in an edited action, feedback or message never reaches the run."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.context import RunContext
    from mosaic.loop.review import apply_decision
    from mosaic.schema import MAX_NOTE_CHARS, MAX_RATIONALE_CHARS

    config, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp_path / 'cache'}"])
    ctx = RunContext.create(config, tmp_path / "run", progress=False)
    state = {"round": 1, "action": {"ratios": {"xguard": 1.0}}, "records": []}
    huge = "x" * 10_000_000
    edit = {"kind": "edit", "action": {"ratios": {"xguard": 0.4, "orbench": 0.3,
                                                  "ifeval": 0.3}, "rationale": huge}}
    answers = {f"at most {MAX_RATIONALE_CHARS} characters": edit,
               f"limit is {MAX_NOTE_CHARS:,}": {"kind": "reject", "feedback": huge},
               f"the limit is {MAX_NOTE_CHARS:,}": {"kind": "message", "text": huge}}
    for expected, decision in answers.items():
        update = apply_decision(ctx, state, decision)
        assert update["review"]["kind"] == "again" and expected in update["review"]["message"]
        assert len(str(update)) < 5_000


def test_an_answer_for_a_card_that_changed_is_not_applied_and_repairs_are_shown(tmp_path):
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.context import RunContext
    from mosaic.loop.review import apply_decision, approval_card, describe_card

    config, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp_path / 'cache'}",
                                                      "loop.review=true"])
    ctx = RunContext.create(config, tmp_path / "run", progress=False)
    state = {"round": 1, "action": {"ratios": {"xguard": 0.5, "orbench": 0.5}}, "records": [],
             "changes": [{"path": "ratios.ifeval", "before": None, "after": 0.0,
                          "reason": "no share given"}]}
    card = approval_card(ctx, state)
    assert "repaired: ratios.ifeval" in describe_card(card)
    changed = {**state, "action": {"ratios": {"xguard": 0.25, "orbench": 0.75}}}
    stale = apply_decision(ctx, changed, {"kind": "approve", "card": card["id"]})
    assert stale["review"]["kind"] == "again" and "card changed" in stale["review"]["message"]
    fresh = apply_decision(ctx, state, {"kind": "approve", "card": card["id"]})
    assert fresh["review"]["kind"] == "approve"


def test_a_stop_sent_during_diagnosis_ends_a_review_run_before_its_card(tmp_path):
    from langgraph.runtime import Runtime

    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.context import RunContext
    from mosaic.loop.graph import approve
    from mosaic.loop.inbox import Inbox, Message

    config, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp_path / 'cache'}",
                                                      "loop.review=true"])
    ctx = RunContext.create(config, tmp_path / "run", progress=False)
    Inbox(ctx.run).send(Message(kind="stop", text="/stop"))
    update = approve({"round": 2, "action": {"ratios": {"xguard": 1.0}}, "records": []},
                     Runtime(context=ctx))
    assert update == {"review": {"kind": "stop"}, "stop_reason": "stopped by a person"}


def test_answers_and_cards_written_before_the_records_were_typed_are_still_read():
    """An answer with a null card id or a number as its feedback, and a card from an
    earlier version (fields missing) or decorated by a client (fields added)."""
    from mosaic.loop.review import Reject, Steer, describe_card, read_decision

    reject = read_decision({"kind": "reject", "feedback": 3, "card": None})
    assert isinstance(reject, Reject) and reject.feedback == "3" and reject.card == ""
    steer = read_decision({"kind": "message", "text": "/help", "origin": None})
    assert isinstance(steer, Steer) and steer.origin == "reviewer"
    action = DataAction(ratios={"xguard": 0.5, "orbench": 0.5}, rationale="balance")
    old_card = {"id": "1:abc", "round": 1, "diagnoser": "analyst",
                "action": action.model_dump(mode="json"),
                "planned_tokens": planned_tokens(action, 1000), "client_colour": "blue"}
    text = describe_card(old_card)
    assert "round 1: action proposed by analyst" in text and "validation: valid" in text
    assert "client_colour" not in text
