"""Webhook delivery against a real HTTP receiver on loopback (the local-only setting allows http there)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mediaflow import samples
from mediaflow.adapters.embedded import SQLiteDatabase
from mediaflow.adapters.embedded.webhooks import WebhookStore
from mediaflow.embedded.app import LocalService
from mediaflow.settings import Settings
from mediaflow.validation import validate
from mediaflow.webhooks.dispatch import Dispatcher, sign
from mediaflow.webhooks.ssrf import UnsafeWebhookUrl
from standardwebhooks.webhooks import Webhook

pytestmark = pytest.mark.functional
ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """Answers with the queued status codes (then 200) and records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body.decode(), "path": self.path})
                status, headers = receiver.replies.pop(0) if receiver.replies else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mediaflow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(tmp_path: Path, clock: Clock) -> Dispatcher:
    dead: list[dict[str, Any]] = []
    store = WebhookStore(SQLiteDatabase(tmp_path / "hooks.sqlite3"))
    hooks = Dispatcher(store, schedule=[10, 60], jitter=0.0, allow_loopback_http=True, clock=clock,
                       dead_letter=dead.append)
    hooks.dead = dead  # type: ignore[attr-defined]
    return hooks


def drain(dispatcher: Dispatcher, clock: Clock, rounds: int = 5) -> None:
    for _ in range(rounds):
        dispatcher.run_due()
        clock.now += 3600


def test_completed_run_delivers_one_verified_event(tmp_path: Path, receiver: Receiver) -> None:
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1), tenant="acme") as service:
        hooks = Dispatcher(WebhookStore(service.adapters.db), allow_loopback_http=True,
                           url_for=service.adapters.blobs.url)
        _, secret = hooks.register("acme", receiver.url, ["workflow.completed", "workflow.failed"])
        assert secret.startswith("whsec_")
        service.adapters.bus.subscribe(hooks.on_event)
        report = validate((ROOT / "examples" / "convertly-convert-compress.json").read_bytes())
        photo = samples.photo(tmp_path / "p.jpg", 300, 200)
        [result] = service.run_files(report, [photo], None, workflow_id="wf-1")
        assert result.status == "completed"
        hooks.run_due()
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    event = Webhook(secret).verify(request["body"], request["headers"])
    assert event["type"] == "workflow.completed"
    assert event["data"]["runId"] == result.run_id and event["data"]["workflowId"] == "wf-1"
    assert event["data"]["outputs"][0]["downloadUrl"].startswith("file://")
    assert request["headers"]["webhook-id"].startswith("msg_")


def test_two_failures_then_success_keeps_the_id_and_logs_three_attempts(
        dispatcher: Dispatcher, receiver: Receiver, clock: Clock) -> None:
    webhook, secret = dispatcher.register("acme", receiver.url, [])
    receiver.replies = [(500, {}), (502, {})]
    [delivery] = dispatcher.enqueue("workflow.completed", {"tenant": "acme", "runId": "r1"})
    drain(dispatcher, clock)
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and ids == {delivery["id"]}
    for request in receiver.requests:  # every attempt is signed for its own timestamp
        signed_at = int(request["headers"]["webhook-timestamp"])
        assert request["headers"]["webhook-signature"] == sign(secret, delivery["id"], signed_at, request["body"])
    log = dispatcher.store.deliveries("acme", webhook["id"])[0]
    assert log["status"] == "succeeded" and [a["statusCode"] for a in log["log"]] == [500, 502, 200]
    assert all(a["latencyMs"] >= 0 for a in log["log"])


def test_a_late_retry_carries_a_download_link_signed_at_that_attempt(
        tmp_path: Path, receiver: Receiver, clock: Clock) -> None:
    signed_at: list[float] = []

    def url_for(key: str) -> str:
        signed_at.append(clock.now)
        return f"https://outputs.example/{key}?signed={int(clock.now)}"

    hooks = Dispatcher(WebhookStore(SQLiteDatabase(tmp_path / "late.sqlite3")), schedule=[7200], jitter=0.0,
                       allow_loopback_http=True, clock=clock, url_for=url_for)
    _, secret = hooks.register("acme", receiver.url, [])
    receiver.replies = [(503, {})]
    detail = {"tenant": "acme", "runId": "r1", "outputs": [{"key": "outputs/r1/a.webp"}]}
    [delivery] = hooks.enqueue("workflow.completed", detail)
    fanned_out = clock.now
    drain(hooks, clock)
    for request in receiver.requests:  # the signature covers the body with the link of that attempt
        stamp = int(request["headers"]["webhook-timestamp"])
        assert request["headers"]["webhook-signature"] == sign(secret, delivery["id"], stamp, request["body"])
    links = [json.loads(r["body"])["data"]["outputs"][0]["downloadUrl"] for r in receiver.requests]
    assert len(links) == 2 and signed_at[0] == fanned_out and signed_at[1] >= fanned_out + 7200
    assert links == [f"https://outputs.example/outputs/r1/a.webp?signed={int(t)}" for t in signed_at]
    stored = hooks.store.delivery("acme", delivery["id"])["payload"]
    assert stored["data"]["outputs"] == [{"key": "outputs/r1/a.webp"}]


def test_exhausted_retries_dead_letter(dispatcher: Dispatcher, receiver: Receiver, clock: Clock) -> None:
    webhook, _ = dispatcher.register("acme", receiver.url, ["workflow.failed"])
    receiver.replies = [(500, {})] * 10
    dispatcher.enqueue("workflow.failed", {"tenant": "acme", "runId": "r2"})
    drain(dispatcher, clock)
    [delivery] = dispatcher.store.deliveries("acme", webhook["id"])
    assert delivery["status"] == "dead" and delivery["attempts"] == dispatcher.max_attempts == 3
    assert [d["id"] for d in dispatcher.dead] == [delivery["id"]]  # type: ignore[attr-defined]


def test_gone_disables_the_endpoint(dispatcher: Dispatcher, receiver: Receiver, clock: Clock) -> None:
    webhook, _ = dispatcher.register("acme", receiver.url, [])
    receiver.replies = [(410, {})]
    dispatcher.enqueue("workflow.completed", {"tenant": "acme"})
    drain(dispatcher, clock)
    assert dispatcher.store.get("acme", webhook["id"])["status"] == "disabled"
    assert dispatcher.enqueue("workflow.completed", {"tenant": "acme"}) == []
    assert len(receiver.requests) == 1


def test_retry_after_is_honoured(dispatcher: Dispatcher, receiver: Receiver, clock: Clock) -> None:
    dispatcher.register("acme", receiver.url, [])
    receiver.replies = [(429, {"Retry-After": "900"})]
    [delivery] = dispatcher.enqueue("workflow.completed", {"tenant": "acme"})
    dispatcher.run_due()
    after = dispatcher.store.delivery("acme", delivery["id"])
    assert after["status"] == "retrying" and after["nextAttemptAt"] == clock.now + 900


def test_replay_and_ping(dispatcher: Dispatcher, receiver: Receiver, clock: Clock) -> None:
    webhook, _ = dispatcher.register("acme", receiver.url, ["workflow.completed"])
    [delivery] = dispatcher.enqueue("workflow.completed", {"tenant": "acme", "runId": "r3"})
    dispatcher.run_due()
    dispatcher.replay("acme", webhook["id"], delivery["id"])
    dispatcher.run_due()
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [delivery["id"]] * 2
    ping = dispatcher.ping("acme", webhook["id"])
    dispatcher.run_due()
    assert json.loads(receiver.requests[-1]["body"])["type"] == "webhook.ping"
    assert receiver.requests[-1]["headers"]["webhook-id"] == ping["id"]


def test_rotation_signs_with_both_secrets_during_the_overlap(
        dispatcher: Dispatcher, receiver: Receiver, clock: Clock) -> None:
    webhook, old = dispatcher.register("acme", receiver.url, [])
    new = dispatcher.rotate_secret("acme", webhook["id"])
    dispatcher.enqueue("workflow.completed", {"tenant": "acme"})
    dispatcher.run_due()
    request = receiver.requests[0]
    headers = request["headers"]
    assert len(headers["webhook-signature"].split(" ")) == 2
    signed_at = int(headers["webhook-timestamp"])
    assert {sign(old, headers["webhook-id"], signed_at, request["body"]),
            sign(new, headers["webhook-id"], signed_at, request["body"])} == set(
        headers["webhook-signature"].split(" "))


def test_dns_rebinding_is_caught_at_delivery(tmp_path: Path, receiver: Receiver, clock: Clock) -> None:
    answers = {"value": ["93.184.215.14"]}
    hooks = Dispatcher(WebhookStore(SQLiteDatabase(tmp_path / "h.sqlite3")), schedule=[10], jitter=0.0,
                       clock=clock, resolver=lambda host, port: answers["value"])
    webhook, _ = hooks.register("acme", "https://hooks.example.com/in", [])
    answers["value"] = ["127.0.0.1"]
    hooks.enqueue("workflow.completed", {"tenant": "acme"})
    hooks.run_due()
    [delivery] = hooks.store.deliveries("acme", webhook["id"])
    assert delivery["status"] == "retrying" and "not a public address" in delivery["log"][0]["error"]
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["https://2852039166/", "https://0251.0376.0251.0376/", "https://0xA9FEA9FE/",
                                 "https://127.1/", "https://[fd00:ec2::254]/", "https://[::ffff:10.0.0.1]/"])
def test_registration_refuses_private_spellings(tmp_path: Path, url: str) -> None:
    strict = Dispatcher(WebhookStore(SQLiteDatabase(tmp_path / "h.sqlite3")))
    with pytest.raises(UnsafeWebhookUrl) as refused:
        strict.register("acme", url, [])
    assert refused.value.http_status == 422 and refused.value.field == "url"


def test_the_embedded_dispatcher_gives_up_after_the_configured_webhook_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MEDIAFLOW_WEBHOOK_TIMEOUT_SECONDS is read on one machine as on AWS: a receiver slower than it fails the
    attempt (to be retried) instead of holding the dispatcher for the default 15 s."""
    answered = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            answered.wait(10)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MEDIAFLOW_WEBHOOK_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    try:
        with LocalService(Settings(data_dir=tmp_path / "data", workers=1), tenant="acme") as service:
            hooks = service.webhooks
            hooks.register("acme", f"http://127.0.0.1:{server.server_address[1]}/slow", ["job.completed"])
            [delivery] = hooks.enqueue("job.completed", {"tenant": "acme", "jobId": "job-1"})
            started = time.perf_counter()
            hooks.attempt(delivery)
            elapsed = time.perf_counter() - started
            [attempt] = hooks.store.attempts("acme", delivery["id"])
    finally:
        answered.set()
        server.shutdown()
    assert hooks.timeout_seconds == 0.5
    assert elapsed < 5, elapsed
    assert attempt["statusCode"] is None and attempt["error"]
    assert hooks.store.delivery("acme", delivery["id"])["status"] == "retrying"
