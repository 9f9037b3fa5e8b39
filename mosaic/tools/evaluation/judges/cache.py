"""A persistent cache of judgements: re-judging an identical response costs nothing.

Keys are sha256 over (judge id, template hash, the judged payload); values are the L3 JSON.
Only successes are stored, so a failed call is retried next time. SQLite keeps it one file,
safe across threads and processes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from mosaic.redact import redact


def judgement_key(judge_id: str, template: str, payload: Any) -> str:
    text = json.dumps([judge_id, template, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class JudgementCache:
    """get/put of L3 dicts by key, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS judgements (key TEXT PRIMARY KEY, "
                         "value TEXT NOT NULL)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM judgements WHERE key = ?",
                                   (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO judgements (key, value) VALUES (?, ?)",
                             (key, redact(json.dumps(value, ensure_ascii=False))))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()
