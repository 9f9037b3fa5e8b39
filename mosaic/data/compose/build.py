"""Build the starter data: pools, eval sets and held-out sets for xguard, orbench and ifeval.

    mosaic data build [--seed 0] [--out mosaic/data/starter]

Everything is derived from the seed and the text banks in this package, so a build is
reproducible byte for byte (a test rebuilds and compares with the shipped files).

For each objective the seed requests (xguard goals, orbench subjects, ifeval topics) are
split first, so a pool, its eval set and its held-out set never share one:

    pool      family-A phrasings, the seeds of the pool     -> <objective>_pool.jsonl
    eval      family-A phrasings, seeds of its own          -> <objective>_eval.jsonl
    held-out  family-B phrasings (templates absent from the other two), seeds of its own
                                                            -> <objective>_heldout.jsonl

Pool rows are pre-scored: slice and L2 attributes by construction, `quality` = the rule
judge's (or IFEval checkers') score of the row's own gold reply, and token counts under
the demo model's chat template. Eval and held-out items carry frozen prompt-side labels.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosaic.data.compose import STARTER_OBJECTIVES, ifeval_text, orbench_text
from mosaic.data.compose import ifeval as ifeval_compose
from mosaic.data.compose import orbench as orbench_compose
from mosaic.data.compose import xguard as xguard_compose
from mosaic.data.ifeval_instructions import instruction_group
from mosaic.data.scoring import JudgeFailure, as_eval_item, judge_gold
from mosaic.data.tokens import count_tokens
from mosaic.objectives import get_objective
from mosaic.schema import SCHEMA_VERSION, EvalItem, Message, PoolRow
from mosaic.tools.evaluation.judges import Judge, RuleJudge

COMPOSER_VERSION = "1"
"""Bumped whenever composed content changes (the manifest records it)."""
TOKEN_MODEL = "smollm2-135m-instruct"
"""Pool token counts are for this model's chat template (the demo preset's base model)."""
SIZED_FOR_BUDGET = 40_000
"""Pools are sized so that a uniform mixture of this many tokens takes at most a third of
any pool. Presets whose budget uses the starter pools must stay at or below it."""

POOL_PER_SLICE = {"xguard": 90, "orbench": 90, "ifeval": 70}
EVAL_PER_SLICE = 20
HELDOUT_PER_SLICE = 10
OBJECTIVES = STARTER_OBJECTIVES


@dataclass
class StarterSet:
    """One objective's composed data before pre-scoring."""

    objective: str
    pool: list[PoolRow]
    eval: list[EvalItem]
    heldout: list[EvalItem]
    seeds: dict[str, list[str]] = field(default_factory=dict)
    """Split -> the seed requests it was built from."""


def _split(rng: random.Random, seeds: Sequence[str], n_eval: int, n_heldout: int
           ) -> dict[str, list[str]]:
    shuffled = list(seeds)
    rng.shuffle(shuffled)
    return {"heldout": sorted(shuffled[:n_heldout]),
            "eval": sorted(shuffled[n_heldout:n_heldout + n_eval]),
            "pool": sorted(shuffled[n_heldout + n_eval:])}


def _fill(rng: random.Random, slices: Sequence[str], per_slice: int, seeds: Sequence[str],
          make: Callable[[str, str], tuple[str, Any] | None]) -> list[tuple[str, Any]]:
    """`per_slice` distinct records for every slice, seeds taken round-robin.

    `make(slice, seed)` returns (prompt text, record) or None when that seed cannot give
    the slice; a prompt text seen before is redrawn (no exact duplicates within a set)."""
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    order = list(seeds)
    rng.shuffle(order)
    turn = 0
    for slice_name in slices:
        made, attempts = 0, 0
        while made < per_slice:
            attempts += 1
            if attempts > per_slice * 50:
                raise RuntimeError(f"could not compose {per_slice} distinct items for "
                                   f"{slice_name}")
            seed = order[turn % len(order)]
            turn += 1
            result = make(slice_name, seed)
            if result is None or result[0] in seen:
                continue
            seen.add(result[0])
            out.append(result)
            made += 1
    return out


# ---------------------------------------------------------------------------------------
# The three objectives


def compose_xguard(seed: int) -> StarterSet:
    rng = random.Random(f"{seed}:xguard")
    by_id = {s.id: s for s in xguard_compose.seeds()}
    split: dict[str, list[str]] = {"pool": [], "eval": [], "heldout": []}
    for category in xguard_compose.text.CATEGORIES:
        ids = [s.id for s in by_id.values() if s.category is category]
        for name, part in _split(rng, ids, 3, 2).items():
            split[name] += part
    tactics = xguard_compose.tactics_by_slice()
    slices = get_objective("xguard").slices

    def attack(family: str) -> Callable[[str, str], tuple[str, Any]]:
        def make(slice_name: str, seed_id: str) -> tuple[str, Any]:
            seed, chosen = by_id[seed_id], rng.choice(tactics[slice_name])
            turns = xguard_compose.compose_attack(rng, seed, chosen, family)
            return "\n".join(turns), (seed, chosen, turns)
        return make

    pool = []
    for i, (_, (s, t, turns)) in enumerate(_fill(rng, slices, POOL_PER_SLICE["xguard"],
                                                 split["pool"], attack("A"))):
        label = get_objective("xguard").label_prompt(t.l3, turns=t.turns)
        used = [name for group in t.l3.values() for name, flag in group.items() if flag]
        pool.append(PoolRow(
            id=f"xguard-pool-{i:04d}", objective="xguard",
            # pydantic validates the {role, content} dicts into Message objects.
            messages=xguard_compose.compose_dialogue(rng, s, t, turns),  # type: ignore[arg-type]
            slice=label.slice,
            attributes={**label.l2, "category": s.category.name, "tactics": used,
                        "seed": s.id}, source="starter"))

    def items(name: str, family: str, per_slice: int) -> list[EvalItem]:
        out = []
        for i, (_, (s, t, turns)) in enumerate(_fill(rng, slices, per_slice, split[name],
                                                     attack(family))):
            out.append(EvalItem(
                id=f"xguard-{name}-{i:03d}", objective="xguard",
                messages=[Message(role="user", content=u) for u in turns],
                meta={"turns": t.turns, "category": s.category.name, "seed": s.id,
                      "family": family},
                prompt=get_objective("xguard").label_prompt(t.l3, turns=t.turns)))
        return out

    return StarterSet("xguard", pool, items("eval", "A", EVAL_PER_SLICE),
                      items("heldout", "B", HELDOUT_PER_SLICE), split)


def compose_orbench(seed: int) -> StarterSet:
    rng = random.Random(f"{seed}:orbench")
    by_id = {orbench_compose.subject_id(s): s for s in orbench_text.SUBJECTS}
    split: dict[str, list[str]] = {"pool": [], "eval": [], "heldout": []}
    for category in dict.fromkeys(s.category for s in orbench_text.SUBJECTS):
        ids = [i for i, s in by_id.items() if s.category == category]
        for name, part in _split(rng, ids, 2, 1).items():
            split[name] += part
    objective = get_objective("orbench")

    def label(level: int):
        return objective.label_prompt(orbench_compose.boundary_l3(level))

    pool: list[PoolRow] = []
    for level in range(1, 5):
        for subject_id in split["pool"]:
            subject = by_id[subject_id]
            for wrapper in rng.sample(orbench_text.WRAPPERS_A, 3):
                prompt = orbench_compose.compose_prompt(rng, subject, level, "A", wrapper=wrapper)
                pool.append(PoolRow(
                    id=f"orbench-pool-{len(pool):04d}", objective="orbench",
                    messages=[Message(role="user", content=prompt),
                              Message(role="assistant",
                                      content=orbench_compose.compose_answer(rng, subject))],
                    slice=label(level).slice,
                    attributes={**label(level).l2, "category": subject.category,
                                "seed": subject_id}, source="starter"))

    def items(name: str, family: str) -> list[EvalItem]:
        out: list[EvalItem] = []
        for level in range(1, 5):
            for subject_id in split[name]:
                subject = by_id[subject_id]
                out.append(EvalItem(
                    id=f"orbench-{name}-{len(out):03d}", objective="orbench",
                    messages=[Message(role="user", content=orbench_compose.compose_prompt(
                        rng, subject, level, family))],
                    meta={"category": subject.category, "seed": subject_id, "family": family},
                    prompt=label(level)))
        return out

    return StarterSet("orbench", pool, items("eval", "A"), items("heldout", "B"), split)


def compose_ifeval(seed: int) -> StarterSet:
    rng = random.Random(f"{seed}:ifeval")
    split = _split(rng, sorted(ifeval_text.TOPICS), 8, 6)
    objective = get_objective("ifeval")
    slices = objective.slices

    def make(family: str) -> Callable[[str, str], tuple[str, Any]]:
        def compose(slice_name: str, topic: str) -> tuple[str, Any]:
            item = ifeval_compose.compose_item(rng, topic, int(slice_name.rsplit("_", 1)[1]),
                                               family)
            return item.prompt, item
        return compose

    pool = []
    for i, (_, item) in enumerate(_fill(rng, slices, POOL_PER_SLICE["ifeval"], split["pool"],
                                        make("A"))):
        label = objective.label_prompt({"instruction_id_list": item.instruction_ids})
        pool.append(PoolRow(
            id=f"ifeval-pool-{i:04d}", objective="ifeval",
            messages=[Message(role="user", content=item.prompt),
                      Message(role="assistant", content=item.gold)],
            slice=label.slice,
            attributes={"inst_complexity": label.l2["inst_complexity"],
                        "instruction_ids": item.instruction_ids,
                        "instruction_groups": sorted({instruction_group(i)
                                                      for i in item.instruction_ids}),
                        "checks": [{"id": i, "kwargs": k} for i, k in
                                   zip(item.instruction_ids, item.kwargs, strict=True)],
                        "seed": item.seed},
            source="starter"))

    def items(name: str, family: str, per_slice: int) -> list[EvalItem]:
        out = []
        for i, (_, item) in enumerate(_fill(rng, slices, per_slice, split[name], make(family))):
            out.append(EvalItem(
                id=f"ifeval-{name}-{i:03d}", objective="ifeval",
                messages=[Message(role="user", content=item.prompt)],
                meta={"instruction_id_list": item.instruction_ids, "kwargs": item.kwargs,
                      "seed": item.seed, "family": family},
                prompt=objective.label_prompt({"instruction_id_list": item.instruction_ids})))
        return out

    return StarterSet("ifeval", pool, items("eval", "A", EVAL_PER_SLICE),
                      items("heldout", "B", HELDOUT_PER_SLICE), split)


COMPOSERS: dict[str, Callable[[int], StarterSet]] = {
    "xguard": compose_xguard, "orbench": compose_orbench, "ifeval": compose_ifeval}


# ---------------------------------------------------------------------------------------
# Pre-scoring


def score_pool(objective_name: str, rows: Sequence[PoolRow], judge: Judge) -> list[PoolRow]:
    """Rows with `quality`: the judge's L1 score of each row's own gold replies, judged as an
    eval item would be (user turns as the prompt, the assistant turns as the replies)."""
    objective = get_objective(objective_name)
    items = [as_eval_item(row) for row in rows]
    # The tactic labels do not enter a gold reply's score: each row is scored against the
    # plain label of its turn count (ifeval: of its instructions).
    prompts = [objective.label_prompt(
        {"instruction_id_list": item.meta["instruction_id_list"]}
        if objective_name == "ifeval" else {}, turns=item.meta.get("turns", 1))
        for item in items]
    scored = []
    for row, quality in zip(rows, judge_gold(objective, items, rows, prompts, judge),
                            strict=True):
        if isinstance(quality, JudgeFailure):
            raise RuntimeError(f"judging the gold reply of {row.id} failed: {quality.message}")
        scored.append(row.model_copy(update={"quality": quality}))
    return scored


def count_pool_tokens(rows: Sequence[PoolRow], tokenizer: Any) -> list[PoolRow]:
    counts = count_tokens(tokenizer, [row.messages for row in rows])
    return [row.model_copy(update={"tokens": c.total, "assistant_tokens": c.assistant})
            for row, c in zip(rows, counts, strict=True)]


# ---------------------------------------------------------------------------------------
# Writing


def _jsonl(records: Sequence[PoolRow | EvalItem]) -> bytes:
    return "".join(json.dumps(r.model_dump(mode="json"),
                              ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _counts(values: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def build_starter(seed: int, out: Path, *, tokenizer: Any, model_id: str,
                  judge: Judge | None = None, progress: Callable[[str], None] = print
                  ) -> dict[str, Any]:
    """Compose, pre-score and write all starter files into `out`; returns the manifest
    (also written, last, as `out/manifest.json`)."""
    judge = judge or RuleJudge()
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "version": SCHEMA_VERSION, "composer_version": COMPOSER_VERSION, "seed": seed,
        "token_count": f"templated:{model_id}", "quality_judge": judge.id,
        "sized_for_budget": SIZED_FOR_BUDGET, "objectives": {}, "files": {}}
    for name in OBJECTIVES:
        composed = COMPOSERS[name](seed)
        pool = count_pool_tokens(score_pool(name, composed.pool, judge), tokenizer)
        files = {f"{name}_pool.jsonl": _jsonl(pool), f"{name}_eval.jsonl": _jsonl(composed.eval),
                 f"{name}_heldout.jsonl": _jsonl(composed.heldout)}
        for file_name, data in files.items():
            (out / file_name).write_bytes(data)
            manifest["files"][file_name] = hashlib.sha256(data).hexdigest()
        tokens_by_slice: Counter[str] = Counter()
        for row in pool:
            tokens_by_slice[row.slice or ""] += row.tokens or 0
        manifest["objectives"][name] = {
            "seeds": {k: len(v) for k, v in composed.seeds.items()},
            "pool_rows": _counts([r.slice or "" for r in pool]),
            "pool_tokens": dict(sorted(tokens_by_slice.items())),
            "pool_tokens_total": sum(tokens_by_slice.values()),
            "pool_quality": _counts([f"{r.quality:g}" for r in pool if r.quality is not None]),
            "eval_items": _counts([i.prompt.slice for i in composed.eval if i.prompt]),
            "heldout_items": _counts([i.prompt.slice for i in composed.heldout if i.prompt]),
        }
        progress(f"[mosaic] {name}: {len(pool)} pool rows "
                 f"({manifest['objectives'][name]['pool_tokens_total']} tokens), "
                 f"{len(composed.eval)} eval items, {len(composed.heldout)} held-out items")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return manifest
