"""Strongly.ai's workflow API (seed 004) under /api/v1: each documented operation sent with the document's own
example request (path, `X-API-Key`, body) to `serve` on loopback and to the API Lambda over moto, the response
checked against the documented shape and status."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.compat.api_v1.conftest import StronglyClient, key_id
from tests.functional.api.conftest import Api

pytestmark = pytest.mark.compat

# -- the document's example requests, verbatim ---------------------------------------------------------------
CREATE: dict[str, Any] = {
    "name": "Daily ETL Pipeline", "description": "Extracts data from MySQL, transforms, and loads to S3",
    "status": "draft", "nodes": [], "connections": [], "tags": ["etl"],
    "settings": {"timeout": 3600, "retryOnFailure": True, "maxRetries": 3}}
UPDATE = {"name": "Updated ETL Pipeline", "description": "Updated description", "nodes": [], "connections": [],
          "tags": ["etl", "v2"], "settings": {"timeout": 7200}}
EXECUTE = {"definition": {"nodes": [], "connections": []}, "triggerInputs": {"key": "value"}}
TRIGGER = {"trigger_type": "api", "inputs": {"key": "value"}, "sync": False}
EMAIL = {"from": "sender@example.com", "to": "inbox@workflow.strongly.ai", "subject": "Invoice attached",
         "body_text": "Plain text email body", "body_html": "<p>HTML email body</p>", "attachments": [],
         "email_headers": {}}
ENQUEUE = {"message": {"orderId": "ord_123"}, "priority": 0, "source": "rest_api"}
EVENT = {"event_type": "user.created", "event_data": {"userId": "user_456"}, "source": "platform"}
START = {"replicas": 1}
LIFECYCLE = {"type": "scheduled-window", "schedule": {"timezone": "America/Los_Angeles", "windows": [
    {"days": [1, 2, 3, 4, 5], "startTime": "09:00", "endTime": "17:00"}]}}
STATUS = {"status": "active"}
VERSION = {"versionTag": "v2.1.0", "description": "Added retry logic to S3 upload node"}
SHARE = {"userId": "user_789"}
ADD_NODE = {"nodeId": "mysql-source", "label": "Extract Orders", "version": "1.2.0", "position": {"x": 100, "y": 200},
            "config": {"dataSource": "ds_001", "query": "SELECT * FROM orders"}}
CONFIGURE_NODE: dict[str, Any] = {"config": {"query": "SELECT * FROM orders WHERE created_at > NOW() - INTERVAL 1 DAY"},
                  "label": "Extract Recent Orders"}
MAPPINGS = {"mappings": {"userId": "data.user.id", "email": "data.user.email"}}
PASSTHROUGH = {"values": {"correlationId": "correlationId", "tenantId": "tenantId"}}
CONNECT = {"sourceNodeId": "node_1", "targetNodeId": "node_2", "sourcePort": "output", "targetPort": "input"}

WORKFLOW_KEYS = {"id", "name", "description", "status", "version", "nodes", "connections", "config", "settings",
                 "tags", "organizationId", "ownerId", "sharedWith", "isPublic", "isTemplate", "createdAt",
                 "updatedAt"}
LIST_ITEM_KEYS = {"id", "name", "description", "status", "version", "tags", "organizationId", "ownerId", "isPublic",
                  "isTemplate", "createdAt", "updatedAt"}


def media_workflow(name: str = "Resize pipeline", *, connected: bool = True, trigger: str = "upload",
                   trigger_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Strongly-shaped workflow of mediaflow nodes: trigger -> resize -> storage."""
    connections = [{"sourceNodeId": "node_2", "sourcePort": "output", "targetNodeId": "node_3",
                    "targetPort": "input"}]
    if connected:
        connections.insert(0, {"sourceNodeId": "node_1", "sourcePort": "output", "targetNodeId": "node_2",
                               "targetPort": "input"})
    return {"name": name, "description": "resize and store", "tags": ["media"],
            "nodes": [{"id": "node_1", "nodeId": trigger, "label": "In", "position": {"x": 0, "y": 0},
                       "config": trigger_config or {}},
                      {"id": "node_2", "nodeId": "resize", "label": "Resize", "position": {"x": 250, "y": 0},
                       "config": {"width": 64}},
                      {"id": "node_3", "nodeId": "storage", "label": "Store", "position": {"x": 500, "y": 0},
                       "config": {"prefix": "strongly/"}}],
            "connections": connections, "settings": {"timeout": 600, "retryOnFailure": True, "maxRetries": 1}}


def create(client: StronglyClient, body: dict[str, Any]) -> str:
    reply = client.post("/api/v1/workflows", body)
    assert reply.status == 201, reply.content[:500]
    workflow_id: str = reply.json()["workflowId"]
    return workflow_id


def wait_run(client: StronglyClient, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        run: dict[str, Any] = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


# -- CRUD -----------------------------------------------------------------------------------------------------


def test_create_with_the_documented_body_then_get_list_update_delete(client: StronglyClient, backend: Api) -> None:
    created = client.post("/api/v1/workflows", CREATE)
    assert created.status == 201 and isinstance(created.json()["workflowId"], str)
    workflow_id = created.json()["workflowId"]

    got = client.get(f"/api/v1/workflows/{workflow_id}")
    assert got.status == 200
    workflow = got.json()
    assert set(workflow) >= WORKFLOW_KEYS
    assert workflow["settings"]["timeout"] == 3600 and workflow["settings"]["retryOnFailure"] is True
    assert workflow["settings"]["maxRetries"] == 3 and workflow["tags"] == ["etl"] and workflow["status"] == "draft"
    assert workflow["organizationId"] == "tenant-a" and workflow["ownerId"] == key_id(backend, "a")
    assert workflow["sharedWith"] == [] and workflow["isPublic"] is False and workflow["isTemplate"] is False

    listed = client.get("/api/v1/workflows", params={"status": "draft", "tag": "etl", "search": "MySQL",
                                                     "limit": 20, "offset": 0, "sort": "createdAt:desc"})
    assert listed.status == 200
    page = listed.json()
    assert {"count", "limit", "offset", "workflows"} <= set(page) and page["limit"] == 20 and page["offset"] == 0
    assert workflow_id in [w["id"] for w in page["workflows"]]
    assert all(set(w) >= LIST_ITEM_KEYS for w in page["workflows"])
    assert workflow_id not in [w["id"] for w in client.get("/api/v1/workflows", params={"tag": "nope"})
                               .json()["workflows"]]

    updated = client.put(f"/api/v1/workflows/{workflow_id}", UPDATE)
    assert updated.status == 200
    body = updated.json()
    assert body["name"] == "Updated ETL Pipeline" and body["tags"] == ["etl", "v2"]
    assert body["settings"]["timeout"] == 7200 and body["settings"]["maxRetries"] == 3  # partial settings merge
    assert set(body) >= WORKFLOW_KEYS

    deleted = client.delete(f"/api/v1/workflows/{workflow_id}")
    assert deleted.status == 204 and not deleted.content
    assert client.get(f"/api/v1/workflows/{workflow_id}").status == 404


def test_a_partial_put_keeps_nodes_and_connections(client: StronglyClient) -> None:
    workflow_id = create(client, media_workflow())
    reply = client.put(f"/api/v1/workflows/{workflow_id}", {"name": "Renamed", "tags": ["v2"]})
    assert reply.status == 200
    body = reply.json()
    assert body["name"] == "Renamed" and body["description"] == "resize and store"
    assert [n["id"] for n in body["nodes"]] == ["node_1", "node_2", "node_3"]
    assert [n["nodeId"] for n in body["nodes"]] == ["upload", "resize", "storage"]
    assert body["nodes"][1]["config"] == {"width": 64} and body["nodes"][1]["label"] == "Resize"
    assert [(c["sourceNodeId"], c["targetNodeId"]) for c in body["connections"]] == [("node_1", "node_2"),
                                                                                    ("node_2", "node_3")]
    assert body["settings"]["timeout"] == 600


def test_duplicate_status_and_versions(client: StronglyClient, backend: Api) -> None:
    workflow_id = create(client, media_workflow())
    copy = client.post(f"/api/v1/workflows/{workflow_id}/duplicate")
    assert copy.status == 201 and copy.json()["workflowId"] != workflow_id
    copied = client.get(f"/api/v1/workflows/{copy.json()['workflowId']}").json()
    assert copied["status"] == "draft" and len(copied["nodes"]) == 3

    status = client.put(f"/api/v1/workflows/{workflow_id}/status", STATUS)
    assert status.status == 200 and status.json()["status"] == "active" and set(status.json()) >= WORKFLOW_KEYS

    made = client.post(f"/api/v1/workflows/{workflow_id}/versions", VERSION)
    assert made.status == 201
    assert made.json()["workflowId"] == workflow_id and made.json()["versionTag"] == "v2.1.0"
    versions = client.get(f"/api/v1/workflows/{workflow_id}/versions")
    assert versions.status == 200
    listed = versions.json()
    assert listed["workflowId"] == workflow_id and listed["currentVersion"] == made.json()["version"]
    tagged = next(v for v in listed["versions"] if v["version"] == made.json()["version"])
    assert tagged["versionTag"] == "v2.1.0" and tagged["description"] == "Added retry logic to S3 upload node"
    assert tagged["createdBy"] == key_id(backend, "a") and tagged["createdAt"]
    assert all({"version", "versionTag", "description", "createdBy", "createdAt"} <= set(v)
               for v in listed["versions"])
    assert client.post(f"/api/v1/workflows/{workflow_id}/versions", {"description": "no tag"}).status == 422


# -- editing --------------------------------------------------------------------------------------------------


def test_node_operations_with_the_documented_bodies(client: StronglyClient) -> None:
    workflow_id = create(client, media_workflow())
    nodes = client.get(f"/api/v1/workflows/{workflow_id}/nodes")
    assert nodes.status == 200
    listed = nodes.json()
    assert listed["workflowId"] == workflow_id and listed["count"] == 3
    first = listed["nodes"][0]
    assert set(first) == {"id", "type", "label", "category", "position", "hasConfig", "inboundConnections",
                          "outboundConnections"}
    assert (first["id"], first["type"], first["outboundConnections"]) == ("node_1", "upload", 1)

    added = client.post(f"/api/v1/workflows/{workflow_id}/nodes", ADD_NODE)
    assert added.status == 201, added.content[:400]
    body = added.json()
    node_id = body["nodeId"]
    assert body["workflowId"] == workflow_id and body["node"]["id"] == node_id
    assert body["node"]["type"] == "mysql-source" and body["node"]["label"] == "Extract Orders"
    assert body["node"]["nodeVersion"] == "1.2.0" and body["node"]["position"] == {"x": 100, "y": 200}
    assert body["node"]["config"] == ADD_NODE["config"] and "data" in body["node"] and "category" in body["node"]
    # not a mediaflow kind: kept in the draft, and validate says why it cannot run
    problems = client.post(f"/api/v1/workflows/{workflow_id}/validate").json()
    assert any(e["nodeId"] == node_id and e["type"] == "unknown-kind" for e in problems["errors"])

    configured = client.put(f"/api/v1/workflows/{workflow_id}/nodes/{node_id}", CONFIGURE_NODE)
    assert configured.status == 200
    node = configured.json()["node"]
    assert node["label"] == "Extract Recent Orders"
    assert node["config"] == {"dataSource": "ds_001", "query": CONFIGURE_NODE["config"]["query"]}  # merged
    unwrapped = client.put(f"/api/v1/workflows/{workflow_id}/nodes/node_2", {"height": 48})
    assert unwrapped.status == 200 and unwrapped.json()["node"]["config"] == {"width": 64, "height": 48}

    mapped = client.put(f"/api/v1/workflows/{workflow_id}/nodes/{node_id}/input-mappings", MAPPINGS)
    assert mapped.status == 200
    assert mapped.json() == {"nodeId": node_id, "workflowId": workflow_id, "inputMappings": MAPPINGS["mappings"]}
    passed = client.put(f"/api/v1/workflows/{workflow_id}/nodes/{node_id}/passthrough-values", PASSTHROUGH)
    assert passed.status == 200
    assert passed.json() == {"nodeId": node_id, "workflowId": workflow_id, "passThroughValues": PASSTHROUGH["values"]}
    refused = client.put(f"/api/v1/workflows/{workflow_id}/nodes/node_2/input-mappings",
                         {"mappings": {"colour": "inputs.colour"}})
    assert refused.status == 422 and refused.json()["errors"][0]["field"] == "mappings.colour"

    removed = client.delete(f"/api/v1/workflows/{workflow_id}/nodes/{node_id}")
    assert removed.status == 200
    assert removed.json() == {"removed": True, "nodeId": node_id, "removedConnections": 0, "workflowId": workflow_id}
    removed = client.delete(f"/api/v1/workflows/{workflow_id}/nodes/node_3")
    assert removed.json()["removedConnections"] == 1


def test_connections_validate_layout_and_scopes(client: StronglyClient) -> None:
    workflow_id = create(client, media_workflow(connected=False))
    check = client.post(f"/api/v1/workflows/{workflow_id}/validate")
    assert check.status == 200
    report = check.json()
    assert set(report) >= {"workflowId", "valid", "errors", "warnings", "nodeCount", "connectionCount"}
    assert report["valid"] is False and report["nodeCount"] == 3 and report["connectionCount"] == 1
    assert all({"type", "message", "nodeId"} <= set(issue) for issue in report["errors"] + report["warnings"])

    connected = client.post(f"/api/v1/workflows/{workflow_id}/connections", CONNECT)
    assert connected.status == 201
    body = connected.json()
    assert body["workflowId"] == workflow_id and body["connectionId"] == body["connection"]["id"]
    assert body["connection"] == {"id": body["connectionId"], "source": "node_1", "target": "node_2",
                                  "sourcePort": "output", "targetPort": "input"}
    report = client.post(f"/api/v1/workflows/{workflow_id}/validate").json()
    assert report["valid"] is True and report["errors"] == [] and report["connectionCount"] == 2
    bad_port = dict(CONNECT, targetPort="tools", sourceNodeId="node_2", targetNodeId="node_1")
    refused = client.post(f"/api/v1/workflows/{workflow_id}/connections", bad_port)
    assert refused.status == 422 and refused.json()["errors"][0]["field"] == "body.targetPort"

    laid = client.post(f"/api/v1/workflows/{workflow_id}/layout")
    assert laid.status == 200 and laid.json()["workflowId"] == workflow_id
    assert laid.json()["changed"] is True and laid.json()["nodesRepositioned"] == 3
    positions = {n["id"]: n["position"] for n in client.get(f"/api/v1/workflows/{workflow_id}").json()["nodes"]}
    assert positions["node_1"]["x"] < positions["node_2"]["x"] < positions["node_3"]["x"]
    assert client.post(f"/api/v1/workflows/{workflow_id}/layout").json() == {
        "workflowId": workflow_id, "changed": False, "nodesRepositioned": 0}  # stable

    scopes = client.post(f"/api/v1/workflows/{workflow_id}/compute-scopes")
    assert scopes.status == 200
    found = scopes.json()["scopes"]
    assert scopes.json()["workflowId"] == workflow_id
    assert f"workflows:execute:{workflow_id}" in found and "storage:write:tenant-a/outputs/strongly/" in found
    assert "storage:read:tenant-a/uploads/" in found and "aws:lambda:InvokeFunction:vips" in found
    assert client.get(f"/api/v1/workflows/{workflow_id}").json()["scopes"] == found

    disconnected = client.delete(f"/api/v1/workflows/{workflow_id}/connections/{body['connectionId']}")
    assert disconnected.status == 200
    assert disconnected.json() == {"removed": True, "connectionId": body["connectionId"], "workflowId": workflow_id}


def test_branch_ports_become_true_and_false_edges(client: StronglyClient) -> None:
    body = {"name": "branching", "nodes": [
        {"id": "in", "nodeId": "upload"},
        {"id": "big", "nodeId": "branch", "config": {"conditions": {"logic": "and", "conditions": [
            {"field": "size", "op": "gt", "value": 1000}]}}},
        {"id": "shrink", "nodeId": "resize", "config": {"width": 32}}, {"id": "keep", "nodeId": "storage"}],
        "connections": [{"sourceNodeId": "in", "targetNodeId": "big"},
                        {"sourceNodeId": "big", "sourcePort": "true", "targetNodeId": "shrink", "targetPort": "input"},
                        {"sourceNodeId": "big", "sourcePort": "false", "targetNodeId": "keep"}]}
    workflow_id = create(client, body)
    workflow = client.get(f"/api/v1/workflows/{workflow_id}").json()
    assert workflow["valid"] is True
    ports = {(c["sourceNodeId"], c["targetNodeId"]): c["sourcePort"] for c in workflow["connections"]}
    assert ports == {("in", "big"): "output", ("big", "shrink"): "true", ("big", "keep"): "false"}


# -- execution ------------------------------------------------------------------------------------------------


def test_execute_trigger_email_and_events_answer_the_documented_shapes(client: StronglyClient) -> None:
    workflow_id = create(client, media_workflow())
    executed = client.post(f"/api/v1/workflows/{workflow_id}/execute", EXECUTE)
    assert executed.status == 201, executed.content[:400]
    assert wait_run(client, executed.json()["executionId"])["status"] == "completed"

    assert client.post(f"/api/v1/workflows/{workflow_id}/trigger", TRIGGER).status == 409  # not deployed
    assert client.post(f"/api/v1/workflows/{workflow_id}/deploy").status == 200
    triggered = client.post(f"/api/v1/workflows/{workflow_id}/trigger", TRIGGER)
    assert triggered.status == 200
    assert set(triggered.json()) == {"status", "execution_id", "workflow_id", "output"}
    assert triggered.json()["status"] == "started" and triggered.json()["workflow_id"] == workflow_id
    assert wait_run(client, triggered.json()["execution_id"])["status"] == "completed"

    mail_id = create(client, media_workflow("mail", trigger="email"))
    assert client.post(f"/api/v1/workflows/{mail_id}/deploy").status == 200
    mailed = client.post(f"/api/v1/workflows/{mail_id}/email-trigger", EMAIL)
    assert mailed.status == 201 and mailed.json()["trigger_type"] == "email" and "executionId" in mailed.json()
    assert client.post(f"/api/v1/workflows/{workflow_id}/email-trigger", EMAIL).status == 409  # no email trigger

    queue_id = create(client, media_workflow("orders", trigger="queue"))
    assert client.post(f"/api/v1/workflows/{queue_id}/enqueue", ENQUEUE).status == 409  # not deployed
    assert client.post(f"/api/v1/workflows/{queue_id}/deploy").status == 200
    queued = client.post(f"/api/v1/workflows/{queue_id}/enqueue", ENQUEUE)
    assert queued.status == 201, queued.content[:300]
    assert queued.json()["trigger_type"] == "queue" and isinstance(queued.json()["executionId"], str)
    assert client.post(f"/api/v1/workflows/{workflow_id}/enqueue", ENQUEUE).status == 409  # no queue trigger

    event_id = create(client, {"name": "welcome", "nodes": [
        {"id": "on_user", "nodeId": "event", "config": {"eventName": "user.*"}},
        {"id": "tell", "nodeId": "notify", "config": {"event": "user.welcome", "message": "welcome"}}],
        "connections": [{"sourceNodeId": "on_user", "targetNodeId": "tell"}]})
    assert client.post(f"/api/v1/workflows/{event_id}/deploy").status == 200
    fired = client.post("/api/v1/workflows/events", EVENT)
    assert fired.status == 200
    body = fired.json()
    assert set(body) == {"event_type", "workflows_triggered", "workflows_failed", "results"}
    assert body["event_type"] == "user.created"
    mine = [r for r in body["results"] if r["workflowId"] == event_id]
    assert len(mine) == 1 and mine[0]["workflowName"] == "welcome" and "error" not in mine[0]
    assert wait_run(client, mine[0]["executionId"])["status"] == "completed"
    assert body["workflows_triggered"] + body["workflows_failed"] == len(body["results"])


def test_deployment_lifecycle_sharing_templates_stats_and_discover(client: StronglyClient, backend: Api) -> None:
    workflow_id = create(client, dict(media_workflow("app workflow"), tags=["app:app_1"]))
    deployed = client.post(f"/api/v1/workflows/{workflow_id}/deploy")
    assert deployed.json() == {"message": "Workflow deployed successfully", "workflowId": workflow_id,
                               "status": "active"}
    stopped = client.post(f"/api/v1/workflows/{workflow_id}/stop")
    assert stopped.status == 200 and stopped.json() == {"workflowId": workflow_id, "deploymentStatus": "stopped"}
    assert client.post(f"/api/v1/workflows/{workflow_id}/trigger", TRIGGER).status == 409
    started = client.post(f"/api/v1/workflows/{workflow_id}/start", START)
    assert started.json() == {"workflowId": workflow_id, "deploymentStatus": "running", "replicas": 1}

    policy = client.get(f"/api/v1/workflows/{workflow_id}/lifecycle")
    assert policy.status == 200
    assert policy.json() == {"workflowId": workflow_id, "lifecyclePolicy": {"type": "always-on"},
                             "deploymentStatus": "running", "stoppedReason": None}
    put = client.put(f"/api/v1/workflows/{workflow_id}/lifecycle", LIFECYCLE)
    assert put.status == 200 and put.json() == {"workflowId": workflow_id, "lifecyclePolicy": LIFECYCLE}
    assert client.get(f"/api/v1/workflows/{workflow_id}/lifecycle").json()["lifecyclePolicy"] == LIFECYCLE
    bad = client.put(f"/api/v1/workflows/{workflow_id}/lifecycle", {"type": "idle-shutdown", "idleTimeoutMinutes": 1})
    assert bad.status == 422

    found = client.get("/api/v1/workflows/discover", params={"appId": "app_1"})
    assert found.status == 200
    [entry] = [d for d in found.json() if d["id"] == workflow_id]
    assert {"id", "name", "description", "trigger_type", "mode", "endpoints", "deployment"} <= set(entry)
    assert entry["endpoints"]["method"] == "POST"
    assert entry["endpoints"]["proxy_url"].endswith(f"/api/v1/workflows/{workflow_id}/trigger")
    assert client.get("/api/v1/workflows/discover", params={"appId": "other"}).json() == []

    shared = client.post(f"/api/v1/workflows/{workflow_id}/share", SHARE)
    assert shared.json() == {"message": "Workflow shared successfully", "workflowId": workflow_id,
                             "userId": "user_789"}
    shares = client.get(f"/api/v1/workflows/{workflow_id}/share").json()
    assert shares["workflowId"] == workflow_id and [s["userId"] for s in shares["sharedWith"]] == ["user_789"]
    assert shares["sharedWith"][0]["sharedAt"]
    assert client.get(f"/api/v1/workflows/{workflow_id}").json()["sharedWith"] == ["user_789"]
    assert client.delete(f"/api/v1/workflows/{workflow_id}/share/user_789").status == 204
    assert client.get(f"/api/v1/workflows/{workflow_id}/share").json()["sharedWith"] == []

    undeployed = client.post(f"/api/v1/workflows/{workflow_id}/undeploy")
    assert undeployed.json() == {"message": "Workflow undeployed successfully", "workflowId": workflow_id,
                                 "status": "draft"}

    templates = client.get("/api/v1/workflows/templates")
    assert templates.status == 200 and templates.json()["count"] == len(templates.json()["templates"]) > 0
    assert all({"id", "name", "description", "tags", "nodes", "connections", "createdAt"} <= set(t)
               for t in templates.json()["templates"])
    stats = client.get("/api/v1/workflows/stats")
    assert stats.status == 200 and {"total", "active", "paused", "draft", "archived"} <= set(stats.json())
    assert stats.json()["total"] >= stats.json()["draft"] >= 1


def test_scopes_of_the_document_are_enforced(client: StronglyClient, backend: Api) -> None:
    workflow_id = create(client, media_workflow())
    reader = client.with_key(backend.keys["a-read"])
    assert reader.get(f"/api/v1/workflows/{workflow_id}").status == 404  # not shared with it yet
    assert client.post(f"/api/v1/workflows/{workflow_id}/share", {"userId": key_id(backend, "a-read")}).status == 200
    assert reader.get(f"/api/v1/workflows/{workflow_id}").status == 200
    assert reader.post(f"/api/v1/workflows/{workflow_id}/deploy").status == 403
    assert reader.post(f"/api/v1/workflows/{workflow_id}/execute", EXECUTE).status == 403
    assert client.with_key(None).get("/api/v1/workflows").status == 401
    assert client.with_key(backend.keys["b"]).get(f"/api/v1/workflows/{workflow_id}").status == 404


@pytest.mark.parametrize(("body", "field"), [
    (dict(CREATE, status="running"), "status"),
    (dict(CREATE, tags="etl"), "tags"),
    (dict(CREATE, nodes=[{"id": "n1", "label": "no kind"}]), "nodes[0].nodeId"),
    (dict(CREATE, connections=[{"sourceNodeId": "a", "targetNodeId": "b", "targetPort": "ai"}]),
     "connections[0].targetPort"),
    (dict(CREATE, settings={"timeout": 5}), "settings.timeoutSeconds"),
])
def test_a_create_body_that_cannot_be_honoured_names_the_field(client: StronglyClient, body: dict[str, Any],
                                                              field: str) -> None:
    reply = client.post("/api/v1/workflows", body)
    assert reply.status == 422, reply.content[:300]
    assert reply.content_type.startswith("application/problem+json")
    assert field in [e["field"] for e in reply.json()["errors"]], reply.json()["errors"]
