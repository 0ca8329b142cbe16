"""mediaflow.client against a real `mediaflow serve` and against the API Lambda on moto: the README's
new-user flow, and every call group (workflows, runs, jobs, keys, webhooks) with its errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediaflow.client import ApiError, Conflict, MediaflowClient, NotFound, Unauthorized, Unprocessable

from tests.functional.agents.conftest import OnMoto, Served, photo

pytestmark = pytest.mark.functional
ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "convertly-convert-compress.json"


@pytest.fixture(params=["serve", "moto"])
def api(request: pytest.FixtureRequest) -> Iterator[MediaflowClient]:
    if request.param == "serve":
        served: Served = request.getfixturevalue("served")
        client = MediaflowClient(served.url, served.key)
    else:
        moto: OnMoto = request.getfixturevalue("on_moto")
        client = MediaflowClient(moto.url, moto.key, transport=moto.transport)
    with client:
        yield client


def test_new_user_flow(api: MediaflowClient, tmp_path: Path) -> None:
    workflow = api.workflows.create(EXAMPLE)
    assert workflow.status == "active" and workflow.source == "convertly" and workflow.valid
    # a name of its own: the server (and its tenant's outputs) is shared by the package, and storage never
    # replaces an existing output, it suffixes the name (photo-1.webp) when another test stored photo.webp
    accepted = api.runs.start(workflow.id, [photo(tmp_path, "first-photo.jpg")])
    assert accepted.status == "pending" and not accepted.batch
    seen: list[str] = []
    run = api.runs.wait(accepted.run_id, timeout=180, on_progress=lambda r: seen.append(r.status))
    assert run.status == "completed", run.error
    assert seen[-1] == "completed"
    paths = api.runs.download_outputs(run, tmp_path / "out")
    assert [p.name for p in paths] == ["first-photo.webp"] and paths[0].read_bytes()[8:12] == b"WEBP"
    listed = api.runs.list(workflow.id)
    assert accepted.run_id in [r.run_id for r in listed.runs]


def test_large_files_go_through_an_upload_target(api: MediaflowClient, tmp_path: Path) -> None:
    """Past direct_limit (API Gateway's body limit) a file goes up in parts, starting nothing by itself, then
    runs as a stored object: the workflow, active with an upload trigger, runs on it once."""
    workflow = api.workflows.create(EXAMPLE)  # active: a paused workflow refuses manual runs (409)
    big = MediaflowClient(api.base_url, api.api_key, transport=api.http._transport, direct_limit=0)
    before = {r.run_id for r in api.runs.list(workflow.id).runs}
    run = big.runs.wait(big.runs.start(workflow.id, [photo(tmp_path, "large.jpg")]).run_id, timeout=180)
    assert run.status == "completed" and run.outputs[0].filename == "large.webp", run
    assert {r.run_id for r in api.runs.list(workflow.id).runs} - before == {run.run_id}
    big.close()


def test_workflow_calls(api: MediaflowClient) -> None:
    body = json.loads(EXAMPLE.read_text()) | {"isActive": False, "name": "client calls"}
    workflow = api.workflows.create(body)
    assert workflow.status == "paused"  # Convertly's isActive: false
    assert api.workflows.activate(workflow.id).status == "active"
    assert api.workflows.pause(workflow.id).status == "paused"
    assert api.workflows.update(workflow.id, is_active=True).status == "active"
    renamed = api.workflows.update(workflow.id, name="renamed", tags=["web"])
    assert renamed.name == "renamed" and renamed.tags == ["web"]
    assert workflow.id in [w.id for w in api.workflows.iter()]
    assert api.workflows.get(workflow.id).version == renamed.version
    assert api.workflows.validate(workflow.id).valid
    plan = api.workflows.plan(workflow.id)
    assert plan["executionType"] in ("EXPRESS", "STANDARD") or plan.get("compiled"), plan
    replaced = api.workflows.replace(workflow.id, body | {"name": "replaced"}, if_version=renamed.version)
    assert replaced.version == renamed.version + 1 and replaced.name == "replaced"
    with pytest.raises(Conflict) as stale:
        api.workflows.replace(workflow.id, body, if_version=renamed.version)
    assert stale.value.status in (409, 412) and stale.value.problem["status"] == stale.value.status
    snapshot = api.workflows.snapshot(workflow.id, tag="v-ci", description="before the template")
    assert snapshot.version_tag == "v-ci"
    versions = api.workflows.versions(workflow.id)
    assert versions.current_version == snapshot.version == replaced.version + 1
    assert api.workflows.version(workflow.id, renamed.version).name == "renamed"
    assert api.workflows.diff(workflow.id, renamed.version, replaced.version).fields_changed
    templates = api.workflows.templates()
    assert templates.count == len(templates.templates) > 0
    made = api.workflows.from_template(templates.templates[0].id, name="from a template")
    assert made.name == "from a template"
    copy = api.workflows.duplicate(made.id)
    assert copy.id != made.id and copy.status == "draft"
    assert api.workflows.stats().total >= 3
    for workflow_id in (copy.id, made.id, workflow.id):
        api.workflows.delete(workflow_id)
    with pytest.raises(NotFound) as missing:
        api.workflows.get(workflow.id)
    assert missing.value.code == "NotFound" and missing.value.problem["detail"]


def test_bad_definition_names_node_and_field(api: MediaflowClient) -> None:
    bad = {"name": "bad", "status": "active",
           "nodes": [{"id": "upload", "kind": "upload"},
                     {"id": "shrink", "kind": "resize", "config": {"width": -5}}],
           "edges": [{"source": "upload", "target": "shrink"}]}
    with pytest.raises(Unprocessable) as rejected:
        api.workflows.create(bad)
    error = rejected.value
    assert error.code == "InvalidDefinition"
    assert any(e.get("nodeId") == "shrink" and "width" in str(e.get("path")) for e in error.errors), error.errors
    assert "node shrink" in str(error) and "width" in str(error)


def test_run_control_and_sample(api: MediaflowClient, tmp_path: Path) -> None:
    workflow = api.workflows.create(EXAMPLE)
    sample = api.runs.start_sample(workflow.id)
    run = api.runs.wait(sample.run_id, timeout=180)
    assert run.status == "completed" and run.outputs
    with pytest.raises(Conflict):
        api.runs.cancel(run.run_id)
    with pytest.raises(Conflict):
        api.runs.retry(run.run_id)
    key = api.upload(photo(tmp_path, "stored.jpg"))
    assert key.startswith("demo/")
    batch = api.runs.start_objects(workflow.id, [key, key])
    assert batch.batch and batch.total == 2
    assert api.runs.wait(batch.run_id, timeout=180).status in ("completed", "failed")
    with pytest.raises(NotFound):
        api.runs.get("run_does_not_exist")


def test_meta_and_events(api: MediaflowClient) -> None:
    assert api.health().status == "ok"
    assert "/v1/workflows" in api.openapi()["paths"]
    event = {"name": "on event", "status": "active", "nodes": [
        {"id": "start", "kind": "event", "config": {"eventName": "order.*"}},
        {"id": "meta", "kind": "transform", "config": {"set": {"seen": "yes"}}}],
        "edges": [{"source": "start", "target": "meta"}]}
    workflow = api.workflows.create(event)
    fired = api.workflows.fire_event("order.created", {"orderId": 7})
    started = [r for r in fired.results if r.get("workflowId") == workflow.id]
    assert fired.event_name == "order.created" and started and started[0]["runId"], fired
    api.workflows.pause(workflow.id)


def test_keys_and_auth(api: MediaflowClient) -> None:
    created = api.keys.create(["workflows:read"], name="reader")
    assert created.key and created.scopes == ["workflows:read"]
    assert created.key_id in [k.key_id for k in api.keys.list().keys]
    reader = MediaflowClient(api.base_url, created.key, transport=api.http._transport)
    assert reader.workflows.list(limit=1).limit == 1
    with pytest.raises(ApiError) as forbidden:
        reader.keys.list()
    assert forbidden.value.status == 403 and forbidden.value.code == "MissingScope"
    api.keys.revoke(created.key_id)
    with pytest.raises(Unauthorized):
        reader.workflows.list()
    reader.close()


def test_jobs(api: MediaflowClient, tmp_path: Path) -> None:
    accepted = api.jobs.create("convert", [photo(tmp_path, "a.jpg")], formats=["webp"])
    job = api.jobs.wait(accepted.job_id, timeout=180)
    assert job.status == "completed", job
    assert job.progress.completed == 1 and job.results
    with pytest.raises(Conflict):
        api.jobs.cancel(job.job_id)  # only a pending job can be cancelled


def test_rate_limited_requests_are_retried_after_retry_after(tmp_path: Path) -> None:
    """The API's own token bucket (1 request/s) answers 429 with Retry-After; the client waits that long."""
    import time

    from mediaflow.api import ApiConfig, create_app
    from mediaflow.client import RateLimited
    from mediaflow.client.gateway import GatewayTransport
    from mediaflow.embedded.app import LocalService
    from mediaflow.embedded.bootstrap import embedded_context

    with LocalService(data_dir=tmp_path / "data") as service:
        key = service.adapters.keys.create_key("demo", ["workflows:read"])[0]
        app = create_app(embedded_context(service, ApiConfig(rate_per_second=1.0, burst=1)))
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)

        transport = GatewayTransport(app.resolve)
        with MediaflowClient("https://mediaflow.local", key, transport=transport, sleep=sleep) as api:
            assert api.workflows.list().count == 0
            assert api.workflows.list().count == 0  # answered 429 first, then retried
            assert waits and waits[0] >= 1.0
        with MediaflowClient("https://mediaflow.local", key, transport=transport, max_retries=0) as impatient:
            with pytest.raises(RateLimited) as limited:
                impatient.workflows.list()
                impatient.workflows.list()
            assert limited.value.headers.get("retry-after") and limited.value.code == "RateLimited"


def test_a_post_whose_first_attempt_is_still_answered_is_asked_again(tmp_path: Path) -> None:
    """A POST sent again under its key (after a timeout) while the API still answers its first attempt gets 409
    naming idempotencyKey; the client asks again a moment later instead of failing the command, and the request
    acts once."""
    import dataclasses

    from mediaflow.api import create_app
    from mediaflow.client.gateway import GatewayTransport
    from mediaflow.embedded.app import LocalService
    from mediaflow.embedded.bootstrap import embedded_context
    from mediaflow.errors import Conflict as InProgress

    with LocalService(data_dir=tmp_path / "data") as service:
        key = service.adapters.keys.create_key("demo", ["workflows:read", "workflows:write"])[0]
        context = embedded_context(service)
        store, held = context.idempotency, []

        class FirstAttemptStillAnswered:
            """The idempotency port as an attempt in flight leaves it, for the first key claimed."""

            def claim(self, claimed: str, ttl_seconds: int = 3600) -> Any:
                if not held:
                    held.append(claimed)
                    raise InProgress(f"request {claimed!r} is already in progress", field="idempotencyKey")
                return store.claim(claimed, ttl_seconds)

            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

        app = create_app(dataclasses.replace(context, idempotency=FirstAttemptStillAnswered()))
        waits: list[float] = []
        with MediaflowClient("https://mediaflow.local", key, transport=GatewayTransport(app.resolve),
                             sleep=waits.append) as api:
            created = api.workflows.create(EXAMPLE)
            assert held and len(waits) == 1
            assert [w.id for w in api.workflows.iter()] == [created.id]
        with MediaflowClient("https://mediaflow.local", key, transport=GatewayTransport(app.resolve),
                             max_retries=0) as impatient:
            held.clear()
            with pytest.raises(Conflict) as refused:
                impatient.workflows.create(EXAMPLE)
            assert refused.value.status == 409


def test_unreachable_api_is_a_transport_error() -> None:
    from mediaflow.client import TransportError

    from tests.functional.agents.conftest import free_port

    api = MediaflowClient(f"http://127.0.0.1:{free_port()}", "k", max_retries=1, sleep=lambda s: None)
    with api, pytest.raises(TransportError):
        api.health()


def test_webhooks(served: Served) -> None:
    """Subscriptions on `serve` (loopback receivers allowed there): the receiver is a real HTTP server."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with MediaflowClient(served.url, served.key) as api:
            url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
            hook = api.webhooks.create(url, event_types=["workflow.completed"], description="ci")
            assert hook.secret.startswith("whsec_") and hook.url == url
            assert hook.id in [h.id for h in api.webhooks.list().webhooks]
            assert api.webhooks.get(hook.id).event_types == ["workflow.completed"]
            ping = api.webhooks.ping(hook.id)
            assert ping.webhook_id == hook.id
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline:
                time.sleep(0.2)
            assert received and b"ping" in received[0], "the ping reached the receiver"
            assert api.webhooks.rotate_secret(hook.id).startswith("whsec_")
            deliveries = api.webhooks.deliveries(hook.id)
            assert deliveries.count >= 1
            api.webhooks.delete(hook.id)
            with pytest.raises(NotFound):
                api.webhooks.get(hook.id)
    finally:
        receiver.shutdown()


def test_failed_run_is_retried(api: MediaflowClient, tmp_path: Path) -> None:
    workflow = api.workflows.create(EXAMPLE)
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n" * 50)
    failed = api.runs.wait(api.runs.start(workflow.id, [text]).run_id, timeout=180)
    assert failed.status == "failed" and failed.error, failed
    redrive = api.runs.retry(failed.run_id)  # by default: the same run, from its failed Task
    assert redrive.run_id == failed.run_id and redrive.redriven, redrive
    redriven = api.runs.wait(redrive.run_id, timeout=180)
    assert redriven.status == "failed" and redriven.error and redriven.retry_of is None, redriven
    again = api.runs.retry(failed.run_id, from_start=True)  # the whole workflow, as a new run
    assert again.run_id != failed.run_id and not again.redriven, again
    retried = api.runs.wait(again.run_id, timeout=180)
    assert retried.retry_of == failed.run_id and retried.status == "failed" and retried.error, retried


def test_a_long_batch_is_cancelled(served: Served, tmp_path: Path) -> None:
    """On `serve` (one worker) a 30-image batch takes seconds. On AWS an image workflow is Express and the
    harness runs it to its end inside the POST, so there is nothing left to cancel there."""
    api = MediaflowClient(served.url, served.key)
    workflow = api.workflows.create(EXAMPLE)
    key = api.upload(photo(tmp_path, "many.jpg"))
    batch = api.runs.start_objects(workflow.id, [key] * 30)  # an inline Map (moto refuses Distributed Map)
    cancelled = api.runs.cancel(batch.run_id)
    assert cancelled.cancel_requested
    assert api.runs.wait(batch.run_id, timeout=300).status == "cancelled"
    api.close()
