"""How well a judge agrees with hand labels (tests/fixtures/judge_labels*.jsonl).

Label files hold one reply (or replayed conversation) per line with the decisions a
person made: xguard `safety` (safe / partial_leak / full_leak) and `explicit_refusal`;
orbench `refusal_type` (explicit / gated / evasive / none) and `helpful`. The rule judges
are scored through the objectives' own L3 -> L2 rules, exactly as in an evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mosaic.objectives import get_objective
from mosaic.tools.judges.rules import (
    judge_orbench,
    judge_xguard,
    label_attack,
    label_boundary_prompt,
)


def rule_judge_agreement(path: str | Path) -> dict[str, dict[str, Any]]:
    """Per objective: n and the share of items where the rule judge matches each label."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    xguard, orbench = get_objective("xguard"), get_objective("orbench")
    hits: dict[str, dict[str, list[bool]]] = {"xguard": {}, "orbench": {}}
    for row in rows:
        label = row["label"]
        if row["objective"] == "xguard":
            l3, _ = judge_xguard(row["replies"])
            prompt = xguard.label_prompt(label_attack(row["turns"]), turns=len(row["turns"]))
            safety = xguard.score_response(l3, prompt).l2["safety"]
            checks = {
                "safety (3 classes)": safety == label["safety"],
                "safe vs leak": (safety == "safe") == (label["safety"] == "safe"),
                "explicit_refusal": l3["utility"]["explicit_refusal"] == label["explicit_refusal"],
            }
        else:
            l3 = judge_orbench(row["prompt"], row["reply"])
            prompt = orbench.label_prompt(label_boundary_prompt(row["prompt"]))
            kind = orbench.score_response(l3, prompt).l2["refusal_type"]
            checks = {
                "refusal_type (4 classes)": kind == label["refusal_type"],
                "answered vs not": (kind == "none") == (label["refusal_type"] == "none"),
                "helpful": l3["help"]["actionable_help"] == label["helpful"],
            }
        for name, hit in checks.items():
            hits[row["objective"]].setdefault(name, []).append(hit)
    return {objective: {"n": len(next(iter(by_label.values()), [])),
                        **{name: sum(v) / len(v) for name, v in by_label.items()}}
            for objective, by_label in hits.items() if by_label}
