"""Eval reports: per objective the mean with a 95% interval (mosaic.stats: honest at small
n, never zero-width), counts, unscored samples,
a histogram, per-slice statistics with a reliability tier, and first-leak turns.

Means are plain means over *scored* samples (docs/reference.md §1.5); unscored samples are counted
beside them, never zero-filled. Reliability follows the reference's tiers: n < 10 low,
n < 30 medium, else high.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from mosaic.errors import MosaicError
from mosaic.objectives import Objective, get_objective
from mosaic.schema import (
    EvalReport,
    JudgedSample,
    ObjectiveReport,
    Rate,
    Reliability,
    SliceStats,
)
from mosaic.stats import mean_interval, rate_interval
from mosaic.store import write_json_atomic, write_text_atomic
from mosaic.tools.evaluation.generation import Decoding


def reliability(n: int) -> Reliability:
    return "low" if n < 10 else "medium" if n < 30 else "high"


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def objective_report(name: str, samples: Sequence[JudgedSample], *, seed: int = 0
                     ) -> ObjectiveReport:
    """Statistics of one objective's judged samples."""
    objective = get_objective(name)
    scored = [s for s in samples if s.scored]
    scores = [float(cast(float, s.response.score)) for s in scored]  # scored: score is set
    by_slice: dict[str, list[JudgedSample]] = defaultdict(list)
    for sample in samples:
        by_slice[sample.prompt.slice].append(sample)
    slices = {}
    for slice_name in [*objective.slices, *sorted(set(by_slice) - set(objective.slices))]:
        members = by_slice.get(slice_name, [])
        ok = [s for s in members if s.scored]
        values = [float(cast(float, s.response.score)) for s in ok]
        low, high = mean_interval(values, seed=seed)
        slices[slice_name] = SliceStats(
            slice=slice_name, n=len(ok), n_unscored=len(members) - len(ok), mean=_mean(values),
            ci_low=low, ci_high=high,
            fail_rate=round(sum(objective.is_failure(s.response) for s in ok) / len(ok), 4)
            if ok else None,
            reliability=reliability(len(ok)))
    low, high = mean_interval(scores, seed=seed)
    first_leaks = Counter(str(s.response.diag["first_leak_turn"]) for s in scored
                          if s.response.diag.get("first_leak_turn"))
    return ObjectiveReport(
        metrics=standard_metrics(objective, scored), objective=name, mean=_mean(scores),
        count=len(scored),
        n_unscored=len(samples) - len(scored), ci_low=low, ci_high=high,
        histogram={str(k): v for k, v in sorted(Counter(int(x) for x in scores).items())},
        slices=slices, first_leak_turn=dict(sorted(first_leaks.items(), key=lambda kv: int(kv[0]))))


def standard_metrics(objective: Objective, samples: Sequence[JudgedSample]) -> dict[str, Rate]:
    """The objective's standard rates over its scored samples, each with a Wilson interval."""
    rates = {}
    for metric, (hits, n) in objective.standard_metrics([s.response for s in samples]).items():
        low, high = rate_interval(hits, n)
        rates[metric] = Rate(hits=hits, n=n, value=round(hits / n, 4) if n else None,
                             ci_low=low, ci_high=high)
    return rates


def metric_label(objective: str, metric: str) -> str:
    """`xguard attack success`, `ifeval prompt strict`: a column header for a rate, with
    a down arrow where lower is better."""
    words = metric.removesuffix("_rate").removesuffix("_acc").replace("_level", "")
    arrow = " (lower better)" if metric in _lower_is_better(objective) else ""
    return f"{objective} {words.replace('_', ' ')}{arrow}"


def rate_cell(rate: Rate | None) -> str:
    """`40% [24, 58]` (percent, with the 95% interval); "-" where nothing was scored."""
    if rate is None or rate.value is None:
        return "-"
    assert rate.ci_low is not None and rate.ci_high is not None  # set with the value
    return f"{rate.value:.0%} [{rate.ci_low * 100:.0f}, {rate.ci_high * 100:.0f}]"


def metric_columns(reports: Iterable[EvalReport], objectives: Sequence[str] = ()
                   ) -> list[tuple[str, str]]:
    """Every (objective, metric) the reports hold: objectives in the order given (others
    after them), metrics as each objective defines them."""
    columns: dict[tuple[str, str], None] = {}
    for report in reports:
        for name, part in report.objectives.items():
            columns.update(dict.fromkeys((name, metric) for metric in part.metrics))
    order = {name: i for i, name in enumerate(objectives)}
    return sorted(columns, key=lambda c: order.get(c[0], len(order)))


def build_report(samples: Mapping[str, Sequence[JudgedSample]], *, model: str,
                 adapter: str | None, system_prompt: str | None, decoding: Decoding,
                 judge: str, seed: int = 0, provenance: Mapping[str, Any] | None = None
                 ) -> EvalReport:
    decoding_record = {**decoding.model_dump(), "judge": judge}
    return EvalReport(
        model=model, adapter=adapter, system_prompt=system_prompt, decoding=decoding_record,
        objectives={name: objective_report(name, s, seed=seed) for name, s in samples.items()},
        provenance=dict(provenance or {}),
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def markdown_summary(report: EvalReport) -> str:
    """A short human summary: objective means with CIs, then each objective's slices."""
    lines = [f"# Evaluation of `{report.model}`" + (f" + `{report.adapter}`"
                                                     if report.adapter else ""), "",
             f"System prompt: {report.system_prompt!r}. Judge: {report.decoding.get('judge')}.",
             "", "| objective | mean | 95% CI | scored | unscored |", "|---|---|---|---|---|"]
    for name, rep in report.objectives.items():
        ci = f"{rep.ci_low:.2f}-{rep.ci_high:.2f}" if rep.ci_low is not None else "-"
        mean = f"{rep.mean:.3f}" if rep.mean is not None else "-"
        lines.append(f"| {name} | {mean} | {ci} | {rep.count} | {rep.n_unscored} |")
    metrics = [(name, metric, rate) for name, rep in report.objectives.items()
               for metric, rate in rep.metrics.items()]
    if metrics:
        lines += ["", "| objective | standard metric | rate | 95% CI | of |",
                  "|---|---|---|---|---|"]
        for name, metric, rate in metrics:
            better = " (lower is better)" if metric in _lower_is_better(name) else ""
            value = "-" if rate.value is None else f"{rate.value:.1%}"
            ci = "-" if rate.ci_low is None else f"{rate.ci_low:.1%}-{rate.ci_high:.1%}"
            lines.append(f"| {name} | {metric}{better} | {value} | {ci} | {rate.n} |")
    for name, rep in report.objectives.items():
        lines += ["", f"## {name}", "", "| slice | n | mean | 95% CI | fail rate | reliability |",
                  "|---|---|---|---|---|---|"]
        for stats in rep.slices.values():
            if stats.n == 0 and stats.n_unscored == 0:
                continue
            mean = f"{stats.mean:.2f}" if stats.mean is not None else "-"
            ci = f"{stats.ci_low:.2f}-{stats.ci_high:.2f}" if stats.ci_low is not None else "-"
            fail = f"{stats.fail_rate:.0%}" if stats.fail_rate is not None else "-"
            lines.append(f"| {stats.slice} | {stats.n} | {mean} | {ci} | {fail} | "
                         f"{stats.reliability} |")
        if rep.first_leak_turn:
            turns = ", ".join(f"turn {t}: {n}" for t, n in rep.first_leak_turn.items())
            lines += ["", f"First leak: {turns}."]
    return "\n".join(lines) + "\n"


def _lower_is_better(name: str) -> tuple[str, ...]:
    try:
        return get_objective(name).lower_is_better
    except MosaicError:  # an objective no longer registered: no direction to show
        return ()


def write_eval_outputs(folder: Path, report: EvalReport,
                       samples: Mapping[str, Sequence[JudgedSample]]) -> None:
    """report.json, samples.jsonl (one L1-L3 record per sample) and summary.md, each atomic."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(s.model_dump(mode="json"), ensure_ascii=False)
             for group in samples.values() for s in group]
    write_text_atomic(folder / "samples.jsonl", "\n".join(lines) + ("\n" if lines else ""))
    write_text_atomic(folder / "summary.md", markdown_summary(report))
    write_json_atomic(folder / "report.json", report.model_dump(mode="json"))
