"""Upload trigger: S3 "Object Created" (EventBridge) -> one Step Functions run per matching active workflow.
Inbound email: raw mail SES stored under inbound-email/ -> one run per media attachment (mediaflow.cloud.email).
Queue trigger: SQS messages of `POST /api/v1/workflows/{id}/enqueue` -> one run each (mediaflow.cloud.queue)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.cloud import app
from mediaflow.cloud.trigger import parse_upload_event

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="mediaflow")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if any(record.get("eventSource") == "aws:sqs" for record in event.get("Records") or []):
        from mediaflow.cloud.queue import consume

        result = consume(event, app.adapters(), app.launcher())
        metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=len(result["runs"]))
        logger.info("queue handled", extra=result)
        return result
    settings = app.adapters().settings
    objects = parse_upload_event(event, eventbridge_encoding=settings.eventbridge_key_encoding)
    mail = [obj for obj in objects if obj.key.startswith("inbound-email/")]
    if mail:  # SES stored an inbound email (template parameter InboundEmailDomain)
        from mediaflow.cloud.email import handle

        started = [r for obj in mail for r in handle(obj.bucket, obj.key, app.adapters(), app.launcher(),
                                                     settings.inbound_email_domain)]
        logger.info("inbound email handled", extra={"runs": started})
        return {"runs": [{"runId": run_id, "started": True} for run_id in started]}
    trigger = app.upload_trigger()
    runs = [run for obj in objects for run in trigger.handle(obj)]
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=sum(1 for r in runs if r["started"]))
    logger.info("upload handled", extra={"runs": runs})
    return {"runs": runs}
