"""Workflows endpoints on both transports (local HTTP server and Lambda proxy events)."""

from __future__ import annotations

import uuid

import pytest

from tests.functional.api.conftest import Client, assert_problem, example, simple_workflow

pytestmark = pytest.mark.functional


def create(client: Client, body: dict | None = None) -> dict:
    reply = client.post("/v1/workflows", body or simple_workflow())
    assert reply.status == 201, reply.content
    return reply.json()


@pytest.mark.parametrize("shape", ["image-web-optimise", "convertly-convert-compress", "mindia-linear-steps"])
def test_create_accepts_every_shape_and_returns_canonical(client: Client, shape: str) -> None:
    created = create(client, example(shape))
    assert created["id"] == created["workflowId"] and created["version"] == 1
    assert all("kind" in node and "data" not in node for node in created["nodes"])
    reply = client.get(f"/v1/workflows/{created['id']}")
    assert reply.status == 200 and reply.headers["etag"] == '"1"'
    assert reply.json()["nodes"] == created["nodes"]


def test_list_filters_sorts_and_pages(client: Client) -> None:
    tag = f"t{uuid.uuid4().hex}"
    ids = [create(client, {**simple_workflow(f"pager {tag} {i}"), "tags": [tag]})["id"] for i in range(3)]
    page = client.get("/v1/workflows", params={"tag": tag, "limit": 2, "sort": "name:asc"}).json()
    assert page["count"] == 3 and [w["id"] for w in page["workflows"]] == ids[:2]
    rest = client.get("/v1/workflows", params={"tag": tag, "limit": 2, "sort": "name:asc",
                                                "cursor": page["nextCursor"]}).json()
    assert [w["id"] for w in rest["workflows"]] == ids[2:] and rest["nextCursor"] is None
    found = client.get("/v1/workflows", params={"search": f"pager {tag} 1"}).json()
    assert [w["id"] for w in found["workflows"]] == [ids[1]]
    assert client.get("/v1/workflows", params={"status": "draft", "tag": tag}).json()["count"] == 3
    assert_problem(client.get("/v1/workflows", params={"limit": 101}), 422)
    assert_problem(client.get("/v1/workflows", params={"cursor": "garbage"}), 400)


def test_put_uses_optimistic_concurrency(client: Client) -> None:
    wf = create(client)
    path = f"/v1/workflows/{wf['id']}"
    ok = client.put(path, simple_workflow("renamed"), headers={"If-Match": '"1"'})
    assert ok.status == 200 and ok.json()["version"] == 2 and ok.headers["etag"] == '"2"'
    stale = assert_problem(client.put(path, simple_workflow("again"), headers={"If-Match": '"1"'}), 409)
    assert stale["errors"][0]["field"] == "version"
    assert_problem(client.put(path, {**simple_workflow("x"), "version": 1}), 409)
    assert client.put(path, {**simple_workflow("y"), "version": 2}).json()["version"] == 3


def test_patch_status_duplicate_and_delete(client: Client) -> None:
    wf = create(client)
    path = f"/v1/workflows/{wf['id']}"
    assert client.patch(path, {"isActive": True}).json()["status"] == "active"
    patched = client.patch(path, {"isActive": False, "name": "paused one", "tags": ["x"]}).json()
    assert (patched["status"], patched["name"], patched["tags"]) == ("paused", "paused one", ["x"])
    assert client.put(f"{path}/status", {"status": "archived"}).json()["status"] == "archived"
    assert_problem(client.put(f"{path}/status", {"status": "gone"}), 422)
    copy = client.post(f"{path}/duplicate")
    assert copy.status == 201 and copy.json()["status"] == "draft" and copy.json()["id"] != wf["id"]
    assert client.delete(path).status == 204
    assert_problem(client.get(path), 404)


def test_drafts_may_be_invalid_but_not_active(client: Client) -> None:
    body = {"name": "broken", "nodes": [{"id": "upload", "kind": "upload"},
                                         {"id": "r", "kind": "resize", "config": {"fit": "inside"}}],
            "edges": [{"source": "upload", "target": "r"}]}
    wf = create(client, body)
    assert wf["valid"] is False and wf["status"] == "draft"
    report = client.post(f"/v1/workflows/{wf['id']}/validate").json()
    assert report["valid"] is False and report["errors"][0]["nodeId"] == "r"
    assert report["errors"][0]["path"].startswith("nodes[1].config")
    problem = assert_problem(client.put(f"/v1/workflows/{wf['id']}/status", {"status": "active"}), 422)
    assert problem["errors"][0]["nodeId"] == "r" and problem["errors"][0]["field"]
    assert_problem(client.get(f"/v1/workflows/{wf['id']}/plan"), 422)
    assert_problem(client.post("/v1/workflows", {"nodes": [{"id": "bad id!", "kind": "upload"}]}), 422)
    assert_problem(client.post("/v1/workflows", {**body, "status": "active"}), 422)


def test_validate_and_plan(client: Client) -> None:
    wf = create(client, example("image-web-optimise"))
    report = client.post(f"/v1/workflows/{wf['id']}/validate").json()
    assert report == {**report, "valid": True, "errors": [], "nodeCount": 9, "connectionCount": 8}
    plan = client.get(f"/v1/workflows/{wf['id']}/plan", params={"items": 5}).json()
    assert plan["stateMachine"]["StartAt"] and plan["transitionsPerRun"] > 0


def test_versions_snapshots_and_diff(client: Client) -> None:
    wf = create(client)
    path = f"/v1/workflows/{wf['id']}"
    client.put(path, {**simple_workflow("v2"), "nodes": [*simple_workflow()["nodes"][:2],
                                                         {"id": "store", "kind": "storage",
                                                          "config": {"prefix": "v2/"}}]})
    tagged = client.post(f"{path}/versions", {"versionTag": "v1.0.0", "description": "first release"})
    assert tagged.status == 201 and tagged.json() == {"workflowId": wf["id"], "version": 3, "versionTag": "v1.0.0"}
    listing = client.get(f"{path}/versions").json()
    assert listing["currentVersion"] == 3 and [v["version"] for v in listing["versions"]] == [1, 2, 3]
    assert listing["versions"][2]["versionTag"] == "v1.0.0"
    assert client.get(f"{path}/versions/1").json()["name"] == "simple"
    diff = client.get(f"{path}/versions/1/diff/2").json()
    assert [c["nodeId"] for c in diff["nodesChanged"]] == ["store"] and "name" in diff["fieldsChanged"]
    assert_problem(client.get(f"{path}/versions/9"), 404)


def test_templates_and_stats(client: Client) -> None:
    templates = client.get("/v1/workflows/templates").json()
    assert templates["count"] >= 5
    ids = {t["id"] for t in templates["templates"]}
    assert "image-web-optimise" in ids
    made = client.post("/v1/workflows/templates/image-web-optimise", {"name": "from template"})
    assert made.status == 201 and made.json()["name"] == "from template" and made.json()["valid"]
    assert_problem(client.post("/v1/workflows/templates/nope", {}), 404)
    stats = client.get("/v1/workflows/stats").json()
    assert stats["total"] == sum(stats[s] for s in ("draft", "active", "paused", "archived")) >= 1


def test_node_and_connection_editing(client: Client) -> None:
    wf = create(client)
    base = f"/v1/workflows/{wf['id']}"
    added = client.post(f"{base}/nodes", {"kind": "resize", "config": {"width": 100}, "after": "upload"})
    assert added.status == 201 and added.json()["nodeId"] == "resize-1"
    assert added.json()["valid"] is True  # a branch that ends without storage is allowed
    conn = client.post(f"{base}/connections", {"sourceNodeId": "resize-1", "targetNodeId": "store"})
    assert conn.status == 201 and conn.json()["connectionId"] == "resize-1~store" and conn.json()["valid"]
    updated = client.put(f"{base}/nodes/resize-1", {"config": {"height": 50}, "label": "small"}).json()
    assert updated["node"]["config"] == {"width": 100, "height": 50} and updated["node"]["label"] == "small"
    nodes = client.get(f"{base}/nodes").json()
    assert nodes["count"] == 4 and {n["id"]: n["outboundConnections"] for n in nodes["nodes"]}["upload"] == 2
    assert client.delete(f"{base}/connections/resize-1~store").json()["removed"]
    assert_problem(client.delete(f"{base}/connections/resize-1~store"), 404)
    removed = client.delete(f"{base}/nodes/resize-1").json()
    assert removed["removedConnections"] == 1 and removed["valid"]
    assert_problem(client.post(f"{base}/nodes", {"kind": "resize", "id": "store"}), 409)
    assert_problem(client.put(f"{base}/nodes/ghost", {"config": {}}), 404)


def test_events_fire_matching_active_workflows(client: Client, api: object) -> None:
    name = f"order.created.{uuid.uuid4().hex}"  # the API's store outlives a test; id(client) can come back
    body = {"name": "on event", "nodes": [{"id": "ev", "kind": "event", "config": {"eventName": name}},
                                          {"id": "n", "kind": "notify", "config": {"message": "hi"}}],
            "edges": [{"source": "ev", "target": "n"}], "status": "active"}
    wf = create(client, body)
    create(client, {**body, "status": "draft"})
    fired = client.post("/v1/workflows/events", {"eventName": name, "data": {"id": 1}}).json()
    assert fired["workflowsTriggered"] == 1 and fired["results"][0]["workflowId"] == wf["id"]
    assert client.wait_run(fired["results"][0]["runId"])["status"] in ("completed", "failed")
    none = client.post("/v1/workflows/events", {"event_type": "other.event"}).json()
    assert none["workflowsTriggered"] == 0
