"""Where mosaic keeps things on disk, and how it writes them so a crash never leaves half a file.

The cache root is `$MOSAIC_CACHE_DIR`, else `~/.cache/mosaic`. A cached folder is built in
a temporary sibling, its completion marker is written there last, and the whole folder is
then renamed into place in one step: a folder at the final path is complete or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mosaic.errors import DamagedFile, validation_problems
from mosaic.redact import redact

M = TypeVar("M", bound=BaseModel)

DONE_MARKER = "mosaic_done.json"


def cache_root() -> Path:
    """The root of mosaic's on-disk cache (created on first use)."""
    root = Path(os.environ.get("MOSAIC_CACHE_DIR") or Path.home() / ".cache" / "mosaic")
    root.mkdir(parents=True, exist_ok=True)
    return root


def write_json_atomic(path: Path, data: Any, *, sort_keys: bool = True) -> None:
    """Write JSON to `path` via a temporary file and a rename (never a torn file), keys
    masked (mosaic.redact) like everything mosaic writes.
    `sort_keys=False` keeps mappings whose order means something (a config's objectives)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        readable_by_all(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(redact(json.dumps(data, indent=2, sort_keys=sort_keys,
                                           ensure_ascii=False)) + "\n")
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise _named(error, path) from error
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def readable_by_all(path: str | Path) -> None:
    """Give a temporary file (created 0600) the mode a plain `open` would have (umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def is_complete(folder: Path) -> bool:
    """Whether a cached folder was finished (its marker exists)."""
    return (folder / DONE_MARKER).is_file()


@contextmanager
def building(folder: Path, marker: dict[str, Any]) -> Iterator[Path]:
    """Build a folder in a temporary sibling; on success move it into place and mark it.

        with building(target, {"spec": "tiny"}) as tmp:
            model.save_pretrained(tmp)

    An exception leaves nothing at `folder`. If another process finished the same folder
    first, its copy is kept and ours is discarded. The marker records every file's size and
    SHA-256, so `folder_problem` can tell later whether the folder is still what was built.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.building."))
    try:
        yield tmp
        write_json_atomic(tmp / DONE_MARKER, {**marker, "files": _file_digests(tmp)})
        if folder.exists() and not is_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)  # left by an older, interrupted layout
        try:
            os.replace(tmp, folder)
        except OSError:
            if not is_complete(folder):  # not a lost race with another builder: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _file_digests(folder: Path) -> dict[str, list[Any]]:
    """[size, sha256] of every file under `folder` but the marker, by relative path."""
    digests = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != DONE_MARKER:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digests[str(path.relative_to(folder))] = [path.stat().st_size, digest.hexdigest()]
    return digests


def folder_problem(folder: Path) -> str | None:
    """What no longer matches in a finished folder (a file missing, cut short or changed
    since it was built), or None. A marker from before sizes and hashes were recorded
    vouches for nothing more than completion."""
    try:
        recorded = json.loads((folder / DONE_MARKER).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return f"its completion marker {DONE_MARKER} cannot be read"
    if not isinstance(recorded, dict):
        return None
    try:
        expected = {name: (int(size), str(digest)) for name, (size, digest) in recorded.items()}
    except (TypeError, ValueError):
        return f"its completion marker {DONE_MARKER} lists its files in a form not known"
    for name, (size, _) in expected.items():  # sizes first: cheap, and most damage shows
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} is {path.stat().st_size:,} bytes, {size:,} when written"
    now = _file_digests(folder)
    for name, (_, digest) in expected.items():
        if now.get(name, [0, ""])[1] != digest:
            return f"{name} changed since it was written"
    return None


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to `path` via a temporary file and a rename, keys masked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        readable_by_all(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(redact(text))
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise _named(error, path) from error
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _named(error: OSError, path: Path) -> OSError:
    """A write's OSError with the file it was writing: a failed write through a file
    descriptor (a full disk, say) names none."""
    if error.filename is None and error.errno is not None:
        return OSError(error.errno, error.strerror, str(path))
    return error


def content_key(*parts: Any) -> str:
    """A short hash of JSON-serialisable parts: the name of a content-addressed artifact."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ArtifactCache:
    """Expensive results stored under the hash of everything that determines them.

        <root>/mixtures/<key>/      train.jsonl + manifest.json        (a folder)
        <root>/adapters/<key>/      the peft adapter + mosaic_card.json (a folder)
        <root>/generations/<key>.json   replies to one objective's eval set
        <root>/judgements/<key>.json    those replies judged (L1-L3 per sample)
        <root>/eval_sets/<objective>-<key>.jsonl   a run's eval sets, prompt labels frozen
        <root>/judgements.sqlite        a run's LLM judge answers (mosaic.tools.evaluation
                                        .judges.cache)

    Folders are built with `building` (complete or absent), files written atomically, so a
    process killed at any moment leaves either the finished artifact or nothing.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.damaged: list[str] = []
        """What has_folder found damaged (and set aside) in this process."""

    def folder(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def has_folder(self, kind: str, key: str) -> bool:
        """Whether the folder is finished and still what was built. A damaged one (a file
        missing, cut short or changed) is moved aside as `.KEY.damaged-<time>` so the
        step builds it again; `damaged` says what was found."""
        folder = self.folder(kind, key)
        try:
            marker = (folder / DONE_MARKER).stat().st_ino
            problem = folder_problem(folder)
            if problem is None:
                return True
            if (folder / DONE_MARKER).stat().st_ino != marker:  # rebuilt meanwhile
                return self.has_folder(kind, key)
        except FileNotFoundError:  # absent, or another process set it aside first
            return False
        from datetime import UTC, datetime

        aside = folder.with_name(f".{key}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        try:
            os.replace(folder, aside)
        except FileNotFoundError:
            return False
        self.damaged.append(f"{folder}: {problem}; kept as {aside.name}, built again")
        return False

    def read(self, kind: str, key: str) -> Any | None:
        """A cached JSON artifact, or None when absent (or unreadable: then recomputed)."""
        path = self.root / kind / f"{key}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write(self, kind: str, key: str, data: Any) -> None:
        write_json_atomic(self.root / kind / f"{key}.json", data)


def read_json(path: Path, model: type[M] | None = None) -> Any:
    """The JSON document in `path`, validated as `model` when one is given. A file that is
    cut short, edited or not what it should be raises DamagedFile naming it (a missing
    file raises FileNotFoundError, as open does)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        return json.loads(text) if model is None else model.model_validate_json(text)
    except json.JSONDecodeError as error:
        raise DamagedFile(path, f"not valid JSON at line {error.lineno}, column "
                                f"{error.colno}: {error.msg} (cut short or edited?)") from None
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise DamagedFile(path, "not valid JSON (cut short or edited?)") from None
        problems = "; ".join(validation_problems(error, limit=5, whole="the document"))
        raise DamagedFile(path, f"not a valid {model.__name__ if model else 'file'}: "
                                f"{problems}") from None
    except UnicodeDecodeError:
        raise DamagedFile(path, "not UTF-8 text") from None


def read_json_list(path: Path, key: str | None, model: type[M]) -> list[M]:
    """The documents of a JSON list in `path` (or under `key` of its top-level object),
    each validated as `model`; DamagedFile naming the file and the entry otherwise."""
    data = read_json(path)
    items = data.get(key, []) if key is not None and isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DamagedFile(path, f"expected a list{f' under {key!r}' if key else ''}")
    try:
        return [model.model_validate(item) for item in items]
    except ValidationError as error:
        problems = "; ".join(validation_problems(error, limit=5, whole="entry"))
        raise DamagedFile(path, f"not a list of valid {model.__name__}: {problems}") from None


class RunFolder:
    """One run's folder: its resolved config, checkpoints, event log, rounds and reports.

        config.json         the resolved RunConfig (preset + overrides), written at start
        checkpoints.sqlite  LangGraph's checkpoints (one thread, named after the run)
        events.jsonl        one line per step started/finished, with timings and cache hits
        rounds/NNN/         action.json, validation.json, manifest.json, adapter.json,
                            eval/ (report.json, samples.jsonl, summary.md), record.json last
        archive.json        every round record, the front, hypervolumes, the recommendation
        constraints.json    rules a reviewer or chat added during the run
        report.md/.html     the run report
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.checkpoints = self.root / "checkpoints.sqlite"
        self.events = self.root / "events.jsonl"
        self.archive = self.root / "archive.json"
        self.added_constraints = self.root / "constraints.json"

    @property
    def run_id(self) -> str:
        return self.root.resolve().name

    def round_dir(self, round_number: int) -> Path:
        return self.root / "rounds" / f"{round_number:03d}"

    def log(self, event: str, **fields: Any) -> None:
        """Append one event; a line torn by a kill is skipped when the log is read."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = redact(json.dumps({"time": _now(), "event": event, **fields},
                                 ensure_ascii=False, default=str))
        with self.events.open("a+b") as handle:
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a line torn by a kill: end it, keep ours whole
                    line = "\n" + line
            handle.write((line + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    def read_events(self) -> list[dict[str, Any]]:
        if not self.events.is_file():
            return []
        events = []
        for line in self.events.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
