"""Limits and knobs of the HTTPS API (the same numbers on Lambda and on the local server)."""

from __future__ import annotations

from dataclasses import dataclass

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
    max_upload_bytes: int = 5 * 1024 * 1024 * 1024
    max_batch_objects: int = 1000
    max_job_files: int = 50
    idempotency_ttl_seconds: int = 24 * 3600
    sample_size: int = 640
    # The in-process token bucket limits one process: right for the local server, meaningless across Lambda
    # containers, where the API Gateway usage plan limits each key instead (template.yaml ApiUsagePlan).
    rate_limited: bool = True
    cors_allow_origins: tuple[str, ...] = ()  # browser origins answered with CORS headers; "*" = any
