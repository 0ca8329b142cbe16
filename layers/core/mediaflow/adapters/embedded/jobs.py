"""SQLite job records for the Convertly-compatible jobs API (the same database file as the other stores)."""

from __future__ import annotations

import json
from typing import Any

from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
from mediaflow.clock import now_iso
from mediaflow.errors import Conflict, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    tenant TEXT NOT NULL,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (tenant, created_at);
"""
JOB_STATUSES = frozenset({"pending", "processing", "completed", "failed", "cancelled"})


class SQLiteJobStore:
    """Jobs as JSON documents keyed by (tenant, jobId); another tenant's id reads as NotFound."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def _ensure(self) -> None:
        self.db.ensure(_SCHEMA)

    def create_job(self, job: dict[str, Any]) -> dict[str, Any]:
        self._ensure()
        tenant, job_id = str(job["tenant"]), str(job["jobId"])
        stamp = now_iso()
        doc = {"status": "pending", **job, "createdAt": stamp, "updatedAt": stamp}
        _check(doc["status"])
        with self.db.write() as conn:
            exists = conn.execute("SELECT 1 FROM jobs WHERE tenant = ? AND job_id = ?", (tenant, job_id)).fetchone()
            if exists:
                raise Conflict(f"job {job_id!r} already exists", field="jobId")
            conn.execute("INSERT INTO jobs (tenant, job_id, status, body, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (tenant, job_id, doc["status"], json.dumps(doc), stamp, stamp))
        return doc

    def get_job(self, tenant: str, job_id: str) -> dict[str, Any]:
        self._ensure()
        rows = self.db.read("SELECT body FROM jobs WHERE tenant = ? AND job_id = ?", (tenant, job_id))
        if not rows:
            raise NotFound(f"job {job_id!r} not found")
        doc: dict[str, Any] = json.loads(rows[0]["body"])
        return doc

    def update_job(self, tenant: str, job_id: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the job document (``status`` checked)."""
        self._ensure()
        if "status" in fields:
            _check(fields["status"])
        with self.db.write() as conn:
            row = conn.execute("SELECT body FROM jobs WHERE tenant = ? AND job_id = ?", (tenant, job_id)).fetchone()
            if row is None:
                raise NotFound(f"job {job_id!r} not found")
            doc = {**json.loads(row["body"]), **fields, "updatedAt": now_iso()}
            conn.execute("UPDATE jobs SET status = ?, body = ?, updated_at = ? WHERE tenant = ? AND job_id = ?",
                         (doc["status"], json.dumps(doc), doc["updatedAt"], tenant, job_id))
        result: dict[str, Any] = doc
        return result

    def list_jobs(self, tenant: str, limit: int = 50) -> list[dict[str, Any]]:
        self._ensure()
        rows = self.db.read("SELECT body FROM jobs WHERE tenant = ? ORDER BY created_at DESC, job_id LIMIT ?",
                            (tenant, limit))
        return [json.loads(r["body"]) for r in rows]


def _check(status: Any) -> None:
    if status not in JOB_STATUSES:
        raise ValueError(f"job status must be one of {', '.join(sorted(JOB_STATUSES))}, not {status!r}")
