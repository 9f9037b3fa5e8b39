"""What a run folder says about its run: the status text and the run report's inputs.

Everything here reads files (config.json, events.jsonl, archive.json, the rounds' eval
folders); nothing loads a model, so `mosaic status` and `mosaic report` are instant and
work while the run is going, after it finished, or after it was killed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mosaic.config import RunConfig
from mosaic.rounds import load_records, read_samples
from mosaic.run_context import read_added_constraints
from mosaic.schema import EvalReport, JudgedSample, ObjectiveDelta, RoundRecord
from mosaic.store import RunFolder
from mosaic.tools.run_report import RunView, write_run_report

EXAMPLES_PER_OBJECTIVE = 3
"""Lowest-scored samples of the recommended round shown in the report."""


def _config(run: RunFolder) -> RunConfig:
    return RunConfig.model_validate_json(run.config.read_text(encoding="utf-8"))


def progress_line(run: RunFolder, *, running: bool = True) -> str:
    """Where the run is, from its event log: finished (why), or its latest step (which was
    interrupted if no process is `running` it)."""
    events = run.read_events()
    stopped = [e for e in events if e.get("event") == "stopped"]
    if stopped:
        return f"finished: {stopped[-1].get('reason')}"
    steps = [e for e in events if e.get("event") in ("step_started", "step_finished")]
    if not steps:
        return "starting"
    last = steps[-1]
    verb = (("in progress" if running else "interrupted") if last["event"] == "step_started"
            else "done")
    return f"round {last.get('round')}: {last.get('step')} {verb}"


def load_run_view(folder: Path) -> RunView:
    """The run report's inputs, read from the run folder."""
    run = RunFolder(folder)
    config = _config(run)
    records = load_records(run.archive)
    archive: dict[str, Any] = (json.loads(run.archive.read_text(encoding="utf-8"))
                               if run.archive.is_file() else {})
    reports = {}
    for record in records:
        if record.report_path and (run.root / record.report_path).is_file():
            reports[record.round] = EvalReport.model_validate_json(
                (run.root / record.report_path).read_text(encoding="utf-8"))
    recommended = archive.get("recommended")
    examples: dict[str, list[JudgedSample]] = {}
    if recommended is not None:
        for name, samples in read_samples(run, recommended).items():
            scored = sorted((s for s in samples if s.scored),
                            key=lambda s: (s.response.score, s.id))
            examples[name] = scored[:EXAMPLES_PER_OBJECTIVE]
    return RunView(run_id=run.run_id, preset=config.preset, model=config.model,
                   objectives=list(config.pools), budget=config.mixture.budget,
                   status=progress_line(run), records=records,
                   front=list(archive.get("front", [])), recommended=recommended,
                   reports=reports, examples=examples,
                   constraints=[*config.constraints, *read_added_constraints(run)],
                   deltas=deltas_vs_base(run, records))


def write_report(folder: Path) -> tuple[Path, Path]:
    """Write report.md and report.html into the run folder."""
    return write_run_report(Path(folder), load_run_view(Path(folder)))


def _round_line(record: RoundRecord, objectives: list[str], front: list[int],
                recommended: int | None) -> str:
    cells = []
    for name in objectives:
        mean = record.means.get(name)
        low, high = record.ci.get(name, (None, None))
        cells.append("-" if mean is None else
                     f"{mean:.2f}" + (f" [{low:.2f}, {high:.2f}]" if low is not None else ""))
    marks = ("front" if record.round in front else "") + (
        " recommended" if record.round == recommended else "")
    label = "base" if record.round == 0 else str(record.round)
    who = f"  by {record.diagnoser}" if record.diagnoser else ""
    return (f"  {label:>4}  " + "  ".join(f"{c:<20}" for c in cells)
            + f"  {marks.strip()}{who}").rstrip()


def deltas_vs_base(run: RunFolder, records: list[RoundRecord]
                   ) -> dict[int, dict[str, ObjectiveDelta]]:
    """Each trained round minus the base model, item by item (mosaic.tools.paired), from
    the rounds' eval folders; rounds without samples are left out."""
    from mosaic.tools.paired import compare

    base = read_samples(run, 0)
    if not base:
        return {}
    deltas = {}
    for record in records:
        if record.round == 0:
            continue
        samples = read_samples(run, record.round)
        if samples:
            deltas[record.round] = compare(samples, base)  # seed 0, as the front's
    return deltas


def _delta_line(round_number: int, deltas: dict[str, ObjectiveDelta],
                objectives: list[str]) -> str:
    cells = []
    for name in objectives:
        delta = deltas[name].delta if name in deltas else None
        if delta is None or delta.mean is None:
            cells.append("-")
            continue
        mark = " *" if delta.significant else ""
        cells.append(f"{delta.mean:+.2f} [{delta.ci_low:+.2f}, {delta.ci_high:+.2f}]{mark}")
    return f"  {round_number:>4}  " + "  ".join(f"{c:<20}" for c in cells).rstrip()


def run_status(folder: Path,
               checkpoint: tuple[dict[str, Any], tuple[str, ...], list[Any]] | None, *,
               running: bool) -> str:
    """The text `mosaic status` prints."""
    run = RunFolder(folder)
    config = _config(run)
    objectives = list(config.pools)
    records = load_records(run.archive)
    archive = json.loads(run.archive.read_text("utf-8")) if run.archive.is_file() else {}
    diagnoser = (f"LLM {config.diagnoser.model} (analyst as fallback)"
                 if config.diagnoser.base_url else "the analyst")
    lines = [f"run {run.run_id}: preset {config.preset}, model {config.model}, "
             f"budget {config.mixture.budget:,} tokens, {config.loop.rounds} rounds, "
             f"actions by {diagnoser}",
             f"state: {progress_line(run, running=running)}"
             + (" (running now)" if running else "")]
    if checkpoint is not None and checkpoint[2] and not running:
        from mosaic.review import describe_card

        lines += [f"paused for approval (answer with `mosaic approve {folder}` [--edit FILE "
                  "| --reject TEXT | --message TEXT] or `mosaic chat`):",
                  describe_card(checkpoint[2][0])]
    elif checkpoint is not None and checkpoint[1] and not running:
        lines.append(f"paused before: {', '.join(checkpoint[1])} "
                     f"(continue with `mosaic resume {folder}`)")
    rules = [*config.constraints, *read_added_constraints(run)]
    if rules:
        lines.append("constraints: " + "; ".join(f"{c.describe()} ({c.origin})"
                                                 for c in rules))
    if records:
        lines += ["", "  round " + "  ".join(f"{n:<20}" for n in objectives)]
        lines += [_round_line(r, objectives, archive.get("front", []),
                              archive.get("recommended")) for r in records]
        deltas = deltas_vs_base(run, records)
        if deltas:
            lines += ["", "  change vs base, item by item (paired 95% interval; * excludes 0)",
                      "  round " + "  ".join(f"{n:<20}" for n in objectives)]
            lines += [_delta_line(r, d, objectives) for r, d in sorted(deltas.items())]
        last = records[-1]
        lines += ["", f"hypervolume {last.hypervolume}; recommended round: "
                  f"{archive.get('recommended')}"]
    return "\n".join(lines)
