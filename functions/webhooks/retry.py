"""Every minute (EventBridge schedule): attempt the webhook deliveries that are due (retries, replays, pings)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.cloud import bootstrap
from mediaflow.cloud.webhooks import run_due

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="mediaflow")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    attempted = run_due(bootstrap.webhook_dispatcher(), time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    metrics.add_metric(name="WebhookAttempts", unit=MetricUnit.Count, value=attempted)
    logger.info("due deliveries attempted", extra={"attempted": attempted})
    return {"attempted": attempted}
