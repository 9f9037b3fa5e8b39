"""Eval sets with frozen prompt-side labels.

    items = load_eval_set("orbench", "data/or-bench-hard-1k.csv", judge=RuleJudge())

The first load reads the source with the objective's loader, labels every item's prompt
side with the judge and stores the labelled set under the cache
(`eval_sets/<objective>-<key>.jsonl`, the key covering the source's bytes, split, config,
limit, the objective's version and the judge's *labelling* identity). Every later load,
in any round or process, reads that file: an item's slice and weight never change
(docs/reference.md §3.5). Changing any of those makes a new frozen set; a damaged frozen file is
rebuilt, with a warning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

from mosaic.data.compose import STARTER_DIR, STARTER_OBJECTIVES
from mosaic.data.formats import LOADERS, LoadResult
from mosaic.data.sources import source_digest
from mosaic.errors import ConfigError
from mosaic.objectives import get_objective
from mosaic.schema import EvalItem
from mosaic.store import cache_root, write_text_atomic
from mosaic.tools.evaluation.evaluate import freeze_prompt_labels
from mosaic.tools.evaluation.judges import Judge

DEFAULT_EVAL_SETS = {name: STARTER_DIR / f"{name}_eval.jsonl" for name in STARTER_OBJECTIVES}
"""The starter eval sets shipped with the package (docs/data.md), in mosaic's own
`eval-items` format with labels known by construction."""
HELDOUT_EVAL_SETS = {name: STARTER_DIR / f"{name}_heldout.jsonl" for name in STARTER_OBJECTIVES}
"""The starter held-out (generalisation) sets: seeds and phrasings absent from the pools."""
STARTER_FORMAT = "eval-items"


def eval_set_key(objective_name: str, source: str | Path, *, judge: Judge,
                 limit: int | None, split: str | None, config: str | None,
                 skip_unlabelled: bool = False, fmt: str | None = None) -> str:
    """What identifies a frozen eval set (see the module docstring)."""
    objective = get_objective(objective_name)
    parts = [source_digest(source), split, config, limit, objective.version, judge.label_id,
             skip_unlabelled, fmt]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _read_frozen(path: Path) -> list[EvalItem] | None:
    try:
        return [EvalItem.model_validate_json(line) for line in
                path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        print(f"[mosaic] warning: frozen eval set {path} is damaged ({type(error).__name__});"
              " rebuilding it", flush=True)
        return None


def per_slice_subset(items: list[EvalItem], per_slice: int) -> list[EvalItem]:
    """The first `per_slice` items of every slice, in their original order: a small eval that
    still covers each slice (`--limit` takes the first N items, which in a set sorted by
    slice is one or two slices only)."""
    if per_slice < 1:
        raise ConfigError(f"per_slice must be at least 1, got {per_slice}")
    taken: dict[str, int] = {}
    subset = []
    for item in items:
        label = item.prompt.slice if item.prompt is not None else "(unlabelled)"
        if taken.get(label, 0) < per_slice:
            taken[label] = taken.get(label, 0) + 1
            subset.append(item)
    return subset


def load_eval_set(objective_name: str, source: str | Path, *, judge: Judge,
                  limit: int | None = None, split: str | None = None,
                  config: str | None = None, skip_unlabelled: bool = False,
                  fmt: str | None = None, per_slice: int | None = None,
                  frozen_in: Path | None = None) -> list[EvalItem]:
    """The objective's eval set from `source` (its first `limit` items), labelled once and
    frozen. Only those items are labelled, so a small `--limit` with a paid judge stays cheap.
    `per_slice` then keeps the first N items of each slice. `fmt` names the loader (default:
    the objective's eval format); `frozen_in` the folder of frozen sets (default: the cache
    root's `eval_sets/`; a run keeps them beside its other artifacts)."""
    objective = get_objective(objective_name)
    fmt = fmt or objective.eval_format
    if fmt not in LOADERS:
        raise ConfigError(f"unknown eval-set format '{fmt}' for objective '{objective_name}'")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    key = eval_set_key(objective_name, source, judge=judge, limit=limit, split=split,
                       config=config, skip_unlabelled=skip_unlabelled, fmt=fmt)
    frozen = (frozen_in or cache_root() / "eval_sets") / f"{objective_name}-{key}.jsonl"
    items = _read_frozen(frozen) if frozen.is_file() else None
    if items is None:
        # LOADERS mixes signatures and row types; an objective's eval format loads EvalItems.
        loader = cast("Callable[..., LoadResult[EvalItem]]", LOADERS[fmt])
        rows = loader(source, objective=objective_name, split=split, config=config).rows
        items = freeze_prompt_labels(objective_name, rows[:limit] if limit else rows, judge,
                                     skip_unlabelled=skip_unlabelled)
        write_text_atomic(frozen, "".join(json.dumps(i.model_dump(mode="json"),
                                                     ensure_ascii=False) + "\n" for i in items))
    return per_slice_subset(items, per_slice) if per_slice is not None else items
