"""What only the AWS backend has: the resources come from template.yaml, uploads are S3 presigned POSTs,
runs execute on (moto's) Step Functions as Express or Standard executions, and their end is published on
the EventBridge bus. The endpoint and two-tenant tests run over this backend as the ``aws`` transport."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.functional.api.conftest import Api, Client, simple_workflow

pytestmark = pytest.mark.functional
REGION = "us-east-1"
Events = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def aws(aws_api: Api) -> Client:
    return aws_api.client("aws")


@pytest.fixture
def bus_events(aws_api: Api) -> Iterator[Events]:
    """Every event put on the deployment's bus while the test runs (a rule to an SQS queue): call it."""
    import boto3

    bus = aws_api.deployment.settings.event_bus_name
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    name = f"record-{time.monotonic_ns()}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["mediaflow"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    received: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    yield drain
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["queue"])
    events.delete_rule(Name=name, EventBusName=bus)
    sqs.delete_queue(QueueUrl=queue_url)


def _published(bus_events: Events, run_id: str, wait_s: float = 15.0) -> list[dict[str, Any]]:
    """The events of run ``run_id`` on the bus: the run's record says it ended before its event is put on the bus,
    so this waits for the first one (a loaded machine widens that gap), then looks once more for a second."""
    deadline = time.monotonic() + wait_s
    while not (found := [e for e in bus_events() if e["detail"].get("runId") == run_id]):
        if time.monotonic() > deadline:
            return []
        time.sleep(0.1)
    time.sleep(0.3)
    return [e for e in bus_events() if e["detail"].get("runId") == run_id] or found


def test_deployment_is_built_from_the_template(aws_api: Api) -> None:
    import boto3

    from tests.functional.api.aws_backend import load_template, resources_of

    template = load_template()
    tables = set(boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"])
    assert len(tables) == len(resources_of(template, "AWS::DynamoDB::Table")) >= 6
    settings = aws_api.deployment.settings
    assert {settings.workflows_table, settings.runs_table, settings.jobs_table, settings.keys_table,
            settings.idempotency_table} <= tables
    buckets = {b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]}
    assert {settings.uploads_bucket, settings.outputs_bucket} <= buckets
    assert settings.name_prefix == "mediaflow-dev" and settings.vips_function_arn.endswith(":mediaflow-dev-vips")


def test_presigned_post_batch_runs_on_step_functions_and_publishes(aws: Client, aws_api: Api, photo: bytes,
                                                                  bus_events: Events) -> None:
    import boto3

    workflow = aws.post("/v1/workflows", simple_workflow("aws batch")).json()
    keys = []
    for name in ("one.jpg", "two.jpg"):
        target = aws.post("/v1/uploads", {"filename": name, "contentType": "image/jpeg"}).json()
        assert target["url"].startswith("https://") and "s3" in target["url"] and target["fields"]["key"]
        assert aws.upload(target, name, photo).status == 204
        keys.append(target["key"])
    settings = aws_api.deployment.settings
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.head_object(Bucket=settings.uploads_bucket, Key=keys[0])["ContentLength"] == len(photo)

    reply = aws.post(f"/v1/workflows/{workflow['id']}/runs", {"objects": keys})
    assert reply.status == 202 and reply.json()["batch"]
    run = aws.wait_run(reply.json()["runId"])
    assert run["status"] == "completed" and run["progress"]["completed"] == 2, run
    assert sorted(o["filename"] for o in run["outputs"]) == ["one.webp", "two.webp"]
    for output in run["outputs"]:
        assert s3.head_object(Bucket=settings.outputs_bucket, Key=output["key"])["ContentType"] == "image/webp"
        assert aws.download(output["url"]).content[8:12] == b"WEBP"
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machines = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].startswith("mediaflow-dev-exp-")]
    assert machines, "the run's Express machine"
    published = _published(bus_events, run["runId"])
    assert [e["detail-type"] for e in published] == ["workflow.completed"]


def test_standard_run_is_finished_by_its_status_change_event(aws: Client, aws_api: Api, photo: bytes,
                                                            bus_events: Events) -> None:
    import boto3

    body = simple_workflow("aws standard", settings={"executionType": "standard"})
    workflow = aws.post("/v1/workflows", body).json()
    assert workflow["executionType"] == "STANDARD"
    reply = aws.request("POST", f"/v1/workflows/{workflow['id']}/runs", files={"file": ("p.jpg", photo)})
    assert reply.status == 202
    run = aws.wait_run(reply.json()["runId"])
    assert run["status"] == "completed" and run["outputs"][0]["contentType"] == "image/webp", run
    stored = aws_api.runs.get_run("tenant-a", run["runId"])
    assert ":execution:mediaflow-dev-std-" in stored["executionArn"]
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=stored["executionArn"])
    assert described["status"] == "SUCCEEDED"
    published = _published(bus_events, run["runId"])
    assert [e["detail-type"] for e in published] == ["workflow.completed"]
