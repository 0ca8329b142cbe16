"""The API over the AWS adapters (DynamoDB, S3, Step Functions), for functions/api on Lambda."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mediaflow.api.config import ApiConfig, with_cors_origins
from mediaflow.api.context import ApiContext


def aws_config(config: ApiConfig, settings: Any) -> ApiConfig:
    """On AWS the usage plan limits each key (no per-container bucket) and the stack names the CORS origins."""
    return dataclasses.replace(with_cors_origins(config, settings), rate_limited=False)


def aws_context(config: ApiConfig | None = None, adapters: Any = None) -> ApiContext:
    """Build the context from ``mediaflow.adapters.aws`` and ``mediaflow.cloud`` (imported lazily)."""
    try:
        from mediaflow.cloud import app as cloud
        from mediaflow.cloud.workflows import sync_workflow
    except ImportError as error:  # the AWS side is a separate part of the package
        raise RuntimeError(f"the API on Lambda needs mediaflow.adapters.aws and mediaflow.cloud: {error}") from error
    a = adapters or cloud.adapters()
    launcher = cloud.launcher(a)

    def saved(tenant: str, record: dict[str, Any]) -> None:
        if record.get("valid", True):  # drafts that do not validate get a state machine once they do
            sync_workflow(tenant, record, launcher=launcher)

    def deleted(tenant: str, workflow_id: str) -> None:
        a.orchestrator.delete(tenant, workflow_id)

    def presign(key: str, *, content_type: str | None, expires_seconds: int, max_bytes: int,
                fields: dict[str, str] | None = None) -> dict[str, Any]:
        """A presigned POST whose policy fixes the key, the size range, the type and the x-amz-meta-* fields."""
        conditions: list[Any] = [["content-length-range", 1, max_bytes]]
        fields = {**({"Content-Type": content_type} if content_type else {}), **(fields or {})}
        conditions.extend({name: value} for name, value in fields.items())
        post: dict[str, Any] = a.blobs.s3.generate_presigned_post(
            Bucket=a.blobs.bucket_for(key), Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_seconds)
        return post

    from mediaflow.adapters.aws.s3 import S3Multipart
    from mediaflow.adapters.aws.webhooks import WebhookSettings, aws_dispatcher

    webhook_settings = WebhookSettings()  # pings and replays are queued; the retry schedule sends them
    webhooks = aws_dispatcher(a, webhook_settings) if webhook_settings.webhooks_table else None
    return ApiContext(workflows=a.workflows, runs=a.runs, keys=a.keys, jobs=a.jobs, idempotency=a.idempotency,
                      blobs=a.blobs, launcher=launcher, config=aws_config(config or ApiConfig(), a.settings),
                      signer=None, mode="aws",
                      scratch_dir=Path("/tmp/mediaflow-api"), on_workflow_saved=saved,
                      on_workflow_deleted=deleted, presign_post=presign,
                      webhooks=webhooks, queue=_trigger_queue(a.settings),
                      multipart=S3Multipart(a.blobs), signing_secret=a.keys.signing_secret)


def _trigger_queue(settings: Any) -> Any:
    from mediaflow.adapters.aws.sqs import SqsTriggerQueue

    return SqsTriggerQueue(settings.trigger_queue_url, settings.region) if settings.trigger_queue_url else None
