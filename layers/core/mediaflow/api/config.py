"""Limits and knobs of the HTTPS API (the same numbers on Lambda and on the local server)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

API_PREFIX = "/v1"
SCOPES = ("workflows:read", "workflows:write", "workflows:execute")


@dataclass(frozen=True)
class ApiConfig:
    """Documented in docs/api.md. ``rate_per_second``/``burst`` form a token bucket per API key."""

    max_body_bytes: int = 10 * 1024 * 1024  # API Gateway REST refuses larger payloads too
    max_page_size: int = 100
    default_page_size: int = 20
    rate_per_second: float = 20.0
    burst: int = 40
    upload_expires_seconds: int = 3600
    download_expires_seconds: int = 3600
    max_upload_bytes: int = 5 * 1024 * 1024 * 1024  # one presigned POST (S3's own limit for a single PUT)
    # Multipart uploads (docs/uploads.md): parts of min..max bytes (the last may be smaller), at most
    # max_parts of them, files up to max_multipart_bytes; the local server takes parts up to its body limit.
    max_multipart_bytes: int = 50 * 1024**3
    min_part_bytes: int = 5 * 1024 * 1024  # S3's minimum for every part but the last
    default_part_bytes: int = 8 * 1024 * 1024
    max_part_bytes: int = 5 * 1024**3  # S3's maximum; embedded: max_body_bytes
    max_parts: int = 10_000
    part_urls_per_call: int = 100
    multipart_expires_seconds: int = 2 * 24 * 3600  # the uploads bucket's rule aborts incomplete ones then
    max_upload_token_seconds: int = 24 * 3600
    max_batch_objects: int = 1000
    max_job_files: int = 50
    idempotency_ttl_seconds: int = 24 * 3600
    sample_size: int = 640
    sync_max_bytes: int = 25 * 1024 * 1024  # POST /api/convert|compress: larger files go through jobs
    sync_timeout_seconds: float = 25.0  # below API Gateway's 29 s
    # The in-process token bucket limits one process: right for the local server, meaningless across Lambda
    # containers, where the API Gateway usage plan limits each key instead (template.yaml ApiUsagePlan).
    rate_limited: bool = True
    cors_allow_origins: tuple[str, ...] = ()  # browser origins answered with CORS headers; "*" = any


def with_cors_origins(config: ApiConfig, settings: Any) -> ApiConfig:
    """``config`` with the browser origins of ``MEDIAFLOW_CORS_ALLOW_ORIGINS`` (comma-separated) when it names
    none itself."""
    origins = tuple(o.strip() for o in str(settings.cors_allow_origins or "").split(",") if o.strip())
    return dataclasses.replace(config, cors_allow_origins=config.cors_allow_origins or origins)
