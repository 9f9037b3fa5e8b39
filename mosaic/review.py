"""Review mode: a person approves, edits or rejects each action, or steers the run.

The graph's `approve` node shows an approval card (`approval_card`) through LangGraph's
`interrupt()` and resumes with the person's decision, one of:

    {"kind": "approve"}
    {"kind": "edit", "action": {...a DataAction...}}    re-validated before it is accepted
    {"kind": "reject", "feedback": "too much xguard"}   back to the diagnoser
    {"kind": "message", "text": "/min-share orbench 0.2"}   steering (agents/steering.py)

`apply_decision` turns a decision into a state update and `after_review` into the next
node. The card is built from files only (cheap, no side effects), because the code before
`interrupt()` runs again when the node resumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from mosaic.agents.steering import SteeringError, interpret
from mosaic.run_context import RunContext
from mosaic.schema import MAX_NOTE_CHARS, DataAction, RoundRecord
from mosaic.tools.mixture import action_hash
from mosaic.tools.probes import planned_tokens, token_diff

DECISIONS = ("approve", "edit", "reject", "message")


def objective_slices(ctx: RunContext) -> dict[str, list[str]]:
    """The run's objectives and their slices (what steering may name)."""
    from mosaic.objectives import get_objective

    return {name: list(get_objective(name).slices) for name in ctx.config.pools}


def card_id(state: Mapping[str, Any]) -> str:
    """Which card an answer is for: the round and the hash of the action shown."""
    return f"{state['round']}:{action_hash(DataAction.model_validate(state['action']))}"


def approval_card(ctx: RunContext, state: Mapping[str, Any]) -> dict[str, Any]:
    """What the reviewer sees: the action, its validation report, the planned token diff
    against the previous round's action, the evidence, the Constraints and any note."""
    action = DataAction.model_validate(state["action"])
    records = [RoundRecord.model_validate(r) for r in state.get("records", [])]
    previous = next((r.action for r in reversed(records) if r.action is not None), None)
    budget = ctx.config.mixture.budget
    now = planned_tokens(action, budget)
    before = planned_tokens(previous, budget) if previous is not None else {}
    review = state.get("review") or {}
    return {
        "id": card_id(state),
        "round": state["round"],
        "diagnoser": state.get("diagnoser", ""),
        "action": state["action"],
        "validation": state.get("validation"),
        "repairs": list(state.get("changes") or []),
        "planned_tokens": now,
        "token_diff": token_diff(now, before),
        "rationale": action.rationale,
        "evidence": [e.model_dump(mode="json") for e in action.evidence],
        "constraints": [c.describe() for c in ctx.constraints],
        "notes": list(state.get("notes", [])),
        "last_answer": review.get("message", ""),
        "answers": "approve | edit (a new action) | reject (feedback) | message (/help)",
    }


def describe_card(card: Mapping[str, Any]) -> str:
    """The card as text for a terminal or a log."""
    action = DataAction.model_validate(card["action"])
    lines = [f"round {card['round']}: action proposed by {card['diagnoser'] or '?'}",
             "  ratios: " + ", ".join(f"{n} {r:.3f}" for n, r in action.ratios.items())]
    for name, buckets in card["planned_tokens"].items():
        diff = card["token_diff"].get(name, {})
        lines.append(f"  {name:<8} {buckets['total']:>8,} tokens ({diff.get('total', 0):+,})  "
                     + ", ".join(f"{b} {t:,} ({diff.get(b, 0):+,})"
                                 for b, t in buckets.items() if b != "total"))
    validation = card.get("validation") or {}
    problems = validation.get("problems", [])
    lines.append("  validation: " + ("valid" if not problems else "; ".join(
        f"{p['severity']}: {p['path']}: {p['message']}" for p in problems)))
    for change in card.get("repairs", []):
        lines.append(f"  repaired: {change['path']}: {change.get('before')!r} -> "
                     f"{change.get('after')!r} ({change['reason']})")
    lines.append(f"  rationale: {card['rationale']}")
    if card["constraints"]:
        lines.append("  constraints: " + "; ".join(card["constraints"]))
    if card["notes"]:
        lines.append("  notes: " + "; ".join(card["notes"]))
    if card.get("last_answer"):
        lines.append(f"  ! {card['last_answer']}")
    return "\n".join(lines)


def apply_decision(ctx: RunContext, state: Mapping[str, Any], decision: Any
                   ) -> dict[str, Any]:
    """The state update a reviewer's decision makes (see the module docstring). A decision
    that cannot be used (bad shape, an edit that is not a DataAction, a malformed command)
    is answered on the next card, never applied half-way. Nothing may raise here: LangGraph
    keeps a resume value whose node failed, so a raising answer would be replayed forever."""
    try:
        return _apply(ctx, state, decision)
    except Exception as error:
        return _again(f"that answer could not be used ({type(error).__name__}: {error})")


def _apply(ctx: RunContext, state: Mapping[str, Any], decision: Any) -> dict[str, Any]:
    from mosaic.tools.validate import parse_action

    number = state["round"]
    if not isinstance(decision, Mapping) or decision.get("kind") not in DECISIONS:
        return _again(f"not a decision: {str(decision)[:200]!r}; answer one of "
                      f"{', '.join(DECISIONS)}")
    kind = decision["kind"]
    if decision.get("card") and decision["card"] != card_id(state):
        return _again("the card changed before this answer arrived (another answer or a "
                      "new rule came first): nothing was applied; answer the card again")
    ctx.run.log("reviewed", round=number, decision=kind)
    if kind == "approve":
        return {"review": {"kind": "approve"}}
    if kind == "edit":
        action, report = parse_action(decision.get("action") or {})
        if action is None:
            return _again("the edited action is not a DataAction: " + report.describe())
        return {"action": action.model_dump(mode="json"), "diagnoser": "person",
                "review": {"kind": "edit"}}
    if kind == "reject":
        feedback = str(decision.get("feedback") or "").strip()
        if len(feedback) > MAX_NOTE_CHARS:
            return _again(f"the feedback is {len(feedback):,} characters; the limit is "
                          f"{MAX_NOTE_CHARS:,}: nothing was applied")
        current = DataAction.model_validate(state["action"])
        return {"review": {"kind": "reject"},
                "rejected": [*state.get("rejected", []), action_hash(current)],
                "notes": [*state.get("notes", []),
                          f"round {number}: action rejected (ratios "
                          + ", ".join(f"{k} {v:.2f}" for k, v in current.ratios.items())
                          + f"): {feedback or '(no reason)'}"]}
    return _steer(ctx, state, str(decision.get("text") or ""),
                  "chat" if decision.get("origin") == "chat" else "reviewer")


def _steer(ctx: RunContext, state: Mapping[str, Any], text: str, origin: Any
           ) -> dict[str, Any]:
    """A steering message on the card: rules are added (the action is validated again),
    notes kept, `/stop` ends the run; what cannot be used comes back on the card."""
    try:
        steerings, how = interpret(text, origin=origin, settings=ctx.config.diagnoser,
                                   objectives=objective_slices(ctx))
    except SteeringError as error:
        return _again(str(error))
    if any(s.kind == "stop" for s in steerings):
        return {"review": {"kind": "stop"}, "stop_reason": "stopped by a person"}
    said, problems = [], []
    proposed = [s.text for s in steerings if s.proposed]
    if proposed:  # an LLM's reading of free text is shown, applied only once typed
        problems.append("not applied: " + ", ".join(proposed) + " (type the commands to "
                        "apply them)")
        steerings = [s for s in steerings if not s.proposed]
    for steering in steerings:
        if steering.kind == "constraint":
            problem = ctx.add_constraint(steering.constraint)
            (problems if problem else said).append(
                problem or f"added: {steering.constraint.describe()}")
    notes = [s.text for s in steerings if s.kind == "note" and s.text]
    message = "; ".join([*said, *problems, *([how] if how else []),
                         *([f"noted: {n}" for n in notes] if not said else [])])
    update: dict[str, Any] = {"notes": [*state.get("notes", []), *notes]} if notes else {}
    if said:
        return {**update, "review": {"kind": "constraint", "message": message}}
    if problems:
        return {**update, **_again(message)}
    return {**update, "review": {"kind": "note", "message": message}}


def _again(message: str) -> dict[str, Any]:
    return {"review": {"kind": "again", "message": message}}


def after_review(state: Mapping[str, Any]
                 ) -> Literal["build_mixture", "validate", "diagnose", "approve", "report"]:
    """Where a decision leads: approve -> build; edit or a new rule -> validate again (the
    card is shown again with the new report); reject -> diagnose; stop -> report; a note or
    an unusable answer -> the card again."""
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
