"""Webhook subscriptions, deliveries and attempts, durable in SQLite (the embedded mode)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
from mediaflow.clock import now_iso
from mediaflow.errors import NotFound
from mediaflow.ids import new_webhook_secret

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
  tenant TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL, event_types TEXT NOT NULL,
  workflow_id TEXT, description TEXT NOT NULL DEFAULT '', secret TEXT NOT NULL,
  previous_secret TEXT, previous_expires_at REAL, status TEXT NOT NULL DEFAULT 'active',
  created_at TEXT NOT NULL, disabled_reason TEXT, PRIMARY KEY (tenant, id));
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  tenant TEXT NOT NULL, id TEXT NOT NULL, webhook_id TEXT NOT NULL, event_type TEXT NOT NULL,
  payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL, last_status_code INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
  tenant TEXT NOT NULL, delivery_id TEXT NOT NULL, number INTEGER NOT NULL, at TEXT NOT NULL,
  status_code INTEGER, latency_ms REAL, error TEXT, PRIMARY KEY (tenant, delivery_id, number));
"""


class WebhookStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def _conn_ready(self) -> None:
        self.db.ensure(_SCHEMA)

    # -- subscriptions --------------------------------------------------------------------------------
    def create(self, tenant: str, url: str, event_types: list[str], *, workflow_id: str | None = None,
               description: str = "") -> tuple[dict[str, Any], str]:
        self._conn_ready()
        webhook_id, secret = f"wh_{secrets.token_hex(8)}", new_webhook_secret()
        with self.db.write() as conn:
            conn.execute("INSERT INTO webhooks (tenant, id, url, event_types, workflow_id, description, secret, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (tenant, webhook_id, url, json.dumps(sorted(set(event_types))), workflow_id,
                          description, secret, now_iso()))
        return self.get(tenant, webhook_id), secret

    def get(self, tenant: str, webhook_id: str, *, with_secrets: bool = False) -> dict[str, Any]:
        self._conn_ready()
        rows = self.db.read("SELECT * FROM webhooks WHERE tenant = ? AND id = ?", (tenant, webhook_id))
        if not rows:
            raise NotFound(f"no webhook {webhook_id!r}", field="webhookId")
        return self._public(rows[0], with_secrets)

    def list_webhooks(self, tenant: str) -> list[dict[str, Any]]:
        self._conn_ready()
        rows = self.db.read("SELECT * FROM webhooks WHERE tenant = ? ORDER BY created_at, id", (tenant,))
        return [self._public(row, False) for row in rows]

    def active_for(self, tenant: str, event_type: str, workflow_id: str | None) -> list[dict[str, Any]]:
        self._conn_ready()  # a data dir where no webhook was ever created has no table yet
        matches = []
        for row in self.db.read("SELECT * FROM webhooks WHERE tenant = ? AND status = 'active'", (tenant,)):
            types = json.loads(row["event_types"])
            if (not types or event_type in types or "*" in types) and (
                    row["workflow_id"] in (None, "") or row["workflow_id"] == workflow_id):
                matches.append(self._public(row, True))
        return matches

    def delete(self, tenant: str, webhook_id: str) -> None:
        self.get(tenant, webhook_id)
        with self.db.write() as conn:
            conn.execute("DELETE FROM webhooks WHERE tenant = ? AND id = ?", (tenant, webhook_id))

    def rotate_secret(self, tenant: str, webhook_id: str, overlap_seconds: float, now: float) -> str:
        current = self.get(tenant, webhook_id, with_secrets=True)
        secret = new_webhook_secret()
        with self.db.write() as conn:
            conn.execute("UPDATE webhooks SET secret = ?, previous_secret = ?, previous_expires_at = ? "
                         "WHERE tenant = ? AND id = ?",
                         (secret, current["secret"], now + overlap_seconds, tenant, webhook_id))
        return secret

    def disable(self, tenant: str, webhook_id: str, reason: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE webhooks SET status = 'disabled', disabled_reason = ? WHERE tenant = ? AND id = ?",
                         (reason, tenant, webhook_id))

    @staticmethod
    def _public(row: Any, with_secrets: bool) -> dict[str, Any]:
        record = {"id": row["id"], "tenant": row["tenant"], "url": row["url"],
                  "eventTypes": json.loads(row["event_types"]), "workflowId": row["workflow_id"],
                  "description": row["description"], "status": row["status"], "createdAt": row["created_at"],
                  "disabledReason": row["disabled_reason"]}
        if with_secrets:
            record.update(secret=row["secret"], previousSecret=row["previous_secret"],
                          previousExpiresAt=row["previous_expires_at"])
        return record

    # -- deliveries -----------------------------------------------------------------------------------
    def add_delivery(self, tenant: str, webhook_id: str, event_type: str, payload: dict[str, Any],
                     due: float) -> dict[str, Any]:
        self._conn_ready()
        delivery_id = f"msg_{secrets.token_hex(12)}"
        stamp = now_iso()
        with self.db.write() as conn:
            conn.execute("INSERT INTO webhook_deliveries (tenant, id, webhook_id, event_type, payload, status, "
                         "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                         (tenant, delivery_id, webhook_id, event_type, json.dumps(payload, sort_keys=True), due,
                          stamp, stamp))
        return self.delivery(tenant, delivery_id)

    def delivery(self, tenant: str, delivery_id: str) -> dict[str, Any]:
        self._conn_ready()
        rows = self.db.read("SELECT * FROM webhook_deliveries WHERE tenant = ? AND id = ?", (tenant, delivery_id))
        if not rows:
            raise NotFound(f"no delivery {delivery_id!r}", field="deliveryId")
        return self._delivery(rows[0])

    def deliveries(self, tenant: str, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        self.get(tenant, webhook_id)
        rows = self.db.read("SELECT * FROM webhook_deliveries WHERE tenant = ? AND webhook_id = ? "
                            "ORDER BY created_at DESC, id LIMIT ?", (tenant, webhook_id, limit))
        return [self._delivery(row) for row in rows]

    def due(self, now: float, limit: int = 50) -> list[dict[str, Any]]:
        self._conn_ready()
        rows = self.db.read("SELECT * FROM webhook_deliveries WHERE status IN ('pending', 'retrying') "
                            "AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?", (now, limit))
        return [self._delivery(row) for row in rows]

    def claim(self, tenant: str, delivery_id: str, attempts: int) -> bool:
        """Take a due delivery for one attempt (another dispatcher may race for it)."""
        with self.db.write() as conn:
            cursor = conn.execute("UPDATE webhook_deliveries SET status = 'sending', attempts = ? WHERE tenant = ? "
                                  "AND id = ? AND attempts = ? AND status IN ('pending', 'retrying')",
                                  (attempts + 1, tenant, delivery_id, attempts))
            return cursor.rowcount == 1

    def record_attempt(self, tenant: str, delivery_id: str, number: int, status_code: int | None,
                       latency_ms: float, error: str | None, *, status: str, next_attempt_at: float | None) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT INTO webhook_attempts (tenant, delivery_id, number, at, status_code, latency_ms, "
                         "error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (tenant, delivery_id, number, now_iso(), status_code, round(latency_ms, 3), error))
            conn.execute("UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status_code = ?, "
                         "updated_at = ? WHERE tenant = ? AND id = ?",
                         (status, next_attempt_at, status_code, now_iso(), tenant, delivery_id))

    def requeue(self, tenant: str, delivery_id: str, due: float) -> dict[str, Any]:
        self.delivery(tenant, delivery_id)
        with self.db.write() as conn:
            conn.execute("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? "
                         "WHERE tenant = ? AND id = ?", (due, now_iso(), tenant, delivery_id))
        return self.delivery(tenant, delivery_id)

    def attempts(self, tenant: str, delivery_id: str) -> list[dict[str, Any]]:
        rows = self.db.read("SELECT * FROM webhook_attempts WHERE tenant = ? AND delivery_id = ? ORDER BY number",
                            (tenant, delivery_id))
        return [{"number": r["number"], "at": r["at"], "statusCode": r["status_code"], "latencyMs": r["latency_ms"],
                 "error": r["error"]} for r in rows]

    def _delivery(self, row: Any) -> dict[str, Any]:
        return {"id": row["id"], "tenant": row["tenant"], "webhookId": row["webhook_id"],
                "eventType": row["event_type"], "payload": json.loads(row["payload"]), "status": row["status"],
                "attempts": row["attempts"], "nextAttemptAt": row["next_attempt_at"],
                "lastStatusCode": row["last_status_code"], "createdAt": row["created_at"],
                "updatedAt": row["updated_at"],
                "log": self.attempts(row["tenant"], row["id"])}
