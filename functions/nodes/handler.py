"""Node Task entry point for every runtime (vips, ffmpeg, rembg images and the light zip function).

Errors propagate: Lambda reports the exception's class name as errorType, and the domain errors'
class names are their codes, so the compiled Retry/Catch see UnsupportedMedia, TransientError, ...
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.cloud import bootstrap
from mediaflow.cloud.nodes import prepare_runtime, run_node, with_lambda_budget

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="mediaflow")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(runId=(event.get("run") or {}).get("runId"), runtime=event.get("runtime"))
    prepare_runtime()  # a cold start seeds the numba cache
    adapters = bootstrap.adapters()
    env = with_lambda_budget(bootstrap.task_environment(adapters), event, context)
    result = run_node(event, env, adapters.idempotency)  # ffmpeg past the budget: ExceedsLambdaBudget
    metrics.add_metric(name="TasksSucceeded", unit=MetricUnit.Count, value=1)
    return result
