"""Upload -> trigger -> Step Functions (moto's interpreter) -> node Lambdas in-process -> outputs, run
records, node steps and workflow.completed on the bus, for the Convertly example on a real JPEG."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.functional.aws.conftest import REGION, Deployment, FakeContext, load_handler, small_jpeg

pytestmark = [pytest.mark.functional, pytest.mark.aws_e2e]
ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "convertly-convert-compress.json"
TENANT = "t1"


def save(deployment: Deployment, raw: Any, status: str = "active") -> dict[str, Any]:
    from mediaflow.cloud import bootstrap, workflows

    a = deployment.adapters
    return workflows.save_workflow(TENANT, raw, workflows=a.workflows, launcher=bootstrap.launcher(a), status=status)


def upload(deployment: Deployment, key: str, body: bytes) -> dict[str, Any]:
    """Put an object in the uploads bucket and return the EventBridge event S3 sent for it."""
    import boto3

    boto3.client("s3", region_name=REGION).put_object(
        Bucket=deployment.settings.uploads_bucket, Key=key, Body=body, ContentType="application/octet-stream")
    for event in deployment.events(wait_s=5):
        if event.get("source") == "aws.s3" and event["detail"]["object"]["key"] == key:
            return event
    raise AssertionError(f"no Object Created event for {key!r}")


def standard(raw: dict[str, Any]) -> dict[str, Any]:
    from mediaflow.validation import validate

    canonical = validate(raw).definition.canonical()  # type: ignore[union-attr]
    canonical = copy.deepcopy(canonical)
    canonical.setdefault("settings", {})["executionType"] = "standard"
    return canonical


def wait_finished(execution_arn: str) -> dict[str, Any]:
    import boto3

    sfn = boto3.client("stepfunctions", region_name=REGION)
    deadline = time.monotonic() + 60
    described = sfn.describe_execution(executionArn=execution_arn)
    while described["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
        described = sfn.describe_execution(executionArn=execution_arn)
    result: dict[str, Any] = described
    return result


def test_convertly_upload_runs_end_to_end_on_express(deployment: Deployment, express_runs_on_moto: None) -> None:
    import boto3

    record = save(deployment, json.loads(EXAMPLE.read_text()))
    assert record["executionType"] == "EXPRESS" and record["stateMachine"]["versionArn"]
    key = f"{TENANT}/uploads/photos/cat 1.jpg"
    event = upload(deployment, key, small_jpeg())
    trigger = load_handler("functions/trigger/handler.py")

    result = trigger.lambda_handler(event, FakeContext("trigger"))

    assert [r["started"] for r in result["runs"]] == [True]
    run_id = result["runs"][0]["runId"]
    run = deployment.adapters.runs.get_run(TENANT, run_id)
    assert run["status"] == "completed", run
    assert run["version"] == record["version"] and run["workflowId"] == record["id"]
    steps = deployment.adapters.runs.steps(TENANT, run_id)
    assert [(s["nodeId"], s["status"]) for s in steps] == [
        ("convert", "completed"), ("compress", "completed"), ("storage", "completed")]

    s3 = boto3.client("s3", region_name=REGION)
    outputs = s3.list_objects_v2(Bucket=deployment.settings.outputs_bucket, Prefix=f"{TENANT}/outputs/")
    keys = [o["Key"] for o in outputs.get("Contents", [])]
    assert keys == [f"{TENANT}/outputs/cat-1.webp"], keys
    body = s3.get_object(Bucket=deployment.settings.outputs_bucket, Key=keys[0])["Body"].read()
    assert body[:4] == b"RIFF" and body[8:12] == b"WEBP"
    intermediates = s3.list_objects_v2(Bucket=deployment.settings.outputs_bucket, Prefix=f"{TENANT}/runs/")
    for obj in intermediates.get("Contents", []):
        tags = s3.get_object_tagging(Bucket=deployment.settings.outputs_bucket, Key=obj["Key"])["TagSet"]
        assert {"Key": "mediaflow-retention", "Value": "run"} in tags

    published = [e for e in deployment.events(wait_s=5) if e.get("source") == "mediaflow"]
    assert [e["detail-type"] for e in published] == ["workflow.completed"]
    detail = published[0]["detail"]
    assert detail["runId"] == run_id and detail["version"] == record["version"]
    assert [o["key"] for o in detail["outputs"]] == keys and detail["outputs"][0]["url"].startswith("https://")

    # The same S3 event delivered again starts nothing.
    again = trigger.lambda_handler(event, FakeContext("trigger"))
    assert [r["started"] for r in again["runs"]] == [False]
    assert [name for name, _ in deployment.calls].count("express-runner") == 1
    assert [name for name, _ in deployment.calls].count("vips") == 1


def test_standard_run_duplicate_event_starts_one_execution(deployment: Deployment) -> None:
    import boto3

    record = save(deployment, standard(json.loads(EXAMPLE.read_text())))
    assert record["stateMachine"]["type"] == "STANDARD"
    event = upload(deployment, f"{TENANT}/uploads/dog.jpg", small_jpeg())
    trigger = load_handler("functions/trigger/handler.py")

    first = trigger.lambda_handler(event, FakeContext("trigger"))
    run_id = first["runs"][0]["runId"]
    described = wait_finished(first["runs"][0]["executionArn"])
    assert described["status"] == "SUCCEEDED"
    # Lost the run record's "running" mark: the retry goes to Step Functions, which refuses the name.
    deployment.adapters.runs.update_run(TENANT, run_id, status="pending")
    second = trigger.lambda_handler(event, FakeContext("trigger"))
    assert second["runs"][0]["started"] is False

    sfn = boto3.client("stepfunctions", region_name=REGION)
    assert len(sfn.list_executions(stateMachineArn=record["stateMachine"]["arn"])["executions"]) == 1
    assert [name for name, _ in deployment.calls].count("vips") == 1

    # The execution's end reaches the runs function as a status-change event.
    runs = load_handler("functions/runs/handler.py")
    status_event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                    "detail": {key: described.get(key) for key in
                               ("executionArn", "stateMachineArn", "name", "status", "input", "output")}}
    detail = runs.lambda_handler(status_event, FakeContext("runs"))
    assert detail["status"] == "completed" and detail["outputs"][0]["key"] == f"{TENANT}/outputs/dog.webp"
    assert runs.lambda_handler(status_event, FakeContext("runs")) is None  # finished once
    published = [e["detail-type"] for e in deployment.events(wait_s=2) if e.get("source") == "mediaflow"]
    assert published == ["workflow.completed"]


def test_a_corrupt_upload_fails_the_run_with_the_node_error(deployment: Deployment,
                                                            express_runs_on_moto: None) -> None:
    save(deployment, json.loads(EXAMPLE.read_text()))
    event = upload(deployment, f"{TENANT}/uploads/broken.jpg", small_jpeg()[:200])
    trigger = load_handler("functions/trigger/handler.py")

    result = trigger.lambda_handler(event, FakeContext("trigger"))

    run = deployment.adapters.runs.get_run(TENANT, result["runs"][0]["runId"])
    assert run["status"] == "failed" and run["error"]["error"] == "MediaDecodeError", run
    published = [e for e in deployment.events(wait_s=5) if e.get("source") == "mediaflow"]
    assert [e["detail-type"] for e in published] == ["workflow.failed"]
    steps = deployment.adapters.runs.steps(TENANT, run["runId"])
    assert steps[0]["status"] == "failed" and steps[0]["error"] == "MediaDecodeError"
