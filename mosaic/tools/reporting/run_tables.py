"""What the run report shows, as plain text: `RunView` (the report's inputs, loaded from a
run folder by the caller) and the `Table`s and lines built from it. Both renderers in
mosaic.tools.reporting.run_report share them; nothing here escapes or formats for a medium.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mosaic.schema import (
    Constraint,
    DataAction,
    EvalReport,
    JudgedSample,
    ObjectiveDelta,
    PairedDelta,
    RoundRecord,
)
from mosaic.tools.evaluation.report import metric_columns, metric_label, rate_cell
from mosaic.tools.reporting.svg_plots import fmt

REPLY_CHARS = 300
"""Replies in the examples are cut to this many characters."""


@dataclass(frozen=True)
class RunView:
    """Everything the run report shows, as loaded from a run folder."""

    run_id: str
    preset: str
    model: str
    objectives: list[str]
    """In order, e.g. ["xguard", "orbench", "ifeval"]."""
    budget: int
    """Token budget per round."""
    status: str
    """E.g. "finished: round limit (5 rounds)" or "running: round 3, train"."""
    records: list[RoundRecord]
    """Round order; round 0 is the base model (action None)."""
    front: list[int]
    """Round numbers on the Pareto front."""
    recommended: int | None
    reports: dict[int, EvalReport]
    """Round -> its eval report (for the per-slice tables and heatmap)."""
    examples: dict[str, list[JudgedSample]]
    """Objective -> a few lowest-scored samples of the recommended round."""
    constraints: list[Constraint]
    deltas: dict[int, dict[str, ObjectiveDelta]] = field(default_factory=dict)
    """Round -> objective -> that round minus the base model, item by item (paired)."""
    deltas_previous: dict[int, dict[str, ObjectiveDelta]] = field(default_factory=dict)
    """Round n -> objective -> round n minus round n-1 (from round 2 on), paired."""


@dataclass(frozen=True)
class Table:
    """Plain-text cells; `md_table` and `html_table` render (and escape) them."""

    header: list[str]
    rows: list[list[str]]
    marked: int | None = None
    """Index of a row to emphasise (the recommended round)."""


# ---------------------------------------------------------------------------------------
# The tables and facts both renderers show


def round_label(view: RunView, n: int) -> str:
    label = "base" if n == 0 else str(n)
    return f"{label} (recommended)" if n == view.recommended else label


def mean_ci(mean: float | None, ci: tuple[float, float] | None) -> str:
    """`2.35 [2.10, 2.60]`; the mean alone without a CI; "-" when nothing was scored."""
    if mean is None:
        return "-"
    return f"{fmt(mean)} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(mean)


def facts(view: RunView) -> list[tuple[str, str]]:
    return [("preset", view.preset), ("model", view.model),
            ("budget", f"{view.budget:,} tokens per round"), ("status", view.status),
            ("objectives", ", ".join(view.objectives) or "-"),
            ("rounds", str(len(view.records))),
            ("front", ", ".join(round_label(view, n) for n in view.front) or "-")]


def mixture_text(record: RoundRecord) -> str:
    """The round's shares, e.g. `xguard 0.39 / orbench 0.09 / ifeval 0.52`."""
    if record.action is None:
        return "- (the base model)"
    return " / ".join(f"{o} {share:.2f}" for o, share in record.action.ratios.items())


def means_table(view: RunView) -> Table:
    rows = [[round_label(view, r.round),
             *(mean_ci(r.means.get(o), r.ci.get(o)) for o in view.objectives),
             "yes" if r.round in view.front else "no", fmt(r.hypervolume, 3),
             mixture_text(r), r.diagnoser or "-"] for r in view.records]
    marked = next((i for i, r in enumerate(view.records) if r.round == view.recommended), None)
    return Table(["round", *view.objectives, "front", "hypervolume", "mixture", "diagnoser"],
                 rows, marked)


RESULT_TITLE = "Result: the recommended round against the base model"


def result_table(view: RunView) -> Table | None:
    """What a user wants first: per objective the base model's mean, the recommended
    round's, and the change item by item with its paired interval; None without one."""
    if view.recommended is None or view.recommended == 0:
        return None
    by_objective = view.deltas.get(view.recommended, {})
    base = next((r for r in view.records if r.round == 0), None)
    best = next((r for r in view.records if r.round == view.recommended), None)
    if base is None or best is None:
        return None
    rows = [[o, mean_ci(base.means.get(o), base.ci.get(o)),
             mean_ci(best.means.get(o), best.ci.get(o)),
             delta_cell(by_objective[o].delta if o in by_objective else None),
             str(by_objective[o].delta.n) if o in by_objective else "0"]
            for o in view.objectives]
    return Table(["objective", "base", f"round {view.recommended}", "change", "items paired"],
                 rows)


def _losses(view: RunView, number: int) -> list[str]:
    return [o for o, d in view.deltas.get(number, {}).items()
            if d.delta.significant and (d.delta.mean or 0) < 0]


def _passed_over_note(view: RunView) -> list[str]:
    """The front rounds whose worst mean beats the recommended round's but that lose an
    objective to the base model beyond noise (so they were passed over); nothing when the
    recommended round loses one too (then max-min decided among them all)."""
    if view.recommended is None or _losses(view, view.recommended):
        return []
    worst = {r.round: min((r.means.get(o) or 1.0) for o in view.objectives)
             for r in view.records}
    passed = [f"round {n} ({', '.join(_losses(view, n))})" for n in view.front
              if n != view.recommended and _losses(view, n)
              and worst.get(n, 0.0) > worst.get(view.recommended, 0.0)]
    return ([f"Not recommended although their worst objective is higher, because they "
             f"lose to the base model beyond noise: {'; '.join(passed)}."] if passed else [])


def result_lines(view: RunView) -> list[str]:
    """The verdict in words under the result table."""
    if view.recommended is None:
        return ["No round recommended yet."]
    note = _passed_over_note(view)
    if view.recommended == 0:
        return ["The recommended round is the base model: no trained round on the front "
                "beats it without losing an objective to it.", *note]
    by_objective = view.deltas.get(view.recommended, {})
    gains = [o for o, d in by_objective.items() if d.delta.significant
             and (d.delta.mean or 0) > 0]
    losses = [o for o, d in by_objective.items() if d.delta.significant
              and (d.delta.mean or 0) < 0]
    if not gains and not losses:
        return [f"No change of round {view.recommended} against the base model excludes "
                "zero: on these items it cannot be told from the base model.", *note]
    parts = ([f"better on {', '.join(gains)}"] if gains else []) + (
        [f"worse on {', '.join(losses)}"] if losses else [])
    return [f"Round {view.recommended} is " + " and ".join(parts)
            + " beyond noise (paired 95% interval).", *note]


DELTA_TITLE = "Change vs the base model, item by item (paired 95% interval; * excludes 0)"
PREVIOUS_TITLE = ("Change vs the previous round, from round 2, item by item (paired 95% "
                  "interval; * excludes 0)")
SLICE_DELTA_TITLE = ("Recommended round vs the base model, per slice (paired 95% interval; "
                     "* excludes 0)")


def delta_cell(d: PairedDelta | None) -> str:
    """`+0.20 [-0.05, +0.45]`, with ` *` when the interval excludes zero; "-" without data."""
    if d is None or d.mean is None:
        return "-"
    return (f"{d.mean:+.2f} [{d.ci_low:+.2f}, {d.ci_high:+.2f}]"
            + (" *" if d.significant else ""))


def delta_table(view: RunView, deltas: dict[int, dict[str, ObjectiveDelta]] | None = None
                ) -> Table | None:
    """Each trained round minus another evaluation (default: the base model) on the items
    both scored; None without data."""
    deltas = view.deltas if deltas is None else deltas
    if not deltas:
        return None
    rows = []
    for n, by_objective in sorted(deltas.items()):
        cells = [delta_cell(by_objective[o].delta if o in by_objective else None)
                 for o in view.objectives]
        rows.append([round_label(view, n), *cells, " / ".join(
            str(by_objective[o].delta.n) if o in by_objective else "0"
            for o in view.objectives)])
    marked = next((i for i, n in enumerate(sorted(deltas)) if n == view.recommended), None)
    return Table(["round", *view.objectives, "items paired"], rows, marked)


def slice_delta_table(view: RunView) -> Table | None:
    """The recommended round minus the base model on every slice; None when the recommended
    round is the base model or has no paired samples."""
    by_objective = view.deltas.get(view.recommended) if view.recommended else None
    if not by_objective:
        return None
    rows = [[objective, name, delta_cell(d), str(d.n)]
            for objective in view.objectives if objective in by_objective
            for name, d in by_objective[objective].slices.items()]
    return Table(["objective", "slice", "change", "items paired"], rows)


def _focus_text(action: DataAction, objective: str) -> str:
    plan = action.objectives.get(objective)
    if plan is None:
        return "-"
    parts = [f"{verb} {key}={values}" for verb, rules in
             (("include", plan.focus.include), ("exclude", plan.focus.exclude))
             for key, values in rules.items()]
    return "; ".join(parts) + f" (focus share {plan.focus_share:g})" if parts else "-"


def ratios_table(action: DataAction) -> Table:
    return Table(["objective", "share", "focus"],
                 [[o, fmt(share), _focus_text(action, o)] for o, share in action.ratios.items()])


def buckets_table(action: DataAction) -> Table:
    return Table(["objective", "bucket", "weight"],
                 [[o, bucket, fmt(weight)] for o, plan in action.objectives.items()
                  for bucket, weight in plan.bucket_weights.items()])


def evidence_table(action: DataAction) -> Table:
    return Table(["objective", "slice", "metric", "value", "note"],
                 [[e.objective, e.slice or "-", e.metric, fmt(e.value, 3), e.note or "-"]
                  for e in action.evidence])


def trained(view: RunView) -> list[RoundRecord]:
    """The rounds that trained on a mixture (all but the base model)."""
    return [r for r in view.records if r.round > 0]


def budget_table(view: RunView) -> Table:
    rows = []
    for r in trained(view):
        total, budget = sum(r.tokens_by_objective.values()), r.budget or view.budget
        used = f"{100 * total / budget:.1f}%" if budget else "-"
        rows.append([round_label(view, r.round),
                     *(f"{r.tokens_by_objective.get(o, 0):,}" for o in view.objectives),
                     f"{total:,}", f"{budget:,}", used])
    return Table(["round", *view.objectives, "total", "budget", "used"], rows)


def seconds_table(view: RunView) -> Table:
    steps = list(dict.fromkeys(step for r in view.records for step in r.seconds))
    rows = [[round_label(view, r.round),
             *(fmt(r.seconds[s], 1) if s in r.seconds else "-" for s in steps),
             fmt(sum(r.seconds.values()), 1)] for r in view.records]
    return Table(["round", *steps, "total s"], rows)


def slice_names(view: RunView, objective: str) -> list[str]:
    """The objective's slices over all rounds' reports, in order of first appearance."""
    names = (name for _, report in sorted(view.reports.items())
             if objective in report.objectives for name in report.objectives[objective].slices)
    return list(dict.fromkeys(names))


def slice_mean(view: RunView, n: int, objective: str, name: str) -> tuple[float | None, int]:
    """Mean and scored count of one slice in round `n` (None, 0 when not measured)."""
    report = view.reports.get(n)
    part = report.objectives.get(objective) if report else None
    stats = part.slices.get(name) if part else None
    return (stats.mean, stats.n) if stats else (None, 0)


def slice_table(view: RunView, objective: str) -> Table:
    rows = []
    for name in slice_names(view, objective):
        cells = []
        for r in view.records:
            mean, n = slice_mean(view, r.round, objective, name)
            cells.append("-" if mean is None else f"{fmt(mean)} (n={n})")
        rows.append([name, *cells])
    return Table(["slice", *(round_label(view, r.round) for r in view.records)], rows)


def notes(view: RunView) -> list[tuple[str, str]]:
    return [(round_label(view, r.round), note) for r in view.records for note in r.notes]


def example_objectives(view: RunView) -> list[str]:
    return [*(o for o in view.objectives if view.examples.get(o)),
            *(o for o in view.examples if o not in view.objectives and view.examples[o])]


def last_reply(sample: JudgedSample) -> str:
    """The final reply, cut to `REPLY_CHARS`."""
    text = sample.replies[-1] if sample.replies else ""
    if not text:
        return "(no reply)"
    return text if len(text) <= REPLY_CHARS else text[:REPLY_CHARS] + " […]"


def sample_line(sample: JudgedSample) -> str:
    """`id, slice S, score X` (or `unscored`) as plain text."""
    score = sample.response.score
    scored = "unscored" if score is None else f"score {fmt(score, 1)}"
    return f"{sample.id}, slice {sample.prompt.slice}, {scored}"


def recommended_action(view: RunView) -> tuple[str, DataAction | None]:
    """A sentence naming the recommended round and who proposed it, and its action."""
    record = next((r for r in view.records if r.round == view.recommended), None)
    if record is None:
        return "No round is recommended yet.", None
    head = f"Round {round_label(view, record.round)}"
    if record.action is None:
        return f"{head}: the base model, trained on nothing.", None
    return f"{head}, proposed by {record.diagnoser or 'unknown'}.", record.action


def constraint_lines(view: RunView) -> list[str]:
    return [f"{c.describe()} ({c.origin}{': ' + c.note if c.note else ''})"
            for c in view.constraints]



METRICS_TITLE = "Standard metrics per round (95% Wilson interval)"


def metrics_table(view: RunView) -> Table | None:
    """Each round's standard rates (attack success, refusal, over-refusal, IFEval
    accuracies) from its eval report; None when no report has any."""
    columns = metric_columns((view.reports[n] for n in sorted(view.reports)),
                             view.objectives)
    if not columns:
        return None
    rows = []
    for record in view.records:
        report = view.reports.get(record.round)
        parts = report.objectives if report else {}
        rows.append([round_label(view, record.round), *(
            rate_cell(parts[o].metrics.get(m) if o in parts else None) for o, m in columns)])
    marked = next((i for i, r in enumerate(view.records) if r.round == view.recommended), None)
    return Table(["round", *(metric_label(o, m) for o, m in columns)], rows, marked)


def comparison_tables(view: RunView) -> list[tuple[str, Table]]:
    tables = [(METRICS_TITLE, metrics_table(view)), (DELTA_TITLE, delta_table(view)),
              (PREVIOUS_TITLE, delta_table(view, view.deltas_previous)),
              (SLICE_DELTA_TITLE, slice_delta_table(view))]
    return [(title, table) for title, table in tables if table is not None]
