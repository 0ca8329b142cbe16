"""Webhooks on AWS, inside moto: a run's end on the bus, the template's rule, the dispatcher and retry
functions delivering to a real receiver on 127.0.0.1 (signatures checked with the standardwebhooks
library), the DynamoDB delivery log, the SQS dead-letter queue, 410, replay and the /v1/webhooks API
on the Lambda handler."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from standardwebhooks.webhooks import Webhook

from tests.functional.aws.conftest import REGION, Deployment, FakeContext, load_handler, load_template, small_jpeg

pytestmark = pytest.mark.functional
ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "convertly-convert-compress.json"
TENANT = "t1"
START = 1_700_000_000.0


class Receiver:
    """Answers with the queued status codes (then 200) and records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body.decode()})
                self.send_response(receiver.replies.pop(0) if receiver.replies else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Clock:
    """Starts at the real time: receivers verify webhook-timestamp within 5 minutes of theirs."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class LambdaContext(FakeContext):
    def get_remaining_time_in_millis(self) -> int:
        return 120_000


@dataclass
class Hooks:
    deployment: Deployment
    receiver: Receiver
    clock: Clock
    dispatcher: Any
    handler: ModuleType
    retry: ModuleType
    dlq_url: str

    def register(self, event_types: list[str] | None = None) -> tuple[dict[str, Any], str]:
        record: dict[str, Any]
        record, secret = self.dispatcher.register(TENANT, self.receiver.url, event_types or [])
        return record, secret

    def deliver(self, event: dict[str, Any]) -> dict[str, int]:
        result: dict[str, int] = self.handler.lambda_handler(event, LambdaContext("mediaflow-webhooks"))
        return result

    def tick(self, seconds: float = 3600) -> int:
        """The schedule fires after ``seconds``."""
        self.clock.now += seconds
        result = self.retry.lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"},
                                           LambdaContext("mediaflow-webhook-retries"))
        attempted: int = result["attempted"]
        return attempted

    def dead_letters(self) -> list[dict[str, Any]]:
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        return [{"body": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})} for m in messages]


def bus_event(detail_type: str, detail: dict[str, Any], event_id: str = "e-1") -> dict[str, Any]:
    """An event as EventBridge hands it to a Lambda target."""
    return {"version": "0", "id": event_id, "detail-type": detail_type, "source": "mediaflow",
            "account": "123456789012", "time": "2023-11-14T22:13:20Z", "region": REGION, "resources": [],
            "detail": detail}


@pytest.fixture
def hooks(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    import boto3
    from mediaflow.cloud import bootstrap
    from mediaflow.cloud.webhooks import aws_dispatcher

    dlq_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="webhook-dead-letters")["QueueUrl"]
    monkeypatch.setenv("MEDIAFLOW_WEBHOOK_DEAD_LETTER_QUEUE_URL", dlq_url)
    monkeypatch.setenv("MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    clock = Clock()
    dispatcher = aws_dispatcher(deployment.adapters.blobs, clock=clock, schedule=[10, 60], jitter=0.0)
    handler = load_handler("functions/webhooks/handler.py")
    retry = load_handler("functions/webhooks/retry.py")
    monkeypatch.setattr(bootstrap, "webhook_dispatcher", functools.cache(lambda: dispatcher))  # both functions
    receiver = Receiver()
    yield Hooks(deployment, receiver, clock, dispatcher, handler, retry, dlq_url)
    receiver.server.shutdown()
    receiver.server.server_close()


def raw_delivery(deployment: Deployment, delivery_id: str) -> dict[str, Any]:
    import boto3

    table = boto3.resource("dynamodb", region_name=REGION).Table(deployment.settings.webhooks_table)
    item: dict[str, Any] = table.get_item(Key={"pk": TENANT, "sk": f"delivery#{delivery_id}"})["Item"]
    return item


def due_index_size(deployment: Deployment) -> int:
    import boto3

    table = boto3.resource("dynamodb", region_name=REGION).Table(deployment.settings.webhooks_table)
    count: int = table.scan(IndexName="byDue", Select="COUNT")["Count"]
    return count


# -- the bus ---------------------------------------------------------------------------------------------


def test_a_finished_run_puts_workflow_completed_and_the_rule_sends_it_to_a_verified_delivery(
        hooks: Hooks, express_runs_on_moto: None) -> None:
    import boto3
    from mediaflow.cloud import bootstrap, workflows

    deployment = hooks.deployment
    a = deployment.adapters
    webhook, secret = hooks.register(["workflow.completed"])
    record = workflows.save_workflow(TENANT, json.loads(EXAMPLE.read_text()), workflows=a.workflows,
                                     launcher=bootstrap.launcher(a), status="active")
    key = f"{TENANT}/uploads/cat.jpg"
    boto3.client("s3", region_name=REGION).put_object(Bucket=deployment.settings.uploads_bucket, Key=key,
                                                      Body=small_jpeg())
    upload = next(e for e in deployment.events(wait_s=5) if e.get("source") == "aws.s3")
    result = load_handler("functions/trigger/handler.py").lambda_handler(upload, FakeContext("trigger"))
    run_id = result["runs"][0]["runId"]

    [event] = [e for e in deployment.events(wait_s=5) if e.get("source") == "mediaflow"]
    assert event["detail-type"] == "workflow.completed"
    detail = event["detail"]
    assert set(detail) == {"tenant", "workflowId", "version", "runId", "status", "startedAt", "endedAt", "error",
                           "mediaId", "mediaIds", "outputs", "failedNodes"}
    assert (detail["tenant"], detail["workflowId"], detail["version"], detail["runId"], detail["status"]) == (
        TENANT, record["id"], record["version"], run_id, "completed")
    assert detail["error"] is None and detail["endedAt"]
    [output] = detail["outputs"]
    assert output["key"] == f"{TENANT}/outputs/cat.webp" and output["bucket"] == deployment.settings.outputs_bucket
    assert {"contentType", "size", "filename"} <= set(output)

    # The event exactly as EventBridge hands it to the webhooks function (the recording queue holds it).
    assert hooks.deliver(event) == {"deliveries": 1, "attempted": 1}
    [request] = hooks.receiver.requests
    verified = Webhook(secret).verify(request["body"], request["headers"])
    assert verified["type"] == "workflow.completed" and verified["data"]["runId"] == run_id
    url = urlsplit(verified["data"]["outputs"][0]["downloadUrl"])
    assert url.scheme == "https" and parse_qs(url.query)["X-Amz-Expires"] == ["3600"]
    [delivery] = hooks.dispatcher.store.deliveries(TENANT, webhook["id"])
    assert delivery["status"] == "succeeded" and request["headers"]["webhook-id"] == delivery["id"]


def test_the_template_rule_matches_run_job_and_node_events_only(deployment: Deployment) -> None:
    import boto3

    resource = load_template()["Resources"]["WebhooksFunction"]
    pattern = resource["Properties"]["Events"]["MediaflowEvents"]["Properties"]["Pattern"]
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="webhooks-rule")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="webhooks", EventBusName=deployment.settings.event_bus_name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="webhooks", EventBusName=deployment.settings.event_bus_name,
                       Targets=[{"Id": "q", "Arn": arn}])
    for detail_type, detail in (("workflow.completed", {"tenant": TENANT}), ("job.failed", {"tenant": TENANT}),
                                ("run.node.failed", {"tenant": TENANT, "nodeIds": ["n"]}),
                                ("asset.ready", {"tenant": TENANT, "nodeId": "notify-1"}),
                                ("something.else", {"tenant": TENANT})):
        deployment.adapters.bus.publish(detail_type, detail)
    received = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        received += [json.loads(m["Body"])["detail-type"] for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(received) == ["asset.ready", "job.failed", "run.node.failed", "workflow.completed"]


# -- delivery ---------------------------------------------------------------------------------------------


def test_two_failures_then_success_three_attempts_one_id_in_the_dynamodb_log(hooks: Hooks) -> None:
    webhook, secret = hooks.register()
    hooks.receiver.replies = [500, 502]
    hooks.deliver(bus_event("workflow.failed", {"tenant": TENANT, "runId": "r1", "status": "failed"}))
    assert hooks.tick(5) == 0  # the first retry is 10 s out
    assert hooks.tick(10) == 1
    assert hooks.tick(60) == 1
    assert hooks.tick() == 0

    requests = hooks.receiver.requests
    [delivery] = hooks.dispatcher.store.deliveries(TENANT, webhook["id"])
    assert [r["headers"]["webhook-id"] for r in requests] == [delivery["id"]] * 3
    for request in requests:
        assert Webhook(secret).verify(request["body"], request["headers"])["data"]["runId"] == "r1"
    item = raw_delivery(hooks.deployment, delivery["id"])
    assert item["status"] == "succeeded" and int(item["attempts"]) == 3
    assert [int(a["statusCode"]) for a in item["log"]] == [500, 502, 200]
    assert "dueShard" not in item and int(item["expiresAt"]) > time.time() + 29 * 86400  # left the due index; TTL set
    assert [a["statusCode"] for a in delivery["log"]] == [500, 502, 200]
    assert due_index_size(hooks.deployment) == 0


def test_exhausted_retries_go_to_the_sqs_dead_letter_queue(hooks: Hooks) -> None:
    webhook, _ = hooks.register(["job.failed"])
    hooks.receiver.replies = [500] * 5
    hooks.deliver(bus_event("job.failed", {"tenant": TENANT, "jobId": "j1", "status": "failed"}))
    hooks.tick(10)
    hooks.tick(60)
    [delivery] = hooks.dispatcher.store.deliveries(TENANT, webhook["id"])
    assert delivery["status"] == "dead" and delivery["attempts"] == 3 and len(hooks.receiver.requests) == 3
    [message] = hooks.dead_letters()
    assert message["body"]["id"] == delivery["id"] and message["body"]["payload"]["data"]["jobId"] == "j1"
    assert [a["statusCode"] for a in message["body"]["log"]] == [500, 500, 500]
    assert message["attributes"]["webhookId"]["StringValue"] == webhook["id"]
    assert "secret" not in json.dumps(message["body"])


def test_gone_disables_the_webhook(hooks: Hooks) -> None:
    webhook, _ = hooks.register()
    hooks.receiver.replies = [410]
    hooks.deliver(bus_event("workflow.completed", {"tenant": TENANT, "runId": "r1"}))
    stored = hooks.dispatcher.store.get(TENANT, webhook["id"])
    assert stored["status"] == "disabled" and "410" in stored["disabledReason"]
    assert hooks.deliver(bus_event("workflow.completed", {"tenant": TENANT}, "e-2")) == {
        "deliveries": 0, "attempted": 0}
    assert len(hooks.receiver.requests) == 1


def test_a_repeated_bus_event_makes_one_delivery(hooks: Hooks) -> None:
    webhook, _ = hooks.register()
    event = bus_event("workflow.completed", {"tenant": TENANT, "runId": "r1"}, "same-event")
    hooks.deliver(event)
    assert hooks.deliver(event) == {"deliveries": 1, "attempted": 0}
    assert len(hooks.receiver.requests) == 1
    assert len(hooks.dispatcher.store.deliveries(TENANT, webhook["id"])) == 1


def test_node_event_with_a_workflow_filter(hooks: Hooks) -> None:
    hooks.dispatcher.register(TENANT, hooks.receiver.url, ["asset.ready"], workflow_id="wf-2")
    detail = {"tenant": TENANT, "workflowId": "wf-1", "runId": "r1", "nodeId": "n", "media": {}}
    assert hooks.deliver(bus_event("asset.ready", detail))["deliveries"] == 0
    assert hooks.deliver(bus_event("asset.ready", {**detail, "workflowId": "wf-2"}, "e-2"))["deliveries"] == 1
    assert json.loads(hooks.receiver.requests[0]["body"])["data"]["nodeId"] == "n"


# -- the store ------------------------------------------------------------------------------------------------


def test_two_dispatchers_cannot_claim_the_same_attempt_and_a_dead_claim_expires(hooks: Hooks) -> None:
    from mediaflow.adapters.aws.webhooks import DynamoDBWebhookStore

    webhook, _ = hooks.register()
    hooks.clock.now = START
    store = hooks.dispatcher.store
    other = DynamoDBWebhookStore(hooks.deployment.settings.webhooks_table, clock=hooks.clock, lease_seconds=300)
    delivery = store.add_delivery(TENANT, webhook["id"], "workflow.completed", {"data": {}}, START)
    assert [d["id"] for d in store.due(START)] == [delivery["id"]]
    assert store.claim(TENANT, delivery["id"], 0) is True
    assert other.claim(TENANT, delivery["id"], 0) is False  # same attempt
    assert store.due(START + 60) == []  # claimed: out of the due set while the lease holds
    [stale] = other.due(START + 3600)  # its dispatcher died: due again once the lease ended
    assert stale["status"] == "sending" and stale["attempts"] == 1
    hooks.clock.now = START + 3600
    assert other.claim(TENANT, delivery["id"], 1) is True


def test_the_dynamodb_store_returns_the_sqlite_store_shapes(hooks: Hooks, tmp_path: Path) -> None:
    from mediaflow.adapters.embedded import SQLiteDatabase
    from mediaflow.adapters.embedded.webhooks import WebhookStore

    sqlite = WebhookStore(SQLiteDatabase(tmp_path / "h.sqlite3"))
    shapes = []
    for store in (sqlite, hooks.dispatcher.store):
        created, secret = store.create(TENANT, "https://hooks.example.com/in", ["b", "a", "a"], workflow_id="w")
        secrets_view = store.get(TENANT, created["id"], with_secrets=True)
        store.rotate_secret(TENANT, created["id"], 60, START)
        rotated = store.get(TENANT, created["id"], with_secrets=True)
        delivery = store.add_delivery(TENANT, created["id"], "a", {"type": "a", "data": {"x": 1.5}}, START)
        store.claim(TENANT, delivery["id"], 0)
        store.record_attempt(TENANT, delivery["id"], 1, 503, 12.3456, "boom", status="retrying",
                             next_attempt_at=START + 10)
        after = store.delivery(TENANT, delivery["id"])
        store.requeue(TENANT, delivery["id"], START + 1)
        shapes.append({
            "created": sorted(created), "secrets": sorted(secrets_view), "types": created["eventTypes"],
            "rotated": (rotated["previousSecret"] == secret, rotated["previousExpiresAt"] == START + 60),
            "delivery": sorted(delivery), "after": {k: v for k, v in after.items()
                                                   if k not in ("id", "webhookId", "createdAt", "updatedAt", "log")},
            "log": [{k: v for k, v in a.items() if k != "at"} for a in after["log"]],
            "active": [w["id"] for w in store.active_for(TENANT, "a", "w")] == [created["id"]],
            "due": [d["id"] for d in store.due(START + 1)] == [delivery["id"]],
            "listed": [w["id"] for w in store.list_webhooks(TENANT)] == [created["id"]],
        })
        store.delete(TENANT, created["id"])
        assert store.list_webhooks(TENANT) == []
    assert shapes[0] == shapes[1]


# -- the API on Lambda -----------------------------------------------------------------------------------------


def api_call(api: ModuleType, method: str, path: str, body: Any = None,
             scopes: str = "workflows:read,workflows:write") -> tuple[int, Any]:
    event = {"resource": "/{proxy+}", "path": path, "httpMethod": method,
             "headers": {"content-type": "application/json"}, "multiValueHeaders": {},
             "queryStringParameters": None, "pathParameters": {"proxy": path.lstrip("/")},
             "requestContext": {"stage": "prod", "requestId": "r-1", "httpMethod": method, "path": path,
                                "authorizer": {"tenant": TENANT, "scopes": scopes, "keyId": "k1"}},
             "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False}
    response = api.lambda_handler(event, LambdaContext("mediaflow-api"))
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


@pytest.mark.parametrize("url", ["https://2852039166/", "https://0251.0376.0251.0376/", "https://0xA9FEA9FE/",
                                 "https://127.1/", "https://169.254.169.254/latest", "https://[fd00:ec2::254]/",
                                 "https://[::ffff:10.0.0.1]/", "https://100.64.0.9/", "http://example.com/hook"])
def test_api_refuses_private_spellings_with_422(deployment: Deployment, url: str) -> None:
    api = load_handler("functions/api/app.py")
    status, body = api_call(api, "POST", "/v1/webhooks", {"url": url})
    assert status == 422 and body["errors"][0]["field"] == "url", body


def test_api_registers_lists_logs_and_replays_on_dynamodb(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    api = load_handler("functions/api/app.py")
    status, created = api_call(api, "POST", "/v1/webhooks", {"url": hooks.receiver.url,
                                                             "eventTypes": ["workflow.completed"]})
    assert status == 201 and created["secret"].startswith("whsec_"), created
    status, listed = api_call(api, "GET", "/v1/webhooks")
    assert status == 200 and [w["id"] for w in listed["webhooks"]] == [created["id"]]
    assert "secret" not in listed["webhooks"][0]

    hooks.deliver(bus_event("workflow.completed", {"tenant": TENANT, "runId": "r9"}))
    status, log = api_call(api, "GET", f"/v1/webhooks/{created['id']}/deliveries")
    assert status == 200 and log["count"] == 1
    [delivery] = log["deliveries"]
    assert delivery["status"] == "succeeded" and delivery["log"][0]["statusCode"] == 200

    status, replayed = api_call(api, "POST", f"/v1/webhooks/{created['id']}/deliveries/{delivery['id']}/replay")
    assert status == 202 and replayed["status"] == "pending"
    assert hooks.tick(5) == 1  # the retry schedule sends queued replays
    assert [r["headers"]["webhook-id"] for r in hooks.receiver.requests] == [delivery["id"]] * 2
    Webhook(created["secret"]).verify(hooks.receiver.requests[1]["body"], hooks.receiver.requests[1]["headers"])

    status, _ = api_call(api, "POST", f"/v1/webhooks/{created['id']}/ping")
    assert status == 202 and hooks.tick(5) == 1
    assert json.loads(hooks.receiver.requests[-1]["body"])["type"] == "webhook.ping"
    assert api_call(api, "DELETE", f"/v1/webhooks/{created['id']}")[0] == 204
    assert api_call(api, "GET", f"/v1/webhooks/{created['id']}")[0] == 404
