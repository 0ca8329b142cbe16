"""job.completed / job.failed: when the last run of a job ends, the job's outcome goes on the bus once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from mediaflow.errors import NotFound
from mediaflow.ports import EventBus, JobStore, RunStore

TERMINAL = frozenset({"completed", "failed", "cancelled"})


def watch_jobs(bus: Any, runs: RunStore, jobs: JobStore, publish: EventBus | None = None) -> Callable[[], None]:
    """Subscribe to workflow.completed/failed on ``bus``; returns the unsubscribe function."""
    lock = threading.Lock()
    target = publish or bus

    def on_run_finished(event: Any) -> None:
        detail = event.detail
        tenant, run_id = detail.get("tenant"), detail.get("runId")
        if not tenant or not run_id:
            return
        try:
            job_id = (runs.get_run(tenant, run_id).get("input") or {}).get("run", {}).get("jobId")
        except NotFound:
            return
        if not job_id:
            return
        with lock:
            job = jobs.get_job(tenant, job_id)
            if job["status"] in TERMINAL:
                return
            statuses = []
            for entry in job["files"]:
                try:
                    statuses.append(runs.get_run(tenant, entry["runId"])["status"])
                except NotFound:
                    statuses.append("pending")
            if not all(status in TERMINAL for status in statuses):
                return
            status = "completed" if all(s == "completed" for s in statuses) else "failed"
            jobs.update_job(tenant, job_id, status=status)
        target.publish(f"job.{status}", {
            "tenant": tenant, "jobId": job_id, "status": status,
            "runs": [{"runId": e["runId"], "file": e.get("filename"), "status": s}
                     for e, s in zip(job["files"], statuses, strict=True)],
        })

    unsubscribe: Callable[[], None] = bus.subscribe(on_run_finished, ["workflow.completed", "workflow.failed"])
    return unsubscribe
