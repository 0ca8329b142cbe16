"""API Gateway Lambda authorizer (REQUEST): API key (SHA-256 in DynamoDB) -> tenant, scopes, policy."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from mediaflow.cloud import bootstrap
from mediaflow.cloud.auth import authorize

logger = Logger()
tracer = Tracer()


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = authorize(event, bootstrap.adapters().keys)
    logger.append_keys(tenant=response["context"]["tenant"], keyId=response["principalId"])
    logger.info("authorized", extra={"scopes": response["context"]["scopes"]})
    return response
