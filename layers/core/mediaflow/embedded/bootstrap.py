"""The composition root of the embedded deployment: every port wired to its embedded adapter.

``mediaflow.cloud.bootstrap`` is its twin on AWS. The service (``embedded.app.LocalService``), the API
(``embedded_context``), the worker processes (``task_environment``), jobs and webhooks are all built here;
adapters are imported when first built, so a worker process loads no API code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediaflow.adapters.embedded import EmbeddedAdapters
    from mediaflow.adapters.embedded.jobs import SQLiteJobStore
    from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
    from mediaflow.api.config import ApiConfig
    from mediaflow.api.context import ApiContext
    from mediaflow.embedded.app import LocalService
    from mediaflow.execution.contract import TaskEnvironment
    from mediaflow.settings import Settings
    from mediaflow.webhooks.dispatch import Dispatcher


def bootstrap(settings: Settings | None = None, *, data_dir: Path | None = None,
              tenant: str | None = None) -> LocalService:
    """mediaflow on this machine: the data dir's adapters, the embedded executor, jobs and webhooks."""
    from mediaflow.embedded.app import LocalService

    return LocalService(settings, data_dir=data_dir, tenant=tenant)


def webhook_dispatcher(adapters: EmbeddedAdapters, settings: Settings) -> Dispatcher:
    """Deliveries from the data dir's SQLite store, with the same MEDIAFLOW_WEBHOOK_* settings as on AWS."""
    from mediaflow.adapters.embedded.webhooks import WebhookStore
    from mediaflow.webhooks.dispatch import Dispatcher

    return Dispatcher(WebhookStore(adapters.db), url_for=adapters.blobs.url,
                      timeout_seconds=settings.webhook_timeout_seconds,
                      allow_loopback_http=settings.webhook_allow_loopback_http)


def job_store(adapters: EmbeddedAdapters) -> SQLiteJobStore:
    from mediaflow.adapters.embedded.jobs import SQLiteJobStore

    return SQLiteJobStore(adapters.db)


def task_environment(settings: Settings, workdir: Path, blobs_root: Path, bucket: str,
                     db: SQLiteDatabase) -> TaskEnvironment:
    """What a worker process runs Tasks with: the data dir's blobs and run store, the outbox as its bus (the
    server publishes what workers wrote) and the local moderation/labels model, on the process's one ``db``."""
    from mediaflow.adapters.embedded.blobstore import FolderBlobStore
    from mediaflow.adapters.embedded.outbox import OutboxBus
    from mediaflow.adapters.embedded.sqlite import SQLiteRunStore
    from mediaflow.adapters.embedded.vision import LocalVision
    from mediaflow.execution.contract import TaskEnvironment

    blobs = FolderBlobStore(blobs_root, bucket)
    vision = LocalVision(blobs, settings.moderation_model, threads=settings.moderation_threads,
                         max_pixels=settings.max_pixels)
    return TaskEnvironment(blobs=blobs, workdir=workdir, runs=SQLiteRunStore(db), bus=OutboxBus(db),
                           settings=settings, vision=vision)


def derived(secret: bytes, purpose: str) -> bytes:
    """A key of its own for each kind of signed token, so that none passes for another."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def _secret(data_dir: Path) -> bytes:
    path = data_dir / ".api-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".api-secret.{secrets.token_hex(4)}")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def embedded_context(service: LocalService, config: ApiConfig | None = None) -> ApiContext:
    """The API over a LocalService's adapters (SQLite, the data dir's folder, the embedded executor)."""
    from mediaflow.adapters.embedded.multipart import LocalMultipart
    from mediaflow.adapters.embedded.queue import SQLiteTriggerQueue
    from mediaflow.api.config import ApiConfig, with_cors_origins
    from mediaflow.api.context import ApiContext
    from mediaflow.api.executions import ExecutionService
    from mediaflow.api.security import Signer
    from mediaflow.embedded.app import EmbeddedLauncher

    adapters = service.adapters
    jobs = job_store(adapters)
    service.watch_jobs(jobs)
    queue = SQLiteTriggerQueue(adapters.db)
    data_dir = Path(service.data_dir)
    secret = _secret(data_dir)
    ctx = ApiContext(
        workflows=adapters.workflows, runs=adapters.runs, keys=adapters.keys,
        jobs=jobs, idempotency=adapters.idempotency, blobs=adapters.blobs,
        launcher=EmbeddedLauncher(service), config=with_cors_origins(config or ApiConfig(), service.settings),
        signer=Signer(secret), mode="embedded",
        scratch_dir=data_dir / "tmp" / "api", webhooks=service.webhooks,
        queue=queue,
        # part URLs, upload tokens and downloads each signed with a key of their own: none passes for another
        multipart=LocalMultipart(data_dir / "multipart", adapters.blobs, Signer(derived(secret, "parts"))),
        signing_secret=lambda: derived(secret, "tokens"),
    )
    if queue.pending():  # messages left by a stopped server start now
        queue.kick(ExecutionService(ctx).run_queued)
    return ctx
