"""Messages to a run are queued, never lost: many senders at once against a run paused for
approval, notes and rules, from processes and threads."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from mosaic.loop.inbox import Inbox, Message
from mosaic.store import RunFolder


@pytest.fixture(scope="module")
def paused_run(tmp_path_factory):
    """A tiny review-mode run paused at round 1's approval card."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.driver import paused_card, run

    tmp = tmp_path_factory.mktemp("inbox")
    config, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp / 'cache'}",
                                                      "eval.per_slice=1", "loop.review=true"])
    assert paused_card(run(config, tmp / "run", progress=False)) is not None
    return tmp / "run"


def test_notes_sent_at_once_by_processes_and_threads_all_reach_the_run(paused_run):
    from mosaic.loop.context import RunContext
    from mosaic.loop.driver import chat, checkpoint_state

    senders = [subprocess.Popen([sys.executable, "-m", "mosaic.cli", "chat", str(paused_run),
                                 f"/note process {i}"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=os.environ.copy())
               for i in range(12)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        said = list(pool.map(lambda i: chat(paused_run, f"/note thread {i}"), range(50)))
    results = [(p.wait(timeout=300), *p.communicate()) for p in senders]
    assert all(code == 0 for code, _, _ in results), [err[-500:] for _, _, err in results]
    assert said == ["noted"] * 50
    notes = Inbox(RunFolder(paused_run)).notes()
    expected = {f"process {i}" for i in range(12)} | {f"thread {i}" for i in range(50)}
    assert set(notes) == expected and len(notes) == len(expected)
    # The run is still paused at its card: notes never needed the process driving it.
    snapshot = checkpoint_state(RunContext.open(paused_run, progress=False))
    assert snapshot is not None and snapshot[1] == ("approve",) and snapshot[2]


def test_rules_sent_at_once_to_a_paused_run_all_go_through_its_card(paused_run):
    """Each rule re-validates the waiting action through the card; senders wait their turn
    for the run instead of being turned away."""
    from mosaic.loop.context import RunContext
    from mosaic.loop.driver import checkpoint_state

    rules = ["/min-share orbench 0.2", "/min-share ifeval 0.2", "/max-share xguard 0.6"]
    senders = [subprocess.Popen([sys.executable, "-m", "mosaic.cli", "chat", str(paused_run),
                                 rule], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=os.environ.copy()) for rule in rules]
    results = [(p.wait(timeout=600), *p.communicate()) for p in senders]
    assert all(code == 0 for code, _, _ in results), [err[-500:] for _, _, err in results]
    assert all("answered the approval card" in out for _, out, _ in results)
    ctx = RunContext.open(paused_run, progress=False)
    assert sorted(c.describe() for c in ctx.constraints) == [
        "ifeval share of the budget >= 0.2", "orbench share of the budget >= 0.2",
        "xguard share of the budget <= 0.6"]
    values, next_nodes, interrupts = checkpoint_state(ctx)
    assert next_nodes == ("approve",) and interrupts
    assert len(values["rules"]) == 3  # the card's action was validated against all three


def test_a_line_torn_by_a_kill_loses_only_itself(tmp_path):
    inbox = Inbox(RunFolder(tmp_path))
    inbox.send(Message(kind="note", text="first"))
    with open(inbox.path, "a", encoding="utf-8") as handle:
        handle.write('{"kind": "note", "text": "torn')  # a sender killed mid-line
    inbox.send(Message(kind="note", text="after"))
    inbox.send(Message(kind="stop", text="/stop"))
    assert inbox.notes() == ["first", "after"] and inbox.stop_requested()


def test_a_message_over_the_limit_is_refused_naming_the_limit(tmp_path):
    from mosaic.agents.steering import SteeringError, parse_command
    from mosaic.schema import MAX_NOTE_CHARS

    with pytest.raises(SteeringError, match=f"limit is {MAX_NOTE_CHARS:,}"):
        parse_command("/note " + "x" * MAX_NOTE_CHARS)
    with pytest.raises(ValueError, match=f"at most {MAX_NOTE_CHARS} characters"):
        Message(kind="note", text="x" * (MAX_NOTE_CHARS + 1))


def test_messages_a_run_kept_in_its_event_log_before_the_inbox_are_still_read(tmp_path):
    run = RunFolder(tmp_path)
    run.log("note", text="from an older mosaic")
    run.log("stop_requested", by="chat")
    inbox = Inbox(run)
    inbox.send(Message(kind="note", text="newer"))
    assert inbox.notes() == ["from an older mosaic", "newer"] and inbox.stop_requested()
