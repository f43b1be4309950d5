"""Persistent translation cache (SQLite): paid or slow translations are made once.

Keyed by backend (+ its option variant), language pair, the sentence and, for
context-aware backends, the context they saw. Written after every batch, so
an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from pathlib import Path

_SCHEMA = """CREATE TABLE IF NOT EXISTS translations (
  key TEXT PRIMARY KEY, backend TEXT, source TEXT, target TEXT, text TEXT, translation TEXT,
  created REAL DEFAULT (julianday('now')))"""


def default_path() -> Path:
    from .. import models

    return models.cache_dir("translate") / "cache.sqlite3"


def make_key(backend: str, source: str, target: str, text: str, context: str = "") -> str:
    raw = "\x1f".join([backend, source, target, text, context])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class Cache:
    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, translation FROM translations WHERE key IN ({marks})", chunk)
            found.update(dict(rows.fetchall()))
        return found

    def put_many(self, rows: list[tuple[str, str, str, str, str, str]]) -> None:
        """rows: (key, backend, source, target, text, translation)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO translations (key, backend, source, target, text, translation) "
                "VALUES (?, ?, ?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
