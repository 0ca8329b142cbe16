"""Upload trigger: S3 "Object Created" (EventBridge, through the UploadEvents queue) -> one Step Functions run
per matching active workflow. A message that fails goes back to the queue alone (partial batch response).
Inbound email: raw mail SES stored under inbound-email/ -> one run per media attachment (mediaflow.cloud.email).
Queue trigger: messages of `POST /api/v1/workflows/{id}/enqueue` (TriggerQueue) -> one run each
(mediaflow.cloud.queue)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.cloud import bootstrap
from mediaflow.cloud.trigger import handle_queue_batch, is_queue_batch, parse_upload_event

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="mediaflow")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from mediaflow.cloud.email import with_inbound_mail
    from mediaflow.cloud.queue import consume, is_trigger_queue_batch

    if is_trigger_queue_batch(event):
        result = consume(event, bootstrap.adapters(), bootstrap.launcher())
        metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=len(result["runs"]))
        logger.info("queued messages handled", extra=result)
        return result
    settings = bootstrap.adapters().settings
    encoding = settings.eventbridge_key_encoding
    handle = with_inbound_mail(bootstrap.upload_trigger().handle, bootstrap.adapters(), bootstrap.launcher(),
                               settings.inbound_email_domain)
    if is_queue_batch(event):
        result = handle_queue_batch(event, handle, eventbridge_encoding=encoding)
    else:  # an event delivered directly (a rule without the queue, or a replay)
        result = {"runs": [run for obj in parse_upload_event(event, eventbridge_encoding=encoding)
                           for run in handle(obj)]}
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=sum(1 for r in result["runs"] if r["started"]))
    logger.info("uploads handled", extra={"runs": result["runs"], "failed": result.get("batchItemFailures")})
    return result
