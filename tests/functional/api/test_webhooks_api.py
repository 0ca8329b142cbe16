"""The webhook subscription API on both transports, with deliveries to a real receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.functional.api.conftest import Api, Client, assert_problem

pytestmark = pytest.mark.functional


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/in", received
    server.shutdown()


@pytest.fixture
def loopback_allowed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.service.webhooks, "allow_loopback_http", True)


@pytest.mark.parametrize("url", ["https://2852039166/", "https://0251.0376.0251.0376/", "https://0xA9FEA9FE/",
                                 "https://127.1/", "https://169.254.169.254/latest", "https://[fd00:ec2::254]/",
                                 "https://100.64.0.9/", "http://example.com/hook"])
def test_private_or_plain_http_urls_are_refused_with_422(client: Client, url: str) -> None:
    body = assert_problem(client.post("/v1/webhooks", {"url": url}), 422)
    assert body["errors"][0]["field"] == "url"


def test_register_deliver_log_replay_ping_rotate_delete(
        client: Client, other: Client, api: Api, loopback_allowed: None,
        receiver: tuple[str, list[dict[str, Any]]], photo: bytes) -> None:
    url, received = receiver
    created = client.post("/v1/webhooks", {"url": url, "eventTypes": ["workflow.completed"],
                                           "description": "ci"})
    assert created.status == 201
    hook = created.json()
    secret = hook.pop("secret")
    assert secret.startswith("whsec_") and hook["status"] == "active"
    assert "secret" not in client.get(f"/v1/webhooks/{hook['id']}").json()
    assert hook["id"] in [h["id"] for h in client.get("/v1/webhooks").json()["webhooks"]]
    assert_problem(other.get(f"/v1/webhooks/{hook['id']}"), 404)
    assert hook["id"] not in [h["id"] for h in other.get("/v1/webhooks").json()["webhooks"]]

    workflow = client.post("/v1/workflows", {"name": "hooked", "status": "active", "nodes": [
        {"id": "u", "kind": "upload"}, {"id": "c", "kind": "convert", "config": {"outputFormat": "png"}}],
        "edges": [{"source": "u", "target": "c"}]}).json()
    run = client.request("POST", f"/v1/workflows/{workflow['id']}/runs",
                         files={"file": ("p.jpg", photo, "image/jpeg")}).json()
    assert client.wait_run(run["runId"])["status"] == "completed"
    deadline = time.monotonic() + 10
    while not any(json.loads(r["body"])["data"].get("runId") == run["runId"] for r in received):
        api.service.webhooks.run_due()
        assert time.monotonic() < deadline, "no delivery"
        time.sleep(0.05)
    request = next(r for r in received if json.loads(r["body"])["data"].get("runId") == run["runId"])
    event = Webhook(secret).verify(request["body"], request["headers"])
    assert event["type"] == "workflow.completed" and event["data"]["workflowId"] == workflow["id"]

    deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["deliveries"]
    delivery = next(d for d in deliveries if d["payload"]["data"].get("runId") == run["runId"])
    assert delivery["status"] == "succeeded" and delivery["log"][0]["statusCode"] == 204
    assert_problem(other.get(f"/v1/webhooks/{hook['id']}/deliveries"), 404)

    replayed = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay")
    assert replayed.status == 202
    api.service.webhooks.run_due()
    assert [r["headers"]["webhook-id"] for r in received].count(delivery["id"]) == 2

    ping = client.post(f"/v1/webhooks/{hook['id']}/ping")
    assert ping.status == 202
    api.service.webhooks.run_due()
    assert json.loads(received[-1]["body"])["type"] == "webhook.ping"

    rotated = client.post(f"/v1/webhooks/{hook['id']}/rotate").json()["secret"]
    assert rotated != secret and rotated.startswith("whsec_")
    assert_problem(other.post(f"/v1/webhooks/{hook['id']}/rotate"), 404)
    assert_problem(other.delete(f"/v1/webhooks/{hook['id']}"), 404)
    assert client.delete(f"/v1/webhooks/{hook['id']}").status == 204
    assert_problem(client.get(f"/v1/webhooks/{hook['id']}"), 404)


def test_job_events_are_published_once(client: Client, api: Api, photo: bytes) -> None:
    before = len(api.service.adapters.bus.published("job.completed"))
    reply = client.request("POST", "/v1/jobs", data={"jobType": "convert", "formats": '["webp"]'},
                           files=[("files", ("a.jpg", photo, "image/jpeg")), ("files", ("b.jpg", photo, "image/jpeg"))])
    job_id = reply.json()["jobId"]
    deadline = time.monotonic() + 60
    while True:
        events = [e for e in api.service.adapters.bus.published("job.completed") if e.detail["jobId"] == job_id]
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(events) == 1 and len(api.service.adapters.bus.published("job.completed")) == before + 1
    assert events[0].detail["status"] == "completed" and len(events[0].detail["runs"]) == 2
