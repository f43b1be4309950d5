"""The job store: one SQLite file (DIR/jobs.sqlite) with a row per job and its progress events.

The row is what the API shows and what survives a restart; the job's own
record and outputs live in its folder (DIR/ID/, written by `sceneglot.jobs`).
Every write is one short transaction, so the request handlers, the worker
threads and a second server process can share the file (WAL mode).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  action TEXT NOT NULL,            -- what the worker does when it takes the job: run | render
  stage TEXT,
  progress REAL NOT NULL DEFAULT 0,
  error TEXT,
  created REAL NOT NULL,
  updated REAL NOT NULL,
  name TEXT NOT NULL,              -- the uploaded file's name: shown, never used as a path
  input TEXT NOT NULL,             -- the upload's name inside the job folder (made by the server)
  options TEXT NOT NULL,           -- JSON of the submitted options
  content_key TEXT,                -- sha256 of the upload and the options: a resubmit finds its job
  idempotency_key TEXT UNIQUE,
  run INTEGER NOT NULL DEFAULT 0,  -- bumps each time a worker takes the job; events carry it
  seconds REAL                     -- how long the pipeline itself took in the last finished run
);
CREATE INDEX IF NOT EXISTS jobs_content ON jobs(content_key);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  run INTEGER NOT NULL,
  time REAL NOT NULL,
  stage TEXT NOT NULL,
  done REAL NOT NULL,
  total REAL,
  message TEXT NOT NULL DEFAULT '',
  progress REAL                    -- the whole job's progress (0..1) after this event
);
CREATE INDEX IF NOT EXISTS events_job ON events(job, seq);
"""


@dataclass
class JobRow:
    id: str
    status: str
    action: str
    stage: str | None
    progress: float
    error: str | None
    created: float
    updated: float
    name: str
    input: str
    options: dict[str, Any] = field(default_factory=dict)
    content_key: str | None = None
    idempotency_key: str | None = None
    run: int = 0
    seconds: float | None = None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> JobRow:
        data = dict(row)
        data["options"] = json.loads(data["options"])
        return cls(**data)


@dataclass
class Event:
    seq: int
    job: str
    run: int
    time: float
    stage: str
    done: float
    total: float | None
    message: str
    progress: float | None = None

    def fraction(self) -> float | None:
        return min(1.0, max(0.0, self.done / self.total)) if self.total else None


class Store:
    """Thread-safe access to DIR/jobs.sqlite (one connection per thread)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        db = self._db()
        db.executescript(_SCHEMA)
        for table, column in (("jobs", "seconds"), ("events", "progress")):  # a store made before they were
            if column not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} REAL")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, *_) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _tx(self) -> _Tx:
        return Store._Tx(self._db())

    # -- jobs -------------------------------------------------------------------------------------------------

    def add(self, job_id: str, *, name: str, input_name: str, options: dict[str, Any], content_key: str | None,
            idempotency_key: str | None) -> tuple[JobRow, bool]:
        """Insert a queued job, unless the key or the same upload+options names one: (row, created)."""
        now = time.time()
        with self._tx() as db:
            if idempotency_key:
                row = db.execute("SELECT * FROM jobs WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
                if row:
                    return JobRow.from_sql(row), False
            if content_key:
                row = db.execute("SELECT * FROM jobs WHERE content_key = ? AND status NOT IN ('failed', 'cancelled')"
                                 " ORDER BY created LIMIT 1", (content_key,)).fetchone()
                if row:
                    return JobRow.from_sql(row), False
            db.execute("INSERT INTO jobs (id, status, action, created, updated, name, input, options, content_key,"
                       " idempotency_key) VALUES (?, 'queued', 'run', ?, ?, ?, ?, ?, ?, ?)",
                       (job_id, now, now, name, input_name, json.dumps(options, sort_keys=True), content_key,
                        idempotency_key))
        return self.get(job_id), True

    def find_idempotent(self, key: str) -> JobRow | None:
        row = self._db().execute("SELECT * FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()
        return JobRow.from_sql(row) if row else None

    def get(self, job_id: str) -> JobRow | None:
        row = self._db().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRow.from_sql(row) if row else None

    def all(self) -> list[JobRow]:
        return [JobRow.from_sql(r) for r in self._db().execute("SELECT * FROM jobs ORDER BY created DESC, id")]

    def claim(self) -> JobRow | None:
        """Take the oldest queued job for a worker: it becomes running, with a new run number."""
        with self._tx() as db:
            row = db.execute(
                "UPDATE jobs SET status = 'running', run = run + 1, stage = NULL, progress = 0, error = NULL,"
                " updated = ? WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY updated, created"
                " LIMIT 1) RETURNING *", (time.time(),)).fetchone()
            if row is None:
                return None
            job = JobRow.from_sql(row)
            db.execute("DELETE FROM events WHERE job = ? AND run < ?", (job.id, job.run))
        return job

    def finish(self, job: JobRow, status: str, error: str | None = None, seconds: float | None = None) -> bool:
        """End `job`'s current run; False when the row moved on meanwhile (deleted, taken again)."""
        assert status in FINISHED
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET status = ?, error = ?, updated = ?, seconds = ?,"
                             " progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END"
                             " WHERE id = ? AND run = ? AND status = 'running'",
                             (status, error, time.time(), seconds, status, job.id, job.run))
        return cur.rowcount == 1

    def queue(self, job_id: str, action: str) -> JobRow | None:
        """Queue a finished job again (`render` after an edit, or a `run` retry); None if it is busy."""
        with self._tx() as db:
            row = db.execute("UPDATE jobs SET status = 'queued', action = ?, error = NULL, updated = ?"
                             " WHERE id = ? AND status IN ('done', 'failed', 'cancelled') RETURNING *",
                             (action, time.time(), job_id)).fetchone()
            if row:  # the new run's events replace the old run's
                db.execute("DELETE FROM events WHERE job = ?", (job_id,))
        return JobRow.from_sql(row) if row else None

    def cancel_queued(self, job_id: str) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET status = 'cancelled', updated = ? WHERE id = ? AND status = 'queued'",
                             (time.time(), job_id))
        return cur.rowcount == 1

    def requeue_interrupted(self) -> list[str]:
        """Jobs left running by a server that stopped: queued again (their stage caches make it cheap)."""
        with self._tx() as db:
            rows = db.execute("UPDATE jobs SET status = 'queued', updated = ? WHERE status = 'running' RETURNING id",
                              (time.time(),)).fetchall()
        return [r["id"] for r in rows]

    def delete(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM events WHERE job = ?", (job_id,))
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # -- events -----------------------------------------------------------------------------------------------

    def add_event(self, job: JobRow, stage: str, done: float, total: float | None, message: str = "",
                  progress: float | None = None) -> bool:
        """Record one progress event of `job`'s current run and show it on the row; False if the run is over."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET stage = ?, progress = COALESCE(?, progress), updated = ?"
                             " WHERE id = ? AND run = ? AND status = 'running'",
                             (stage, progress, now, job.id, job.run))
            if cur.rowcount != 1:
                return False
            db.execute("INSERT INTO events (job, run, time, stage, done, total, message, progress)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (job.id, job.run, now, stage, done, total, message, progress))
        return True

    def events(self, job_id: str, after: int = 0, limit: int = 500) -> list[Event]:
        rows = self._db().execute("SELECT * FROM events WHERE job = ? AND seq > ? ORDER BY seq LIMIT ?",
                                  (job_id, after, limit)).fetchall()
        return [Event(**dict(r)) for r in rows]
