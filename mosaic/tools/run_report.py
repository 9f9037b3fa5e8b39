"""The report of a whole curation run: Markdown, and one self-contained HTML page.

`RunView` holds what the report shows, as loaded from a run folder by the caller;
`render_markdown` and `render_html` turn it into text and `write_run_report` writes
`report.md` and `report.html` atomically. Both renderers share the same tables, built once as
plain text (`Table`) and escaped by the renderer. The HTML page has inline CSS and inline SVG
plots only: no JavaScript, no fonts, nothing fetched. Every string that comes from data,
configs or models reaches the page through `esc`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mosaic.schema import (
    Constraint,
    DataAction,
    EvalReport,
    JudgedSample,
    ObjectiveDelta,
    PairedDelta,
    RoundRecord,
)
from mosaic.store import write_text_atomic
from mosaic.tools.svg_plots import Point, esc, fmt, front_plot, heatmap, line_plot, stacked_bars

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


def result_lines(view: RunView) -> list[str]:
    """The verdict in words under the result table."""
    if view.recommended is None:
        return ["No round recommended yet."]
    if view.recommended == 0:
        return ["The recommended round is the base model: no trained round was clearly "
                "better on the front."]
    by_objective = view.deltas.get(view.recommended, {})
    gains = [o for o, d in by_objective.items() if d.delta.significant
             and (d.delta.mean or 0) > 0]
    losses = [o for o, d in by_objective.items() if d.delta.significant
              and (d.delta.mean or 0) < 0]
    if not gains and not losses:
        return [f"No change of round {view.recommended} against the base model excludes "
                "zero: on these items it cannot be told from the base model."]
    parts = ([f"better on {', '.join(gains)}"] if gains else []) + (
        [f"worse on {', '.join(losses)}"] if losses else [])
    return [f"Round {view.recommended} is " + " and ".join(parts)
            + " beyond noise (paired 95% interval)."]


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


# ---------------------------------------------------------------------------------------
# Markdown


def md(text: str) -> str:
    """Inline Markdown text: one line, no raw HTML, no table-breaking pipes."""
    text = " ".join(str(text).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", r"\|")


def md_table(table: Table) -> list[str]:
    if not table.rows:
        return ["(none)"]
    lines = ["| " + " | ".join(md(h) for h in table.header) + " |",
             "|" + "---|" * len(table.header)]
    for i, row in enumerate(table.rows):
        cells = [md(c) for c in row]
        if i == table.marked:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def fenced(text: str) -> list[str]:
    """A code block whose fence is longer than any backtick run inside the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text, fence]


def _md_action(view: RunView) -> list[str]:
    head, action = recommended_action(view)
    if action is None:
        return [md(head)]
    lines = [md(head), "", "Ratios:", "", *md_table(ratios_table(action)), "",
             "Bucket weights:", "", *md_table(buckets_table(action)), "", "Rationale:", ""]
    lines += [f"> {md(line)}" for line in action.rationale.splitlines() or ["(none)"]]
    return [*lines, "", "Evidence:", "", *md_table(evidence_table(action))]


METRICS_TITLE = "Standard metrics per round (95% Wilson interval)"


def metrics_table(view: RunView) -> Table | None:
    """Each round's standard rates (attack success, refusal, over-refusal, IFEval
    accuracies) from its eval report; None when no report has any."""
    from mosaic.tools.report import metric_columns, metric_label, rate_cell

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


def _comparison_tables(view: RunView) -> list[tuple[str, Table]]:
    tables = [(METRICS_TITLE, metrics_table(view)), (DELTA_TITLE, delta_table(view)),
              (PREVIOUS_TITLE, delta_table(view, view.deltas_previous)),
              (SLICE_DELTA_TITLE, slice_delta_table(view))]
    return [(title, table) for title, table in tables if table is not None]


def _md_examples(view: RunView) -> list[str]:
    lines = []
    for objective in example_objectives(view):
        lines += [f"### {md(objective)}", ""]
        for sample in view.examples[objective]:
            lines += [f"- {md(sample_line(sample))}", "", *fenced(last_reply(sample)), ""]
    return lines[:-1] or ["No examples."]


def render_markdown(view: RunView) -> str:
    """The run report as Markdown."""
    lines = [f"# Run report: {md(view.run_id)}", ""]
    lines += [f"- {name}: {md(value)}" for name, value in facts(view)]
    if (result := result_table(view)) is not None:
        lines += ["", f"## {RESULT_TITLE}", "", *md_table(result)]
    lines += ["", *(md(line) for line in result_lines(view))]
    lines += ["", "## Objective means per round (95% CI)", "", *md_table(means_table(view)), ""]
    for title, table in _comparison_tables(view):
        lines += [f"## {title}", "", *md_table(table), ""]
    lines += ["## Recommended round", "", *_md_action(view), "", "## Constraints", ""]
    lines += [f"- {md(line)}" for line in constraint_lines(view)] or ["None."]
    lines += ["", "## Budget use (tokens)", "", *md_table(budget_table(view)), "",
              "## Wall time per round (seconds)", "", *md_table(seconds_table(view)), "",
              "## Slices (mean per slice per round)", ""]
    for objective in view.objectives:
        lines += [f"### {md(objective)}", "", *md_table(slice_table(view, objective)), ""]
    lines += ["## Lowest-scored examples of the recommended round", "", *_md_examples(view)]
    if notes(view):
        lines += ["", "## Notes", "", *(f"- round {md(n)}: {md(t)}" for n, t in notes(view))]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------
# HTML


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f4f4f4; } th:first-child, td:first-child { text-align: left; }
tr.marked td { background: #fff4e0; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: 600; } dd { margin: 0; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: .6em; white-space: pre-wrap;
      overflow-wrap: anywhere; }
blockquote { border-left: 3px solid #ccc; margin: .5em 0; padding: .1em 1em; color: #444; }
svg { max-width: 100%; height: auto; display: block; margin: .5em 0; }
.note { color: #666; font-style: italic; }
"""


def _keep_together(cell: str) -> str:
    """A value and its interval on one line: `32% [19, 49]` never breaks inside."""
    return re.sub(r" ?\[[^\]]*\]", lambda m: m.group(0).replace(" ", "&nbsp;"), cell)


def html_table(table: Table) -> str:
    if not table.rows:
        return '<p class="note">None.</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in table.header)
    marked = ' class="marked"'
    body = "".join(f"<tr{marked if i == table.marked else ''}>"
                   + "".join(f"<td>{_keep_together(esc(c))}</td>" for c in row) + "</tr>\n"
                   for i, row in enumerate(table.rows))
    return f"<table><thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>"


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _points(view: RunView, objective: str) -> list[Point]:
    found = []
    for r in view.records:
        low, high = r.ci.get(objective, (None, None))
        found.append(Point(r.means.get(objective), low, high))
    return found


def _front_svg(view: RunView) -> str:
    if len(view.objectives) < 2:
        return _note("The front plot needs two objectives or more; with one, the front is "
                     "the best round (see the table above).")
    points = {o: _points(view, o) for o in view.objectives}
    return front_plot(view.objectives, [r.round for r in view.records], points,
                      set(view.front), view.recommended)


def _means_svg(view: RunView) -> str:
    labels = ["base" if r.round == 0 else str(r.round) for r in view.records]
    return line_plot(labels, {o: _points(view, o) for o in view.objectives})


def _heatmap_svg(view: RunView) -> str:
    rows = [(o, s) for o in view.objectives for s in slice_names(view, o)]
    if not rows:
        return _note("No per-slice statistics in the rounds' reports.")
    values = [[slice_mean(view, r.round, o, s)[0] for r in view.records] for o, s in rows]
    columns = ["base" if r.round == 0 else str(r.round) for r in view.records]
    return heatmap([f"{o} / {s}" for o, s in rows], columns, values)


def _budget_svg(view: RunView) -> str:
    rounds = trained(view)
    if not rounds:
        return _note("No round has trained yet: nothing spent.")
    return stacked_bars([str(r.round) for r in rounds], view.objectives,
                        [r.tokens_by_objective for r in rounds],
                        [r.budget or view.budget for r in rounds])


def _html_action(view: RunView) -> str:
    head, action = recommended_action(view)
    if action is None:
        return f"<p>{esc(head)}</p>"
    rationale = "<br>\n".join(esc(line) for line in action.rationale.splitlines()) or "(none)"
    return "\n".join([
        f"<p>{esc(head)}</p>",
        "<h3>Ratios</h3>", html_table(ratios_table(action)),
        "<h3>Bucket weights</h3>", html_table(buckets_table(action)),
        "<h3>Rationale</h3>", f"<blockquote>{rationale}</blockquote>",
        "<h3>Evidence</h3>", html_table(evidence_table(action))])


def _html_examples(view: RunView) -> str:
    parts = []
    for objective in example_objectives(view):
        parts.append(f"<h3>{esc(objective)}</h3>")
        for sample in view.examples[objective]:
            parts.append(f"<p>{esc(sample_line(sample))}</p>\n"
                         f"<pre>{esc(last_reply(sample))}</pre>")
    return "\n".join(parts) or _note("No examples.")


def _list(items: Iterable[str]) -> str:
    """An escaped bullet list; empty text for no items."""
    html = "".join(f"<li>{esc(item)}</li>" for item in items)
    return f"<ul>{html}</ul>" if html else ""


def _section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{esc(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def render_html(view: RunView) -> str:
    """The run report as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    fact_list = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts(view))
    slices = [f"<h3>{esc(o)}</h3>\n{html_table(slice_table(view, o))}" for o in view.objectives]
    sections = [
        f"<h1>Run report: {esc(view.run_id)}</h1>\n<dl class=\"facts\">{fact_list}</dl>",
        _section(RESULT_TITLE, *([html_table(result)] if (result := result_table(view))
                                 is not None else []),
                 *(f"<p>{esc(line)}</p>" for line in result_lines(view))),
        _section("Pareto front", _front_svg(view)),
        _section("Objective means per round (95% CI)", html_table(means_table(view)),
                 _means_svg(view)),
        *(_section(title, html_table(table)) for title, table in _comparison_tables(view)),
        _section("Recommended round", _html_action(view)),
        _section("Constraints", _list(constraint_lines(view)) or _note("None.")),
        _section("Budget use (tokens)", html_table(budget_table(view)), _budget_svg(view)),
        _section("Wall time per round (seconds)", html_table(seconds_table(view))),
        _section("Slices (mean per slice per round)", _heatmap_svg(view), *slices),
        _section("Lowest-scored examples of the recommended round", _html_examples(view)),
    ]
    if notes(view):
        sections.append(_section("Notes", _list(f"round {n}: {t}" for n, t in notes(view))))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Run report: {esc(view.run_id)}</title>\n<style>{CSS}</style>\n</head>\n"
            "<body>\n" + "\n".join(sections) + "\n</body>\n</html>\n")


# ---------------------------------------------------------------------------------------
# Writing


def write_run_report(folder: Path, view: RunView) -> tuple[Path, Path]:
    """Write `report.md` and `report.html` into `folder`; returns both paths."""
    md_path, html_path = folder / "report.md", folder / "report.html"
    write_text_atomic(md_path, render_markdown(view))
    write_text_atomic(html_path, render_html(view))
    return md_path, html_path
