"""What a run folder says about its run: the status text and the run report's inputs.

Everything here reads files (config.json, events.jsonl, archive.json, the rounds' eval
folders); nothing loads a model, so `mosaic status` and `mosaic report` are instant and
work while the run is going, after it finished, or after it was killed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mosaic.config import RunConfig
from mosaic.errors import ConfigError
from mosaic.loop.context import read_added_constraints
from mosaic.loop.review import describe_card, waiting_card
from mosaic.loop.rounds import load_records, read_samples
from mosaic.loop.state import Checkpoint
from mosaic.schema import EvalReport, JudgedSample, ObjectiveDelta, RoundRecord
from mosaic.store import RunFolder, read_json
from mosaic.tools.evaluation.paired import compare
from mosaic.tools.evaluation.report import metric_columns, metric_label, rate_cell
from mosaic.tools.reporting.run_report import write_run_report
from mosaic.tools.reporting.run_tables import RunView, delta_cell

EXAMPLES_PER_OBJECTIVE = 3
"""Lowest-scored samples of the recommended round shown in the report."""


def _config(run: RunFolder) -> RunConfig:
    return read_json(run.config, RunConfig)


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
    archive: dict[str, Any] = read_json(run.archive) if run.archive.is_file() else {}
    reports = _reports(run, records)
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
                   deltas=deltas_vs_base(run, records),
                   deltas_previous=deltas_vs_previous(run, records))


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
    """Each trained round minus the base model, item by item (mosaic.tools.evaluation.paired)."""
    return paired_deltas(run, records, against=lambda n: 0)


def deltas_vs_previous(run: RunFolder, records: list[RoundRecord]
                       ) -> dict[int, dict[str, ObjectiveDelta]]:
    """Round n minus round n-1 from round 2 on (round 1's previous round is the base)."""
    return paired_deltas(run, records, against=lambda n: n - 1 if n >= 2 else None)


def paired_deltas(run: RunFolder, records: list[RoundRecord],
                  against: Callable[[int], int | None]) -> dict[int, dict[str, ObjectiveDelta]]:
    """Each trained round minus the round `against(round)` names, on the items both scored,
    from the rounds' eval folders; rounds without samples (or with no partner) are left out.
    """
    samples = {r.round: read_samples(run, r.round) for r in records}
    deltas = {}
    for record in records:
        other = against(record.round) if record.round else None
        if other is not None and samples[record.round] and samples.get(other):
            deltas[record.round] = compare(samples[record.round], samples[other])  # seed 0
    return deltas


def resolve_round(name: str, records: list[RoundRecord], recommended: int | None, *,
                  relative_to: int | None = None) -> int:
    """A round number from what a person types: N, `base`, `recommended`, `latest`, or
    `previous` (the round before `relative_to`)."""
    known = [r.round for r in records]
    if name == "base":
        number: int | None = 0
    elif name == "recommended":
        number = recommended
        if number is None:
            raise ConfigError("this run has no recommended round yet")
    elif name == "latest":
        number = known[-1] if known else None
    elif name == "previous":
        if relative_to is None or relative_to == 0:
            raise ConfigError("`previous` needs a trained round to be relative to")
        number = relative_to - 1
    elif name.isdigit():
        number = int(name)
    else:
        raise ConfigError(f"unknown round {name!r}: give a number, base, recommended, "
                          "latest or previous")
    if number not in known:
        raise ConfigError(f"round {name} is not in this run (rounds: "
                          f"{', '.join(map(str, known)) or 'none yet'})")
    return number


def comparison_text(folder: Path, first: str, second: str = "base") -> str:
    """What `mosaic compare` prints: round `first` minus round `second`, per objective and
    per slice, item by item, with paired 95% intervals."""
    run = RunFolder(folder)
    records = load_records(run.archive)
    archive = read_json(run.archive) if run.archive.is_file() else {}
    recommended = archive.get("recommended")
    a = resolve_round(first, records, recommended)
    b = resolve_round(second, records, recommended, relative_to=a)
    these, those = read_samples(run, a), read_samples(run, b)
    if not these or not those:
        missing = a if not these else b
        raise ConfigError(f"round {missing} has no judged samples (eval/samples.jsonl)")
    label = {0: "base"}
    lines = [f"round {label.get(a, a)} minus round {label.get(b, b)}, item by item "
             "(paired 95% interval; * excludes 0)"]
    for name, delta in compare(these, those).items():
        lines.append(f"  {name:<16} {delta_cell(delta.delta):<24} n={delta.delta.n}")
        lines += [f"    {slice_name:<14} {delta_cell(d):<24} n={d.n}"
                  for slice_name, d in delta.slices.items()]
    return "\n".join(lines)


def _delta_line(round_number: int, deltas: dict[str, ObjectiveDelta],
                objectives: list[str]) -> str:
    cells = [delta_cell(deltas[name].delta if name in deltas else None)
             for name in objectives]
    return f"  {round_number:>4}  " + "  ".join(f"{c:<20}" for c in cells).rstrip()


def _reports(run: RunFolder, records: list[RoundRecord]) -> dict[int, EvalReport]:
    reports = {}
    for record in records:
        if record.report_path and (run.root / record.report_path).is_file():
            reports[record.round] = read_json(run.root / record.report_path, EvalReport)
    return reports


def _metric_lines(run: RunFolder, records: list[RoundRecord], objectives: list[str]
                  ) -> list[str]:
    """Each round's standard rates, one row per metric; none when no report has them."""
    reports = _reports(run, records)
    columns = metric_columns((reports[n] for n in sorted(reports)), objectives)
    if not columns:
        return []
    # One row per metric, one column per round: seven rates across fit a terminal this way.
    labels = [metric_label(o, m) for o, m in columns]
    width = max(map(len, labels))
    rounds = [r.round for r in records]
    rows = []
    for objective, metric in columns:
        cells = []
        for n in rounds:
            part = reports[n].objectives.get(objective) if n in reports else None
            cells.append(rate_cell(part.metrics.get(metric) if part else None))
        rows.append(cells)
    cell = max([len(c) for cells in rows for c in cells] + [4])  # "100% [80, 100]" is 14
    lines = ["", "  standard metrics (95% Wilson interval)",
             f"  {'':<{width}}  " + "  ".join(
                 f"{'base' if n == 0 else str(n):<{cell}}" for n in rounds).rstrip()]
    for label, cells in zip(labels, rows, strict=True):
        lines.append(f"  {label:<{width}}  " + "  ".join(f"{c:<{cell}}" for c in cells).rstrip())
    return lines


def run_status(folder: Path, checkpoint: Checkpoint | None, *, running: bool) -> str:
    """The text `mosaic status` prints."""
    run = RunFolder(folder)
    config = _config(run)
    objectives = list(config.pools)
    records = load_records(run.archive)
    archive = read_json(run.archive) if run.archive.is_file() else {}
    diagnoser = (f"LLM {config.diagnoser.model} (analyst as fallback)"
                 if config.diagnoser.base_url else "the analyst")
    lines = [f"run {run.run_id}: preset {config.preset}, model {config.model}, "
             f"budget {config.mixture.budget:,} tokens, {config.loop.rounds} rounds, "
             f"actions by {diagnoser}",
             f"state: {progress_line(run, running=running)}"
             + (" (running now)" if running else "")]
    card = waiting_card(checkpoint)
    if checkpoint is not None and card is not None and not running:
        lines += [f"paused for approval (answer with `mosaic approve {folder}` [--edit FILE "
                  "| --reject TEXT | --message TEXT] or `mosaic chat`):",
                  describe_card(card)]
    elif checkpoint is not None and checkpoint.next_nodes and not running:
        lines.append(f"paused before: {', '.join(checkpoint.next_nodes)} "
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
            lines.append(f"  (per slice, or against another round: mosaic compare {folder} "
                         "N [M | previous | recommended])")
        lines += _metric_lines(run, records, objectives)
        last = records[-1]
        lines += ["", f"hypervolume {last.hypervolume}; recommended round: "
                  f"{archive.get('recommended')}"]
    return "\n".join(lines)
