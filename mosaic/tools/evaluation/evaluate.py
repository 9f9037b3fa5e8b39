"""Evaluate a model (+ adapter) on objectives' eval sets: generate, judge, score, report.

    frozen = freeze_prompt_labels("xguard", items, judge)          # once per eval set
    result = evaluate({"xguard": frozen, ...}, generator, judge, EvalConditions())

Prompt-side labels (slice, weight) are computed once and frozen with the eval set
(docs/reference.md §3.5: re-judging them every round moved items between slices). `evaluate`
refuses items without frozen labels instead of labelling them on the fly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from pydantic import Field

from mosaic.errors import MosaicError
from mosaic.objectives import get_objective, unscored
from mosaic.schema import EvalItem, EvalReport, JudgedSample, PromptChannel, Record
from mosaic.store import ArtifactCache, content_key
from mosaic.tools.evaluation.generation import Decoding, Generator
from mosaic.tools.evaluation.judges import Judge
from mosaic.tools.evaluation.replay import replay
from mosaic.tools.evaluation.report import build_report


class JudgeError(MosaicError):
    """A judge could not produce labels that must exist (frozen prompt-side labels)."""


class EvalConditions(Record):
    """The conditions an evaluation runs under besides the model (system prompt, decoding,
    seed): recorded in its report."""

    system_prompt: str | None = None
    """Injected before every conversation; None injects nothing (recorded either way)."""
    decoding: Decoding = Field(default_factory=Decoding)
    seed: int = 0
    """Seed of the bootstrap resampling."""


@dataclass
class EvalResult:
    report: EvalReport
    samples: dict[str, list[JudgedSample]]
    cached: list[str] = field(default_factory=list)
    """Objectives whose replies came from the cache (nothing was generated for them)."""


def freeze_prompt_labels(objective_name: str, items: Sequence[EvalItem], judge: Judge, *,
                         skip_unlabelled: bool = False) -> list[EvalItem]:
    """Items with prompt-side labels; already-labelled items are kept exactly as they are.

    An item the judge cannot label stops the freeze with a JudgeError naming it (labels
    that succeeded are cached, so a rerun only retries the failures). With
    `skip_unlabelled`, such items are left out of the eval set instead, and counted in a
    printed warning: for a judge that persistently refuses to classify a few items.
    """
    objective = get_objective(objective_name)
    todo = [i for i in items if i.prompt is None]
    l3s = judge.prompt_l3(objective_name, todo)
    failed = {item.id: l3["error"] for item, l3 in zip(todo, l3s, strict=True) if "error" in l3}
    if failed and not skip_unlabelled:
        shown = "; ".join(f"{item_id}: {error}" for item_id, error in list(failed.items())[:5])
        raise JudgeError(f"{len(failed)} of {len(todo)} {objective_name} items could not be "
                         f"labelled ({shown}). Labels that succeeded are cached; run again, "
                         "or leave these items out with --skip-unlabelled.")
    if failed:
        print(f"[mosaic] warning: {len(failed)} {objective_name} items left out of the eval "
              f"set, their prompts could not be labelled (e.g. {next(iter(failed))})",
              flush=True)
    labelled = {
        item.id: item.model_copy(update={"prompt": objective.label_prompt(
            l3, turns=sum(m.role == "user" for m in item.messages))})
        for item, l3 in zip(todo, l3s, strict=True) if item.id not in failed}
    return [labelled.get(item.id, item) for item in items if item.id not in failed]


def judge_samples(objective_name: str, items: Sequence[EvalItem],
                  replies: Sequence[Sequence[str]], judge: Judge) -> list[JudgedSample]:
    """Score replies: judge L3 -> the objective's L2/L1 rules; failures stay as unscored."""
    objective = get_objective(objective_name)
    samples = []
    for item, item_replies, l3 in zip(items, replies,
                                      judge.response_l3(objective_name, items, replies),
                                      strict=True):
        prompt = cast(PromptChannel, item.prompt)  # eval items are labelled before judging
        if "error" in l3 and objective_name != "ifeval":
            response = unscored(str(l3["error"]))
        else:
            first_leak = l3.pop("first_leak_turn", None) if isinstance(l3, dict) else None
            response = objective.score_response(l3, prompt)
            if first_leak is not None:
                response = response.model_copy(
                    update={"diag": {**response.diag, "first_leak_turn": first_leak}})
        samples.append(JudgedSample(id=item.id, objective=objective_name, prompt=prompt,
                                    response=response, replies=list(item_replies),
                                    judge=judge.id))
    return samples


def evaluate(eval_sets: Mapping[str, Sequence[EvalItem]], generator: Generator, judge: Judge,
             settings: EvalConditions, *, model: str, adapter: str | None = None,
             progress: bool = False, cache: ArtifactCache | None = None,
             adapter_id: str | None = None) -> EvalResult:
    """Generate (single-turn or multi-turn replay), judge and report every objective.

    With a `cache`, each objective's replies and judgements are stored under the hash of
    what determines them (generator and model, `adapter_id` (the adapter's content key,
    required with an adapter), eval set, decoding, system prompt; then judge and objective
    version), so an evaluation interrupted after some objectives redoes only the rest.
    """
    if cache is not None and adapter is not None and adapter_id is None:
        raise ValueError("a cached evaluation of an adapter needs its adapter_id")
    # A judge lives across evaluations (a run's rounds): report this evaluation's failures.
    failures_at_start = dict(getattr(judge, "failures", {}))
    samples: dict[str, list[JudgedSample]] = {}
    cached: list[str] = []
    for name, items in eval_sets.items():
        objective = get_objective(name)
        unlabelled = [i.id for i in items if i.prompt is None]
        if unlabelled:
            raise JudgeError(f"{len(unlabelled)} {name} items have no frozen prompt labels "
                             f"(e.g. {unlabelled[0]}); call freeze_prompt_labels first")
        generation_key = content_key(generator.name, adapter_id, eval_set_fingerprint(items),
                                     settings.decoding.model_dump(), settings.system_prompt)
        replies = cache.read("generations", generation_key) if cache is not None else None
        if replies is None:
            if progress:
                print(f"[mosaic] {name}: generating {len(items)} items", flush=True)
            replies = replay(items, generator, settings.decoding,
                             multi_turn=objective.multi_turn,
                             system_prompt=settings.system_prompt, adapter=adapter,
                             progress=progress)
            if cache is not None:
                cache.write("generations", generation_key, replies)
        else:
            cached.append(name)
            if progress:
                print(f"[mosaic] {name}: {len(items)} replies from the cache", flush=True)
        judgement_key = content_key(generation_key, judge.id, objective.version)
        judged = cache.read("judgements", judgement_key) if cache is not None else None
        if judged is not None:
            samples[name] = [JudgedSample.model_validate(s) for s in judged]
        else:
            failures_before = sum(getattr(judge, "failures", {}).values())
            samples[name] = judge_samples(name, items, replies, judge)
            failed = sum(getattr(judge, "failures", {}).values()) > failures_before
            if cache is not None and not failed:
                # Judgements with failures among them are retried next time, not cached.
                cache.write("judgements", judgement_key,
                            [s.model_dump(mode="json") for s in samples[name]])
    provenance = {
        "generator": generator.name,
        "judge": judge.id,
        "label_judge": judge.label_id,
        "objective_versions": {name: get_objective(name).version for name in eval_sets},
        "eval_sets": {name: eval_set_fingerprint(items) for name, items in eval_sets.items()},
        "judge_failures": {kind: n - failures_at_start.get(kind, 0) for kind, n in
                           getattr(judge, "failures", {}).items()
                           if n > failures_at_start.get(kind, 0)},
    }
    report = build_report(samples, model=model, adapter=adapter,
                          system_prompt=settings.system_prompt, decoding=settings.decoding,
                          judge=judge.id, seed=settings.seed, provenance=provenance)
    return EvalResult(report=report, samples=samples, cached=cached)


def eval_set_fingerprint(items: Sequence[EvalItem]) -> str:
    """A hash of the items exactly as evaluated (ids, prompts, frozen labels)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.model_dump_json().encode())
    return f"{len(items)}:{digest.hexdigest()[:16]}"
