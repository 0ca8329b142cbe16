"""API Gateway (REST) -> the mediaflow API: one powertools resolver over the AWS adapters."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.api import create_app
from mediaflow.cloud.bootstrap import aws_context

logger = Logger(service="mediaflow-api")
tracer = Tracer(service="mediaflow-api")
metrics = Metrics(namespace="mediaflow", service="mediaflow-api")


@cache
def app() -> Any:
    """Built once per container; fails with a clear RuntimeError when the AWS adapters are missing."""
    return create_app(aws_context())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result: dict[str, Any] = app().resolve(event, context)
    return result
