"""The brief: everything the LLM diagnoser is told about the search, as plain data for
`prompts/diagnoser.j2`.

Docs/reference.md §3.4 lists what the paper's agent never saw: the plan that produced the current
scores (it was shown the one before), its own earlier rationale, a target that fits the
scores. Here it sees the archive, the current AND previous actions with the changes between
them, the latest evaluation per slice, every Constraint and the people's notes. Earlier
rationales are left out on purpose: they were written after reading untrusted eval text, so
they could carry an injected instruction into the next round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mosaic.objectives import get_objective
from mosaic.schema import Constraint, EvalReport, RoundRecord
from mosaic.tools.evaluation.paired import records_delta
from mosaic.tools.evaluation.pareto import front, recommend


def build_brief(round_number: int, records: Sequence[RoundRecord], report: EvalReport,
                *, budget: int, step: float, constraints: Sequence[Constraint] = (),
                notes: Sequence[str] = (), rejected: Sequence[str] = ()) -> dict[str, Any]:
    """Plain data for the prompt: the objectives, the archive, the current and previous
    actions with the deltas between them, the latest evaluation per slice, every
    Constraint, the people's notes."""
    names = list(report.objectives)
    on_front = {r.round for r in front(records, names)}
    best = recommend(records, names)

    def scores(record: RoundRecord) -> dict[str, str]:
        out = {}
        for name in names:
            mean, ci = record.means.get(name), record.ci.get(name)
            out[name] = ("n/a" if mean is None else f"{mean:.3f}" + (
                f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""))
        return out

    def described(record: RoundRecord | None) -> dict[str, Any] | None:
        if record is None:
            return None
        return {"round": record.round, "action": "none: the base model as it is"
                if record.action is None else record.action.model_dump_json(
                    exclude={"evidence", "rationale"}, exclude_defaults=True)}

    base = next((r for r in records if r.round == 0), None)

    def versus_base(record: RoundRecord) -> str:
        """Round minus the base model item by item, with the paired 95% interval."""
        if base is None or record.round == 0:
            return "-"
        parts = []
        for name in names:
            d = records_delta(record, base, name)
            parts.append(f"{name} n/a" if d is None or d.mean is None else
                         f"{name} {d.mean:+.2f} [{d.ci_low:+.2f}, {d.ci_high:+.2f}]"
                         + (" (beyond noise)" if d.significant else ""))
        return ", ".join(parts)

    current = records[-1] if records else None
    previous = records[-2] if len(records) > 1 else None
    deltas = {}
    if current is not None and previous is not None:
        ratios_now = current.action.ratios if current.action else {}
        ratios_before = previous.action.ratios if previous.action else {}
        deltas = {
            "ratios": ", ".join(f"{n} {ratios_now.get(n, 0) - ratios_before.get(n, 0):+.2f}"
                                for n in names) if ratios_before or ratios_now else "n/a",
            "scores": ", ".join(
                f"{n} {now - before:+.3f}"
                if (now := current.means.get(n)) is not None
                and (before := previous.means.get(n)) is not None
                else f"{n} n/a" for n in names)}
    return {
        "round": round_number, "budget": budget, "step": step,
        "objective_names": names,
        "objectives": [{"name": n, "description": get_objective(n).description,
                        "slices": list(get_objective(n).slices),
                        "failure_rule": get_objective(n).failure_rule} for n in names],
        "archive": [{"round": r.round, "scores": scores(r), "vs_base": versus_base(r),
                     "front": ("yes" if r.round in on_front else
                               "no (breaks " + "; ".join(r.breaches) + ")" if r.breaches
                               else "no"),
                     "diagnoser": r.diagnoser or "-",
                     "ratios": (", ".join(f"{k}={v:.2f}" for k, v in r.action.ratios.items())
                                if r.action else "base model")} for r in records],
        "recommended": f"round {best.round}" if best is not None else "none (floors broken)",
        "current": described(current), "previous": described(previous), "deltas": deltas,
        "evaluated_round": current.round if current is not None else 0,
        "overview": [{
            "name": n, "mean": _num(o.mean), "ci": f"{_num(o.ci_low)}, {_num(o.ci_high)}",
            "count": o.count, "unscored": o.n_unscored,
            "slices": [{"slice": s.slice, "mean": s.mean, "n": s.n,
                        "ci": f"{_num(s.ci_low)}, {_num(s.ci_high)}",
                        "fail_rate": _num(s.fail_rate), "reliability": s.reliability}
                       for s in o.slices.values()]} for n, o in report.objectives.items()],
        "constraints": [c.describe() for c in constraints],
        "notes": list(notes), "rejected": list(rejected),
    }


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
