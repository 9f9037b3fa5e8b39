"""Eval sets with frozen prompt-side labels.

    items = load_eval_set("orbench", "data/or-bench-hard-1k.csv", judge=RuleJudge())

The first load reads the source with the objective's loader, labels every item's prompt
side with the judge and stores the labelled set under the cache
(`eval_sets/<objective>-<source hash>-<judge hash>.jsonl`). Every later load, in any
round or process, reads that file: an item's slice and weight never change (reference
§10.11). Changing the source file or the judge makes a new frozen set.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mosaic.data.formats import LOADERS
from mosaic.errors import ConfigError
from mosaic.objectives import get_objective
from mosaic.schema import EvalItem
from mosaic.store import cache_root
from mosaic.tools.evaluate import freeze_prompt_labels
from mosaic.tools.judges import Judge

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
DEFAULT_EVAL_SETS = {
    "xguard": EXAMPLES / "xguard_eval.jsonl",
    "orbench": EXAMPLES / "orbench_eval.csv",
    "ifeval": EXAMPLES / "ifeval_eval.jsonl",
}
"""Small example sets shipped with the package (the starter data replaces them)."""


def _source_hash(source: str | Path) -> str:
    path = Path(source)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        [path] if path.is_file() else [])
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    if not files:  # a hub id: its name (and the datasets cache) identify it
        digest.update(str(source).encode())
    return digest.hexdigest()[:16]


def load_eval_set(objective_name: str, source: str | Path, *, judge: Judge,
                  limit: int | None = None, split: str | None = None,
                  config: str | None = None) -> list[EvalItem]:
    """The objective's eval set from `source`, labelled once and frozen; first `limit` items."""
    objective = get_objective(objective_name)
    if objective.eval_format not in LOADERS:
        raise ConfigError(f"objective '{objective_name}' names no eval loader")
    judge_hash = hashlib.sha256(judge.id.encode()).hexdigest()[:12]
    frozen = (cache_root() / "eval_sets"
              / f"{objective_name}-{_source_hash(source)}-{judge_hash}.jsonl")
    if frozen.is_file():
        items = [EvalItem.model_validate_json(line) for line in
                 frozen.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        loader = LOADERS[objective.eval_format]
        loaded = loader(source, objective=objective_name, split=split, config=config)
        items = freeze_prompt_labels(objective_name, loaded.rows, judge)
        frozen.parent.mkdir(parents=True, exist_ok=True)
        tmp = frozen.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(i.model_dump(mode="json"), ensure_ascii=False) + "\n"
                               for i in items), encoding="utf-8")
        tmp.replace(frozen)
    return items[:limit] if limit else items
