"""Ports: everything the core needs from the outside world, in one place.

The embedded adapters (``adapters/embedded``: a folder, SQLite, threads) and the AWS adapters
(``adapters/aws``: S3, DynamoDB, Step Functions, EventBridge, SQS) implement every method declared here;
a capability one side lacks is still declared and answers "none" (``local_path`` on S3 is None,
``presigned_post`` on a folder is None, ``kick`` on SQS does nothing), so no caller probes with getattr.
``tests/functional/test_port_contracts.py`` runs the same contract over both sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mediaflow.media import MediaRef

if TYPE_CHECKING:
    from mediaflow.compiler import Compiled


class BlobStore(Protocol):
    """Object storage (S3, or a folder in the embedded mode). Keys are '/'-separated, tenant-prefixed."""

    bucket: str

    def put_file(self, key: str, path: Path, content_type: str, *, overwrite: bool = True,
                 move: bool = False) -> MediaRef:
        """Store the file at ``path``. ``move``: the caller is done with the file (a Task's scratch output), so
        a store on the same file system may take the file itself instead of writing its bytes again; the
        file may be gone afterwards."""
        ...

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

    def copy(self, source_key: str, key: str, *, content_type: str | None = None,
             overwrite: bool = True) -> MediaRef:
        """Copy an object inside the store (server-side on S3, a hard link on a folder)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """Where the object lives on this machine's disk; None when the store is remote."""
        ...

    def sweep_unfinished(self, prefix: str) -> int:
        """Remove what writers killed mid-write left under the folder ``prefix`` (a run's, as it ends); how many.
        A store whose writes are whole or absent (S3) has nothing to sweep."""
        ...

    def presigned_post(self, key: str, *, content_type: str | None, expires_seconds: int, max_bytes: int,
                       fields: dict[str, str] | None = None) -> dict[str, Any] | None:
        """A browser POST target (``url``, ``fields``) whose policy fixes the key, the size range, the type and
        the ``x-amz-meta-*`` fields; None when the store signs no uploads (the embedded API signs its own)."""
        ...


class WorkflowStore(Protocol):
    def put(self, tenant: str, workflow: dict[str, Any], *, expected_version: int | None = None) -> dict[str, Any]:
        ...

    def get(self, tenant: str, workflow_id: str) -> dict[str, Any]: ...

    def list(self, tenant: str, **filters: Any) -> list[dict[str, Any]]: ...

    def delete(self, tenant: str, workflow_id: str) -> None: ...


class VersionedWorkflowStore(WorkflowStore, Protocol):
    """The API's workflow store: every saved version stays readable."""

    def get_version(self, tenant: str, workflow_id: str, version: int) -> dict[str, Any]: ...

    def versions(self, tenant: str, workflow_id: str) -> list[int]: ...


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

    def complete(self, key: str, result: dict[str, Any], ttl_seconds: int = 3600) -> None:
        """Store ``result`` for ``key`` (kept ``ttl_seconds``)."""
        ...

    def release(self, key: str) -> None:
        """Give up a claim that did not complete, so a retry may claim ``key`` again."""
        ...


class KeyLookup(Protocol):
    def lookup(self, api_key: str) -> dict[str, Any] | None: ...


class KeyStore(KeyLookup, Protocol):
    """API keys; only a hash of each key is stored (``mediaflow.ids.hash_api_key``)."""

    def create_key(self, tenant: str, scopes: Sequence[str], *, name: str = "") -> tuple[str, dict[str, Any]]: ...

    def list_keys(self, tenant: str) -> list[dict[str, Any]]: ...

    def revoke(self, tenant: str, key_id: str) -> None: ...


class JobStore(Protocol):
    def create_job(self, job: dict[str, Any]) -> dict[str, Any]: ...

    def get_job(self, tenant: str, job_id: str) -> dict[str, Any]: ...

    def update_job(self, tenant: str, job_id: str, **fields: Any) -> dict[str, Any]: ...

    def list_jobs(self, tenant: str, limit: int = 50) -> list[dict[str, Any]]: ...


class Launcher(Protocol):
    """Starts compiled runs on the orchestrator (the embedded executor or Step Functions)."""

    def check(self, compiled: Compiled) -> None:
        """Raise when this deployment cannot execute ``compiled``."""
        ...

    def start(self, tenant: str, asl: dict[str, Any], execution_input: dict[str, Any], run_id: str, *,
              machine_type: str | None = None) -> dict[str, Any]:
        """Start a run (``{"runId", "started", ...}``); a run id that already exists is not started again."""
        ...

    def cancel(self, tenant: str, run_id: str) -> bool:
        """Ask a running run to stop; False when the orchestrator does not know it."""
        ...

    def redrive(self, tenant: str, run_id: str) -> bool:
        """Continue a failed run from its failed Task; False when it has no recorded execution to continue."""
        ...


class MachineRegistry(Protocol):
    """Which deployed state machine runs a definition (by digest), recorded next to the workflow (AWS)."""

    def machine(self, tenant: str, workflow_id: str, digest: str) -> dict[str, Any] | None: ...

    def record_machine(self, tenant: str, workflow_id: str, digest: str, machine: dict[str, Any]) -> None: ...


QueuedHandler = Callable[[dict[str, Any]], str]


class TriggerQueue(Protocol):
    """The queue of ``queue`` triggers: SQLite drained by the server (embedded), SQS drained by a Lambda."""

    def send(self, tenant: str, workflow_id: str, message: dict[str, Any], *, priority: int = 0,
             source: str = "rest_api") -> str: ...

    def kick(self, handler: QueuedHandler) -> None:
        """Start draining now with ``handler`` where the process drains the queue itself (SQS: nothing)."""
        ...


class WebhookRepository(Protocol):
    """Webhook subscriptions and deliveries: SQLite (adapters/embedded/webhooks.py) or DynamoDB."""

    def create(self, tenant: str, url: str, event_types: list[str], *, workflow_id: str | None = None,
               description: str = "") -> tuple[dict[str, Any], str]: ...

    def get(self, tenant: str, webhook_id: str, *, with_secrets: bool = False) -> dict[str, Any]: ...

    def list_webhooks(self, tenant: str) -> list[dict[str, Any]]: ...

    def active_for(self, tenant: str, event_type: str, workflow_id: str | None) -> list[dict[str, Any]]: ...

    def delete(self, tenant: str, webhook_id: str) -> None: ...

    def rotate_secret(self, tenant: str, webhook_id: str, overlap_seconds: float, now: float) -> str: ...

    def disable(self, tenant: str, webhook_id: str, reason: str) -> None: ...

    def add_delivery(self, tenant: str, webhook_id: str, event_type: str, payload: dict[str, Any],
                     due: float) -> dict[str, Any]: ...

    def delivery(self, tenant: str, delivery_id: str) -> dict[str, Any]: ...

    def deliveries(self, tenant: str, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]: ...

    def due(self, now: float, limit: int = 50) -> list[dict[str, Any]]: ...

    def claim(self, tenant: str, delivery_id: str, attempts: int) -> bool: ...

    def record_attempt(self, tenant: str, delivery_id: str, number: int, status_code: int | None,
                       latency_ms: float, error: str | None, *, status: str, next_attempt_at: float | None) -> None: ...

    def requeue(self, tenant: str, delivery_id: str, due: float) -> dict[str, Any]: ...

    def attempts(self, tenant: str, delivery_id: str) -> list[dict[str, Any]]: ...


class Vision(Protocol):
    """Image analysis for the moderation and labels kinds: Rekognition on AWS, a local model embedded.
    Labels are ``{"name", "confidence" (0-100), "parent"}`` dicts, highest confidence first."""

    def moderation(self, media: MediaRef, min_confidence: float) -> list[dict[str, Any]]: ...

    def labels(self, media: MediaRef, max_labels: int, min_confidence: float) -> list[dict[str, Any]]: ...


class MultipartStore(Protocol):
    """Multipart uploads into the blob store (S3 multipart on AWS, part folders under the data dir embedded).
    ``key`` is where the assembled object lands; ``upload_id`` is the store's own id of the upload."""

    def create(self, key: str, content_type: str, metadata: dict[str, str]) -> str: ...

    def part_url(self, key: str, upload_id: str, part_number: int, expires_seconds: int, base: str) -> str:
        """Where to PUT one part (no API key needed); the answer's ``ETag`` header names the part."""
        ...

    def receive_part(self, token: str, data: bytes) -> tuple[int, str] | None:
        """Store a part PUT to a URL of ours: (part number, ETag); None where parts go straight to S3."""
        ...

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        """The parts stored so far: ``{"partNumber", "etag", "size"}`` each, by part number."""
        ...

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> MediaRef:
        """Assemble the parts (number, ETag) in order into ``key``; atomic: the object appears whole or not."""
        ...

    def abort(self, key: str, upload_id: str) -> None: ...
