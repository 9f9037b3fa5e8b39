"""The driver of the loop, with the CLI's verbs: run, resume, approve, chat, status,
compare, report.

    from mosaic.loop import run, resume
    from mosaic.config import apply_overrides, load_preset

    config, _ = apply_overrides(load_preset("tiny"), ["loop.rounds=1"])
    state = run(config, "runs/tiny")        # baseline + rounds, report at the end
    state = resume("runs/tiny")             # after a crash or a kill: continues where it was

A run folder is driven by one process at a time: it holds an exclusive lock on
`<run>/run.lock` (released by the OS even when the process is killed), so a second
`mosaic resume` of a running run fails at once instead of racing the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from mosaic.agents.steering import Steering, interpret
from mosaic.config import RunConfig
from mosaic.errors import ConfigError, DamagedFile, MosaicError
from mosaic.loop.context import RunContext, register, release
from mosaic.loop.graph import THREAD_ID, LoopGraph, build_graph
from mosaic.loop.inbox import Inbox, Message
from mosaic.loop.review import card_of, objective_slices
from mosaic.loop.state import Checkpoint, LoopState
from mosaic.loop.summary import comparison_text, run_status, write_report
from mosaic.redact import redacting_serializer

__all__ = ["Checkpoint", "DamagedCheckpoints", "RunBusy", "approve", "chat", "checkpoint_state",
           "compare", "paused_card", "report", "resume", "run", "status"]


class RunBusy(MosaicError):
    """Another process is driving this run."""


class DamagedCheckpoints(DamagedFile):
    """The checkpoint database cannot be read; `mosaic resume` rebuilds it."""


@contextlib.contextmanager
def _locked(folder: Path, *, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the run's lock; `wait_s` > 0 waits that long for another process to let go
    (messages to a paused run queue this way), else a held lock is RunBusy at once."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "run.lock", "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                handle.seek(0)
                raise RunBusy(f"{folder} is being run by another process "
                              f"(pid {handle.read().strip() or '?'}); `mosaic status "
                              f"{folder}` shows its progress") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


@contextlib.contextmanager
def _compiled(ctx: RunContext, *, read_only: bool = False) -> Iterator[LoopGraph]:
    # Read-only for `status`: it works on a run folder it may not write to, and cannot
    # change the run it reports on.
    conn = (sqlite3.connect(f"{ctx.run.checkpoints.resolve().as_uri()}?mode=ro", uri=True,
                            check_same_thread=False) if read_only else
            sqlite3.connect(ctx.run.checkpoints, check_same_thread=False))
    try:
        saver = SqliteSaver(conn, serde=redacting_serializer())  # keys masked in checkpoints
        yield build_graph().compile(checkpointer=saver)
    finally:
        conn.close()


def _thread(ctx: RunContext) -> RunnableConfig:
    # Each round passes ~8 nodes; the default limit (25) would stop a 3-round run.
    return {"configurable": {"thread_id": THREAD_ID},
            "recursion_limit": 20 * (ctx.config.loop.rounds + 2)}


def _drive(ctx: RunContext, graph_input: LoopState | Command | None) -> dict[str, Any]:
    try:
        with _compiled(ctx) as graph:
            # durability="sync": a node's checkpoint is on disk before the next node
            # starts, so a kill never loses a finished step's place in the loop.
            return graph.invoke(graph_input, _thread(ctx), context=register(ctx),
                                durability="sync")
    finally:
        release(ctx)


def run(config: RunConfig, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Start a new run in `out`: the base model's evaluation, then rounds until a stop rule
    fires. Returns the final graph state."""
    folder = Path(out)
    with _locked(folder):
        ctx = RunContext.create(config, folder, progress=progress)
        ctx.run.log("run_started", preset=config.preset, model=config.model)
        return _drive(ctx, {"records": []})


def resume(out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Continue the run in `out` from its last checkpoint (a finished run is left as is).

    A damaged checkpoint database is set aside and the run rebuilt from the top: every
    finished round's action is taken from its record in the run folder (no diagnoser is
    asked, no card shown again) and its mixture, adapter and evaluation from the artifact
    cache, so the rebuild costs what the cache no longer holds. A run is finished only
    when its folder says so (its report step ran): a last checkpoint with nothing due
    (saved with its step's results, not the next one's) is continued, never called
    finished."""
    folder = Path(out)
    with _locked(folder):
        ctx = RunContext.open(folder, progress=progress)
        try:
            snapshot = checkpoint_state(ctx)
        except DamagedCheckpoints as damage:
            aside = _set_aside(ctx.run.checkpoints)
            ctx.run.log("checkpoints_damaged", reason=damage.problem, kept_as=aside.name)
            ctx.say(f"{damage}; kept it as {aside.name} and rebuilding the run from its "
                    "folder and the artifact cache")
            snapshot = None
        if snapshot is None:
            # Killed before the first checkpoint (or rebuilding): start from the top.
            ctx.run.log("run_resumed", at="start")
            return _drive(ctx, {"records": []})
        values, next_nodes, _ = snapshot
        if not next_nodes and _has_stopped(ctx):
            ctx.say(f"{folder} has finished ({values.get('stop_reason')}); nothing to resume")
            return values
        if not next_nodes:
            # The last checkpoint was saved with its step's results but not the one after
            # (a kill or a cut file): LangGraph continues from those results.
            ctx.say(f"{folder}: the run never finished (its last checkpoint was cut short); "
                    "continuing after the last step that finished")
        ctx.run.log("run_resumed", at=list(next_nodes), round=values.get("round"))
        if next_nodes:
            ctx.say(f"resuming {folder} at {', '.join(next_nodes)} "
                    f"(round {values.get('round', 0)})")
        return _drive(ctx, None)


def _has_stopped(ctx: RunContext) -> bool:
    """Whether the run went through its report step (the folder's word, not the DB's)."""
    return any(e.get("event") == "stopped" for e in ctx.run.read_events())


def _set_aside(database: Path) -> Path:
    """Move a damaged checkpoint database (and its WAL and shared-memory files) aside."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = database.with_name(f"{database.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = database.with_name(database.name + suffix)
        if part.exists():
            part.replace(aside.with_name(aside.name + suffix))
    return aside


def paused_card(state: dict[str, Any]) -> dict[str, Any] | None:
    """The approval card a run paused on (review mode), or None if it is not paused."""
    interrupts = state.get("__interrupt__") or []
    return card_of(interrupts[0].value) if interrupts else None


def approve(out: str | Path, decision: dict[str, Any], *, progress: bool = True,
            wait_s: float = 0.0) -> dict[str, Any]:
    """Answer the approval card a paused run waits on (see mosaic.loop.review for decisions),
    then run on until the next card or the end. Refused when the run is not paused.
    `wait_s`: how long to wait for another process answering the same run."""
    folder = Path(out)
    with _locked(folder, wait_s=wait_s):
        ctx = RunContext.open(folder, progress=progress)
        snapshot = checkpoint_state(ctx)
        if snapshot is None or "approve" not in snapshot[1] or not snapshot[2]:
            raise ConfigError(f"{folder} is not waiting for an approval "
                              f"(`mosaic status {folder}` says where it is)")
        return _drive(ctx, Command(resume=decision))


CHAT_WAIT_S = 600.0
"""How long a message to a paused run waits for other answers to the same card."""


def chat(out: str | Path, text: str, *,
         confirm: Callable[[list[str]], bool] | None = None) -> str:
    """One steering message; returns what happened.

    Notes and (for a run that is not paused) stop requests go to the run's inbox: queued,
    never lost, never waiting for the process driving the run. Rules are checked and kept
    for every later round; a run paused at approval takes them through its card (its
    action is validated again), after any answers other processes are giving it. Free text
    an LLM translated into rules is applied only if `confirm(commands)` says yes; otherwise
    the commands are named so the person can type them."""
    folder = Path(out)
    ctx = RunContext.open(folder, progress=False)
    snapshot = checkpoint_state(ctx)
    if snapshot is not None and not snapshot[1]:
        raise ConfigError(f"{folder} has finished; start a new run to steer")
    paused = snapshot is not None and bool(snapshot[2])
    steerings, how = interpret(text, origin="chat", settings=ctx.config.diagnoser,
                               objectives=objective_slices(ctx))
    said = [how] if how else []
    steerings, held = _confirmed(ctx, steerings, confirm)
    said += held
    inbox = Inbox(ctx.run)
    for steering in steerings:
        if steering.kind == "note" and steering.text:
            inbox.send(Message(kind="note", text=steering.text, origin="chat"))
            said.append("noted")
        elif steering.kind == "stop" and not paused:
            inbox.send(Message(kind="stop", text=steering.text, origin="chat"))
            said.append("the run stops after its current round")
    rules = [s for s in steerings if s.kind == "constraint"]
    for steering in rules:
        problem = ctx.add_constraint(steering.rule)
        if problem and not steering.proposed:  # a typed rule: say it failed
            raise ConfigError(problem)
        said.append(f"not used: {problem}" if problem else
                    f"added for every later round: {steering.rule.describe()}")
    answer = next((s.text for s in steerings if s.kind == "stop"), None) if paused else None
    if paused and rules and answer is None:
        answer = rules[0].text  # the card takes it: the action is validated again
    if answer is not None:
        try:
            state = approve(folder, {"kind": "message", "text": answer, "origin": "chat"},
                            progress=False, wait_s=CHAT_WAIT_S)
        except (ConfigError, RunBusy):  # another answer moved the run on: not paused now
            if answer.startswith("/stop"):
                inbox.send(Message(kind="stop", text=answer, origin="chat"))
                said.append("the run stops after its current round")
        else:
            card = paused_card(state)
            said.append("answered the approval card" + (
                f"; paused again: {card.get('last_answer')}"
                if card and card.get("last_answer") else ""))
    return "; ".join(said) or "nothing to do"


def _confirmed(ctx: RunContext, steerings: list[Steering],
               confirm: Callable[[list[str]], bool] | None) -> tuple[list[Steering], list[str]]:
    """The steerings to apply: every typed one, and an LLM's proposed rules only if they
    pass the checks a typed rule gets and the person confirms them; and what was held back."""
    proposed = [s for s in steerings if s.proposed]
    if not proposed:
        return steerings, []
    held, usable = [], []
    for steering in proposed:
        problem = ctx.constraint_problem(steering.rule)
        if problem:
            held.append(f"not used: {steering.text} ({problem})")
        else:
            usable.append(steering)
    if usable and not (confirm is not None and confirm([s.text for s in usable])):
        held.append("not applied: " + ", ".join(s.text for s in usable) + " (confirm with "
                    "`mosaic chat RUN --yes ...`, or type the commands)")
        usable = []
    return [*(s for s in steerings if not s.proposed), *usable], held


def checkpoint_state(ctx: RunContext, *, read_only: bool = False) -> Checkpoint | None:
    """The last checkpointed state, the nodes due next and the pending interrupts (the
    approval card a review-mode run waits on); None before the first checkpoint. A
    database that cannot be read raises DamagedCheckpoints."""
    if not ctx.run.checkpoints.is_file():
        return None
    try:
        with _compiled(ctx, read_only=read_only) as graph:
            snapshot = graph.get_state(_thread(ctx))
    except sqlite3.OperationalError:  # locked, cannot open, I/O: not damage; say it as is
        raise
    except sqlite3.DatabaseError as error:  # "file is not a database", "malformed", ...
        raise DamagedCheckpoints(ctx.run.checkpoints, f"{error}; `mosaic resume "
                                 f"{ctx.run.root}` rebuilds it from the run folder and "
                                 "the artifact cache") from None
    except Exception as error:  # a row that no longer decodes
        if type(error).__module__.split(".")[0] not in ("msgpack", "ormsgpack"):
            raise
        raise DamagedCheckpoints(ctx.run.checkpoints, f"a checkpoint does not decode "
                                 f"({type(error).__name__}); `mosaic resume {ctx.run.root}` "
                                 "rebuilds it") from None
    if not snapshot.values and not snapshot.next:
        return None
    return Checkpoint(dict(snapshot.values), tuple(snapshot.next),
                      [i.value for i in snapshot.interrupts])


def status(out: str | Path) -> str:
    """A run's progress as text: rounds so far, front, what runs now or comes next."""
    folder = Path(out)
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder} is not a mosaic run (no config.json)")
    ctx = RunContext.open(folder, progress=False)
    try:
        snapshot = checkpoint_state(ctx, read_only=True)
    except DamagedCheckpoints as damage:  # the run folder still says where the run is
        return f"{run_status(ctx.run.root, None, running=False)}\nwarning: {damage}"
    return run_status(ctx.run.root, snapshot, running=_is_running(folder))


def compare(out: str | Path, first: str, second: str = "base") -> str:
    """Round `first` minus round `second` of a run (numbers, `base`, `recommended`,
    `latest`, `previous`), per objective and slice, item by item with paired intervals."""
    folder = Path(out)
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder} is not a mosaic run (no config.json)")
    return comparison_text(folder, first, second)


def report(out: str | Path) -> tuple[Path, Path]:
    """Write (or rewrite) the run's report.md and report.html; works mid-run too."""
    folder = Path(out)
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder} is not a mosaic run (no config.json)")
    return write_report(folder)


def _is_running(folder: Path) -> bool:
    lock = folder / "run.lock"
    if not lock.is_file():
        return False
    with open(lock, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
