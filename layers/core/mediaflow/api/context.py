"""Everything a request handler may touch: the ports of one deployment, built by its bootstrap
(``mediaflow.embedded.bootstrap`` or ``mediaflow.cloud.bootstrap``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediaflow.api.config import ApiConfig
from mediaflow.api.problems import ApiProblem
from mediaflow.api.security import UPLOAD_SCOPE, UPLOAD_TOKEN_PREFIX, Principal, RateLimiter, Signer
from mediaflow.ports import (
    BlobStore,
    Idempotency,
    JobStore,
    KeyStore,
    Launcher,
    MultipartStore,
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
    multipart: MultipartStore | None = None
    signing_secret: Callable[[], bytes] | None = None  # signs upload tokens and multipart handles
    clock: Callable[[], float] = time.time
    limiter: RateLimiter = field(init=False)
    _token_signer: Signer | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.rate_per_second, self.config.burst)

    @property
    def token_signer(self) -> Signer:
        """The signer of upload tokens and multipart handles (the secret is read once, on first use)."""
        if self._token_signer is None:
            if self.signing_secret is None:
                raise ApiProblem(501, "this deployment cannot sign upload tokens", code="NotImplemented")
            self._token_signer = Signer(self.signing_secret(), clock=lambda: self.clock())
        return self._token_signer

    def upload_principal(self, token: str) -> Principal:
        """Who an upload token speaks for: its tenant, limited to the upload routes of one workflow."""
        try:
            claims = self.token_signer.verify(token.removeprefix(UPLOAD_TOKEN_PREFIX))
        except ApiProblem as problem:
            expired = problem.code == "Expired"
            raise ApiProblem(401, "the upload token has expired" if expired else "the upload token is not valid",
                             code="UploadTokenExpired" if expired else "Unauthenticated",
                             errors=[{"field": "Authorization", "path": "headers.Authorization",
                                      "message": "expired" if expired else "not a valid upload token"}],
                             headers={"WWW-Authenticate": 'Bearer realm="mediaflow", error="invalid_token"'}) from None
        if claims.get("typ") != "upload":
            raise ApiProblem(401, "the upload token is not valid", code="Unauthenticated")
        grant = {"workflowId": str(claims["w"]), "maxBytes": int(claims["mb"]), "contentTypes": list(claims["ct"])}
        return Principal(str(claims["t"]), f"upload-token:{claims['j']}", frozenset({UPLOAD_SCOPE}), grant=grant)

    def download_url(self, key: str, base: str) -> str:
        """A URL that serves the object: presigned S3 on AWS, a signed local URL in the embedded mode."""
        if self.signer is None:
            return self.blobs.url(key, self.config.download_expires_seconds)
        token = self.signer.sign({"k": key}, self.config.download_expires_seconds)
        return f"{base}/v1/downloads/{token}"
