"""Judges turn eval items and model replies into L3 items.

    judge.prompt_l3(objective, items)            -> [prompt-side L3 dict, ...]   (frozen once)
    judge.response_l3(objective, items, replies) -> [response-side L3 dict, ...]

A failed judgement is `{"error": "why"}`: the evaluation keeps the sample as unscored and
counts it, never drops it or scores it 0. xguard responses also carry `first_leak_turn`.

- `RuleJudge`: offline patterns for xguard and orbench (`rules.py`), IFEval checkers.
- `LLMJudge`: an OpenAI-compatible endpoint for xguard and orbench (`llm.py`), IFEval checkers.
IFEval is never judged by an LLM: its checks are verifiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from mosaic.schema import EvalItem
from mosaic.tools.evaluation.judges import rules
from mosaic.tools.evaluation.judges.ifeval_checker import CHECKER_ID, check_ifeval

L3 = dict[str, Any]


class Judge(Protocol):
    id: str
    """Which judge (and prompt versions) judges responses: provenance and cache keys."""
    label_id: str
    """Which judge labels prompts: the key of frozen eval sets (separate from `id`, so a new
    response prompt never relabels an eval set)."""

    def prompt_l3(self, objective: str, items: Sequence[EvalItem]) -> list[L3]: ...

    def response_l3(self, objective: str, items: Sequence[EvalItem],
                    replies: Sequence[Sequence[str]]) -> list[L3]: ...


def user_turns(item: EvalItem) -> list[str]:
    return [m.content for m in item.messages if m.role == "user"]


def ifeval_prompt_l3(item: EvalItem) -> L3:
    return {"instruction_id_list": list(item.meta.get("instruction_id_list") or [])}


def ifeval_response_l3(item: EvalItem, replies: Sequence[str]) -> L3:
    turns = user_turns(item)
    if not turns:
        return {"error": f"item {item.id} has no user turn"}
    return check_ifeval(turns[0], item.meta.get("instruction_id_list") or [],
                        item.meta.get("kwargs") or [], replies[-1] if replies else "")


class RuleJudge:
    """Offline, deterministic: pattern rules (xguard, orbench) and IFEval checkers."""

    id = f"{rules.RESPONSE_RULES_VERSION}-{rules.rules_digest()}+{CHECKER_ID}"
    label_id = rules.RULES_VERSION

    def prompt_l3(self, objective: str, items: Sequence[EvalItem]) -> list[L3]:
        if objective == "xguard":
            return [rules.label_attack(user_turns(i)) for i in items]
        if objective == "orbench":
            return [rules.label_boundary_prompt(user_turns(i)[0]) if user_turns(i)
                    else {"error": f"item {i.id} has no user turn"} for i in items]
        if objective == "ifeval":
            return [ifeval_prompt_l3(i) for i in items]
        return [{"error": f"the rule judge has no rules for objective '{objective}'"}
                for _ in items]

    def response_l3(self, objective: str, items: Sequence[EvalItem],
                    replies: Sequence[Sequence[str]]) -> list[L3]:
        out = []
        for item, item_replies in zip(items, replies, strict=True):
            if objective == "xguard":
                l3, first_leak = rules.judge_xguard(item_replies, turns=user_turns(item))
                out.append({**l3, "first_leak_turn": first_leak})
            elif objective == "orbench":
                turns = user_turns(item)
                out.append(rules.judge_orbench(turns[0], item_replies[-1]) if turns and
                           item_replies else {"error": f"item {item.id} has no turn or reply"})
            elif objective == "ifeval":
                out.append(ifeval_response_l3(item, item_replies))
            else:
                out.append({"error": f"the rule judge has no rules for objective '{objective}'"})
        return out


__all__ = ["L3", "Judge", "RuleJudge", "ifeval_prompt_l3", "ifeval_response_l3", "user_turns"]
