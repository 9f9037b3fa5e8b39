"""The Python API of the loop, with the CLI's verbs: run, resume, status, report.

    from mosaic.api import run, resume
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mosaic.config import RunConfig
from mosaic.errors import ConfigError, MosaicError
from mosaic.run_context import RunContext
from mosaic.run_summary import comparison_text, run_status, write_report

__all__ = ["RunBusy", "approve", "chat", "checkpoint_state", "paused_card", "report",
           "resume", "run", "status"]


class RunBusy(MosaicError):
    """Another process is driving this run."""


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "run.lock", "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise RunBusy(f"{folder} is being run by another process "
                          f"(pid {handle.read().strip() or '?'}); `mosaic status {folder}` "
                          "shows its progress") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


@contextlib.contextmanager
def _compiled(ctx: RunContext) -> Iterator[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    from mosaic.graph import build_graph

    conn = sqlite3.connect(ctx.run.checkpoints, check_same_thread=False)
    try:
        yield build_graph().compile(checkpointer=SqliteSaver(conn))
    finally:
        conn.close()


def _thread(ctx: RunContext) -> dict[str, Any]:
    from mosaic.graph import THREAD_ID

    # Each round passes ~8 nodes; the default limit (25) would stop a 3-round run.
    return {"configurable": {"thread_id": THREAD_ID},
            "recursion_limit": 20 * (ctx.config.loop.rounds + 2)}


def _drive(ctx: RunContext, graph_input: dict[str, Any] | None) -> dict[str, Any]:
    with _compiled(ctx) as graph:
        # durability="sync": a node's checkpoint is on disk before the next node starts,
        # so a kill never loses a finished step's place in the loop.
        return graph.invoke(graph_input, _thread(ctx), context=ctx, durability="sync")


def run(config: RunConfig, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Start a new run in `out`: the base model's evaluation, then rounds until a stop rule
    fires. Returns the final graph state."""
    folder = Path(out)
    with _locked(folder):
        ctx = RunContext.create(config, folder, progress=progress)
        ctx.run.log("run_started", preset=config.preset, model=config.model)
        return _drive(ctx, {"records": []})


def resume(out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Continue the run in `out` from its last checkpoint (a finished run is left as is)."""
    folder = Path(out)
    with _locked(folder):
        ctx = RunContext.open(folder, progress=progress)
        snapshot = checkpoint_state(ctx)
        if snapshot is None:
            # Killed before the first checkpoint: nothing to continue, start from the top.
            ctx.run.log("run_resumed", at="start")
            return _drive(ctx, {"records": []})
        values, next_nodes, _ = snapshot
        if not next_nodes:
            ctx.say(f"{folder} has finished ({values.get('stop_reason')}); nothing to resume")
            return values
        ctx.run.log("run_resumed", at=list(next_nodes), round=values.get("round"))
        ctx.say(f"resuming {folder} at {', '.join(next_nodes)} "
                f"(round {values.get('round', 0)})")
        return _drive(ctx, None)


def paused_card(state: dict[str, Any]) -> dict[str, Any] | None:
    """The approval card a run paused on (review mode), or None if it is not paused."""
    interrupts = state.get("__interrupt__") or []
    return interrupts[0].value if interrupts else None


def approve(out: str | Path, decision: dict[str, Any], *, progress: bool = True
            ) -> dict[str, Any]:
    """Answer the approval card a paused run waits on (see mosaic.review for decisions),
    then run on until the next card or the end. Refused when the run is not paused."""
    from langgraph.types import Command

    folder = Path(out)
    with _locked(folder):
        ctx = RunContext.open(folder, progress=progress)
        snapshot = checkpoint_state(ctx)
        if snapshot is None or "approve" not in snapshot[1] or not snapshot[2]:
            raise ConfigError(f"{folder} is not waiting for an approval "
                              f"(`mosaic status {folder}` says where it is)")
        return _drive(ctx, Command(resume=decision))


def chat(out: str | Path, text: str) -> str:
    """One steering message. A run paused at approval resumes with it (never a second
    run); otherwise a rule is added for every later round, `/stop` asks the running loop to
    stop after its current round, and a note is kept. Returns what happened."""
    from mosaic.agents.steering import interpret
    from mosaic.review import objective_slices

    folder = Path(out)
    ctx = RunContext.open(folder, progress=False)
    snapshot = checkpoint_state(ctx)
    if snapshot is not None and not snapshot[1]:
        raise ConfigError(f"{folder} has finished; start a new run to steer")
    if snapshot is not None and snapshot[2] and not _is_running(folder):
        state = approve(folder, {"kind": "message", "text": text, "origin": "chat"})
        card = paused_card(state)
        return ("answered the approval card" + (f"; paused again: {card.get('last_answer')}"
                                                if card and card.get("last_answer") else ""))
    steerings, how = interpret(text, origin="chat", settings=ctx.config.diagnoser,
                               objectives=objective_slices(ctx))
    said = []
    for steering in steerings:
        if steering.kind == "constraint":
            problem = ctx.add_constraint(steering.constraint)
            if problem and text.strip().startswith("/"):  # a typed rule: say it failed
                raise ConfigError(problem)
            said.append(f"not used: {problem}" if problem else
                        f"added for every later round: {steering.constraint.describe()}")
        elif steering.kind == "stop":
            ctx.run.log("stop_requested", by="chat")
            said.append("the run stops after its current round")
        elif steering.text:
            ctx.run.log("note", text=steering.text)
            said.append("noted")
    return "; ".join([*said, *([how] if how else [])]) or "nothing to do"


def checkpoint_state(ctx: RunContext
                     ) -> tuple[dict[str, Any], tuple[str, ...], list[Any]] | None:
    """The last checkpointed state, the nodes due next and the pending interrupts (the
    approval card a review-mode run waits on); None before the first checkpoint."""
    if not ctx.run.checkpoints.is_file():
        return None
    with _compiled(ctx) as graph:
        snapshot = graph.get_state(_thread(ctx))
    if not snapshot.values and not snapshot.next:
        return None
    return dict(snapshot.values), tuple(snapshot.next), [i.value for i in snapshot.interrupts]


def status(out: str | Path) -> str:
    """A run's progress as text: rounds so far, front, what runs now or comes next."""
    folder = Path(out)
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder} is not a mosaic run (no config.json)")
    ctx = RunContext.open(folder, progress=False)
    return run_status(ctx.run.root, checkpoint_state(ctx), running=_is_running(folder))


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
