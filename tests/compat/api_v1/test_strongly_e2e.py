"""End-to-end checks of Strongly.ai's API on both runtimes (`serve` on loopback, the API Lambda over moto):
input mappings reach a resize, a synchronous trigger returns the outputs, an email's attachments start runs,
lifecycle windows and stop/start gate the triggers (uploads included), sharing limits who sees a workflow."""

from __future__ import annotations

import base64
import io
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from tests.compat.api_v1.conftest import StronglyClient, key_id, store_photo
from tests.compat.api_v1.test_strongly import create, media_workflow, wait_run
from tests.functional.api.conftest import Api

pytestmark = pytest.mark.compat
LA = ZoneInfo("America/Los_Angeles")


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def deployed(client: StronglyClient, body: dict[str, Any]) -> str:
    workflow_id = create(client, body)
    assert client.post(f"/api/v1/workflows/{workflow_id}/deploy").status == 200
    return workflow_id


def upload(backend: Api, data: bytes, workflow_id: str) -> list[str]:
    """The runs of ``workflow_id`` that an upload starts, the way each runtime sees one: a file dropped in the
    server's uploads/ folder (embedded), or an object in the uploads bucket whose "Object Created" event
    reaches the trigger function (AWS). Other active workflows of the tenant may start runs too."""
    name = f"{time.monotonic_ns()}.png"
    if backend.service is not None:  # uploads/<tenant>/... is an upload of that tenant
        root = backend.service.data_dir / "uploads"
        path = root / "tenant-a" / "e2e" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        started = list(backend.service.handle_upload(path, root))
        return [r for r in started if backend.runs.get_run("tenant-a", r)["workflowId"] == workflow_id]
    from tests.functional.aws.conftest import FakeContext, load_handler

    key = f"tenant-a/uploads/e2e/{name}"
    backend.deployment.adapters.blobs.put_bytes(key, data, "image/png")
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {
        "bucket": {"name": backend.deployment.settings.uploads_bucket},
        "object": {"key": key, "size": len(data), "etag": "e", "version-id": "v1", "sequencer": name}}}
    result = load_handler("functions/trigger/handler.py").lambda_handler(event, FakeContext("trigger"))
    started = [str(run["runId"]) for run in result["runs"] if run.get("started")]
    return [r for r in started if backend.runs.get_run("tenant-a", r)["workflowId"] == workflow_id]


def test_an_input_mapped_width_reaches_the_resize_and_a_sync_trigger_returns_outputs(
        client: StronglyClient, backend: Api) -> None:
    workflow_id = create(client, media_workflow("mapped"))
    mapped = client.put(f"/api/v1/workflows/{workflow_id}/nodes/node_2/input-mappings",
                        {"mappings": {"width": "inputs.targetWidth"}})
    assert mapped.status == 200
    assert client.put(f"/api/v1/workflows/{workflow_id}/nodes/node_3/passthrough-values",
                      {"values": {"orderId": "order.id"}}).status == 200
    assert client.post(f"/api/v1/workflows/{workflow_id}/deploy").status == 200
    key = store_photo(backend, "tenant-a", f"{time.monotonic_ns()}.png", png(400, 200))

    reply = client.post(f"/api/v1/workflows/{workflow_id}/trigger", {
        "trigger_type": "api", "inputs": {"targetWidth": 123, "objectKey": key, "order": {"id": "ord_123"}},
        "sync": True})
    assert reply.status == 200, reply.content[:400]
    body = reply.json()
    assert body["status"] == "completed" and body["workflow_id"] == workflow_id, body
    [output] = body["output"]["outputs"]
    image = Image.open(io.BytesIO(client.download(output["url"]).content))
    assert image.size == (123, 62)  # the mapped width, not the configured 64
    run = backend.runs.get_run("tenant-a", body["execution_id"])
    from mediaflow.embedded.executor import output_refs

    [stored] = [r for r in output_refs(run["output"]) if r["key"] == output["key"]]
    assert stored["metadata"]["orderId"] == "ord_123"  # pass-through value carried to the run's result

    # execute with a definition for this run only: resize to 40 instead
    override = media_workflow("override")
    override["nodes"][1]["config"] = {"width": 40}
    executed = client.post(f"/api/v1/workflows/{workflow_id}/execute", {
        "definition": {"nodes": override["nodes"], "connections": override["connections"]},
        "triggerInputs": {"objectKey": key}})
    assert executed.status == 201
    done = wait_run(client, executed.json()["executionId"])
    assert done["status"] == "completed", done
    [made] = done["outputs"]
    assert Image.open(io.BytesIO(client.download(made["url"]).content)).size[0] == 40
    assert client.get(f"/api/v1/workflows/{workflow_id}").json()["nodes"][1]["config"] == {"width": 64}

    if client.transport == "aws":
        return  # moto starts a published version ARN as its machine's latest definition (see aws_backend.py)
    # the saved workflow is unchanged: a run without the input uses the configured width
    again = client.post(f"/api/v1/workflows/{workflow_id}/trigger",
                        {"inputs": {"objectKey": key}, "sync": True}).json()
    [plain] = again["output"]["outputs"]
    assert Image.open(io.BytesIO(client.download(plain["url"]).content)).size[0] == 64


def test_an_email_with_two_image_attachments_starts_two_runs(client: StronglyClient) -> None:
    workflow_id = deployed(client, media_workflow("inbox", trigger="email",
                                                  trigger_config={"allowedSenders": ["*@example.com"]}))
    attachments = [
        {"filename": "one.png", "contentType": "image/png", "content": base64.b64encode(png(80, 60)).decode()},
        {"filename": "notes.txt", "contentType": "text/plain", "content": base64.b64encode(b"hello").decode()},
        {"filename": "two.png", "type": "image/png", "content": base64.b64encode(png(90, 30)).decode()},
    ]
    mail = {"from": "Shop <orders@example.com>", "to": "inbox@workflow.strongly.ai", "subject": "Photos",
            "body_text": "two photos", "attachments": attachments}
    reply = client.post(f"/api/v1/workflows/{workflow_id}/email-trigger", mail)
    assert reply.status == 201, reply.content[:400]
    run_ids = reply.json()["executionIds"]
    assert len(run_ids) == 2 and reply.json()["executionId"] == run_ids[0]
    assert [wait_run(client, run_id)["status"] for run_id in run_ids] == ["completed", "completed"]
    refused = client.post(f"/api/v1/workflows/{workflow_id}/email-trigger", dict(mail, **{"from": "x@evil.test"}))
    assert refused.status == 403


def test_a_scheduled_window_starts_nothing_outside_it_and_runs_inside(client: StronglyClient, backend: Api,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaflow import lifecycle

    workflow_id = deployed(client, media_workflow("office hours"))
    policy = {"type": "scheduled-window", "schedule": {"timezone": "America/Los_Angeles", "windows": [
        {"days": [1, 2, 3, 4, 5], "startTime": "09:00", "endTime": "17:00"}]}}
    assert client.put(f"/api/v1/workflows/{workflow_id}/lifecycle", policy).status == 200
    runs_before = len(backend.runs.list_runs("tenant-a", workflow_id, limit=100))

    for outside in (datetime(2026, 12, 5, 12, 0, tzinfo=LA), datetime(2026, 12, 8, 8, 59, tzinfo=LA),
                    datetime(2026, 12, 8, 17, 0, tzinfo=LA)):  # a Saturday noon, Tuesday before 9 and at 17:00
        monkeypatch.setattr(lifecycle, "CLOCK", outside.timestamp)
        refused = client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}, "sync": False})
        assert refused.status == 409 and "window" in refused.json()["detail"]
    assert len(backend.runs.list_runs("tenant-a", workflow_id, limit=100)) == runs_before

    monkeypatch.setattr(lifecycle, "CLOCK", datetime(2026, 12, 8, 10, 30, tzinfo=LA).timestamp)  # Tuesday 10:30
    started = client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}, "sync": False})
    assert started.status == 200
    assert wait_run(client, started.json()["execution_id"])["status"] == "completed"


def test_a_scheduled_window_gates_uploads_too(client: StronglyClient, backend: Api,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaflow import lifecycle

    workflow_id = deployed(client, media_workflow("window uploads"))
    policy = {"type": "scheduled-window", "schedule": {"timezone": "UTC", "windows": [
        {"days": [0, 1, 2, 3, 4, 5, 6], "startTime": "22:00", "endTime": "02:00"}]}}  # over midnight
    assert client.put(f"/api/v1/workflows/{workflow_id}/lifecycle", policy).status == 200
    try:
        monkeypatch.setattr(lifecycle, "CLOCK", datetime(2026, 12, 8, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp)
        assert upload(backend, png(50, 50), workflow_id) == []
        monkeypatch.setattr(lifecycle, "CLOCK", datetime(2026, 12, 9, 1, 0, tzinfo=ZoneInfo("UTC")).timestamp)
        [run_id] = upload(backend, png(50, 50), workflow_id)
        assert wait_run(client, run_id)["status"] == "completed"
    finally:
        client.post(f"/api/v1/workflows/{workflow_id}/undeploy")  # later uploads of this tenant stay its own


def test_stop_then_an_upload_starts_nothing_and_start_then_it_runs(client: StronglyClient, backend: Api) -> None:
    workflow_id = deployed(client, media_workflow("stop start"))
    try:
        assert client.post(f"/api/v1/workflows/{workflow_id}/stop").json()["deploymentStatus"] == "stopped"
        assert upload(backend, png(40, 40), workflow_id) == []
        assert client.post(f"/api/v1/workflows/{workflow_id}/start", {"replicas": 1}).status == 200
        [run_id] = upload(backend, png(40, 40), workflow_id)
        assert wait_run(client, run_id)["status"] == "completed"
    finally:
        client.post(f"/api/v1/workflows/{workflow_id}/undeploy")


def test_a_shared_workflow_is_readable_by_the_shared_key_and_not_by_another_key_of_the_tenant(
        client: StronglyClient, backend: Api) -> None:
    workflow_id = create(client, media_workflow("private"))
    colleague, other = client.with_key(backend.keys["a2"]), client.with_key(backend.keys["a-exec"])
    assert colleague.get(f"/api/v1/workflows/{workflow_id}").status == 404
    shared = client.post(f"/api/v1/workflows/{workflow_id}/share", {"userId": key_id(backend, "a2")})
    assert shared.status == 200
    assert colleague.get(f"/api/v1/workflows/{workflow_id}").status == 200
    assert workflow_id in [w["id"] for w in colleague.get("/api/v1/workflows", params={"limit": 100})
                           .json()["workflows"]]
    assert other.get(f"/api/v1/workflows/{workflow_id}").status == 404
    assert workflow_id not in [w["id"] for w in other.get("/api/v1/workflows", params={"limit": 100})
                               .json()["workflows"]]
    assert client.with_key(backend.keys["b"]).get(f"/api/v1/workflows/{workflow_id}").status == 404
    assert client.delete(f"/api/v1/workflows/{workflow_id}/share/{key_id(backend, 'a2')}").status == 204
    assert colleague.get(f"/api/v1/workflows/{workflow_id}").status == 404


def drain_sqs(backend: Api, redeliver_first: bool = False) -> list[str]:
    """What Lambda's SQS event source does for the trigger function: receive batches, invoke, delete the
    messages that succeeded. ``redeliver_first`` hands the first batch over twice (at-least-once delivery)."""
    import boto3

    from tests.functional.aws.conftest import FakeContext, load_handler

    handler = load_handler("functions/trigger/handler.py").lambda_handler
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = backend.deployment.settings.trigger_queue_url
    started: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return started
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q"}
                             for m in got]}
        for _ in range(2 if redeliver_first else 1):
            result = handler(event, FakeContext("trigger"))
            assert result["batchItemFailures"] == []
            started.extend(result["runs"])
        redeliver_first = False
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                          for i, m in enumerate(got)])


def test_twenty_enqueued_messages_each_start_one_run(client: StronglyClient, backend: Api) -> None:
    workflow_id = deployed(client, media_workflow("queued", trigger="queue"))
    keys = [store_photo(backend, "tenant-a", f"{time.monotonic_ns()}-{i}.png", png(30 + i, 20)) for i in range(20)]
    expected = []
    for index, key in enumerate(keys):
        reply = client.post(f"/api/v1/workflows/{workflow_id}/enqueue",
                            {"message": {"objectKey": key, "n": index}, "priority": index % 3, "source": "test"})
        assert reply.status == 201, reply.content[:300]
        expected.append(reply.json()["executionId"])
    assert len(set(expected)) == 20
    if client.transport == "aws":  # SQS -> trigger function -> Step Functions, one batch delivered twice
        started = drain_sqs(backend, redeliver_first=True)  # the queue may hold other tests' messages too
        assert set(expected) <= set(started) and len(started) > len(set(started))  # a batch came twice
    runs = {run_id: wait_run(client, run_id) for run_id in expected}
    assert {run["status"] for run in runs.values()} == {"completed"}, runs
    recorded = list(backend.runs.list_runs("tenant-a", workflow_id, limit=100))
    assert sorted(r["runId"] for r in recorded) == sorted(expected)  # each message ran exactly once
    assert sorted(r["input"]["run"]["inputs"]["n"] for r in recorded) == list(range(20))


def test_the_embedded_queue_is_durable_and_starts_each_message_once(client: StronglyClient, backend: Api,
                                                                    photo: bytes) -> None:
    if backend.service is None:
        pytest.skip("the SQLite queue of the embedded mode")
    from mediaflow.adapters.embedded.queue import SQLiteTriggerQueue
    from mediaflow.api.executions import ExecutionService, queued_run_id
    from mediaflow.embedded.bootstrap import embedded_context

    workflow_id = deployed(client, media_workflow("durable", trigger="queue"))
    key = store_photo(backend, "tenant-a", f"{time.monotonic_ns()}.jpg", photo)
    # a message stored while no consumer runs (the server stopped right after accepting it) ...
    queue = SQLiteTriggerQueue(backend.service.adapters.db)
    message_id = queue.send("tenant-a", workflow_id, {"objectKey": key}, priority=5)
    # ... starts when a server opens the data dir again
    ctx = embedded_context(backend.service, backend.app.ctx.config)
    run_id = queued_run_id("tenant-a", workflow_id, message_id)
    assert wait_run(client, run_id)["status"] == "completed"
    deadline = time.monotonic() + 30
    while (queue.status(message_id) or {}).get("state") != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.status(message_id) == {"state": "done", "attempts": 1, "run_id": run_id, "error": None}
    # a second delivery of the same message finds its run
    item = {"messageId": message_id, "tenant": "tenant-a", "workflowId": workflow_id, "message": {"objectKey": key}}
    assert ExecutionService(ctx).run_queued(item) == run_id
    assert [r["runId"] for r in backend.runs.list_runs("tenant-a", workflow_id, limit=10)] == [run_id]


def test_idle_shutdown_stops_the_triggers_after_the_idle_timeout(client: StronglyClient,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaflow import lifecycle

    workflow_id = deployed(client, media_workflow("idle"))
    policy = {"type": "idle-shutdown", "idleTimeoutMinutes": 5}
    assert client.put(f"/api/v1/workflows/{workflow_id}/lifecycle", policy).json()["lifecyclePolicy"] == policy
    started = client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}})
    assert started.status == 200 and wait_run(client, started.json()["execution_id"])["status"] == "completed"

    later = time.time() + 6 * 60
    monkeypatch.setattr(lifecycle, "CLOCK", lambda: later)
    refused = client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}})
    assert refused.status == 409 and "idle" in refused.json()["detail"]
    state = client.get(f"/api/v1/workflows/{workflow_id}/lifecycle").json()
    assert (state["deploymentStatus"], state["stoppedReason"]) == ("stopped", "idle")
    assert client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}}).status == 409

    monkeypatch.setattr(lifecycle, "CLOCK", time.time)
    assert client.post(f"/api/v1/workflows/{workflow_id}/start", {}).json()["deploymentStatus"] == "running"
    assert client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}}).status == 200


def test_mail_received_by_ses_starts_the_email_trigger_on_aws(client: StronglyClient, backend: Api) -> None:
    if backend.deployment is None:
        pytest.skip("SES inbound mail is an AWS feature (template parameter InboundEmailDomain)")
    from email.message import EmailMessage

    import boto3

    from tests.functional.aws.conftest import FakeContext, load_handler

    workflow_id = deployed(client, media_workflow("ses inbox", trigger="email"))
    mail = EmailMessage()
    mail["From"], mail["Subject"] = "Shop <orders@example.com>", "two photos"
    mail["To"] = f"{workflow_id}+tenant-a@mail.example.com"
    mail.set_content("photos attached")
    mail.add_attachment(png(70, 50), maintype="image", subtype="png", filename="a.png")
    mail.add_attachment(png(20, 10), maintype="image", subtype="png", filename="b.png")
    mail.add_attachment(b"not media", maintype="text", subtype="plain", filename="c.txt")
    bucket, key = backend.deployment.settings.uploads_bucket, f"inbound-email/{time.monotonic_ns()}"
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=bucket, Key=key, Body=mail.as_bytes())
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {
        "bucket": {"name": bucket}, "object": {"key": key, "size": 1, "etag": "e", "sequencer": "1"}}}
    result = load_handler("functions/trigger/handler.py").lambda_handler(event, FakeContext("trigger"))
    run_ids = [r["runId"] for r in result["runs"]]
    assert len(run_ids) == 2
    assert [wait_run(client, run_id)["status"] for run_id in run_ids] == ["completed", "completed"]
    assert {backend.runs.get_run("tenant-a", r)["input"]["run"]["inputs"]["email"]["subject"] for r in run_ids} == {
        "two photos"}


def test_a_workflow_deployed_again_after_undeploy_runs(client: StronglyClient) -> None:
    workflow_id = deployed(client, media_workflow("redeploy"))
    assert client.post(f"/api/v1/workflows/{workflow_id}/undeploy").json()["status"] == "draft"
    assert client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}}).status == 409
    assert client.post(f"/api/v1/workflows/{workflow_id}/deploy").json()["status"] == "active"
    started = client.post(f"/api/v1/workflows/{workflow_id}/trigger", {"inputs": {}})
    assert started.status == 200, started.content[:300]
    assert wait_run(client, started.json()["execution_id"])["status"] == "completed"
