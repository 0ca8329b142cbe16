"""Run bookkeeping: a Standard execution ended (EventBridge "Step Functions Execution Status Change")."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.cloud import bootstrap
from mediaflow.cloud.runs import execution_from_status_event, finish_run

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="mediaflow")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    a = bootstrap.adapters()
    describe = a.orchestrator.sfn.describe_execution
    execution = execution_from_status_event(event, lambda arn: describe(executionArn=arn))
    detail = finish_run(execution, runs=a.runs, bus=a.bus, blobs=a.blobs)
    if detail is not None:
        metrics.add_metric(name=f"Runs{detail['status'].capitalize()}", unit=MetricUnit.Count, value=1)
    return detail
