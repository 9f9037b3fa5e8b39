"""The steps of a MOSAIC round as plain functions: what each graph node calls.

    ctx = RunContext.open("runs/demo")
    report = evaluate_round(ctx, 0, adapter=None)               # round 0: the base model
    action, diagnoser = propose_action(ctx, records)            # mosaic.loop.diagnosis
    action, validation, changes = check_action(ctx, 1, action)  # validate (+ repair)
    mixture = make_mixture(ctx, 1, action)                      # content-addressed
    adapter = train_adapter(ctx, 1, mixture)                    # a fresh LoRA from the base
    report = evaluate_round(ctx, 1, adapter)
    record = record_round(ctx, records, 1, report_path=report, ...)   # archive + front

Each function is usable (and tested) without LangGraph. The expensive ones look in the
artifact cache first, under the hash of everything that determines their result
(docs/reference.md §4.1), so a resumed, repeated or forked run never redoes finished work; each
logs `step` events (started / finished, seconds, whether the cache answered) to the run's
events.jsonl, and writes what it produced into the round's folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mosaic.data.mixture_files import MANIFEST_FILE, describe_manifest, write_mixture
from mosaic.errors import ActionError, DamagedFile, MosaicError
from mosaic.loop.context import RunContext
from mosaic.loop.inbox import Inbox
from mosaic.schema import (
    Constraint,
    DataAction,
    EvalReport,
    JudgedSample,
    MixtureManifest,
    RoundRecord,
    ValidationReport,
)
from mosaic.store import (
    RunFolder,
    building,
    content_key,
    read_json,
    read_json_list,
    write_json_atomic,
)
from mosaic.tools.evaluation.evaluate import EvalConditions, evaluate
from mosaic.tools.evaluation.generation import Decoding
from mosaic.tools.evaluation.pareto import (
    archive_summary,
    floor_breaches,
    front,
    front_hypervolume,
    stalled_rounds,
)
from mosaic.tools.evaluation.report import write_eval_outputs
from mosaic.tools.mixing.builder import action_hash, build_mixture
from mosaic.tools.mixing.repair import repair_action
from mosaic.tools.mixing.validate import validate_action
from mosaic.train.models import resolve_model
from mosaic.train.sft import (
    AdapterCard,
    attention_for,
    base_dtype,
    loss_text,
    precision_for,
    release_gpu_memory,
    train,
)

Samples = Mapping[str, Sequence[JudgedSample]]


# ---------------------------------------------------------------------------------------
# Evaluate (round 0: the base model; later rounds: base + that round's adapter)


def evaluate_round(ctx: RunContext, round_number: int, adapter: str | None,
                   rebuild_adapter: Callable[[], str] | None = None) -> str:
    """Evaluate the base model (+ the adapter with cache key `adapter`) on every eval set;
    write the round's eval folder and return its report path (relative to the run).
    `rebuild_adapter` trains the adapter again if the cache lost or damaged it."""
    settings = ctx.config.eval
    conditions = EvalConditions(system_prompt=settings.system_prompt, seed=settings.seed,
                                decoding=Decoding(max_new_tokens=settings.max_new_tokens,
                                                  batch_size=settings.batch_size,
                                                  seed=settings.seed))
    folder = ctx.run.round_dir(round_number) / "eval"
    with ctx.step("evaluate", round_number) as facts:
        eval_sets = ctx.eval_sets()
        what = "the base model" if adapter is None else f"round {round_number}'s adapter"
        ctx.say(f"round {round_number}: evaluating {what} on "
                + ", ".join(f"{n} ({len(s)} items)" for n, s in eval_sets.items()))
        path = None
        if adapter is not None:
            path = str(ctx.cache.folder("adapters", adapter))
            _available(ctx, "adapters", adapter, rebuild_adapter)
        result = evaluate(eval_sets, ctx.generator(), ctx.judge(), conditions,
                          model=ctx.config.model, adapter=path, progress=ctx.progress,
                          cache=ctx.cache, adapter_id=adapter)
        facts["cached"] = len(result.cached) == len(eval_sets)
        write_eval_outputs(folder, result.report, result.samples)
    return str((folder / "report.json").relative_to(ctx.run.root))


def _cached(ctx: RunContext, kind: str, key: str) -> bool:
    """Whether the cache holds the artifact intact (a damaged one is set aside and said)."""
    found = ctx.cache.has_folder(kind, key)
    while ctx.cache.damaged:
        ctx.say(f"warning: {ctx.cache.damaged.pop(0)}")
    return found


def _available(ctx: RunContext, kind: str, key: str,
               rebuild: Callable[[], str] | None) -> None:
    """A cached artifact a later step needs: built again from its inputs when it is missing
    or damaged (an adapter from its mixture, a mixture from its action), else refused."""
    if _cached(ctx, kind, key):
        return
    folder = ctx.cache.folder(kind, key)
    if rebuild is None:
        raise MosaicError(f"{folder} is missing or damaged and its inputs are not at hand: "
                          "restore it, or start a new run")
    ctx.say(f"{kind[:-1]} {key} is missing or damaged in the artifact cache; building it "
            "again from its inputs")
    rebuilt = rebuild()
    if rebuilt != key:
        raise MosaicError(f"{folder} was built again as {rebuilt}: its inputs changed since "
                          "(a pool or setting edited?); start a new run")


def read_report(ctx: RunContext, report_path: str | None) -> EvalReport:
    if report_path is None:
        raise DamagedFile(ctx.run.archive, "a round without an eval report")
    return read_json(ctx.run.root / report_path, EvalReport)


def read_samples(run: RunFolder, round_number: int) -> dict[str, list[JudgedSample]]:
    """A round's judged samples, by objective (from its eval folder; none before it ran)."""
    path = run.round_dir(round_number) / "eval" / "samples.jsonl"
    samples: dict[str, list[JudgedSample]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            sample = JudgedSample.model_validate_json(line)
            samples.setdefault(sample.objective, []).append(sample)
    return samples


# ---------------------------------------------------------------------------------------
# Validate (the diagnose step, which proposes the action, is mosaic/loop/diagnosis.py)


def check_action(ctx: RunContext, round_number: int, action: DataAction,
                 rules: Sequence[Constraint] | None = None
                 ) -> tuple[DataAction, ValidationReport, list[dict[str, Any]]]:
    """Validate an action against the pools, budget and Constraints; an invalid one is
    repaired to the nearest valid action (every edit listed). Writes the round's
    action.json and validation.json."""
    pools, settings = ctx.pools(), ctx.config.mixture
    rules = ctx.constraints if rules is None else list(rules)
    report = validate_action(action, pools, settings, rules)
    changes: list[dict[str, Any]] = []
    if not report.ok:
        repaired = repair_action(action, pools, settings, rules)
        changes = [c.model_dump(mode="json") for c in repaired.changes]
        ctx.say(f"round {round_number}: the action was not valid ({len(report.errors)} "
                f"problem(s)); repaired with {len(changes)} edit(s)")
        action, report = repaired.action, repaired.report
    if not report.ok:  # preflight checked the Constraints, so this is a bug, not bad input
        raise ActionError(f"round {round_number}: no valid action could be made:\n"
                          f"{report.describe()}", report)
    folder = ctx.run.round_dir(round_number)
    write_json_atomic(folder / "action.json", action.model_dump(mode="json"))
    write_json_atomic(folder / "validation.json",
                      {"ok": report.ok, "report": report.model_dump(mode="json"),
                       "repairs": changes, "rules": [r.model_dump(mode="json") for r in rules]})
    return action, report, changes


def recorded_rules(ctx: RunContext, round_number: int) -> list[Constraint] | None:
    """The Constraints a round's action was validated against (its validation.json), or
    None when not recorded (a round validated before they were)."""
    path = ctx.run.round_dir(round_number) / "validation.json"
    if not path.is_file():
        return None
    rules = read_json(path).get("rules")
    return None if rules is None else [Constraint.model_validate(r) for r in rules]


# ---------------------------------------------------------------------------------------
# Build the mixture, train the adapter


def mixture_key(ctx: RunContext, action: DataAction,
                rules: Sequence[Constraint] | None = None) -> str:
    """What determines a mixture: the action's plan, the pools' contents, the mixing
    settings and the Constraints the builder respects (`rules`: those the action was
    validated against; default: the rules in force now)."""
    pools = ctx.pools()
    rules = ctx.constraints if rules is None else rules
    return content_key("mixture", action_hash(action),
                       {name: table.fingerprint for name, table in pools.items()},
                       ctx.config.mixture.model_dump(mode="json"),
                       # what a rule does, not who said it or why
                       sorted((c.kind, c.objective, c.slice or "", c.value or 0.0)
                              for c in rules if c.kind != "score_floor"))


def make_mixture(ctx: RunContext, round_number: int, action: DataAction,
                 rules: Sequence[Constraint] | None = None) -> str:
    """Build (or find in the cache) the action's mixture; return its cache key. The
    manifest is copied into the round folder. `rules` are the Constraints the action was
    validated against (a rule added since applies from the next validation)."""
    rules = ctx.constraints if rules is None else list(rules)
    key = mixture_key(ctx, action, rules)
    folder = ctx.cache.folder("mixtures", key)
    with ctx.step("build_mixture", round_number) as facts:
        facts["cached"] = _cached(ctx, "mixtures", key)
        if not facts["cached"]:
            mixture = build_mixture(action, ctx.pools(), ctx.config.mixture, rules)
            with building(folder, {"kind": "mixture", "key": key}) as tmp:
                write_mixture(mixture, ctx.pools(), tmp)
        manifest = read_manifest(folder)
        ctx.say(f"round {round_number}: mixture {key}"
                + (" (cached)" if facts["cached"] else "") + "\n"
                + describe_manifest(manifest))
        write_json_atomic(ctx.run.round_dir(round_number) / MANIFEST_FILE,
                          manifest.model_dump(mode="json"))
    return key


def read_manifest(folder: Path) -> MixtureManifest:
    return read_json(folder / MANIFEST_FILE, MixtureManifest)


def train_adapter(ctx: RunContext, round_number: int, mixture: str,
                  rebuild_mixture: Callable[[], str] | None = None) -> str:
    """Train (or find in the cache) a fresh LoRA from the base model on the mixture with
    cache key `mixture`; return the adapter's cache key. `rebuild_mixture` builds the
    mixture again if the cache lost or damaged it."""
    _available(ctx, "mixtures", mixture, rebuild_mixture)
    mixture_folder = ctx.cache.folder("mixtures", mixture)
    manifest = read_manifest(mixture_folder)
    settings = ctx.config.train
    # `precision: auto` trains in bf16 on one machine and fp32 on another, and on a GPU the
    # base loads in bf16 and attention may be flash: key on the result (sdpa and an fp32
    # base, the CPU's as before these were choices, add nothing: cached adapters are found).
    attention, base = attention_for(settings), str(base_dtype(settings))
    resolved = [f"attention:{attention}"] if attention != "sdpa" else []
    resolved += [f"base:{base}"] if base != "torch.float32" else []
    key = content_key("adapter", manifest.content_hash, resolve_model(ctx.config.model).model_id,
                      settings.cache_fields(), precision_for(settings), *resolved)
    folder = ctx.cache.folder("adapters", key)
    with ctx.step("train", round_number) as facts:
        facts["cached"] = _cached(ctx, "adapters", key)
        if facts["cached"]:
            ctx.say(f"round {round_number}: adapter {key} (cached)")
        else:
            ctx.say(f"round {round_number}: training a LoRA on {manifest.realised_tokens:,} "
                    f"tokens from {ctx.config.model}")
            ctx.generator().sleep()  # a warm vLLM engine gives the GPU to the trainer
            with building(folder, {"kind": "adapter", "key": key}) as tmp:
                adapter = train(mixture_folder, ctx.config.model, settings, tmp,
                                progress=ctx.progress)
            release_gpu_memory()
            card = AdapterCard.model_validate(adapter.card)
            ctx.say(f"round {round_number}: {card.steps} steps, {loss_text(card)}, "
                    f"{card.tokens_per_second:,.0f} tokens/s")
        write_json_atomic(ctx.run.round_dir(round_number) / "adapter.json",
                          {"key": key, "path": str(folder), "mixture": mixture})
    return key


# ---------------------------------------------------------------------------------------
# The archive


def record_round(ctx: RunContext, records: Sequence[RoundRecord], round_number: int, *,
                 report_path: str | None, action: DataAction | None = None,
                 diagnoser: str = "", mixture: str | None = None, adapter: str | None = None,
                 seconds: Mapping[str, float] | None = None, started_at: str = ""
                 ) -> RoundRecord:
    """The round's record, placed in the archive: whether it entered the front, the
    front's hypervolume after it, any score floor it breaks. Writes the round's
    record.json (last: the round folder is complete) and archive.json."""
    report = read_report(ctx, report_path)
    means = {name: report.objectives[name].mean if name in report.objectives else None
             for name in ctx.objectives}
    ci = {name: (rep.ci_low, rep.ci_high) for name, rep in report.objectives.items()
          if rep.ci_low is not None and rep.ci_high is not None}
    item_scores = {name: {s.id: s.response.score for s in samples
                          if s.response.score is not None}
                   for name, samples in read_samples(ctx.run, round_number).items()
                   if name in ctx.objectives}
    manifest = None
    if mixture is not None:
        manifest = read_manifest(ctx.cache.folder("mixtures", mixture))
    record = RoundRecord(
        round=round_number, action=action, diagnoser=diagnoser,
        mixture_hash=manifest.content_hash if manifest else None, adapter=adapter,
        means=means, ci=ci, item_scores=item_scores,
        breaches=floor_breaches(means, ctx.constraints),
        budget=ctx.config.mixture.budget if manifest else None,
        tokens_by_objective=dict(manifest.tokens_by_objective) if manifest else {},
        report_path=report_path, seconds=dict(seconds or step_seconds(ctx.run, round_number)),
        started_at=started_at, finished_at=now())
    records = with_floors(ctx, records)
    archive = [*records, record]
    accepted = any(r is record for r in front(archive, ctx.objectives))
    record = record.model_copy(update={
        "accepted": accepted, "hypervolume": front_hypervolume(archive, ctx.objectives)})
    write_json_atomic(ctx.run.round_dir(round_number) / "record.json",
                      record.model_dump(mode="json"))
    write_archive(ctx, [*records, record])
    return record


def finished_record(ctx: RunContext, round_number: int) -> RoundRecord | None:
    """The record of a round this run finished earlier (its folder's record.json), or None.
    A round is only diagnosed again after its record exists when the checkpoints were lost
    or cut short: then it keeps its own action."""
    path = ctx.run.round_dir(round_number) / "record.json"
    return read_json(path, RoundRecord) if path.is_file() else None


def step_seconds(run: RunFolder, round_number: int) -> dict[str, float]:
    """Wall seconds of each step of a round, from the event log: the finish that did the
    work (a step re-run after a kill, that found its result cached, does not hide it)."""
    seconds: dict[str, float] = {}
    finished = [e for e in run.read_events()
                if e.get("event") == "step_finished" and e.get("round") == round_number]
    for event in sorted(finished, key=lambda e: not e.get("cached")):  # computed ones last
        seconds[event["step"]] = event["seconds"]
    return seconds


def with_floors(ctx: RunContext, records: Sequence[RoundRecord]) -> list[RoundRecord]:
    """The records with their score-floor breaches worked out against the rules in force
    now: a floor added mid-run applies to rounds already archived too."""
    return [r.model_copy(update={"breaches": floor_breaches(r.means, ctx.constraints)})
            for r in records]


def write_archive(ctx: RunContext, records: Sequence[RoundRecord]) -> None:
    summary = archive_summary(records, ctx.objectives)
    write_json_atomic(ctx.run.archive, {
        "objectives": ctx.objectives, **summary,
        "records": [r.model_dump(mode="json") for r in records]})


def stop_requested(ctx: RunContext) -> bool:
    """Whether a person asked the run to stop (`/stop` from chat)."""
    return Inbox(ctx.run).stop_requested()


def stop_reason(ctx: RunContext, records: Sequence[RoundRecord]) -> str | None:
    """Why the search should stop after `records`, or None to go on."""
    loop = ctx.config.loop
    # A run rebuilt after losing its checkpoints replays rounds it finished before: a stop
    # sent after them must not end the replay early.
    replaying = bool(records) and finished_record(ctx, records[-1].round + 1) is not None
    if stop_requested(ctx) and not replaying:
        return "stopped by a person"
    if records and records[-1].round >= loop.rounds:
        return f"round limit ({loop.rounds} rounds)"
    stalled = stalled_rounds(records)
    if loop.patience is not None and stalled >= loop.patience:
        return f"no front improvement for {stalled} rounds (patience {loop.patience})"
    return None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_records(path: Path) -> list[RoundRecord]:
    """The round records of an archive.json (empty when there is none yet)."""
    if not path.is_file():
        return []
    return read_json_list(path, "records", RoundRecord)
