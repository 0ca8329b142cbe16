"""Ports: what the core needs from the outside world. AWS and embedded adapters implement them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from mediaflow.media import MediaRef


class BlobStore(Protocol):
    """Object storage (S3, or a folder in the embedded mode). Keys are '/'-separated, tenant-prefixed."""

    bucket: str

    def put_file(self, key: str, path: Path, content_type: str, *, overwrite: bool = True) -> MediaRef: ...

    def put_bytes(self, key: str, data: bytes, content_type: str, *, overwrite: bool = True) -> MediaRef: ...

    def download(self, key: str, path: Path) -> Path: ...

    def read_range(self, key: str, start: int, length: int) -> bytes: ...

    def read_head(self, key: str, length: int) -> tuple[MediaRef, bytes]:
        """The object's description and its first ``length`` bytes (one request where the store allows)."""
        ...

    def head(self, key: str) -> MediaRef: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[str]: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str, expires_seconds: int = 3600) -> str: ...


class WorkflowStore(Protocol):
    def put(self, tenant: str, workflow: dict[str, Any], *, expected_version: int | None = None) -> dict[str, Any]:
        ...

    def get(self, tenant: str, workflow_id: str) -> dict[str, Any]: ...

    def list(self, tenant: str, **filters: Any) -> list[dict[str, Any]]: ...

    def delete(self, tenant: str, workflow_id: str) -> None: ...


RUN_STATUSES = frozenset({"pending", "running", "completed", "failed", "cancelled"})
TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled"})


def check_run_status(status: Any) -> None:
    if status not in RUN_STATUSES:
        raise ValueError(f"run status must be one of {', '.join(sorted(RUN_STATUSES))}, not {status!r}")


def new_run_identity(run: dict[str, Any]) -> tuple[str, str, str, str]:
    """``(tenant, runId, workflowId, status)`` of a run about to be created, checked the same by every store."""
    tenant, run_id = run.get("tenant"), run.get("runId") or run.get("run_id")
    workflow_id = run.get("workflowId") or run.get("workflow_id")
    if not tenant or not run_id or not workflow_id:
        raise ValueError("a run needs tenant, runId and workflowId")
    status = run.get("status", "pending")
    check_run_status(status)
    return str(tenant), str(run_id), str(workflow_id), str(status)


class RunStore(Protocol):
    def create_run(self, run: dict[str, Any]) -> dict[str, Any]: ...

    def update_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any]: ...

    def update_run_if(self, tenant: str, run_id: str, statuses: frozenset[str] | set[str],
                      **fields: Any) -> dict[str, Any] | None:
        """Like update_run, but only while the run's status is one of ``statuses``; None otherwise."""
        ...

    def finish_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any] | None:
        """Like update_run, but only while the run is not finished yet; None when it already was."""
        ...

    def get_run(self, tenant: str, run_id: str) -> dict[str, Any]: ...

    def list_runs(self, tenant: str, workflow_id: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[dict[str, Any]]:
        """Newest first, skipping the ``offset`` newest."""
        ...

    def count_runs(self, tenant: str, workflow_id: str | None = None) -> int: ...

    def record_step(self, tenant: str, run_id: str, step: dict[str, Any]) -> None: ...

    def steps(self, tenant: str, run_id: str) -> list[dict[str, Any]]: ...

    def run_and_steps(self, tenant: str, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run and its steps, read together (one read where the store keeps them together)."""
        ...


class EventBus(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Idempotency(Protocol):
    def claim(self, key: str, ttl_seconds: int = 3600) -> dict[str, Any] | None:
        """Return the stored result when ``key`` was already completed, else claim it and return None."""
        ...

    def complete(self, key: str, result: dict[str, Any]) -> None: ...


class Vision(Protocol):
    """Image analysis for the moderation and labels kinds: Rekognition on AWS, a local model embedded.
    Labels are ``{"name", "confidence" (0-100), "parent"}`` dicts, highest confidence first."""

    def moderation(self, media: MediaRef, min_confidence: float) -> list[dict[str, Any]]: ...

    def labels(self, media: MediaRef, max_labels: int, min_confidence: float) -> list[dict[str, Any]]: ...
