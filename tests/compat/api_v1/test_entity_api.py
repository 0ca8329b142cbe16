"""The entity-workflow API (seed 002) under /api/v1: its documented requests on `serve` (real HTTP) and on the
API Lambda over moto; steps of every documented type, runs over stored items with progress."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.compat.api_v1.conftest import ChatStub, StronglyClient, store_photo
from tests.functional.api.conftest import Api

pytestmark = pytest.mark.compat

STEPS = [
    {"type": "validate", "config": {"mediaTypes": ["image"], "maxSizeBytes": 20_000_000}},
    {"type": "ai_generate", "config": {"prompt": "Write alt text for {original}.", "field": "altText"}},
    {"type": "transform", "config": {"set": {"entity": "{original}"}}},
    {"type": "condition", "config": {"conditions": {"logic": "and", "conditions": [
        {"field": "mediaType", "op": "eq", "value": "image"}]}}},
    {"type": "notify", "config": {"event": "product.captioned", "message": "alt text ready"}},
    {"type": "publish", "config": {"platforms": ["web"]}},
]


def create_body(name: str = "Product alt text") -> dict[str, Any]:
    return {"name": name, "description": "Alt text for product photos", "entityTypeId": "et_product",
            "steps": STEPS}


def test_create_get_and_list_in_the_documented_shapes(client: StronglyClient) -> None:
    created = client.post("/api/v1/workflows", create_body())
    assert created.status == 201, created.content[:400]
    workflow_id = created.json()["workflowId"]
    got = client.get(f"/api/v1/workflows/{workflow_id}")
    assert got.status == 200
    body = got.json()
    assert body["id"] == workflow_id and body["name"] == "Product alt text"
    assert body["description"] == "Alt text for product photos" and body["entityTypeId"] == "et_product"
    assert body["status"] in ("active", "draft", "archived") and body["stepsCount"] == 6
    assert body["lastRunAt"] is None
    assert [(s["type"], s["config"]) for s in body["steps"]] == [(s["type"], s["config"]) for s in STEPS]
    assert all(isinstance(s["id"], str) and s["id"] for s in body["steps"])
    listed = client.get("/api/v1/workflows", params={"limit": 100}).json()
    item = next(w for w in listed["workflows"] if w["id"] == workflow_id)
    for key in ("id", "name", "description", "status", "stepsCount", "lastRunAt"):
        assert key in item
    assert item["stepsCount"] == 6


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "steps": [{"type": "validate", "config": {}}]}, "entityTypeId"),
    ({"name": "x", "entityTypeId": "et", "steps": [{"type": "validate", "config": {}},
                                                   {"type": "summarise", "config": {}}]}, "steps[1].type"),
    ({"name": "x", "entityTypeId": "et", "steps": [{"type": "notify", "config": "loud"}]}, "steps[0].config"),
])
def test_a_body_that_cannot_be_honoured_is_refused_naming_the_field(client: StronglyClient, body: dict[str, Any],
                                                                     field: str) -> None:
    reply = client.post("/api/v1/workflows", body)
    assert reply.status == 422, reply.content[:300]
    assert reply.content_type.startswith("application/problem+json")
    assert [e["field"] for e in reply.json()["errors"]] == [field]


def test_run_over_five_stored_items_reports_progress_while_it_runs(client: StronglyClient, backend: Api,
                                                                   photo: bytes, chat_stub: ChatStub) -> None:
    # the steps of one item fuse into one Task here (no condition gate between them), so with one worker items
    # finish one after another and the progress has values between 0 and 5 to be seen at
    body = dict(create_body("five items"), steps=[s for s in STEPS if s["type"] != "condition"])
    workflow_id = client.post("/api/v1/workflows", body).json()["workflowId"]
    stamp = time.monotonic_ns()
    keys = [store_photo(backend, "tenant-a", f"{stamp}-{i}.jpg", photo) for i in range(5)]
    before = len(chat_stub.requests)
    chat_stub.delay = 0.4 if client.transport == "http" else 0.0  # one worker: items finish one by one
    try:
        started = client.post(f"/api/v1/workflows/{workflow_id}/run", {"entityIds": keys})
        assert started.status == 202, started.content[:400]
        job_id = started.json()["jobId"]
        seen: list[int] = []
        deadline = time.monotonic() + 180
        while True:
            status = client.get(f"/api/v1/workflows/{workflow_id}/runs/{job_id}")
            assert status.status == 200
            run = status.json()
            seen.append(run["progress"]["completed"])
            if run["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        chat_stub.delay = 0.0
    assert run["status"] == "completed", run
    assert run["id"] == job_id and run["progress"] == {"total": 5, "completed": 5, "failed": 0}
    assert isinstance(run["startedAt"], int) and isinstance(run["completedAt"], int)
    assert run["completedAt"] >= run["startedAt"]
    if client.transport == "http":  # the embedded runtime records task progress as it happens
        assert any(0 < done < 5 for done in seen), seen
        assert seen == sorted(seen)
    calls = chat_stub.requests[before:]
    assert len(calls) == 5 and all(c["body"]["model"] == "stub-model" for c in calls)
    assert all(any(p.get("type") == "image_url" for p in c["body"]["messages"][0]["content"]) for c in calls)
    steps = client.get(f"/v1/runs/{job_id}", headers={"Authorization": f"Bearer {client.key}"}).json()["steps"]
    texts = [s["output"]["text"] for s in steps if s["kind"] == "ai_generate"]
    assert len(texts) == 5 and all(t.startswith("A generated caption (with image)") for t in texts)
    listed = client.get(f"/api/v1/workflows/{workflow_id}").json()
    assert isinstance(listed["lastRunAt"], int)


def test_run_refuses_keys_of_another_tenant(client: StronglyClient, backend: Api, photo: bytes) -> None:
    workflow_id = client.post("/api/v1/workflows", create_body("foreign")).json()["workflowId"]
    foreign = store_photo(backend, "tenant-b", f"{time.monotonic_ns()}.jpg", photo)
    reply = client.post(f"/api/v1/workflows/{workflow_id}/run", {"entityIds": [foreign]})
    assert reply.status == 404
