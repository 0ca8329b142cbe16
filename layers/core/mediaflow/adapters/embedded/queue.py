"""The queue of `queue` triggers in the embedded mode: a durable SQLite table (the same database file as the
other stores), drained by a short-lived consumer thread.

A message is stored before `enqueue` answers, so nothing is lost when the server stops; the consumer claims
one message at a time (highest ``priority`` first, then oldest) and hands it to the start function, which is
idempotent per message (its run id derives from the message id). A message whose start fails goes back to
the queue with a delay, up to ``MAX_ATTEMPTS``; a claim older than ``CLAIM_SECONDS`` (a crash mid-start) is
claimed again. `drain` runs until the queue holds nothing ready, so no thread idles when there is no work.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
from mediaflow.clock import now_iso
from mediaflow.lifecycle import TriggerDeferred

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trigger_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    body TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'ready',
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL,
    claimed_at REAL,
    run_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trigger_queue_ready ON trigger_queue (state, priority DESC, seq);
"""
MAX_ATTEMPTS = 5
CLAIM_SECONDS = 300.0
RETRY_SECONDS = 30.0

Handler = Callable[[dict[str, Any]], str]


class SQLiteTriggerQueue:
    priority_honoured = True

    def __init__(self, db: SQLiteDatabase, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._lock = threading.Lock()
        self._draining = False
        self._pending = False

    def _ensure(self) -> None:
        self.db.ensure(_SCHEMA)

    def send(self, tenant: str, workflow_id: str, message: dict[str, Any], *, priority: int = 0,
             source: str = "rest_api") -> str:
        self._ensure()
        message_id = uuid.uuid4().hex
        body = json.dumps({"message": message, "source": source})
        with self.db.write() as conn:
            conn.execute("INSERT INTO trigger_queue (message_id, tenant, workflow_id, body, priority, available_at, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (message_id, tenant, workflow_id, body, int(priority), self.clock(), now_iso()))
        return message_id

    def claim(self) -> dict[str, Any] | None:
        """The next ready message (or a stale claim), marked claimed; None when nothing is ready."""
        self._ensure()
        now = self.clock()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT * FROM trigger_queue WHERE (state = 'ready' AND available_at <= ?) "
                "OR (state = 'claimed' AND claimed_at < ?) ORDER BY priority DESC, seq LIMIT 1",
                (now, now - CLAIM_SECONDS)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE trigger_queue SET state = 'claimed', claimed_at = ?, attempts = attempts + 1 "
                         "WHERE seq = ?", (now, row["seq"]))
        body = json.loads(row["body"])
        return {"messageId": row["message_id"], "tenant": row["tenant"], "workflowId": row["workflow_id"],
                "message": body["message"], "source": body["source"], "priority": row["priority"],
                "attempts": row["attempts"] + 1}

    def done(self, message_id: str, run_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE trigger_queue SET state = 'done', run_id = ?, error = NULL WHERE message_id = ?",
                         (run_id, message_id))

    def retry(self, message_id: str, error: str, *, count: bool = True, delay: float = RETRY_SECONDS) -> None:
        with self.db.write() as conn:
            row = conn.execute("SELECT attempts FROM trigger_queue WHERE message_id = ?", (message_id,)).fetchone()
            failed = count and row is not None and row["attempts"] >= MAX_ATTEMPTS
            conn.execute("UPDATE trigger_queue SET state = ?, error = ?, available_at = ?, "
                         "attempts = attempts - ? WHERE message_id = ?",
                         ("failed" if failed else "ready", error[:1000], self.clock() + delay, 0 if count else 1,
                          message_id))

    def pending(self) -> bool:
        """Whether any message waits to start (ready, deferred, or claimed by a process that stopped)."""
        self._ensure()
        return bool(self.db.read("SELECT 1 FROM trigger_queue WHERE state IN ('ready', 'claimed') LIMIT 1"))

    def next_available(self) -> float | None:
        """When the earliest message waiting for a later time becomes ready (None: nothing waits)."""
        self._ensure()
        rows = self.db.read("SELECT MIN(available_at) AS at FROM trigger_queue WHERE state = 'ready'")
        return float(rows[0]["at"]) if rows and rows[0]["at"] is not None else None

    def status(self, message_id: str) -> dict[str, Any] | None:
        self._ensure()
        rows = self.db.read("SELECT state, attempts, run_id, error FROM trigger_queue WHERE message_id = ?",
                            (message_id,))
        return dict(rows[0]) if rows else None

    def drain(self, handler: Handler) -> int:
        """Start every ready message, one at a time; returns how many runs were started."""
        started = 0
        while (item := self.claim()) is not None:
            try:
                run_id = handler(item)
            except TriggerDeferred as why:  # e.g. outside a lifecycle window: not a failure
                self.retry(item["messageId"], str(why), count=False)
                continue
            except Exception as error:  # a bad message never stops the queue
                logger.warning("queued message %s failed to start: %s", item["messageId"], error)
                self.retry(item["messageId"], getattr(error, "message", str(error)))
                continue
            self.done(item["messageId"], run_id)
            started += 1
        return started

    def kick(self, handler: Handler) -> None:
        """Drain in a background thread unless one is already draining."""
        with self._lock:
            if self._draining:
                self._pending = True
                return
            self._draining, self._pending = True, False

        def work() -> None:
            while True:
                try:
                    self.drain(handler)
                    waiting = self.next_available()
                except Exception:  # the database went away (server stopping): the next start drains
                    logger.exception("the trigger queue stopped draining")
                    waiting = None
                with self._lock:
                    if not self._pending and waiting is None:
                        self._draining = False
                        return
                    self._pending = False
                if waiting is not None:  # deferred messages: look again when the first is due
                    time.sleep(min(max(waiting - self.clock(), 0.05), 60.0))

        threading.Thread(target=work, name="mediaflow-queue", daemon=True).start()
