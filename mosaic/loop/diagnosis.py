"""The diagnose step of a round: who proposes the next action, and the trace of it.

    action, diagnoser = propose_action(ctx, records, rejected, notes)

The LLM diagnoser (`agents/diagnoser.py`) when an endpoint is configured, the offline
analyst otherwise and whenever the LLM gives no valid action. Every proposal leaves
`rounds/NNN/diagnosis.json`; a proposal for the same inputs is reused rather than asked for
again (a resumed run pays once and gets the same answer), and a replaced trace is kept as
`diagnosis.N.json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mosaic.agents.analyst import next_action, starting_action
from mosaic.agents.brief import build_brief
from mosaic.agents.diagnoser import diagnose, step_problems
from mosaic.agents.probes import Probes
from mosaic.loop.context import RunContext
from mosaic.loop.inbox import Inbox
from mosaic.loop.rounds import read_report, read_samples
from mosaic.prompting import template_hash
from mosaic.schema import DataAction, Problem, RoundRecord, ValidationReport
from mosaic.store import content_key, write_json_atomic
from mosaic.tools.mixing.action_schema import run_action_schema
from mosaic.tools.mixing.builder import action_hash
from mosaic.tools.mixing.validate import validate_action


def propose_action(ctx: RunContext, records: Sequence[RoundRecord],
                   rejected: Sequence[str] = (), notes: Sequence[str] = ()
                   ) -> tuple[DataAction, str]:
    """The next round's action and who proposed it: the LLM diagnoser when an endpoint is
    configured, else (and whenever the LLM gives no valid action) the offline analyst.
    `rejected` holds the hashes of actions a reviewer turned down (never proposed again),
    `notes` what people said. The round's diagnosis.json keeps the trace."""
    number = records[-1].round + 1
    path = ctx.run.round_dir(number) / "diagnosis.json"
    chat_notes = Inbox(ctx.run).notes()
    notes = [*notes, *(n for n in chat_notes if n not in notes)]

    def analyst() -> DataAction:
        return next_action(records, lambda r: read_samples(ctx.run, r), ctx.pools(),
                           ctx.config.mixture, ctx.constraints,
                           step=ctx.config.loop.step, avoid=rejected)

    if not ctx.config.diagnoser.base_url:
        action = analyst()
        _keep_earlier_trace(path, None)
        write_json_atomic(path, {"diagnoser": "analyst", "fallback": None,
                                 "action": action.model_dump(mode="json"),
                                 "rationale": action.rationale})
        return action, "analyst"
    answer, trace = _llm_action(ctx, records, number, rejected, notes)
    _keep_earlier_trace(path, trace["inputs"])
    label = trace["diagnoser"]
    if answer is not None:
        action = answer
    else:
        ctx.say(f"round {number}: the LLM diagnoser gave no valid action "
                f"({trace['fallback']}); the analyst proposes this round's action")
        ctx.run.log("diagnoser_fallback", round=number, reason=trace["fallback"])
        action = analyst()
        label = "analyst (fallback)"
        trace["fallback_action"] = action.model_dump(mode="json")
    write_json_atomic(path, trace)
    return action, label


def _llm_action(ctx: RunContext, records: Sequence[RoundRecord], number: int,
                rejected: Sequence[str], notes: Sequence[str]
                ) -> tuple[DataAction | None, dict[str, Any]]:
    """The LLM diagnoser's action for round `number` (or None and why, in the trace). A
    trace of the same inputs that ended in an action is reused: a resumed run does not ask
    (and pay) again, nor get a different answer."""
    current = records[-1]
    rules = ctx.constraints
    brief = build_brief(number, records, read_report(ctx, current.report_path),
                        budget=ctx.config.mixture.budget, step=ctx.config.loop.step,
                        constraints=rules, notes=notes, rejected=rejected)
    settings = ctx.config.diagnoser
    inputs = content_key(brief, settings.model_dump(mode="json"),
                         template_hash("diagnoser.j2"), sorted(rejected))
    pools = ctx.pools()
    seen = set(rejected)

    anchor = current.action or starting_action(pools, ctx.config.mixture)

    def check(action: DataAction) -> ValidationReport:
        report = validate_action(action, pools, ctx.config.mixture, rules)
        if settings.max_move is not None:
            report.problems += step_problems(action, anchor, settings.max_move)
        if action_hash(action) in seen:
            report.problems.append(Problem(
                code="rejected", path="", message="a reviewer rejected exactly this action "
                "this round: propose a different one"))
        return report

    earlier = _read_trace(ctx.run.round_dir(number) / "diagnosis.json")
    if earlier.get("inputs") == inputs and earlier.get("action") and not earlier.get(
            "fallback"):
        try:
            action = DataAction.model_validate(earlier["action"])
        except ValueError:  # an edited or damaged file: ask again
            action = None
        if action is not None and check(action).ok:  # pools or settings may have changed
            ctx.say(f"round {number}: reusing the LLM diagnoser's answer (diagnosis.json)")
            return action, earlier
    prompts = {name: {item.id: [m.content for m in item.messages if m.role == "user"]
                      for item in items} for name, items in ctx.eval_sets().items()}
    probes = Probes(read_samples(ctx.run, current.round), pools, ctx.config.mixture, rules,
                    current=current.action, rejected=frozenset(rejected), prompts=prompts,
                    example_chars=settings.example_chars, seed=ctx.config.eval.seed)
    ctx.say(f"round {number}: asking the LLM diagnoser ({settings.model})")
    diagnosis = diagnose(brief, probes, settings, check=check,
                         schema=run_action_schema(list(pools)))
    trace = {**diagnosis.trace, "inputs": inputs}
    return diagnosis.action, trace


def _read_trace(path: Path) -> dict[str, Any]:
    """A round's diagnosis.json, or {} when there is none or it cannot be read."""
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _keep_earlier_trace(path: Path, inputs: str | None) -> None:
    """Before a round's trace is replaced by a new diagnosis (after a rejection, a new
    rule or note), the earlier one is kept beside it as diagnosis.N.json."""
    if not path.is_file() or (inputs is not None and _read_trace(path).get("inputs") == inputs):
        return
    n = 1
    while (kept := path.with_name(f"diagnosis.{n}.json")).exists():
        n += 1
    path.rename(kept)
