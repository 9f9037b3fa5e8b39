"""Review mode: a person approves, edits or rejects each action, or steers the run.

The graph's `approve` node pauses with LangGraph's `interrupt()` on an approval request
(`approval_request`): LangChain's human-in-the-loop shape, so Agent Inbox-style clients can
render it, with mosaic's own `ApprovalCard` under "card". It resumes with the person's
decision, in mosaic's form or as a human-in-the-loop response:

    {"kind": "approve"}                                 {"decisions": [{"type": "approve"}]}
    {"kind": "edit", "action": {...a DataAction...}}    {"decisions": [{"type": "edit",
                                                          "edited_action": {"name":
                                                          "data_action", "args": {...}}}]}
    {"kind": "reject", "feedback": "too much xguard"}   {"decisions": [{"type": "reject",
                                                          "message": "too much xguard"}]}
    {"kind": "message", "text": "/min-share orbench 0.2"}   {"decisions": [{"type":
                                                          "respond", "message": "..."}]}

An edit is validated again before it is accepted, a rejection goes back to the diagnoser
with its feedback, a message is steering (agents/steering.py). `apply_decision` turns a
decision into a state update; the graph's `after_approve` picks the next node from it. The
card is built from files only (cheap, no side effects), because the code before
`interrupt()` runs again when the node resumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from mosaic.agents.probes import planned_tokens, token_diff
from mosaic.agents.steering import SteeringError, interpret
from mosaic.loop.context import RunContext
from mosaic.loop.state import Checkpoint, LoopState
from mosaic.objectives import get_objective
from mosaic.schema import MAX_NOTE_CHARS, DataAction, Record, RoundRecord
from mosaic.tools.mixing.builder import action_hash
from mosaic.tools.mixing.validate import parse_action

DECISIONS = ("approve", "edit", "reject", "message")
ACTION_NAME = "data_action"
"""The name the approval request gives the action under review."""
ALLOWED_DECISIONS = ["approve", "edit", "reject", "respond"]


class _Decision(BaseModel):
    # Keys beyond a decision's own (a client's bookkeeping) are ignored, as they always were.
    model_config = ConfigDict(extra="ignore")

    card: str = ""
    """The id of the card answered (`card_id`); a stale id is refused, not applied."""

    @model_validator(mode="before")
    @classmethod
    def _as_before(cls, data: Any) -> Any:
        # Answers were read loosely before they were typed: a null card or origin meant
        # "not given", and a number as feedback or text was taken as its text.
        if not isinstance(data, Mapping):
            return data
        data = {k: v for k, v in data.items() if not (k in ("card", "origin") and v is None)}
        for key in ("feedback", "text"):
            if isinstance(data.get(key), int | float):
                data[key] = str(data[key])
        return data


class Approve(_Decision):
    kind: Literal["approve"] = "approve"


class Edit(_Decision):
    kind: Literal["edit"] = "edit"
    action: dict[str, Any] | str | None = None
    """The DataAction to use instead, as data or JSON text (validated like any other)."""


class Reject(_Decision):
    kind: Literal["reject"] = "reject"
    feedback: str | None = None
    """Why: kept as a note for the diagnoser."""


class Steer(_Decision):
    kind: Literal["message"] = "message"
    text: str | None = None
    """A steering command or free text (agents/steering.py)."""
    origin: str = "reviewer"
    """`chat` when `mosaic chat` sent it to a paused run."""


Decision = Annotated[Approve | Edit | Reject | Steer, Field(discriminator="kind")]
"""A reviewer's decision on one approval card."""
_DECISION: TypeAdapter[Approve | Edit | Reject | Steer] = TypeAdapter(Decision)


class ApprovalCard(Record):
    """What the reviewer sees: the action, its validation, what it changes, and why."""

    id: str
    """`round:action-hash`: which card an answer is for."""
    round: int
    diagnoser: str
    """Who proposed the action."""
    action: dict[str, Any]
    """The DataAction (`model_dump`)."""
    validation: dict[str, Any] | None = None
    """Its ValidationReport."""
    repairs: list[dict[str, Any]] = Field(default_factory=list)
    """What repair changed in it."""
    planned_tokens: dict[str, dict[str, int]]
    """Tokens per objective and bucket the action plans."""
    token_diff: dict[str, dict[str, int]] = Field(default_factory=dict)
    """The same, minus the previous round's action."""
    rationale: str = ""
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    """The rules in force, as sentences."""
    notes: list[str] = Field(default_factory=list)
    last_answer: str = ""
    """What came of the last answer to this card (a rule added, a problem), if any."""
    answers: str = ""
    """The answers the card takes."""
    # Defaults: a card written by an earlier version lacks the fields added since.


def objective_slices(ctx: RunContext) -> dict[str, list[str]]:
    """The run's objectives and their slices (what steering may name)."""
    return {name: list(get_objective(name).slices) for name in ctx.config.pools}


def card_id(state: Mapping[str, Any]) -> str:
    """Which card an answer is for: the round and the hash of the action shown."""
    return f"{state['round']}:{action_hash(DataAction.model_validate(state['action']))}"


def approval_card(ctx: RunContext, state: Mapping[str, Any]) -> dict[str, Any]:
    """The ApprovalCard for this round's action (as JSON data: it travels through the
    checkpoint and a LangGraph server): its validation report, the planned token diff
    against the previous round's action, the evidence, the Constraints and any note."""
    action = DataAction.model_validate(state["action"])
    records = [RoundRecord.model_validate(r) for r in state.get("records", [])]
    previous = next((r.action for r in reversed(records) if r.action is not None), None)
    budget = ctx.config.mixture.budget
    now = planned_tokens(action, budget)
    before = planned_tokens(previous, budget) if previous is not None else {}
    review = state.get("review") or {}
    return ApprovalCard(
        id=card_id(state),
        round=state["round"],
        diagnoser=state.get("diagnoser", ""),
        action=state["action"],
        validation=state.get("validation"),
        repairs=list(state.get("changes") or []),
        planned_tokens=now,
        token_diff=token_diff(now, before),
        rationale=action.rationale,
        evidence=[e.model_dump(mode="json") for e in action.evidence],
        constraints=[c.describe() for c in ctx.constraints],
        notes=list(state.get("notes", [])),
        last_answer=review.get("message", ""),
        answers="approve | edit (a new action) | reject (feedback) | message (/help)",
    ).model_dump(mode="json")


def approval_request(card: Mapping[str, Any]) -> dict[str, Any]:
    """What the graph pauses on: LangChain's human-in-the-loop request (one action request
    with its allowed decisions, described as text) with mosaic's card under "card"."""
    return {
        "action_requests": [{"name": ACTION_NAME, "args": dict(card["action"]),
                             "description": describe_card(card)}],
        "review_configs": [{"action_name": ACTION_NAME,
                            "allowed_decisions": list(ALLOWED_DECISIONS)}],
        "card": dict(card),
    }


def waiting_card(checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    """The approval card a checkpointed run is paused on, if it is."""
    return card_of(checkpoint.interrupts[0]) if checkpoint and checkpoint.interrupts else None


def card_of(request: Any) -> dict[str, Any] | None:
    """The card in what a paused run waits on (an approval request, or an older run's bare
    card)."""
    if not isinstance(request, Mapping):
        return None
    card = request.get("card", request)
    return dict(card) if isinstance(card, Mapping) and "action" in card else None


def describe_card(card: Mapping[str, Any]) -> str:
    """The card as text for a terminal or a log."""
    # Keys a client added to the card (or a later version wrote) are not shown.
    card = ApprovalCard.model_validate({k: v for k, v in card.items()
                                        if k in ApprovalCard.model_fields}
                                       ).model_dump(mode="json")
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
                   ) -> LoopState:
    """The state update a reviewer's decision makes (see the module docstring). A decision
    that cannot be used (bad shape, an edit that is not a DataAction, a malformed command)
    is answered on the next card, never applied half-way. Nothing may raise here: LangGraph
    keeps a resume value whose node failed, so a raising answer would be replayed forever."""
    try:
        return _apply(ctx, state, decision)
    except Exception as error:
        return _again(f"that answer could not be used ({type(error).__name__}: {error})")


def read_decision(value: Any) -> Approve | Edit | Reject | Steer | str:
    """The decision in a resume value (mosaic's form, or a human-in-the-loop response with
    one decision), or why it is not one."""
    if isinstance(value, Mapping) and "decisions" in value and "kind" not in value:
        value = _from_hitl(value["decisions"])
        if isinstance(value, str):
            return value
    if not isinstance(value, Mapping) or value.get("kind") not in DECISIONS:
        return (f"not a decision: {str(value)[:200]!r}; answer one of "
                f"{', '.join(DECISIONS)}")
    try:
        return _DECISION.validate_python(dict(value))
    except ValidationError as error:
        return f"not a decision: {error.errors()[0]['msg']} at {error.errors()[0]['loc']}"


def _from_hitl(decisions: Any) -> dict[str, Any] | str:
    """A human-in-the-loop response's one decision in mosaic's form."""
    if not isinstance(decisions, list) or len(decisions) != 1 \
            or not isinstance(decisions[0], Mapping):
        return ("a human-in-the-loop response must hold exactly one decision (the card has "
                f"one action request), not {str(decisions)[:200]!r}")
    decision = decisions[0]
    kind = decision.get("type")
    message = str(decision.get("message") or "")
    if kind == "approve":
        return {"kind": "approve"}
    if kind == "edit":
        edited = decision.get("edited_action")
        return {"kind": "edit", "action": edited.get("args") if isinstance(edited, Mapping)
                else None}
    if kind == "reject":
        return {"kind": "reject", "feedback": message}
    if kind == "respond":
        return {"kind": "message", "text": message}
    return (f"unknown decision type {kind!r}; the card allows "
            f"{', '.join(ALLOWED_DECISIONS)}")


def _apply(ctx: RunContext, state: Mapping[str, Any], answer: Any) -> LoopState:
    number = state["round"]
    decision = read_decision(answer)
    if isinstance(decision, str):
        return _again(decision)
    if decision.card and decision.card != card_id(state):
        return _again("the card changed before this answer arrived (another answer or a "
                      "new rule came first): nothing was applied; answer the card again")
    ctx.run.log("reviewed", round=number, decision=decision.kind)
    if isinstance(decision, Approve):
        return {"review": {"kind": "approve"}}
    if isinstance(decision, Edit):
        action, report = parse_action(decision.action or {})
        if action is None:
            return _again("the edited action is not a DataAction: " + report.describe())
        return {"action": action.model_dump(mode="json"), "diagnoser": "person",
                "review": {"kind": "edit"}}
    if isinstance(decision, Reject):
        feedback = (decision.feedback or "").strip()
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
    return _steer(ctx, state, decision.text or "",
                  "chat" if decision.origin == "chat" else "reviewer")


def _steer(ctx: RunContext, state: Mapping[str, Any], text: str, origin: Any
           ) -> LoopState:
    """A steering message on the card: rules are added (the action is validated again),
    notes kept, `/stop` ends the run; what cannot be used comes back on the card."""
    try:
        steerings, how = interpret(text, origin=origin, settings=ctx.config.diagnoser,
                                   objectives=objective_slices(ctx))
    except SteeringError as error:
        return _again(str(error))
    if any(s.kind == "stop" for s in steerings):
        return {"review": {"kind": "stop"}, "stop_reason": "stopped by a person"}
    said: list[str] = []
    problems: list[str] = []
    proposed = [s.text for s in steerings if s.proposed]
    if proposed:  # an LLM's reading of free text is shown, applied only once typed
        problems.append("not applied: " + ", ".join(proposed) + " (type the commands to "
                        "apply them)")
        steerings = [s for s in steerings if not s.proposed]
    for steering in steerings:
        if steering.kind == "constraint":
            problem = ctx.add_constraint(steering.rule)
            (problems if problem else said).append(
                problem or f"added: {steering.rule.describe()}")
    notes = [s.text for s in steerings if s.kind == "note" and s.text]
    message = "; ".join([*said, *problems, *([how] if how else []),
                         *([f"noted: {n}" for n in notes] if not said else [])])
    update: LoopState = {"notes": [*state.get("notes", []), *notes]} if notes else {}
    if said:
        return {**update, "review": {"kind": "constraint", "message": message}}
    if problems:
        return {**update, **_again(message)}
    return {**update, "review": {"kind": "note", "message": message}}


def _again(message: str) -> LoopState:
    return {"review": {"kind": "again", "message": message}}
