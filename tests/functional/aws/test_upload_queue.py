"""Uploads reach the trigger through the UploadEvents queue: batches of EventBridge events, one run per
object version however often a message is delivered, and a bad message retried alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.aws.conftest import Deployment, FakeContext, load_handler, load_template, small_jpeg
from tests.functional.aws.test_pipeline import EXAMPLE, TENANT, save, standard, upload, wait_finished

pytestmark = [pytest.mark.functional, pytest.mark.aws_e2e]


def sqs_batch(*bodies: Any) -> dict[str, Any]:
    """What Lambda's SQS event source hands the function: one record per message, the event in its body."""
    return {"Records": [{"messageId": f"m{index}", "receiptHandle": f"r{index}", "eventSource": "aws:sqs",
                         "body": body if isinstance(body, str) else json.dumps(body), "attributes": {},
                         "messageAttributes": {}, "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uploads"}
                        for index, body in enumerate(bodies)]}


def test_a_batch_starts_one_run_per_upload_and_a_redelivery_starts_nothing(deployment: Deployment) -> None:
    save(deployment, standard(json.loads(EXAMPLE.read_text())))
    events = [upload(deployment, f"{TENANT}/uploads/batch/{index}.jpg", small_jpeg()) for index in range(3)]
    trigger = load_handler("functions/trigger/handler.py")

    first = trigger.lambda_handler(sqs_batch(*events), FakeContext("trigger"))
    again = trigger.lambda_handler(sqs_batch(*events), FakeContext("trigger"))  # at-least-once delivery

    assert first["batchItemFailures"] == [] and [r["started"] for r in first["runs"]] == [True] * 3
    assert len({r["runId"] for r in first["runs"]}) == 3
    assert again["batchItemFailures"] == [] and [r["started"] for r in again["runs"]] == [False] * 3
    for run in first["runs"]:
        assert wait_finished(run["executionArn"])["status"] == "SUCCEEDED"


def test_only_the_bad_message_goes_back_to_the_queue(deployment: Deployment) -> None:
    save(deployment, standard(json.loads(EXAMPLE.read_text())))
    good = upload(deployment, f"{TENANT}/uploads/good.jpg", small_jpeg())

    result = load_handler("functions/trigger/handler.py").lambda_handler(
        sqs_batch("not json", good), FakeContext("trigger"))

    assert result["batchItemFailures"] == [{"itemIdentifier": "m0"}]
    assert [r["started"] for r in result["runs"]] == [True]


def getatt(value: Any) -> str:
    """``!GetAtt A.B`` (loaded as "A.B") or ``!GetAtt [A, B]``, as "A.B"."""
    return ".".join(value) if isinstance(value, list) else str(value)


def test_the_template_routes_uploads_through_the_queue_with_partial_batch_responses() -> None:
    resources = load_template()["Resources"]
    trigger = resources["TriggerFunction"]["Properties"]
    (source,) = [e["Properties"] for e in trigger["Events"].values() if e["Type"] == "SQS"]
    assert getatt(source["Queue"]) == "UploadEventsQueue.Arn"
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and source["BatchSize"] == 10
    assert "MaximumConcurrency" in source["ScalingConfig"]
    rule = resources["UploadCreatedRule"]["Properties"]
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert [getatt(t["Arn"]) for t in rule["Targets"]] == ["UploadEventsQueue.Arn"]
    queue = resources["UploadEventsQueue"]["Properties"]
    assert getatt(queue["RedrivePolicy"]["deadLetterTargetArn"]) == "DeadLetterQueue.Arn"
    assert int(queue["VisibilityTimeout"]) >= 6 * int(trigger["Timeout"])  # as Lambda advises for SQS sources
