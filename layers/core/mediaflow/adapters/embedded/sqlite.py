"""SQLite stores for the embedded mode: workflows (+ versions), runs (+ node steps), API keys, idempotency.

One database file under the data dir in WAL mode, shared by the server, the CLI and the worker
processes. Each thread of each process opens its own connection; writes are short ``BEGIN IMMEDIATE``
transactions and a busy timeout absorbs contention. Every query names the tenant, so another tenant's
id reads as NotFound.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mediaflow.clock import now_iso
from mediaflow.errors import Conflict, NotFound
from mediaflow.ids import hash_api_key, new_api_key
from mediaflow.ports import RUN_STATUSES, TERMINAL_RUN_STATUSES, check_run_status, new_run_identity

DB_FILENAME = "mediaflow.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workflows (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE IF NOT EXISTS workflow_versions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id, version)
);
CREATE TRIGGER IF NOT EXISTS workflow_versions_immutable BEFORE UPDATE ON workflow_versions
BEGIN SELECT RAISE(ABORT, 'workflow versions are immutable'); END;
CREATE TABLE IF NOT EXISTS runs (
    tenant TEXT NOT NULL,
    run_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    progress TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, run_id)
);
CREATE INDEX IF NOT EXISTS runs_by_workflow ON runs (tenant, workflow_id, created_at);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (tenant, created_at);
CREATE TABLE IF NOT EXISTS steps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    body TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_by_run ON steps (tenant, run_id, seq);
CREATE TRIGGER IF NOT EXISTS steps_append_only BEFORE UPDATE ON steps
BEGIN SELECT RAISE(ABORT, 'steps are append-only'); END;
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant, created_at);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    result TEXT,
    expires_at REAL NOT NULL,
    created_at TEXT NOT NULL
);
"""



# Pauses between tries for the write lock: from a tenth of a millisecond, doubling up to five.
_FIRST_LOCK_PAUSE = 0.0001
_LAST_LOCK_PAUSE = 0.005


def _is_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "locked" in message or "busy" in message


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _dumps(value)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class SQLiteDatabase:
    """One SQLite file; a connection per thread (and per process), opened lazily."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._schema_lock = threading.Lock()
        self._schema_ready = False
        self._extra_schemas: set[str] = set()

    @classmethod
    def in_dir(cls, data_dir: Path) -> SQLiteDatabase:
        return cls(Path(data_dir) / DB_FILENAME)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        self._use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        self._local.conn = conn
        self._local.pid = os.getpid()
        self._ensure_schema(conn)
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL answers SQLITE_BUSY at once, without the busy handler, when another
        # process opens or switches the same file at that moment; so read the mode first and retry.
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.005
        while True:
            try:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        with self._schema_lock:
            if not self._schema_ready:
                # Every statement is IF NOT EXISTS, so processes racing here all end with the same schema.
                conn.executescript(_SCHEMA)
                self._schema_ready = True

    def ensure(self, schema: str) -> None:
        """Create an extra store's tables once per database object (every statement IF NOT EXISTS)."""
        if schema in self._extra_schemas:
            return
        connection = self.connection()  # takes _schema_lock itself the first time
        with self._schema_lock:
            if schema not in self._extra_schemas:
                connection.executescript(schema)
                self._extra_schemas.add(schema)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction that takes the write lock up front (no upgrade deadlocks). Inside another
        ``write()`` of the same thread it joins that transaction (writes that must land together)."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        self._begin_immediate(conn)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _begin_immediate(self, conn: sqlite3.Connection) -> None:
        """Take the write lock, waiting for another writer as long as the busy timeout allows.

        SQLite's own busy handler sleeps 1, 2, 5, 10 ms and more between tries, while the transactions here
        hold the lock for a fraction of a millisecond: a worker process that met the lock held would idle
        for a whole millisecond or more between two Tasks. So the first try does not wait, and the next ones
        come after short pauses that grow only while the lock stays held."""
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = time.monotonic() + self.busy_timeout_ms / 1000
            pause = _FIRST_LOCK_PAUSE
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if not _is_busy(error) or time.monotonic() + pause > deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, _LAST_LOCK_PAUSE)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    def journal_mode(self) -> str:
        return str(self.connection().execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        """Close this thread's connection (other threads close theirs when they end)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# -- workflows ---------------------------------------------------------------------------------------


class SQLiteWorkflowStore:
    """Workflows with optimistic concurrency and an immutable snapshot per version.

    The stored document is the workflow dict as given, plus ``id``, ``tenant``, ``version``, ``status``,
    ``createdAt`` and ``updatedAt`` kept by the store.
    """

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def put(
        self, tenant: str, workflow: dict[str, Any], *, expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Create or replace; ``expected_version`` (0 = must not exist) turns it into a conditional write."""
        workflow_id = str(workflow.get("id") or uuid.uuid4().hex)
        stamp = now_iso()
        with self.db.write() as conn:
            row = conn.execute("SELECT version, created_at FROM workflows WHERE tenant = ? AND id = ?",
                               (tenant, workflow_id)).fetchone()
            current = row["version"] if row else 0
            if expected_version is not None and expected_version != current:
                raise Conflict(f"workflow {workflow_id!r} is at version {current}, not {expected_version}",
                               field="version")
            version = current + 1
            doc = {**workflow, "id": workflow_id, "tenant": tenant, "version": version,
                   "status": str(workflow.get("status") or "active"),
                   "createdAt": row["created_at"] if row else stamp, "updatedAt": stamp}
            body = _dumps(doc)
            conn.execute(
                "INSERT INTO workflows (tenant, id, version, status, name, body, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET "
                "version = excluded.version, status = excluded.status, name = excluded.name, "
                "body = excluded.body, updated_at = excluded.updated_at",
                (tenant, workflow_id, version, doc["status"], str(doc.get("name") or ""), body,
                 doc["createdAt"], stamp),
            )
            try:
                conn.execute("INSERT INTO workflow_versions (tenant, id, version, body, created_at) "
                             "VALUES (?, ?, ?, ?, ?)", (tenant, workflow_id, version, body, stamp))
            except sqlite3.IntegrityError:
                raise Conflict(f"workflow {workflow_id!r} version {version} already exists",
                               field="version") from None
        return doc

    def get(self, tenant: str, workflow_id: str) -> dict[str, Any]:
        rows = self.db.read("SELECT body FROM workflows WHERE tenant = ? AND id = ?", (tenant, workflow_id))
        if not rows:
            raise NotFound(f"workflow {workflow_id!r} not found")
        doc: dict[str, Any] = json.loads(rows[0]["body"])
        return doc

    def get_version(self, tenant: str, workflow_id: str, version: int) -> dict[str, Any]:
        rows = self.db.read("SELECT body FROM workflow_versions WHERE tenant = ? AND id = ? AND version = ?",
                            (tenant, workflow_id, version))
        if not rows:
            raise NotFound(f"workflow {workflow_id!r} version {version} not found")
        doc: dict[str, Any] = json.loads(rows[0]["body"])
        return doc

    def versions(self, tenant: str, workflow_id: str) -> list[int]:
        rows = self.db.read("SELECT version FROM workflow_versions WHERE tenant = ? AND id = ? "
                            "ORDER BY version", (tenant, workflow_id))
        if not rows:
            raise NotFound(f"workflow {workflow_id!r} not found")
        return [int(r["version"]) for r in rows]

    def list(self, tenant: str, **filters: Any) -> list[dict[str, Any]]:
        """Workflows of ``tenant``, newest first. Filters: ``status``, ``limit`` (default 100)."""
        limit = int(filters.pop("limit", 100))
        status = filters.pop("status", None)
        if filters:
            raise TypeError(f"unknown workflow filters: {', '.join(sorted(filters))}")
        sql = "SELECT body FROM workflows WHERE tenant = ?"
        params: list[Any] = [tenant]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY updated_at DESC, id LIMIT ?"
        params.append(limit)
        return [json.loads(r["body"]) for r in self.db.read(sql, params)]

    def delete(self, tenant: str, workflow_id: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute("DELETE FROM workflows WHERE tenant = ? AND id = ?", (tenant, workflow_id))
            if cursor.rowcount == 0:
                raise NotFound(f"workflow {workflow_id!r} not found")
            conn.execute("DELETE FROM workflow_versions WHERE tenant = ? AND id = ?", (tenant, workflow_id))


# -- runs --------------------------------------------------------------------------------------------

_RUN_FIELDS = {
    "status": "status", "input": "input", "output": "output", "error": "error", "progress": "progress",
    "startedAt": "started_at", "started_at": "started_at", "endedAt": "ended_at", "ended_at": "ended_at",
}
_JSON_RUN_COLUMNS = frozenset({"input", "output", "error", "progress"})
# A write that returns the row it wrote (SQLite 3.35 and later) spares reading it again.
_RETURNING = " RETURNING *" if sqlite3.sqlite_version_info >= (3, 35) else ""


def _run_doc(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "tenant": row["tenant"], "runId": row["run_id"], "workflowId": row["workflow_id"],
        "version": row["version"], "status": row["status"], "input": _loads(row["input"]),
        "output": _loads(row["output"]), "error": _loads(row["error"]), "progress": _loads(row["progress"]),
        "createdAt": row["created_at"], "startedAt": row["started_at"], "endedAt": row["ended_at"],
        "updatedAt": row["updated_at"],
    }


class SQLiteRunStore:
    """Runs (camelCase documents) and their node steps (append-only)."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def create_run(self, run: dict[str, Any]) -> dict[str, Any]:
        """Insert a run (``tenant``, ``runId``, ``workflowId`` required); a duplicate id is a Conflict."""
        tenant, run_id, workflow_id, status = new_run_identity(run)
        stamp = now_iso()
        try:
            with self.db.write() as conn:
                rows = conn.execute(
                    "INSERT INTO runs (tenant, run_id, workflow_id, version, status, input, output, error, "
                    "progress, created_at, started_at, ended_at, updated_at) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){_RETURNING}",
                    (tenant, run_id, workflow_id, int(run.get("version", 1)), status,
                     _dumps(run.get("input")), _json_or_none(run.get("output")),
                     _json_or_none(run.get("error")), _json_or_none(run.get("progress")),
                     run.get("createdAt") or stamp, run.get("startedAt"), run.get("endedAt"), stamp),
                ).fetchall()
        except sqlite3.IntegrityError:
            raise Conflict(f"run {run_id!r} already exists", field="runId") from None
        return _run_doc(rows[0]) if rows else self.get_run(tenant, run_id)

    def update_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any]:
        """Set some of: status, input, output, error, progress, startedAt/started_at, endedAt/ended_at."""
        updated = self.update_run_if(tenant, run_id, RUN_STATUSES, **fields)
        if updated is None:
            raise NotFound(f"run {run_id!r} not found")
        return updated

    def finish_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any] | None:
        """Like update_run, but only while the run is not finished yet; None when it already was."""
        updated = self.update_run_if(tenant, run_id, RUN_STATUSES - TERMINAL_RUN_STATUSES, **fields)
        if updated is None:
            self.get_run(tenant, run_id)  # NotFound when there is no such run
        return updated

    def update_run_if(self, tenant: str, run_id: str, statuses: frozenset[str] | set[str],
                      **fields: Any) -> dict[str, Any] | None:
        """Like update_run, but only while the run's status is one of ``statuses``; None otherwise."""
        assignments: list[str] = []
        params: list[Any] = []
        for name, value in fields.items():
            column = _RUN_FIELDS.get(name)
            if column is None:
                raise TypeError(f"unknown run field {name!r}")
            if column == "status":
                check_run_status(value)
            assignments.append(f"{column} = ?")
            params.append(_dumps(value) if column in _JSON_RUN_COLUMNS and value is not None else value)
        assignments.append("updated_at = ?")
        allowed = sorted(statuses)
        params.extend([now_iso(), tenant, run_id, *allowed])
        with self.db.write() as conn:
            cursor = conn.execute(f"UPDATE runs SET {', '.join(assignments)} WHERE tenant = ? AND run_id = ? "
                                  f"AND status IN ({', '.join('?' for _ in allowed)}){_RETURNING}", params)
            rows = cursor.fetchall()
            if cursor.rowcount == 0:
                return None
        return _run_doc(rows[0]) if rows else self.get_run(tenant, run_id)

    def get_run(self, tenant: str, run_id: str) -> dict[str, Any]:
        rows = self.db.read("SELECT * FROM runs WHERE tenant = ? AND run_id = ?", (tenant, run_id))
        if not rows:
            raise NotFound(f"run {run_id!r} not found")
        return _run_doc(rows[0])

    def list_runs(self, tenant: str, workflow_id: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[dict[str, Any]]:
        if workflow_id is None:
            rows = self.db.read("SELECT * FROM runs WHERE tenant = ? "
                                "ORDER BY created_at DESC, run_id LIMIT ? OFFSET ?", (tenant, limit, offset))
        else:
            rows = self.db.read("SELECT * FROM runs WHERE tenant = ? AND workflow_id = ? "
                                "ORDER BY created_at DESC, run_id LIMIT ? OFFSET ?",
                                (tenant, workflow_id, limit, offset))
        return [_run_doc(r) for r in rows]

    def count_runs(self, tenant: str, workflow_id: str | None = None) -> int:
        if workflow_id is None:
            rows = self.db.read("SELECT COUNT(*) FROM runs WHERE tenant = ?", (tenant,))
        else:
            rows = self.db.read("SELECT COUNT(*) FROM runs WHERE tenant = ? AND workflow_id = ?", (tenant, workflow_id))
        return int(rows[0][0])

    def record_step(self, tenant: str, run_id: str, step: dict[str, Any]) -> None:
        node_id = str(step.get("nodeId") or step.get("node_id") or "")
        with self.db.write() as conn:
            conn.execute("INSERT INTO steps (tenant, run_id, node_id, body, recorded_at) "
                         "VALUES (?, ?, ?, ?, ?)", (tenant, run_id, node_id, _dumps(step), now_iso()))

    def steps(self, tenant: str, run_id: str) -> list[dict[str, Any]]:
        """The steps of a run in the order they were recorded; NotFound when the run is not this tenant's."""
        return self.run_and_steps(tenant, run_id)[1]

    def run_and_steps(self, tenant: str, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        run = self.get_run(tenant, run_id)
        rows = self.db.read("SELECT body FROM steps WHERE tenant = ? AND run_id = ? ORDER BY seq",
                            (tenant, run_id))
        return run, [json.loads(r["body"]) for r in rows]


# -- API keys ----------------------------------------------------------------------------------------


def _key_doc(row: sqlite3.Row) -> dict[str, Any]:
    return {"keyId": row["key_id"], "tenant": row["tenant"], "name": row["name"],
            "scopes": json.loads(row["scopes"]), "revoked": bool(row["revoked"]),
            "createdAt": row["created_at"], "revokedAt": row["revoked_at"]}


class SQLiteKeyStore:
    """API keys. Only the SHA-256 of a key is stored; the key itself is returned once, by ``create_key``."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def create_key(self, tenant: str, scopes: Sequence[str], *, name: str = "") -> tuple[str, dict[str, Any]]:
        key_id = secrets.token_hex(6)
        api_key = new_api_key(key_id)
        stamp = now_iso()
        with self.db.write() as conn:
            conn.execute("INSERT INTO api_keys (key_hash, key_id, tenant, name, scopes, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (hash_api_key(api_key), key_id, tenant, name, _dumps(sorted(set(scopes))), stamp))
        return api_key, {"keyId": key_id, "tenant": tenant, "name": name, "scopes": sorted(set(scopes)),
                         "revoked": False, "createdAt": stamp, "revokedAt": None}

    def lookup(self, api_key: str) -> dict[str, Any] | None:
        """The key's record when it exists and is not revoked, else None."""
        rows = self.db.read("SELECT * FROM api_keys WHERE key_hash = ? AND revoked = 0",
                            (hash_api_key(api_key),))
        return _key_doc(rows[0]) if rows else None

    def list_keys(self, tenant: str) -> list[dict[str, Any]]:
        rows = self.db.read("SELECT * FROM api_keys WHERE tenant = ? ORDER BY created_at, key_id", (tenant,))
        return [_key_doc(r) for r in rows]

    def revoke(self, tenant: str, key_id: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute("UPDATE api_keys SET revoked = 1, revoked_at = ? "
                                  "WHERE tenant = ? AND key_id = ?", (now_iso(), tenant, key_id))
            if cursor.rowcount == 0:
                raise NotFound(f"API key {key_id!r} not found")


# -- idempotency -------------------------------------------------------------------------------------


class SQLiteIdempotency:
    """Claim/complete records with a TTL. Callers put the tenant in the key.

    ``claim`` returns the stored result of a completed, unexpired key; claims an absent or expired key
    and returns None; raises Conflict while another caller holds an unexpired claim.
    """

    def __init__(self, db: SQLiteDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def claim(self, key: str, ttl_seconds: int = 3600) -> dict[str, Any] | None:
        now = self.clock()
        with self.db.write() as conn:
            row = conn.execute("SELECT status, result, expires_at FROM idempotency WHERE key = ?",
                               (key,)).fetchone()
            if row is not None and row["expires_at"] > now:
                if row["status"] == "completed":
                    result: dict[str, Any] = json.loads(row["result"])
                    return result
                raise Conflict(f"request {key!r} is already in progress", field="idempotencyKey")
            conn.execute("INSERT OR REPLACE INTO idempotency (key, status, result, expires_at, created_at) "
                         "VALUES (?, 'in_progress', NULL, ?, ?)", (key, now + ttl_seconds, now_iso()))
        return None

    def complete(self, key: str, result: dict[str, Any], ttl_seconds: int = 3600) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO idempotency (key, status, result, expires_at, created_at) "
                         "VALUES (?, 'completed', ?, ?, ?)",
                         (key, _dumps(result), self.clock() + ttl_seconds, now_iso()))

    def release(self, key: str) -> None:
        """Drop an in-progress claim (the work failed) so a retry can claim the key again."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM idempotency WHERE key = ? AND status = 'in_progress'", (key,))

    def purge_expired(self) -> int:
        with self.db.write() as conn:
            cursor = conn.execute("DELETE FROM idempotency WHERE expires_at <= ?", (self.clock(),))
            return int(cursor.rowcount)
