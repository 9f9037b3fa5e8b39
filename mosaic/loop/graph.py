"""The MOSAIC loop as a LangGraph state machine (docs/reference.md §4.3).

    baseline_eval -> update_archive -> diagnose -> validate -> approve -> build_mixture
                          ^                                                   |
                          |                                                   v
                          +------------- evaluate <------------- train <------+
    update_archive -> report (when a stop rule fires)
    approve -> validate | diagnose | approve | report  (review mode: edit or new rule,
                                                         reject, note, stop)

Nodes are thin: each calls one plain function of `rounds` (`diagnosis` for the diagnose
step, `review` for a reviewer's decision) and returns a partial state update. State
(mosaic.loop.state) is small plain data; the context passed with each invocation is a
`LoopContext` naming the run folder, from which the process opens the run's heavy objects
once (`run_context`). So the graph runs the same under mosaic's driver (SQLite checkpoints
in the run folder; a killed run resumes at the node it was in, and that node's finished
work is found in the artifact cache) and under a LangGraph server (`langgraph.json`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal, Protocol

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from mosaic.loop import diagnosis, review, rounds
from mosaic.loop.context import LoopContext, RunContext, run_context
from mosaic.loop.state import LoopState
from mosaic.loop.summary import write_report
from mosaic.redact import redact_value
from mosaic.schema import Constraint, DataAction, RoundRecord

THREAD_ID = "mosaic-run"
"""One thread per run: each run folder has its own checkpoint database."""

LoopGraph = CompiledStateGraph[LoopState, LoopContext, LoopState, LoopState]
"""The compiled loop. Its context is a LoopContext (what a server sends); code in the same
process may pass the RunContext itself."""


def _records(state: LoopState) -> list[RoundRecord]:
    return [RoundRecord.model_validate(r) for r in state.get("records", [])]


def _action(state: LoopState) -> DataAction:
    return DataAction.model_validate(state["action"])


def _rules(state: LoopState) -> list[Constraint] | None:
    """The Constraints this round's action was validated against (the builder's rules)."""
    return [Constraint.model_validate(r) for r in state["rules"]] if "rules" in state else None


def _mixture_again(state: LoopState, ctx: RunContext) -> Callable[[], str]:
    """Builds this round's mixture again (when the cache lost it), returning its key."""
    return lambda: rounds.make_mixture(ctx, state["round"], _action(state), _rules(state))


# -- nodes


def baseline_eval(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    return {"round": 0, "started_at": rounds.now(), "action": None, "diagnoser": "",
            "mixture_key": None, "adapter_key": None,
            "report_path": rounds.evaluate_round(ctx, 0, adapter=None)}


def diagnose(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    records = _records(state)
    number = records[-1].round + 1
    finished = rounds.finished_record(ctx, number)
    if finished is not None and finished.action is not None:
        # A run rebuilt after its checkpoints were lost: the round keeps the action it had.
        action, diagnoser = finished.action, finished.diagnoser
    else:
        with ctx.step("diagnose", number):
            action, diagnoser = diagnosis.propose_action(ctx, records,
                                                         state.get("rejected", []),
                                                         state.get("notes", []))
    return {"round": number, "started_at": rounds.now(), "diagnoser": diagnoser,
            "action": action.model_dump(mode="json"), "validation": None, "review": None,
            "mixture_key": None, "adapter_key": None, "report_path": None}


def validate(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    rules = ctx.constraints
    if rounds.finished_record(ctx, state["round"]) is not None:
        # Replaying a round finished before a rebuild: under the rules it had then, so it
        # gets the same action, mixture and adapter (found in the cache).
        recorded = rounds.recorded_rules(ctx, state["round"])
        rules = rules if recorded is None else recorded
    action, report, changes = rounds.check_action(ctx, state["round"], _action(state), rules)
    return {"action": action.model_dump(mode="json"),
            "validation": report.model_dump(mode="json"), "changes": changes,
            "rules": [r.model_dump(mode="json") for r in rules]}


def approve(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    if not ctx.config.loop.review:
        ctx.run.log("approved", round=state["round"], by="autonomous")
        return {"review": {"kind": "approve"}}
    if rounds.finished_record(ctx, state["round"]) is not None:  # approved before a rebuild
        return {"review": {"kind": "approve"}}
    # Everything above interrupt() runs again on resume: cheap reads of files only.
    if rounds.stop_requested(ctx):  # a /stop sent while this round was being diagnosed
        return {"review": {"kind": "stop"}, "stop_reason": "stopped by a person"}
    answer = interrupt(redact_value(review.approval_request(review.approval_card(ctx, state))))
    return review.apply_decision(ctx, state, answer)


def build_mixture(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    return {"mixture_key": rounds.make_mixture(ctx, state["round"], _action(state),
                                               _rules(state))}


def _mixture(state: LoopState) -> str:
    key = state.get("mixture_key")
    assert key is not None, "build_mixture runs before train and evaluate"
    return key


def train(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    return {"adapter_key": rounds.train_adapter(ctx, state["round"], _mixture(state),
                                                _mixture_again(state, ctx))}


def evaluate(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)

    def adapter_again() -> str:  # trains this round's adapter again (when the cache lost it)
        return rounds.train_adapter(ctx, state["round"], _mixture(state),
                                    _mixture_again(state, ctx))

    return {"report_path": rounds.evaluate_round(ctx, state["round"],
                                                 adapter=state["adapter_key"],
                                                 rebuild_adapter=adapter_again)}


def update_archive(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    records = rounds.with_floors(ctx, _records(state))
    record = rounds.record_round(
        ctx, records, state["round"], report_path=state["report_path"],
        action=_action(state) if state.get("action") else None,
        diagnoser=state.get("diagnoser", ""), mixture=state.get("mixture_key"),
        adapter=state.get("adapter_key"), started_at=state.get("started_at", ""))
    records.append(record)
    return {"records": [r.model_dump(mode="json") for r in records],
            "stop_reason": rounds.stop_reason(ctx, records)}


def report(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
    ctx = run_context(runtime.context)
    ctx.run.log("stopped", reason=state.get("stop_reason"))
    write_report(ctx.run.root)
    return {}


# -- edges


def after_archive(state: LoopState) -> Literal["diagnose", "report"]:
    return "report" if state.get("stop_reason") else "diagnose"


def after_approve(state: LoopState
                  ) -> Literal["build_mixture", "validate", "diagnose", "approve", "report"]:
    """Where a reviewer's decision leads: approve -> build; edit or a new rule -> validate
    again (the card is shown again with the new report); reject -> diagnose; stop -> report;
    a note or an unusable answer -> the card again."""
    kind = (state.get("review") or {}).get("kind", "approve")
    if kind == "approve":
        return "build_mixture"
    if kind in ("edit", "constraint"):
        return "validate"
    if kind == "reject":
        return "diagnose"
    if kind == "stop":
        return "report"
    return "approve"


class Node(Protocol):
    """A node of the loop: the state in, a partial update out."""

    def __call__(self, state: LoopState, runtime: Runtime[LoopContext]) -> LoopState: ...


def _masked(node: Node) -> Node:
    """`node` with keys masked in the update it returns: state holds free text (notes, a
    reviewer's feedback, an LLM's explanation), and a LangGraph server checkpoints it with
    its own serializer, not the driver's masking one."""
    @functools.wraps(node)  # keeps the signature LangGraph reads to pass `runtime`
    def run(state: LoopState, runtime: Runtime[LoopContext]) -> LoopState:
        return redact_value(node(state, runtime))

    return run


def build_graph() -> StateGraph[LoopState, LoopContext, LoopState, LoopState]:
    builder = StateGraph(LoopState, context_schema=LoopContext)
    for node in (baseline_eval, diagnose, validate, approve, build_mixture, train, evaluate,
                 update_archive, report):
        builder.add_node(node.__name__, _masked(node))
    builder.add_edge(START, "baseline_eval")
    builder.add_edge("baseline_eval", "update_archive")
    builder.add_conditional_edges("update_archive", after_archive)
    builder.add_edge("diagnose", "validate")
    builder.add_edge("validate", "approve")
    builder.add_conditional_edges("approve", after_approve)
    builder.add_edge("build_mixture", "train")
    builder.add_edge("train", "evaluate")
    builder.add_edge("evaluate", "update_archive")
    builder.add_edge("report", END)
    return builder


graph: LoopGraph = build_graph().compile()
"""The compiled graph a LangGraph server serves (`langgraph.json`; the server brings its
own checkpointer). mosaic's driver compiles it with the run folder's SQLite checkpointer."""
