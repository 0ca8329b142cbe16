"""What the API needs from the outside world (ports), and the embedded wiring of it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mediaflow.api.config import ApiConfig, with_cors_origins
from mediaflow.api.problems import ApiProblem
from mediaflow.api.security import UPLOAD_SCOPE, UPLOAD_TOKEN_PREFIX, Principal, RateLimiter, Signer
from mediaflow.compiler import Compiled
from mediaflow.local import RuntimeLauncher
from mediaflow.ports import BlobStore, Idempotency, MultipartStore, RunStore


class VersionedWorkflowStore(Protocol):
    def put(self, tenant: str, workflow: dict[str, Any], *, expected_version: int | None = None
            ) -> dict[str, Any]: ...

    def get(self, tenant: str, workflow_id: str) -> dict[str, Any]: ...

    def get_version(self, tenant: str, workflow_id: str, version: int) -> dict[str, Any]: ...

    def versions(self, tenant: str, workflow_id: str) -> list[int]: ...

    def list(self, tenant: str, **filters: Any) -> list[dict[str, Any]]: ...

    def delete(self, tenant: str, workflow_id: str) -> None: ...


class KeyStore(Protocol):
    def create_key(self, tenant: str, scopes: Sequence[str], *, name: str = "") -> tuple[str, dict[str, Any]]: ...

    def lookup(self, api_key: str) -> dict[str, Any] | None: ...

    def list_keys(self, tenant: str) -> list[dict[str, Any]]: ...

    def revoke(self, tenant: str, key_id: str) -> None: ...


class JobStore(Protocol):
    def create_job(self, job: dict[str, Any]) -> dict[str, Any]: ...

    def get_job(self, tenant: str, job_id: str) -> dict[str, Any]: ...

    def update_job(self, tenant: str, job_id: str, **fields: Any) -> dict[str, Any]: ...

    def list_jobs(self, tenant: str, limit: int = 50) -> list[dict[str, Any]]: ...


class Launcher(Protocol):
    """Starts compiled runs on the orchestrator (embedded runtime or Step Functions)."""

    def check(self, compiled: Compiled) -> None:
        """Raise ApiProblem when this deployment cannot execute ``compiled``."""
        ...

    def start(self, tenant: str, asl: dict[str, Any], execution_input: dict[str, Any], run_id: str, *,
              machine_type: str | None = None) -> Any: ...

    def cancel(self, tenant: str, run_id: str) -> bool:
        """Ask a running run to stop; False when the orchestrator does not know it."""
        ...


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
    presign_post: Callable[..., dict[str, Any]] | None = None
    webhooks: Any = None
    queue: Any = None  # the `queue` triggers' queue: SQLite (embedded) or SQS (AWS); None = enqueue refused
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
        return Principal(str(claims["t"]), f"upload-token:{claims['j']}", frozenset({UPLOAD_SCOPE}),
                         grant=grant)

    def download_url(self, key: str, base: str) -> str:
        """A URL that serves the object: presigned S3 on AWS, a signed local URL in the embedded mode."""
        if self.signer is None:
            return self.blobs.url(key, self.config.download_expires_seconds)
        token = self.signer.sign({"k": key}, self.config.download_expires_seconds)
        return f"{base}/v1/downloads/{token}"


class EmbeddedLauncher(RuntimeLauncher):
    """Runs on the LocalService's EmbeddedRuntime; a workflow it cannot run is a 422 naming the workers."""

    def check(self, compiled: Compiled) -> None:
        from mediaflow.local import missing_runtimes

        missing = missing_runtimes(compiled)
        if missing:
            raise ApiProblem(422, f"this deployment has no worker for: {', '.join(missing)}",
                             code="RuntimeUnavailable",
                             errors=[{"field": "nodes", "path": "nodes", "message": f"no worker for {m}"}
                                     for m in missing])


def derived(secret: bytes, purpose: str) -> bytes:
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


def embedded_context(service: Any, config: ApiConfig | None = None) -> ApiContext:
    """The API over a LocalService's adapters (SQLite, the data dir's folder, the embedded runtime)."""
    from mediaflow.adapters.embedded.jobs import SQLiteJobStore
    from mediaflow.adapters.embedded.multipart import LocalMultipart

    adapters = service.adapters
    jobs = SQLiteJobStore(adapters.db)
    service.watch_jobs(jobs)
    from mediaflow.adapters.embedded.queue import SQLiteTriggerQueue

    data_dir = Path(service.data_dir)
    secret = _secret(data_dir)
    signer = Signer(secret)
    ctx = ApiContext(
        workflows=adapters.workflows, runs=adapters.runs, keys=adapters.keys,
        jobs=jobs, idempotency=adapters.idempotency, blobs=adapters.blobs,
        launcher=EmbeddedLauncher(service), config=with_cors_origins(config or ApiConfig(), service.settings),
        signer=signer, mode="embedded",
        scratch_dir=data_dir / "tmp" / "api", webhooks=service.webhooks,
        queue=SQLiteTriggerQueue(adapters.db),
        # each kind of token has a key of its own, so that none passes for another (a part URL for a download)
        multipart=LocalMultipart(data_dir / "multipart", adapters.blobs, Signer(derived(secret, "parts"))),
        signing_secret=lambda: derived(secret, "tokens"),
    )
    from mediaflow.api.executions import ExecutionService

    if ctx.queue.pending():  # messages left by a stopped server start now
        ctx.queue.kick(ExecutionService(ctx).run_queued)
    return ctx
