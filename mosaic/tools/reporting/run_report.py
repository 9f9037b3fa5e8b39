"""The report of a whole curation run: Markdown, and one self-contained HTML page.

`RunView` (mosaic.tools.reporting.run_tables) holds what the report shows, as loaded from a
run folder by the caller; `render_markdown` and `render_html` turn it into text and
`write_run_report` writes `report.md` and `report.html` atomically. Both renderers share the
same tables, built once as plain text (`Table`, in run_tables) and escaped here. The HTML
page has inline CSS and inline SVG plots only: no JavaScript, no fonts, nothing fetched.
Every string that comes from data, configs or models reaches the page through `esc`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from mosaic.store import write_text_atomic
from mosaic.tools.reporting.run_tables import (
    RESULT_TITLE,
    RunView,
    Table,
    buckets_table,
    budget_table,
    comparison_tables,
    constraint_lines,
    evidence_table,
    example_objectives,
    facts,
    last_reply,
    means_table,
    notes,
    ratios_table,
    recommended_action,
    result_lines,
    result_table,
    sample_line,
    seconds_table,
    slice_mean,
    slice_names,
    slice_table,
    trained,
)
from mosaic.tools.reporting.svg_plots import (
    Point,
    esc,
    front_plot,
    heatmap,
    line_plot,
    stacked_bars,
)

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
    for title, table in comparison_tables(view):
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
        *(_section(title, html_table(table)) for title, table in comparison_tables(view)),
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
