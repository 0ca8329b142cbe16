"""Bus events (workflow.*, job.*, run.node.failed, webhook/notify node events) -> signed webhook deliveries."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.cloud import bootstrap
from mediaflow.cloud.webhooks import deliver_event

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="mediaflow")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    result = deliver_event(bootstrap.webhook_dispatcher(), event,
                           time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    metrics.add_metric(name="WebhookDeliveriesQueued", unit=MetricUnit.Count, value=result["deliveries"])
    logger.info("event fanned out", extra={"detailType": event.get("detail-type"), **result})
    return result
