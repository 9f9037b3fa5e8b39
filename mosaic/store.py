"""Where mosaic keeps things on disk, and how it writes them so a crash never leaves half a file.

The cache root is `$MOSAIC_CACHE_DIR`, else `~/.cache/mosaic`. A cached folder is built in
a temporary sibling, its completion marker is written there last, and the whole folder is
then renamed into place in one step: a folder at the final path is complete or absent.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DONE_MARKER = "mosaic_done.json"


def cache_root() -> Path:
    """The root of mosaic's on-disk cache (created on first use)."""
    root = Path(os.environ.get("MOSAIC_CACHE_DIR") or Path.home() / ".cache" / "mosaic")
    root.mkdir(parents=True, exist_ok=True)
    return root


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` via a temporary file and a rename (never a torn file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        readable_by_all(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
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
    first, its copy is kept and ours is discarded.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.building."))
    try:
        yield tmp
        write_json_atomic(tmp / DONE_MARKER, marker)
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
