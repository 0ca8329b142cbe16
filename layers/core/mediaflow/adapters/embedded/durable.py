"""What the embedded runtime keeps in SQLite so that no stop loses work.

- ``executions``: the state machine and input of every run this machine executes, with a **lease** (owner and
  expiry) its process renews while the run is in flight. A lease whose owner is gone (a dead pid on this host)
  or that expired can be taken by the next process to start, which resumes the run.
- ``checkpoints``: the result of every Task that completed, keyed by run and by a digest of the Task's input
  (its payload: run, media, ops, item). Replaying a run's state machine answers those Tasks from here, so a
  resumed or redriven run continues from its last completed Task and never redoes one.
- ``leases``: named claims that expire (the upload watcher's claim on a file, ...), taken again once their
  owner is gone or their time is up, unlike claims that would hold forever after a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
from mediaflow.clock import now_iso
from mediaflow.procs import pid_alive

SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    tenant TEXT NOT NULL,
    run_id TEXT NOT NULL PRIMARY KEY,
    asl TEXT NOT NULL,
    input TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_expires REAL NOT NULL,
    resumes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT NOT NULL,
    task_key TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, task_key)
);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT NOT NULL PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    result TEXT
);
"""

HOST = os.uname().nodename  # socket.gethostname()'s answer, without importing socket at every start
_INSTANCE = uuid.uuid4().hex[:8]


def process_owner() -> str:
    """This process as a lease owner: host, pid and a token (a reused pid is another owner)."""
    return f"{HOST}:{os.getpid()}:{_INSTANCE}"


def owner_gone(owner: str) -> bool:
    """True when the owner is a process of this host that no longer runs (a lease it can never renew)."""
    host, _, rest = owner.partition(":")
    pid_text, _, token = rest.partition(":")
    if host != HOST or not pid_text.isdigit():
        return False
    if int(pid_text) == os.getpid():
        return token != _INSTANCE
    return not pid_alive(int(pid_text))


def task_key(payload: Any) -> str:
    """A stable digest of a Task's input: the same Task of the same run on the same media gets the same key."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Execution:
    tenant: str
    run_id: str
    asl: dict[str, Any]
    input: dict[str, Any]
    owner: str
    lease_expires: float
    resumes: int


class DurableStore:
    """Executions (with leases), Task checkpoints and named leases in the data dir's database."""

    def __init__(self, db: SQLiteDatabase, *, lease_seconds: float = 30.0) -> None:
        self.db = db
        self.lease_seconds = lease_seconds

    def _conn(self) -> Any:
        self.db.ensure(SCHEMA)
        return self.db

    def ready(self) -> None:
        """Create the tables now (outside any transaction: creating them commits the one in progress)."""
        self._conn()

    # -- executions ----------------------------------------------------------------------------------

    def record_execution(self, tenant: str, run_id: str, asl: dict[str, Any], input: dict[str, Any]) -> None:
        """Remember a run's state machine and input, leased to this process (kept when already recorded)."""
        with self._conn().write() as conn:
            conn.execute(
                "INSERT INTO executions (tenant, run_id, asl, input, owner, lease_expires, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, "
                "lease_expires = excluded.lease_expires",
                (tenant, run_id, json.dumps(asl), json.dumps(input), process_owner(),
                 time.time() + self.lease_seconds, now_iso()))

    def execution(self, run_id: str) -> Execution | None:
        rows = self._conn().read("SELECT * FROM executions WHERE run_id = ?", (run_id,))
        return _execution(rows[0]) if rows else None

    def renew(self, run_ids: list[str]) -> None:
        if not run_ids:
            return
        expires = time.time() + self.lease_seconds
        with self._conn().write() as conn:
            conn.executemany("UPDATE executions SET lease_expires = ? WHERE run_id = ? AND owner = ?",
                             [(expires, run_id, process_owner()) for run_id in run_ids])

    def release(self, run_id: str) -> None:
        """Give up the lease at once (a drained run: the next process to start resumes it)."""
        with self._conn().write() as conn:
            conn.execute("UPDATE executions SET lease_expires = 0 WHERE run_id = ? AND owner = ?",
                         (run_id, process_owner()))

    def finish(self, run_id: str) -> None:
        """The run reached a terminal status: its execution and checkpoints stay for a redrive, unleased."""
        with self._conn().write() as conn:
            conn.execute("UPDATE executions SET lease_expires = -1, owner = 'done' WHERE run_id = ?", (run_id,))

    def orphans(self) -> list[Execution]:
        """Executions whose lease expired or whose owner process is gone (done ones excluded)."""
        now = time.time()
        rows = self._conn().read("SELECT * FROM executions WHERE owner != 'done' AND lease_expires >= 0")
        return [_execution(row) for row in rows
                if row["owner"] != process_owner() and (row["lease_expires"] < now or owner_gone(row["owner"]))]

    def stranded(self, older_than_seconds: float) -> list[tuple[str, str]]:
        """``(tenant, runId)`` of runs still pending or running that no execution records (their process
        stopped between creating the run and recording it) and that nothing touched for a while."""
        cutoff = datetime.fromtimestamp(time.time() - older_than_seconds, UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        rows = self._conn().read(
            "SELECT tenant, run_id FROM runs WHERE status IN ('pending', 'running') AND updated_at < ? "
            "AND run_id NOT IN (SELECT run_id FROM executions)", (cutoff,))
        return [(row["tenant"], row["run_id"]) for row in rows]

    def take(self, run_id: str, expected_owner: str) -> bool:
        """Take an orphaned execution's lease (exactly one process wins); counts the resume."""
        with self._conn().write() as conn:
            cursor = conn.execute(
                "UPDATE executions SET owner = ?, lease_expires = ?, resumes = resumes + 1 "
                "WHERE run_id = ? AND owner = ?",
                (process_owner(), time.time() + self.lease_seconds, run_id, expected_owner))
            return bool(cursor.rowcount)

    def reopen(self, run_id: str) -> Execution | None:
        """Lease a finished execution to this process again (a redrive)."""
        with self._conn().write() as conn:
            conn.execute("UPDATE executions SET owner = ?, lease_expires = ? WHERE run_id = ?",
                         (process_owner(), time.time() + self.lease_seconds, run_id))
        return self.execution(run_id)

    # -- checkpoints ---------------------------------------------------------------------------------

    def checkpoint(self, run_id: str, key: str) -> tuple[bool, Any]:
        rows = self._conn().read("SELECT result FROM checkpoints WHERE run_id = ? AND task_key = ?", (run_id, key))
        return (True, json.loads(rows[0]["result"])) if rows else (False, None)

    def save_checkpoint(self, run_id: str, key: str, result: Any) -> None:
        with self._conn().write() as conn:
            conn.execute("INSERT OR REPLACE INTO checkpoints (run_id, task_key, result, created_at) "
                         "VALUES (?, ?, ?, ?)", (run_id, key, json.dumps(result), now_iso()))

    def forget_checkpoints(self, run_id: str) -> None:
        with self._conn().write() as conn:
            conn.execute("DELETE FROM checkpoints WHERE run_id = ?", (run_id,))

    def checkpoint_count(self, run_id: str) -> int:
        rows = self._conn().read("SELECT COUNT(*) AS n FROM checkpoints WHERE run_id = ?", (run_id,))
        return int(rows[0]["n"])

    # -- named leases --------------------------------------------------------------------------------

    def claim(self, name: str, seconds: float) -> tuple[bool, Any]:
        """``(True, None)`` when this process now holds ``name``; ``(False, result)`` when it is done (with its
        result); ``(False, None)`` while another live owner holds an unexpired claim."""
        now = time.time()
        with self._conn().write() as conn:
            row = conn.execute("SELECT owner, expires, done, result FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None:
                if row["done"]:
                    return False, json.loads(row["result"]) if row["result"] else {}
                if row["expires"] > now and not owner_gone(row["owner"]) and row["owner"] != process_owner():
                    return False, None
            conn.execute("INSERT OR REPLACE INTO leases (name, owner, expires, done, result) VALUES (?, ?, ?, 0, NULL)",
                         (name, process_owner(), now + seconds))
        return True, None

    def complete(self, name: str, result: Any) -> None:
        with self._conn().write() as conn:
            conn.execute("UPDATE leases SET done = 1, result = ? WHERE name = ?", (json.dumps(result), name))


def _execution(row: Any) -> Execution:
    return Execution(tenant=row["tenant"], run_id=row["run_id"], asl=json.loads(row["asl"]),
                     input=json.loads(row["input"]), owner=row["owner"], lease_expires=float(row["lease_expires"]),
                     resumes=int(row["resumes"]))
