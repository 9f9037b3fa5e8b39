"""The run report: escaped, self-contained HTML with four plots, and Markdown that holds up."""

from __future__ import annotations

import re
from dataclasses import replace

from mosaic.schema import (
    Constraint,
    DataAction,
    EvalReport,
    Evidence,
    JudgedSample,
    ObjectivePlan,
    ObjectiveReport,
    PromptChannel,
    ResponseChannel,
    RoundRecord,
    SliceStats,
)
from mosaic.tools.reporting.run_report import (
    RunView,
    render_html,
    render_markdown,
    write_run_report,
)

SCRIPT = "<script>alert(1)</script>"
ODD = 'odd<b>&"'
"""An objective name and a slice name that would break HTML if written raw."""
OBJ = ["xguard", "orbench", ODD]
MEANS = {0: [2.5, 4.0, 3.0], 1: [3.25, 3.9, 3.1], 2: [3.8, 3.7, 3.4]}


def report(n: int) -> EvalReport:
    parts = {}
    for o, m in zip(OBJ, MEANS[n], strict=True):
        slices = {s: SliceStats(slice=s, n=12, mean=m - 0.5 + i, ci_low=m - 1, ci_high=m)
                  for i, s in enumerate(["level_1", ODD])}
        parts[o] = ObjectiveReport(objective=o, mean=m, count=24, ci_low=m - 0.2,
                                   ci_high=m + 0.2, slices=slices)
    return EvalReport(model="tiny", objectives=parts)


def record(n: int, means: list[float | None], objectives: list[str] = OBJ) -> RoundRecord:
    action = None if n == 0 else DataAction(
        ratios={"xguard": 0.5, "orbench": 0.3, ODD: 0.2},
        objectives={"xguard": ObjectivePlan(bucket_weights={"level_1": 0.7, ODD: 0.3})},
        rationale=f"xguard leaks at level 1. {SCRIPT}",
        evidence=[Evidence(objective="xguard", slice="level_1", metric="mean", value=2.1)])
    return RoundRecord(
        round=n, action=action, diagnoser="" if n == 0 else "analyst",
        means=dict(zip(objectives, means, strict=True)),
        ci={o: (m - 0.2, m + 0.2) for o, m in zip(objectives, means, strict=True)
            if m is not None},
        hypervolume=1.5 + n, budget=None if n == 0 else 10_000,
        tokens_by_objective={} if n == 0 else {"xguard": 5_000, "orbench": 3_000, ODD: 1_900},
        seconds={"eval": 60.0} if n == 0 else {"train": 120.0, "eval": 60.5},
        notes=[f"note {SCRIPT}"] if n == 2 else [])


def sample(reply: str, score: float | None = 1.0) -> JudgedSample:
    response = (ResponseChannel(score=score) if score is not None
                else ResponseChannel(score=None, error="judge failed"))
    return JudgedSample(id="xg-7", objective="xguard", prompt=PromptChannel(slice=ODD, weight=1),
                        response=response, replies=["first turn", reply])


def view(**changes) -> RunView:
    base = RunView(
        run_id="run-1", preset="demo", model="smollm2-135m-instruct", objectives=OBJ,
        budget=10_000, status="finished: round limit (2 rounds)",
        records=[record(n, MEANS[n]) for n in sorted(MEANS)], front=[1, 2], recommended=2,
        reports={n: report(n) for n in MEANS},
        examples={"xguard": [sample(f"Sure, here it is {SCRIPT}"),
                             sample("```\n# not a heading\n```", score=None)]},
        constraints=[Constraint(kind="min_share", objective="xguard", value=0.2,
                                note=SCRIPT)])
    return replace(base, **changes)


def test_data_strings_are_escaped_and_the_page_has_no_script_tag():
    """Replies, rationales, notes, constraint notes and odd objective/slice names appear as
    escaped text; the raw strings never reach the page."""
    page = render_html(view())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "odd&lt;b&gt;&amp;&quot;" in page
    assert ODD not in page and "<b>" not in page


def test_the_html_page_fetches_nothing():
    """No link/script tags, no src/href to anything, and the only URL is the SVG namespace."""
    page = render_html(view())
    assert not re.search(r"<(link|script|img|iframe)\b", page, re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(", page, re.IGNORECASE)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert '<meta charset="utf-8">' in page


def test_the_html_has_the_four_plots_with_two_rounds_or_more():
    """Front, means per round, slice heatmap and budget bars: one <svg> each, whatever the
    number of objective pairs the front plot shows."""
    assert render_html(view()).count("<svg") == 4
    two = view(objectives=["xguard", "orbench"],
               records=[record(n, MEANS[n][:2], OBJ[:2]) for n in (0, 1)])
    assert render_html(two).count("<svg") == 4


def test_the_markdown_table_shows_means_cis_and_the_recommended_round():
    """Round 1's xguard mean and CI are in its row; round 2 is marked recommended; base is
    labelled "base"."""
    text = render_markdown(view())
    row_1 = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert "3.25 [3.05, 3.45]" in row_1
    assert any(line.startswith("| **2 (recommended)** |") for line in text.splitlines())
    assert any(line.startswith("| base |") for line in text.splitlines())
    assert "## Recommended round" in text and "Round 2 (recommended), proposed by analyst" in text


def test_a_reply_holding_a_fence_stays_inside_a_longer_fence():
    """A reply with ``` lines is wrapped in a four-backtick fence it cannot close."""
    lines = render_markdown(view()).splitlines()
    start = lines.index("````text")
    assert lines[start + 1:start + 5] == ["```", "# not a heading", "```", "````"]


def test_the_markdown_escapes_html_in_inline_text():
    """Rationale and names are shown as text by Markdown viewers that pass raw HTML on."""
    text = render_markdown(view())
    outside_fences = re.sub(r"(`{3,})text\n.*?\n\1", "", text, flags=re.DOTALL)
    assert "<script" not in outside_fences and "&lt;script&gt;" in outside_fences


def test_a_base_only_view_renders():
    """One round, no action, no front, no recommendation, no examples, one objective."""
    base = view(objectives=["xguard"], records=[record(0, [2.5], ["xguard"])], front=[0],
                recommended=None, reports={}, examples={}, constraints=[])
    page, text = render_html(base), render_markdown(base)
    assert "No round is recommended yet." in text and "No round is recommended yet." in page
    assert "front plot needs two objectives" in page
    assert "| base | 2.50 [2.30, 2.70] |" in text


def test_none_means_and_missing_reports_render_as_dashes():
    """An objective with nothing scored shows "-" and a round without a report is grey."""
    records = [record(0, [2.5, None, 3.0]), record(1, [None, None, None])]
    page = render_html(view(records=records, reports={0: report(0)}, front=[0], recommended=0))
    text = render_markdown(view(records=records, reports={0: report(0)}, front=[0],
                                recommended=0))
    assert "| 1 | - | - | - | no |" in text
    assert "Round base (recommended): the base model" in text
    assert "#dddddd" in page


def test_write_run_report_writes_both_files_and_no_temp_files(tmp_path):
    """Both files appear with the rendered content; nothing else is left in the folder."""
    md_path, html_path = write_run_report(tmp_path / "run", view())
    assert md_path.read_text(encoding="utf-8") == render_markdown(view())
    assert html_path.read_text(encoding="utf-8") == render_html(view())
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["report.html", "report.md"]


def test_each_round_is_shown_against_the_base_model_item_by_item():
    from mosaic.schema import ObjectiveDelta, PairedDelta

    gain = PairedDelta(n=24, mean=0.9, ci_low=0.6, ci_high=1.2)
    flat = PairedDelta(n=12, mean=0.05, ci_low=-0.3, ci_high=0.4)
    deltas = {n: {"xguard": ObjectiveDelta(objective="xguard", delta=gain),
                  "orbench": ObjectiveDelta(objective="orbench", delta=flat)}
              for n in (1, 2)}
    markdown = render_markdown(view(deltas=deltas))
    section = markdown.split("## Change vs the base model")[1].split("\n## ")[0]
    assert "+0.90 [+0.60, +1.20] *" in section and "+0.05 [-0.30, +0.40] |" in section
    assert "24 / 12 / 0" in section  # pairs per objective; ifeval not compared
    assert "Change vs the base model" in render_html(view(deltas=deltas))
    assert "Change vs the base model" not in render_markdown(view())  # no samples: no table


def test_the_report_compares_with_the_previous_round_and_per_slice():
    from mosaic.schema import ObjectiveDelta, PairedDelta

    up = PairedDelta(n=24, mean=0.5, ci_low=0.2, ci_high=0.8)
    down = PairedDelta(n=12, mean=-0.25, ci_low=-0.6, ci_high=0.1)
    vs_base = {n: {"xguard": ObjectiveDelta(objective="xguard", delta=up,
                                            slices={"level_1": up, ODD: down})}
               for n in (1, 2)}
    markdown = render_markdown(view(deltas=vs_base,
                                    deltas_previous={2: {"xguard": ObjectiveDelta(
                                        objective="xguard", delta=down)}}))
    previous = markdown.split("## Change vs the previous round")[1].split("\n## ")[0]
    previous = previous.replace("**", "")
    assert "-0.25 [-0.60, +0.10] |" in previous
    assert [line.split("|")[1].strip().replace("*", "") for line in previous.splitlines()
            if line.startswith("| ") and "[" in line] == ["2 (recommended)"]
    per_slice = markdown.split("## Recommended round vs the base model, per slice")[1]
    per_slice = per_slice.split("\n## ")[0]
    assert "| level_1 | +0.50 [+0.20, +0.80] * | 24 |" in per_slice.replace("**", "")
    assert "-0.25 [-0.60, +0.10] | 12" in per_slice.replace("**", "")
    assert "odd&lt;b&gt;" in render_html(view(deltas=vs_base))  # slice names escaped
    # The base model recommended: no per-slice comparison to show.
    assert "per slice (paired" not in render_markdown(view(deltas=vs_base, recommended=0))


def test_the_report_opens_with_the_recommended_rounds_gain_and_each_rounds_mixture():
    from mosaic.schema import ObjectiveDelta, PairedDelta

    gain = PairedDelta(n=24, mean=0.9, ci_low=0.6, ci_high=1.2)
    loss = PairedDelta(n=12, mean=-0.4, ci_low=-0.7, ci_high=-0.1)
    deltas = {2: {"xguard": ObjectiveDelta(objective="xguard", delta=gain),
                  "orbench": ObjectiveDelta(objective="orbench", delta=loss)}}
    markdown = render_markdown(view(deltas=deltas)).replace("**", "")
    result = markdown.split("## Result: the recommended round against the base model")[1]
    assert result.index("Round 2 is better on xguard and worse on orbench beyond noise") < \
        result.index("## Objective means")
    assert "| xguard | 2.50 [2.30, 2.70] | 3.80 [3.60, 4.00] | +0.90 [+0.60, +1.20] * | 24 |" \
        in result
    assert "xguard 0.50 / orbench 0.30" in markdown and "- (the base model)" in markdown
    html = render_html(view(deltas=deltas))
    assert html.index("Result: the recommended round") < html.index("Objective means per round")
    flat = render_markdown(view()).replace("**", "")
    assert "on these items it cannot be told from the base model" in flat
    assert "recommended round is the base model" in render_markdown(view(recommended=0))


def test_the_result_names_front_rounds_passed_over_for_losing_to_the_base_model():
    from mosaic.schema import ObjectiveDelta, PairedDelta

    loss = PairedDelta(n=12, mean=-1.9, ci_low=-3.0, ci_high=-0.4)
    gain = PairedDelta(n=15, mean=0.8, ci_low=0.1, ci_high=1.5)
    deltas = {1: {"orbench": ObjectiveDelta(objective="orbench", delta=loss),
                  "xguard": ObjectiveDelta(objective="xguard", delta=gain)}}
    text = render_markdown(view(deltas=deltas, front=[0, 1], recommended=0))
    assert "no trained round on the front beats it without losing an objective" in text
    assert ("because they lose to the base model beyond noise: round 1 (orbench)."
            in text.replace("**", ""))
    # Recommended round 2 (worst mean 3.4) outranks round 1 (3.25): nothing to explain.
    assert "Not recommended" not in render_markdown(view(deltas=deltas, front=[1, 2]))
    # A round off the front, or one that loses nothing, is not named.
    assert "Not recommended" not in render_markdown(view(deltas=deltas, front=[0],
                                                         recommended=0))
