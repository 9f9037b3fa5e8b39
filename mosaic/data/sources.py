"""Read raw rows from a local file, a local dataset folder, or a Hugging Face dataset id.

    read_rows("data/xguard-train.jsonl")            # jsonl / json / parquet / csv
    read_rows("downloads/or-bench/")                  # a folder of such files, or save_to_disk
    read_rows("bench-llm/or-bench", config="or-bench-hard-1k", split="train")   # hub id

Rows come back as (row index, dict) pairs so that every later error can name the row.
A hub id is loaded through `datasets`; offline (the default for tests and the demo), a
dataset that is not already in the local Hugging Face cache raises `DatasetUnavailable`
naming the id and how to provide a local copy.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mosaic.errors import DataError, DatasetUnavailable, RowProblem

FILE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

Row = tuple[int, Any]


def read_rows(source: str | Path, *, split: str | None = None, config: str | None = None
              ) -> Iterator[Row]:
    """Yield (row index, raw row) from a file, a dataset folder or a hub id.

    A row that is not even parseable (a broken jsonl line) is yielded as a `RowProblem`
    in place of the dict, so the caller can count it in lenient mode.
    """
    path = Path(source)
    if path.is_file():
        yield from _read_file(path)
    elif path.is_dir():
        yield from _read_folder(path, split=split)
    elif (isinstance(source, str) and _HUB_ID.match(source)
          and not source.lower().endswith(FILE_SUFFIXES)):
        yield from _read_hub(source, split=split, config=config)
    else:
        raise DatasetUnavailable(str(source), "no such file or folder")


def _read_file(path: Path) -> Iterator[Row]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path)
    elif suffix == ".json":
        yield from _read_json(path)
    elif suffix == ".parquet":
        yield from _read_parquet(path)
    elif suffix == ".csv":
        yield from _read_csv(path)
    else:
        raise DataError(
            [RowProblem(str(path), 0, "", f"unsupported file type '{suffix}'")],
            hint=f"supported: {', '.join(FILE_SUFFIXES)}",
        )


def _read_jsonl(path: Path) -> Iterator[Row]:
    # utf-8-sig tolerates a byte-order mark (X-Teaming files have one).
    with path.open(encoding="utf-8-sig") as handle:
        for index, line in enumerate(handle):
            if not line.strip():
                continue
            try:
                yield index, json.loads(line)
            except json.JSONDecodeError as error:
                yield index, RowProblem(str(path), index, "", f"not valid JSON ({error.msg})")


def _read_json(path: Path) -> Iterator[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DataError(
            [RowProblem(str(path), 0, "", f"not valid JSON at line {error.lineno}: {error.msg}")]
        ) from None
    if isinstance(data, dict):
        # Some dumps wrap the rows: {"data": [...]} / {"rows": [...]} / {"train": [...]}.
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError([RowProblem(str(path), 0, "", "expected a JSON list of rows, or an "
                                        "object holding exactly one list of rows")])
        data = lists[0]
    if not isinstance(data, list):
        raise DataError([RowProblem(str(path), 0, "", "expected a JSON list of rows")])
    yield from enumerate(data)


def _read_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    index = 0
    # to_pylist gives plain Python lists for list columns (never numpy arrays, reference §10.6).
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            yield index, row
            index += 1


def _read_csv(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            # Nested values (message lists, id lists, kwargs) are stored as JSON text in CSV.
            yield index, {key: _maybe_json(value) for key, value in row.items()}


def _maybe_json(value: str | None) -> Any:
    if value is None:
        return None
    text = value.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value
    return value


def _read_folder(path: Path, *, split: str | None) -> Iterator[Row]:
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        yield from _read_saved_dataset(path, split=split)
        return
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in FILE_SUFFIXES
                   and p.name not in ("dataset_info.json", "state.json"))
    if split:
        matching = [p for p in files if split in p.relative_to(path).as_posix()]
        files = matching or files
    if not files:
        raise DatasetUnavailable(str(path), f"the folder holds no {', '.join(FILE_SUFFIXES)} files")
    offset = 0
    for file in files:
        last = -1
        for index, row in _read_file(file):
            last = index
            yield offset + index, row
        offset += last + 1


def _read_saved_dataset(path: Path, *, split: str | None) -> Iterator[Row]:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        loaded = loaded[_pick_split(str(path), list(loaded), split)]
    yield from enumerate(loaded)


def _pick_split(source: str, available: list[str], split: str | None) -> str:
    if split is not None:
        if split not in available:
            raise DatasetUnavailable(source, f"no split '{split}' (splits: {', '.join(available)})")
        return split
    if len(available) == 1:
        return available[0]
    if "train" in available:
        return "train"
    raise DatasetUnavailable(source, f"several splits ({', '.join(available)}); choose one")


def _read_hub(dataset_id: str, *, split: str | None, config: str | None) -> Iterator[Row]:
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, config, split=split)
    except Exception as error:  # datasets raises many types; all mean "not reachable here"
        raise DatasetUnavailable(
            dataset_id,
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}. "
            "This machine may be offline (HF_DATASETS_OFFLINE=1) or the id may be wrong. "
            "Provide a local copy instead: on a machine with access run "
            f"`hf download {dataset_id} --repo-type dataset --local-dir DIR` "
            f"(or `datasets.load_dataset('{dataset_id}').save_to_disk(DIR)`), copy DIR here, "
            "and pass DIR (or one of its .parquet/.jsonl files) instead of the id.",
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        loaded = loaded[_pick_split(dataset_id, list(loaded), split)]
    yield from enumerate(loaded)
