"""One objective's training pool as columns, and focus matching over them.

The mixture builder and the action validator never loop over rows in Python: they read a
`PoolTable` (numpy arrays of token counts, slice codes, quality and the attributes focus
keys match) and select with array operations. A table is built once per pool load
(`pool_table`), or directly from arrays for synthetic pools (benchmarks/mixture.py).

Focus matching (`match_criteria`) follows `FocusCriteria`: within one key the listed values
are alternatives; `include` needs every key to match, `exclude` removes a row that matches
any key. A `values` key matches a scalar attribute equal to one of the values, or a list
attribute containing one; a `range` key `[lo, hi]` matches a number inside it (inclusive).
Values compare by `canonical` key (3, 3.0 and "3" are equal; booleans are not numbers). Each
row matches on its own value: a row without the attribute, or with a value of another kind,
matches nothing, and never changes how the other rows match.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mosaic.data.formats import LOADERS
from mosaic.data.tokens import count_tokens
from mosaic.errors import ConfigError, DataError, RowProblem
from mosaic.objectives import Objective, get_objective
from mosaic.schema import FocusValue, PoolRow


@dataclass(frozen=True)
class AttributeColumn:
    """One attribute of every row, as elements: one per row for a scalar attribute, one per
    item for a list attribute (then `owners[i]` is the row of element i).

    Each element has a code into `vocab` (-1: missing) and a number (NaN unless the value is
    a number or a numeric string), so values are matched by code and ranges by number, row
    by row: one odd value in a pool never changes how the other rows match.
    """

    codes: np.ndarray
    numbers: np.ndarray
    vocab: tuple[Any, ...] = ()
    """Canonical keys (`canonical`) of the distinct values."""
    owners: np.ndarray | None = None
    """Row of each element; None when element i is row i."""


def canonical(value: Any) -> tuple[str, Any]:
    """The key a value matches by: numbers (and numeric strings) by value, so 3, 3.0 and "3"
    are the same, and booleans as 0 and 1 (a pool may store `hard: true`); other strings as
    they are."""
    if isinstance(value, int | float):  # bools are ints
        return ("num", float(value))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return ("str", value)
        return ("num", number) if math.isfinite(number) else ("str", value)
    return ("json", json.dumps(value, sort_keys=True))


def attribute_column(values: Sequence[Any]) -> AttributeColumn:
    """The column of one attribute from each row's value (None = the row lacks it)."""
    vocab: dict[tuple[str, Any], int] = {}
    has_lists = any(isinstance(v, list) for v in values)
    elements: list[Any] = []
    owners: list[int] = []
    for row, value in enumerate(values):
        items = value if isinstance(value, list) else ([] if value is None else [value])
        if not has_lists:
            items = items or [None]
        elements += items
        owners += [row] * len(items)
    codes = np.full(len(elements), -1, dtype=np.int32)
    numbers = np.full(len(elements), np.nan)
    for i, element in enumerate(elements):
        if element is None:
            continue
        key = canonical(element)
        codes[i] = vocab.setdefault(key, len(vocab))
        if key[0] == "num":
            numbers[i] = key[1]
    return AttributeColumn(codes, numbers, tuple(vocab),
                           np.asarray(owners, dtype=np.int64) if has_lists else None)


@dataclass(frozen=True)
class PoolTable:
    """One objective's pool as arrays (row i of every array is the pool's row i). Its
    arrays are read-only (the arrays it is made from are flagged read-only too): a table
    never changes once made, so what it remembers stays true."""

    objective: str
    ids: np.ndarray
    """Row ids (str)."""
    tokens: np.ndarray
    """Templated tokens per row (int64), counted as `token_count` says."""
    assistant_tokens: np.ndarray
    slices: np.ndarray
    """Index into `slice_names` per row (int16); -1 for a row without a known slice."""
    slice_names: tuple[str, ...]
    quality: np.ndarray
    """Gold quality per row (float64); NaN when unjudged."""
    attributes: Mapping[str, AttributeColumn]
    token_count: str
    """How tokens were counted, e.g. `templated:<model id>`."""
    fingerprint: str
    """Hash of the rows' content and token counts (part of every mixture's cache key)."""
    rows: Sequence[PoolRow] | None = field(default=None, repr=False)
    """The rows themselves (their messages are what a written mixture holds); None for
    synthetic tables."""
    unknown_slices: Mapping[str, int] = field(default_factory=dict)
    """Slice labels of rows that are not slices of the objective (`(none)`: no label), with
    their counts; those rows are never sampled."""
    cut_rows: int = 0
    """Rows longer than the training cut, planned at the cut's length (`cut_to`)."""
    longest: int = 0
    """The longest row's tokens before the cut (0 when nothing was cut)."""
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Selections already computed over this table (validation and building ask the same
    questions of it); see `remember`."""
    by_slice: np.ndarray = field(init=False, repr=False, compare=False)
    """Row indices ordered by slice (stable): bucket k's rows are
    `by_slice[slice_starts[k]:slice_starts[k + 1]]`. An index, made once with the table."""
    slice_starts: np.ndarray = field(init=False, repr=False, compare=False)
    slice_bins: np.ndarray = field(init=False, repr=False, compare=False)
    """Slice code + 1 per row (0: no known slice), for per-bucket sums with `np.bincount`."""
    token_weights: np.ndarray = field(init=False, repr=False, compare=False)
    """`tokens` as float64: bincount's weights (converting on every call costs more than
    the count itself)."""

    MEMO_SIZE = 256

    def __post_init__(self) -> None:
        order = np.argsort(self.slices, kind="stable")
        first_labelled = int(np.searchsorted(self.slices[order], 0))
        # frozen dataclass: derived fields are set once, here
        object.__setattr__(self, "by_slice", order[first_labelled:])
        object.__setattr__(self, "slice_starts", np.searchsorted(
            self.slices[self.by_slice], np.arange(len(self.slice_names) + 1)))
        object.__setattr__(self, "slice_bins", self.slices.astype(np.intp) + 1)
        object.__setattr__(self, "token_weights", self.tokens.astype(np.float64))
        arrays = [self.ids, self.tokens, self.assistant_tokens, self.slices, self.quality,
                  self.by_slice, self.slice_starts, self.slice_bins, self.token_weights]
        for column in self.attributes.values():
            arrays += [column.codes, column.numbers]
            if column.owners is not None:
                arrays.append(column.owners)
        for array in arrays:
            array.flags.writeable = False

    def __len__(self) -> int:
        return len(self.tokens)

    def remember(self, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()`, computed once per key for this table. Arrays come back read-only, so
        a caller cannot change what the next caller gets."""
        if key not in self.memo:
            if len(self.memo) >= self.MEMO_SIZE:
                self.memo.clear()
            value = compute()
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            self.memo[key] = value
        return self.memo[key]

    def slice_code(self, name: str) -> int:
        return self.slice_names.index(name) if name in self.slice_names else -1


def pool_table(rows: Sequence[PoolRow], *, objective: str, token_count: str) -> PoolTable:
    """A table of `rows` (all of `objective`, all with token counts)."""
    spec = get_objective(objective)
    problems = [RowProblem(row.source, i, "objective", f"row {row.id} belongs to "
                           f"'{row.objective}', not '{objective}'")
                for i, row in enumerate(rows) if row.objective != objective]
    problems += [RowProblem(row.source, i, "tokens", f"row {row.id} has no token count")
                 for i, row in enumerate(rows) if row.tokens is None]
    if problems:
        raise DataError(problems, hint=f"the pool of '{objective}' cannot be mixed until "
                        "these rows are fixed")
    names = {a for key in spec.focus_keys.values() for a in [key.attribute] if a != "slice"}
    attributes = {name: attribute_column([row.attributes.get(name) for row in rows])
                  for name in sorted(names)}
    unknown: dict[str, int] = {}
    for row in rows:
        if row.slice not in spec.slices:
            label = "(none)" if row.slice is None else row.slice
            unknown[label] = unknown.get(label, 0) + 1
    digest = hashlib.sha256(token_count.encode())
    for row in rows:
        digest.update(row.model_dump_json().encode())
    return PoolTable(
        objective=objective,
        ids=np.asarray([row.id for row in rows], dtype=object),
        tokens=np.asarray([row.tokens for row in rows], dtype=np.int64),
        assistant_tokens=np.asarray([row.assistant_tokens or 0 for row in rows], dtype=np.int64),
        slices=np.asarray([spec.slices.index(row.slice) if row.slice in spec.slices else -1
                           for row in rows], dtype=np.int16),
        slice_names=spec.slices,
        quality=np.asarray([np.nan if row.quality is None else row.quality for row in rows],
                           dtype=np.float64),
        attributes=attributes,
        token_count=token_count,
        fingerprint=digest.hexdigest()[:16],
        rows=list(rows),
        unknown_slices=unknown,
    )


def cut_to(table: PoolTable, max_tokens: int) -> PoolTable:
    """`table` with every row longer than `max_tokens` planned at `max_tokens`, the length
    the trainer cuts it to (`train.max_example_tokens`): one enormous row would otherwise
    take a bucket's whole budget for tokens that are never trained on. Counted in
    `cut_rows`; the fingerprint changes with the cut, so no mixture planned without it is
    reused."""
    over = table.tokens > max_tokens
    if not over.any():
        return table
    return replace(table, tokens=np.minimum(table.tokens, max_tokens),
                   assistant_tokens=np.minimum(table.assistant_tokens, max_tokens),
                   fingerprint=hashlib.sha256(f"{table.fingerprint}:cut:{max_tokens}".encode()
                                              ).hexdigest()[:16],
                   cut_rows=int(over.sum()), longest=int(table.tokens.max()))


def load_pool_table(source: str | Path, *, objective: str, token_count: str,
                    tokenizer: Any = None, fmt: str = "pool", split: str | None = None,
                    config: str | None = None,
                    get_tokenizer: Callable[[], Any] | None = None) -> PoolTable:
    """Read a pool file and make its table, counting tokens for the target model.

    Token counts stored in the rows are kept only when a `manifest.json` beside the file
    says they were counted as `token_count` (the shipped starter pools, counted for the
    demo model); otherwise every row is recounted with `tokenizer` (or the one
    `get_tokenizer()` loads, only then), so the budget always means the base model's own
    templated tokens.
    """
    rows = LOADERS[fmt](source, objective=objective, split=split, config=config).rows
    if not counted_as(source, token_count):
        if tokenizer is None and get_tokenizer is not None:
            tokenizer = get_tokenizer()
        if tokenizer is None:
            raise ConfigError(f"{source}: token counts are not for {token_count}; pass the "
                              "model's tokenizer to recount them")

        counts = count_tokens(tokenizer, [row.messages for row in rows])
        rows = [row.model_copy(update={"tokens": c.total, "assistant_tokens": c.assistant})
                for row, c in zip(rows, counts, strict=True)]
    return pool_table(rows, objective=objective, token_count=token_count)


def companion(pool: Path, suffix: str) -> Path:
    """`xguard_pool.jsonl` -> `xguard_pool.<suffix>`: the files `mosaic data score` writes
    beside a pool (`score.json`, `dropped.jsonl`, `partial.jsonl`)."""
    return pool.with_name(f"{pool.stem}.{suffix}")


def counted_as(source: str | Path, token_count: str) -> bool:
    """Whether a pool file's stored token counts are `token_count`'s: its own `score.json`
    (written by `mosaic data score`) or its folder's manifest.json (the starter data) says
    so."""
    source = Path(source)
    if not source.is_file():
        return False
    for record in (companion(source, "score.json"), source.parent / "manifest.json"):
        if not record.is_file():
            continue
        try:
            facts = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(facts, dict) or facts.get("token_count") != token_count:
            return False
        if record.name == "manifest.json":  # the shipped starter data, hashed in its manifest
            return True
        # A scored pool edited since (rows filtered, messages changed) is recounted.
        digest = facts.get("pool_sha256")
        return digest == hashlib.sha256(source.read_bytes()).hexdigest()
    return False


# ---------------------------------------------------------------------------------------
# Focus matching


def match_key(table: PoolTable, objective: Objective, key: str,
              values: Sequence[FocusValue]) -> np.ndarray:
    """Rows matching one focus key (bool per row). The key and values must be valid for
    the objective (the validator checks that first); unknown values match nothing."""
    focus_key = objective.focus_keys[key]
    if focus_key.attribute == "slice":
        return _lookup(table.slices, len(table.slice_names),
                       [table.slice_code(str(v)) for v in values])
    column = table.attributes.get(focus_key.attribute)
    if column is None:
        return np.zeros(len(table), dtype=bool)
    if focus_key.kind == "range":
        lo, hi = float(values[0]), float(values[1])
        hits = (column.numbers >= lo) & (column.numbers <= hi)  # NaN compares False
    else:
        index = {v: i for i, v in enumerate(column.vocab)}
        hits = _lookup(column.codes, len(column.vocab),
                       [index[k] for k in map(canonical, values) if k in index])
    if column.owners is None:
        return hits
    return np.bincount(column.owners[hits], minlength=len(table)).astype(bool)


def _lookup(codes: np.ndarray, vocab_size: int, wanted: Sequence[int]) -> np.ndarray:
    """codes in `wanted` (a code of -1, "missing", never matches), by table lookup: one
    gather instead of the sort `np.isin` does."""
    table = np.zeros(vocab_size + 1, dtype=bool)
    table[[c + 1 for c in wanted if c >= 0]] = True
    return table[codes.astype(np.int64) + 1]


def match_criteria(table: PoolTable, objective: Objective,
                   criteria: Mapping[str, Sequence[FocusValue]], *, mode: Literal["all", "any"]
                   ) -> np.ndarray:
    """Rows matching every key (`all`, include) or any key (`any`, exclude). With no keys:
    `all` matches no row (no focus) and `any` matches no row (nothing excluded)."""
    if not criteria:
        return np.zeros(len(table), dtype=bool)
    masks = [match_key(table, objective, key, values) for key, values in criteria.items()]
    combine = np.logical_and if mode == "all" else np.logical_or
    return combine.reduce(masks)
