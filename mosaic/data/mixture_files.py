"""A mixture folder: `train.jsonl` (one chat per line, in training order) and
`manifest.json` (what it holds and how it was made), written last so that its presence
means the folder is complete. `mosaic mix` writes one, `mosaic train` reads one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mosaic.data.pool_table import PoolTable
from mosaic.errors import ConfigError, DataError, RowProblem
from mosaic.redact import redact
from mosaic.schema import Message, MixtureManifest
from mosaic.store import read_json, readable_by_all, write_json_atomic

MIXTURE_FILE = "train.jsonl"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Mixture:
    """A built mixture: which pool rows, in training order, and its manifest."""

    manifest: MixtureManifest
    objectives: tuple[str, ...]
    objective_index: np.ndarray
    """Per mixture row: index into `objectives`."""
    row_index: np.ndarray
    """Per mixture row: the row's index in its objective's PoolTable."""

    def __len__(self) -> int:
        return len(self.row_index)


def write_mixture(mixture: Mixture, pools: Mapping[str, PoolTable], out: Path) -> Path:
    """Write `train.jsonl` (one chat per line, in training order) and then `manifest.json`
    into `out`; the manifest is written last, so its presence means the folder is complete."""
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_FILE).unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{MIXTURE_FILE}.", suffix=".tmp")
    try:
        readable_by_all(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for i, r in zip(mixture.objective_index.tolist(), mixture.row_index.tolist(),
                            strict=True):
                table = pools[mixture.objectives[i]]
                if table.rows is None:
                    raise ConfigError(f"pool of '{table.objective}' has no rows to write "
                                      "(a synthetic table)")
                row = table.rows[r]
                line = {"id": row.id, "objective": row.objective, "slice": row.slice,
                        "messages": [m.model_dump() for m in row.messages]}
                handle.write(redact(json.dumps(line, ensure_ascii=False)) + "\n")
        os.replace(tmp, out / MIXTURE_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    write_json_atomic(out / MANIFEST_FILE, mixture.manifest.model_dump(mode="json"))
    return out / MIXTURE_FILE


def read_mixture(folder: Path) -> tuple[list[list[Message]], MixtureManifest]:
    """The chats of a mixture folder (`mosaic mix --out`), in training order, and its
    manifest; a folder without its manifest is incomplete and refused."""
    manifest_path, rows_path = folder / MANIFEST_FILE, folder / MIXTURE_FILE
    if not manifest_path.is_file() or not rows_path.is_file():
        raise ConfigError(f"{folder} is not a complete mixture folder (needs train.jsonl and "
                          "manifest.json, written by `mosaic mix`)")
    manifest = read_json(manifest_path, MixtureManifest)
    chats = []
    for number, line in enumerate(rows_path.read_text(encoding="utf-8").splitlines()):
        try:
            chats.append([Message.model_validate(m) for m in json.loads(line)["messages"]])
        except (ValueError, KeyError, TypeError) as error:
            raise DataError([RowProblem(str(rows_path), number, "messages", str(error))]
                            ) from None
    if not chats:
        raise ConfigError(f"{rows_path} holds no chats: there is nothing to train on (was the "
                          "mixture built with a budget of 0 or from empty pools?)")
    return chats, manifest


def describe_manifest(manifest: MixtureManifest) -> str:
    """A few lines a person reads after `mosaic mix`: totals, per objective and bucket,
    and budget that ran out or went unplaced."""
    budget = manifest.budget
    lines = [f"budget {budget:,} tokens ({manifest.token_count}), realised "
             f"{manifest.realised_tokens:,} ({manifest.realised_tokens / budget:.1%}), "
             f"assistant {manifest.assistant_tokens:,}; seed {manifest.seed}, "
             f"content hash {manifest.content_hash}"]
    for name, tokens in manifest.tokens_by_objective.items():
        rows = len(manifest.row_ids.get(name, []))
        lines.append(f"  {name:<8} {tokens:>9,} tokens {tokens / budget:6.1%}  {rows:>6} rows"
                     f"  focus {manifest.focus_tokens.get(name, 0):,}")
        for bucket, planned in manifest.bucket_budgets.get(name, {}).items():
            got = manifest.tokens_by_bucket[name].get(bucket, 0)
            lines.append(f"    {bucket:<14} planned {planned:>9,}  realised {got:>9,}")
    for entry in manifest.redistributed:
        if entry.reason in ("exhausted", "unplaced"):
            where = f"{entry.objective}/{entry.bucket}" if entry.bucket else "the run"
            lines.append(f"  {entry.reason}: {where}: {entry.planned - entry.realised:,} tokens"
                         f" ({entry.note})")
    return "\n".join(lines)
