"""SES inbound mail on AWS: a raw message stored under ``inbound-email/`` in the uploads bucket (an SES receipt
rule, template parameter ``InboundEmailDomain``) starts the runs of the addressed workflow, through the same
use case as `POST /api/v1/workflows/{id}/email-trigger` (ExecutionService.email)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mediaflow.inbound_email import PREFIX, parse_mime, route

if TYPE_CHECKING:
    from mediaflow.adapters.aws import AwsAdapters
    from mediaflow.ports import Launcher

logger = logging.getLogger(__name__)


MAX_MAIL_BYTES = 40 * 1024 * 1024  # SES's limit on a received message


def start_mail_runs(bucket: str, key: str, adapters: AwsAdapters, launcher: Launcher, domain: str) -> list[str]:
    from mediaflow.api.context import ApiContext
    from mediaflow.api.executions import ExecutionService
    from mediaflow.api.security import Principal

    raw = adapters.blobs.s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_MAIL_BYTES + 1)
    if len(raw) > MAX_MAIL_BYTES:
        logger.warning("inbound mail %s is larger than %d bytes: ignored", key, MAX_MAIL_BYTES)
        return []
    mail = parse_mime(raw)
    ctx = ApiContext(workflows=adapters.workflows, runs=adapters.runs, keys=adapters.keys, jobs=adapters.jobs,
                     idempotency=adapters.idempotency, blobs=adapters.blobs, launcher=launcher, mode="aws")
    executions = ExecutionService(ctx)
    started: list[str] = []
    for tenant, workflow_id in dict.fromkeys(filter(None, (route(a, domain) for a in mail["recipients"]))):
        try:
            owner = ctx.workflows.get(tenant, workflow_id).get("ownerId") or "inbound-email"
            principal = Principal(tenant, str(owner), frozenset({"workflows:execute"}))
            started += executions.email(principal, workflow_id, mail, "")
        except Exception as error:  # one recipient failing never stops the others
            logger.warning("inbound mail %s for %s/%s not started: %s", key, tenant, workflow_id,
                           getattr(error, "message", error))
    return started


def with_inbound_mail(handle_upload: Callable[[Any], list[dict[str, Any]]], adapters: Any, launcher: Any,
                      domain: str) -> Callable[[Any], list[dict[str, Any]]]:
    """The trigger's per-object handler: stored inbound mail starts email triggers, anything else is an upload."""

    def dispatch(obj: Any) -> list[dict[str, Any]]:
        if not obj.key.startswith(PREFIX):
            return handle_upload(obj)
        started = start_mail_runs(obj.bucket, obj.key, adapters, launcher, domain)
        return [{"runId": run_id, "started": True} for run_id in started]

    return dispatch
