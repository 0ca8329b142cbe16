"""Mindia's documented calls (doc 003), verbatim, on `serve` and on the API Lambda over moto; upload triggers
with filters, trigger on stored media, executions and partial updates on real generated images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compat import mindia_docs as docs
from tests.compat.conftest import TERMINAL, Product
from tests.functional.api.conftest import assert_problem

pytestmark = pytest.mark.compat
FILTERED = {
    "name": "Photos in the inbox folder", "description": "PNG photos dropped in inbox/, tagged for the web",
    "enabled": True, "trigger_on_upload": True, "stop_on_failure": True, "media_types": ["image"],
    "folder_ids": ["inbox"], "content_types": ["image/png"], "metadata_filter": None,
    "steps": [{"action": "plugin", "plugin_name": "validate", "config": {"mediaTypes": ["image"]}},
              {"action": "plugin", "plugin_name": "resize", "config": {"width": 64, "fit": "inside"}},
              {"action": "plugin", "plugin_name": "storage", "config": {"prefix": "mindia/"}}],
}
WORKFLOW_FIELDS = {"id", "name", "description", "enabled", "trigger_on_upload", "stop_on_failure", "media_types",
                   "folder_ids", "content_types", "metadata_filter", "steps", "created_at", "updated_at"}
EXECUTION_FIELDS = {"id", "workflow_id", "media_id", "status", "steps", "created_at", "completed_at"}


def send(product: Product, text: str, values: dict[str, str], body: Any = None) -> Any:
    method, path, headers, doc_body = docs.http_request(text, {"<api_key>": product.client.key or "", **values})
    headers.setdefault("Authorization", f"Bearer {product.client.key}")
    payload = doc_body if body is None else json.dumps(body)
    if payload is not None:
        headers.setdefault("Content-Type", "application/json")
    return product.client.with_key(None).request(method, path, data=payload, headers=headers)


def test_documented_workflow_is_created_listed_read_and_deleted(mindia: Product) -> None:
    created = send(mindia, docs.CREATE, {})
    assert created.status == 201, created.content[:800]
    workflow = created.json()
    assert set(workflow) >= WORKFLOW_FIELDS
    assert [s["plugin_name"] for s in workflow["steps"]] == [
        "aws_rekognition_moderation", "aws_rekognition", "replicate_deoldify"]
    assert all(s["action"] == "plugin" for s in workflow["steps"])
    assert workflow["enabled"] and workflow["trigger_on_upload"] and workflow["stop_on_failure"]
    assert workflow["media_types"] == ["image"] and workflow["folder_ids"] is None
    assert workflow["content_types"] is None and workflow["metadata_filter"] is None

    listed = send(mindia, docs.LIST, {}).json()
    assert workflow["id"] in [w["id"] for w in listed["workflows"]] and listed["limit"] == 50
    assert send(mindia, docs.GET, {":id": workflow["id"]}).json() == workflow
    assert send(mindia, docs.DELETE, {":id": workflow["id"]}).status == 204
    assert_problem(send(mindia, docs.GET, {":id": workflow["id"]}), 404)


def test_partial_update_keeps_steps_filters_and_description(mindia: Product) -> None:
    workflow = send(mindia, docs.CREATE, {}, FILTERED).json()
    updated = send(mindia, docs.UPDATE, {":id": workflow["id"]}, {"enabled": False})
    assert updated.status == 200, updated.content[:800]
    after = updated.json()
    assert after["enabled"] is False
    for field in ("name", "description", "steps", "media_types", "folder_ids", "content_types", "stop_on_failure"):
        assert after[field] == workflow[field], field
    renamed = send(mindia, docs.UPDATE, {":id": workflow["id"]}, {"name": "Renamed", "folder_ids": ["other"]}).json()
    assert renamed["name"] == "Renamed" and renamed["folder_ids"] == ["other"] and renamed["steps"] == workflow["steps"]
    send(mindia, docs.DELETE, {":id": workflow["id"]})


@pytest.fixture
def run_events(mindia: Product, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The workflow.completed / workflow.failed events the runtime publishes (what webhooks deliver)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    bus = mindia.api.deployment.adapters.bus if mindia.backend == "aws" else mindia.api.service.adapters.bus
    publish = bus.publish

    def recording(detail_type: str, detail: dict[str, Any]) -> Any:
        if detail_type.startswith("workflow."):
            seen.append((detail_type, detail))
        return publish(detail_type, detail)

    monkeypatch.setattr(bus, "publish", recording)
    return seen


def test_uploads_trigger_by_filter_and_stored_media_can_be_run_again(
        mindia: Product, media: Path, mindia_upload: Any, run_events: list[tuple[str, dict[str, Any]]]) -> None:
    workflow = send(mindia, docs.CREATE, {}, FILTERED).json()
    png = (media / "plain.png").read_bytes()
    jpeg = (media / "photo.jpg").read_bytes()
    path = docs.EXECUTIONS.split(" ", 1)[1].replace(":id", workflow["id"])
    mindia_upload("elsewhere/a.png", png)  # outside the folder
    mindia_upload("inbox/b.jpg", jpeg)  # not image/png
    assert send(mindia, docs.EXECUTIONS, {":id": workflow["id"]}).json()["executions"] == []
    started = mindia_upload("inbox/c.png", png)
    executions = mindia.wait(path, lambda d: d["executions"] and d["executions"][0]["status"] in TERMINAL)[
        "executions"]
    assert len(executions) == 1 and executions[0]["id"] in started
    run_id = executions[0]["id"]
    execution = executions[0]
    assert set(execution) >= EXECUTION_FIELDS and execution["status"] == "completed", execution
    assert [s["plugin_name"] for s in execution["steps"]][-3:] == ["validate", "resize", "storage"]
    assert execution["media_id"]

    started = send(mindia, docs.TRIGGER, {":workflow_id": workflow["id"], ":media_id": execution["media_id"]})
    assert started.status == 201, started.content[:800]
    again = started.json()
    assert again["media_id"] == execution["media_id"] and again["id"] != run_id
    done = mindia.wait(docs.EXECUTION.split(" ", 1)[1].replace(":id", again["id"]),
                       lambda d: d["status"] in TERMINAL)
    assert done["status"] == "completed" and done["outputs"][0]["contentType"] == "image/png"
    listed = send(mindia, docs.EXECUTIONS, {":id": workflow["id"]}).json()["executions"]
    assert {e["id"] for e in listed} == {run_id, again["id"]}
    events = {detail["runId"]: (kind, detail) for kind, detail in run_events}
    for execution_id in (run_id, again["id"]):  # the webhook payload: media id, execution context, status
        kind, detail = events[execution_id]
        assert kind == "workflow.completed" and detail["status"] == "completed"
        assert detail["mediaId"] == execution["media_id"] and detail["workflowId"] == workflow["id"]
    send(mindia, docs.DELETE, {":id": workflow["id"]})


def test_bodies_that_cannot_be_honoured_are_refused_by_name(mindia: Product) -> None:
    cases = [({"action": "script", "plugin_name": "resize"}, "steps.0.action"),
             ({"action": "plugin", "plugin_name": "upscale_x4"}, "steps[0].plugin_name"),
             ({"action": "plugin", "plugin_name": "resize", "config": {"width": 10, "sharpen": True}},
              "steps[0].config.sharpen")]
    for step, field in cases:
        body = assert_problem(send(mindia, docs.CREATE, {}, {**FILTERED, "steps": [step]}), 422)
        assert field in [e["field"] for e in body["errors"]], body
    body = assert_problem(send(mindia, docs.CREATE, {}, {**FILTERED, "metadata_filter": {"year": 2024}}), 422)
    assert "metadata_filter.year" in [e["field"] for e in body["errors"]], body
    body = assert_problem(send(mindia, docs.CREATE, {}, {**FILTERED, "retries": 3}), 422)
    assert "retries" in [e["field"] for e in body["errors"]], body


def test_partial_update_of_a_branching_workflow_keeps_its_graph(mindia: Product) -> None:
    graph = {"name": "branching", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "is-image", "kind": "branch", "config": {"conditions": {"conditions": [
            {"field": "mediaType", "op": "eq", "value": "image"}]}}},
        {"id": "small", "kind": "resize", "config": {"width": 64}},
        {"id": "keep", "kind": "storage"}],
        "edges": [{"source": "upload", "target": "is-image"},
                  {"source": "is-image", "target": "small", "kind": "true"},
                  {"source": "is-image", "target": "keep", "kind": "false"}]}
    created = mindia.call("POST", "/v1/workflows", graph).json()
    shown = send(mindia, docs.GET, {":id": created["id"]}).json()
    assert [s["plugin_name"] for s in shown["steps"]] == ["branch", "resize", "storage"]
    updated = send(mindia, docs.UPDATE, {":id": created["id"]}, {"media_types": ["image"], "stop_on_failure": False})
    assert updated.status == 200 and updated.json()["media_types"] == ["image"], updated.content[:500]
    after = mindia.call("GET", f"/v1/workflows/{created['id']}").json()
    assert after["edges"] == created["edges"] and after["nodes"] == created["nodes"]
    assert after["trigger"]["filters"]["mediaTypes"] == ["image"] and after["settings"]["stopOnFailure"] is False
    send(mindia, docs.DELETE, {":id": created["id"]})


def test_trigger_on_media_stored_through_an_upload_target(mindia: Product, media: Path) -> None:
    workflow = send(mindia, docs.CREATE, {}, {**FILTERED, "trigger_on_upload": False, "folder_ids": None}).json()
    target = mindia.call("POST", "/v1/uploads", {"filename": "c.png", "contentType": "image/png"}).json()
    stored = mindia.client.upload(target, "c.png", (media / "plain.png").read_bytes())
    assert stored.status in (201, 204), stored.content[:300]
    started = send(mindia, docs.TRIGGER, {":workflow_id": workflow["id"], ":media_id": target["uploadId"]})
    assert started.status == 201, started.content[:600]
    done = mindia.wait(f"/api/v0/workflow-executions/{started.json()['id']}", lambda d: d["status"] in TERMINAL)
    assert done["status"] == "completed", done
    missing = send(mindia, docs.TRIGGER, {":workflow_id": workflow["id"], ":media_id": "0123456789abcdef"})
    assert [e["field"] for e in assert_problem(missing, 404)["errors"]] == ["media_id"]
    send(mindia, docs.DELETE, {":id": workflow["id"]})
