"""RedriveExecution, which moto does not implement, checked against botocore's Stubber (the API tests on moto
bridge it; see docs/moto-stepfunctions.md)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_standard_executions_are_redriven_with_redrive_execution() -> None:
    import boto3
    from botocore.stub import Stubber
    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator
    from mediaflow.compiler.asl import PLACEHOLDERS

    client = boto3.client("stepfunctions", region_name="us-east-1")
    orchestrator = StepFunctionsOrchestrator(role_arn="arn:aws:iam::1:role/r", client=client,
                                             function_arns={name: f"arn:{name}" for name in PLACEHOLDERS})
    standard = "arn:aws:states:us-east-1:000000000000:execution:machine:run-1"
    with Stubber(client) as stub:
        stub.add_response("redrive_execution", {"redriveDate": "2026-01-01T00:00:00Z"}, {"executionArn": standard})
        stub.add_client_error("redrive_execution", "ExecutionNotRedrivable", expected_params={"executionArn": standard})
        assert orchestrator.redrive(standard) is True
        assert orchestrator.redrive(standard) is False  # too old or not failed: the launcher starts a new one
        stub.assert_no_pending_responses()
    assert orchestrator.redrive(standard.replace(":execution:", ":express:")) is False  # no call for Express
