"""Read raw rows from a local file, a local dataset folder, or a Hugging Face dataset id.

    read_rows("data/xguard-train.jsonl")                       # jsonl / json / parquet / csv
    read_rows("downloads/or-bench/", config="or-bench-hard-1k") # a folder of such files
    read_rows("saved/", split="train")                         # a `save_to_disk` folder
    read_rows("bench-llm/or-bench", config="or-bench-hard-1k", split="train")   # hub id

Rows come back as `SourceRow(where, row, data)`: `where` is the file (or dataset id) the
row came from and `row` its 0-based index there, so every later error names both. A row
that cannot even be parsed (a broken jsonl line) comes back with a `RowProblem` as its
data, so lenient callers can count it.

A folder holding several different data files (an OR-Bench download has the 80k, hard-1k
and toxic sets side by side) is refused unless `config` or `split` picks one; shards of one
file (`train-00000-of-00002.parquet`, ...) are read in order. A hub id is loaded through
`datasets`; offline (the default for tests and the demo), a dataset not already in the
local Hugging Face cache raises `DatasetUnavailable` naming the id and how to provide a
local copy.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from mosaic.errors import DataError, DatasetUnavailable, RowProblem

FILE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
_JSON_WRAPPERS = ("data", "rows", "train", "examples", "instances")


class SourceRow(NamedTuple):
    where: str
    """The file path, or the dataset id, the row came from."""
    row: int
    """0-based index of the row in `where`."""
    data: Any
    """The parsed row (usually a dict), or a RowProblem when it could not be parsed."""


def read_rows(source: str | Path, *, split: str | None = None, config: str | None = None
              ) -> Iterator[SourceRow]:
    """Yield every row of a file, a dataset folder or a hub id, with where it came from."""
    path = Path(source)
    if path.is_file():
        yield from _read_file(path)
    elif path.is_dir():
        yield from _read_folder(path, split=split, config=config)
    elif (isinstance(source, str) and _HUB_ID.match(source)
          and not source.lower().endswith(FILE_SUFFIXES)):
        yield from _read_hub(source, split=split, config=config)
    else:
        raise DatasetUnavailable(str(source), "no such file or folder")


def source_digest(source: str | Path) -> str:
    """What identifies a source's content: the bytes of its file (or of every file of its
    folder), or a hub id's name (the datasets cache keeps its revision)."""
    path = Path(source)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        [path] if path.is_file() else [])
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:  # in blocks: a public dataset may be gigabytes
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    if not files:
        digest.update(str(source).encode())
    return digest.hexdigest()[:16]


def _fail(path: Path, message: str, hint: str = "") -> DataError:
    return DataError([RowProblem(str(path), 0, "", message)], hint=hint)


def _read_file(path: Path) -> Iterator[SourceRow]:
    suffix = path.suffix.lower()
    readers = {".jsonl": _read_jsonl, ".ndjson": _read_jsonl, ".json": _read_json,
               ".parquet": _read_parquet, ".csv": _read_csv}
    if suffix not in readers:
        raise _fail(path, f"unsupported file type '{suffix}'",
                    hint=f"supported: {', '.join(FILE_SUFFIXES)}")
    try:
        for index, data in readers[suffix](path):
            yield SourceRow(str(path), index, data)
    except UnicodeDecodeError as error:
        raise _fail(path, f"not UTF-8 text (byte {error.start}): re-save it as UTF-8") from None
    except OSError as error:  # includes pyarrow's ArrowIOError
        raise _fail(path, f"cannot be read: {error}") from None
    except Exception as error:
        import pyarrow as pa

        if isinstance(error, pa.ArrowException):
            raise _fail(path, f"not a readable parquet file: {error}") from None
        raise


def _read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    # utf-8-sig tolerates a byte-order mark (X-Teaming files have one).
    with path.open(encoding="utf-8-sig") as handle:
        for index, line in enumerate(handle):
            if not line.strip():
                continue
            try:
                yield index, json.loads(line)
            except json.JSONDecodeError as error:
                yield index, RowProblem(str(path), index, "", f"not valid JSON ({error.msg})")


def _read_json(path: Path) -> Iterator[tuple[int, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":  # JSON Lines saved as .json, common on the Hub
            yield from _read_jsonl(path)
            return
        raise _fail(path, f"not valid JSON at line {error.lineno}: {error.msg}") from None
    if isinstance(data, dict):
        wrapped = [key for key in _JSON_WRAPPERS if isinstance(data.get(key), list)]
        # A known wrapper key holding the rows, else a single row saved as one object.
        data = data[wrapped[0]] if len(wrapped) == 1 else [data]
    if not isinstance(data, list):
        raise _fail(path, "expected a JSON list of rows")
    yield from enumerate(data)


def _read_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    index = 0
    # to_pylist gives plain Python lists for list columns, never numpy arrays
    # (docs/reference.md §3.1).
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            yield index, row
            index += 1


def _read_csv(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            if None in row:  # DictReader files surplus values under the key None
                yield index, RowProblem(str(path), index, "", f"{len(row[None])} more value(s) "
                                        "than the header has columns (unquoted comma?)")
                continue
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


def _read_folder(path: Path, *, split: str | None, config: str | None) -> Iterator[SourceRow]:
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        yield from _read_saved_dataset(path, split=split)
        return
    files = sorted(p for p in path.rglob("*") if p.is_file()
                   and p.suffix.lower() in FILE_SUFFIXES
                   and p.name not in ("dataset_info.json", "state.json", "dataset_dict.json"))
    if not files:
        raise DatasetUnavailable(str(path), f"the folder holds no {', '.join(FILE_SUFFIXES)} files")
    for wanted in (config, split):
        if wanted:
            matching = [p for p in files if wanted in p.relative_to(path).as_posix()]
            if not matching:
                raise DatasetUnavailable(str(path), f"no file in the folder matches '{wanted}' "
                                         f"(files: {', '.join(_names(path, files))})")
            files = matching
    datasets_in_folder = {_SHARD.sub("", p.with_suffix("").relative_to(path).as_posix())
                          for p in files}
    if len(datasets_in_folder) > 1:
        raise DatasetUnavailable(
            str(path), f"the folder holds {len(datasets_in_folder)} different data files "
            f"({', '.join(_names(path, files))}); pass config= (--config) or split= (--split) "
            "naming one, or the file itself")
    for file in files:
        yield from _read_file(file)


def _names(root: Path, files: list[Path]) -> list[str]:
    names = [p.relative_to(root).as_posix() for p in files]
    return names[:8] + ([f"... {len(names) - 8} more"] if len(names) > 8 else [])


def _read_saved_dataset(path: Path, *, split: str | None) -> Iterator[SourceRow]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as error:  # datasets raises many types for a damaged folder
        raise DatasetUnavailable(str(path), f"not a readable saved dataset: {error}") from None
    if isinstance(loaded, datasets.DatasetDict):
        chosen = _pick_split(str(path), list(loaded), split)
        loaded, where = loaded[chosen], f"{path} [{chosen}]"
    else:
        where = str(path)
    for index, row in enumerate(loaded):
        yield SourceRow(where, index, row)


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


def _read_hub(dataset_id: str, *, split: str | None, config: str | None
              ) -> Iterator[SourceRow]:
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, config, split=split)
    except Exception as error:  # datasets raises many types; all mean "not reachable here"
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise DatasetUnavailable(
            dataset_id,
            f"{type(error).__name__}: {first_line}. "
            "This machine may be offline (HF_DATASETS_OFFLINE=1) or the id may be wrong. "
            "Provide a local copy instead: on a machine with access run "
            f"`hf download {dataset_id} --repo-type dataset --local-dir DIR` "
            f"(or `datasets.load_dataset('{dataset_id}').save_to_disk(DIR)`), copy DIR here, "
            "and pass DIR (or one of its .parquet/.jsonl files) instead of the id.",
        ) from None
    where = dataset_id
    if isinstance(loaded, datasets.DatasetDict):
        chosen = _pick_split(dataset_id, list(loaded), split)
        loaded, where = loaded[chosen], f"{dataset_id} [{chosen}]"
    for index, row in enumerate(loaded):
        yield SourceRow(where, index, row)
