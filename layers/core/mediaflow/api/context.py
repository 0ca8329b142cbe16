"""Everything a request handler may touch: the ports of one deployment, built by its bootstrap
(``mediaflow.embedded.bootstrap`` or ``mediaflow.cloud.bootstrap``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediaflow.api.config import ApiConfig
from mediaflow.api.security import RateLimiter, Signer
from mediaflow.ports import (
    BlobStore,
    Idempotency,
    JobStore,
    KeyStore,
    Launcher,
    RunStore,
    TriggerQueue,
    VersionedWorkflowStore,
)
from mediaflow.webhooks.dispatch import Dispatcher


@dataclass
class ApiContext:
    """Everything a request handler may touch. Built once per process (Lambda container or server)."""

    workflows: VersionedWorkflowStore
    runs: RunStore
    keys: KeyStore
    jobs: JobStore
    idempotency: Idempotency
    blobs: BlobStore
    launcher: Launcher
    config: ApiConfig = field(default_factory=ApiConfig)
    signer: Signer | None = None
    mode: str = "embedded"
    scratch_dir: Path = field(default_factory=lambda: Path("/tmp/mediaflow-api"))
    on_workflow_saved: Callable[[str, dict[str, Any]], None] | None = None
    on_workflow_deleted: Callable[[str, str], None] | None = None
    webhooks: Dispatcher | None = None
    queue: TriggerQueue | None = None  # the `queue` triggers' queue: SQLite or SQS; None = enqueue refused
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.rate_per_second, self.config.burst)

    def download_url(self, key: str, base: str) -> str:
        """A URL that serves the object: presigned S3 on AWS, a signed local URL in the embedded mode."""
        if self.signer is None:
            return self.blobs.url(key, self.config.download_expires_seconds)
        token = self.signer.sign({"k": key}, self.config.download_expires_seconds)
        return f"{base}/v1/downloads/{token}"
