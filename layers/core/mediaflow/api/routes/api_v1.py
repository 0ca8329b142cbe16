"""`/api/v1/workflows`: the entity-workflow API and Strongly.ai's workflow API on one router.

A body with ``steps`` is the entity API's, one with ``nodes``/``connections`` Strongly's; responses carry both
views (mediaflow.api.compat_v1). Handlers translate shapes and call the same services as `/v1`.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from mediaflow.api import compat_v1 as shapes
from mediaflow.api.deployments import DeploymentService
from mediaflow.api.executions import ExecutionService, trigger_node
from mediaflow.api.http import base_url, json_body
from mediaflow.api.routes import SecuredRouter, no_content
from mediaflow.api.runs import RunService
from mediaflow.api.workflows import WorkflowService, templates
from mediaflow.errors import NotFound

Id = Annotated[str, Path(min_length=1, max_length=140)]
READ, WRITE, EXECUTE = "workflows:read", "workflows:write", "workflows:execute"
TAGS = ["api-v1"]
P = "/api/v1/workflows"


router = SecuredRouter(in_schema=False)  # other products' contracts: docs/compat.md


def ok(body: Any, status: int = 200) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


def json_object() -> dict[str, Any]:
    """The request's JSON object body ({} when empty)."""
    data = json_body(router.raw_event)
    if not isinstance(data, dict):
        raise shapes.unprocessable("body", "must be a JSON object")
    return data


def service() -> WorkflowService:
    return WorkflowService(router.ctx)


def runs() -> RunService:
    return RunService(router.ctx)


def deployments() -> DeploymentService:
    return DeploymentService(router.ctx)


def body() -> dict[str, Any]:
    return json_object()

def full(record: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_view(record, router.tenant(), deployments().last_run_at(router.tenant(), record["id"]))


@router.secured("GET", P, READ, summary="List workflows (entity API and Strongly.ai)", tags=TAGS)
def list_workflows(
    status: Annotated[str | None, Query(pattern="^(draft|active|paused|archived)$")] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str, Query(pattern="^(createdAt|updatedAt|name):(asc|desc)$")] = "updatedAt:desc",
) -> Response[Any]:
    count, page = deployments().visible_page(router.principal(), status=status, tag=tag, search=search, sort=sort,
                                             limit=limit, offset=offset)
    views = [shapes.workflow_view(record, router.tenant(), last_run, full=False) for record, last_run in page]
    return ok({"count": count, "limit": limit, "offset": offset, "workflows": views})


@router.secured("POST", P, WRITE, summary="Create a workflow (steps + entityTypeId, or nodes + connections)",
                tags=TAGS, status_code=201)
def create_workflow() -> Response[Any]:
    data = shapes.checked(body())
    if data.get("steps") is not None and not data.get("entityTypeId"):
        raise shapes.unprocessable("entityTypeId", "required with `steps` (the entity type the workflow runs on)")
    if not data.get("name"):
        raise shapes.unprocessable("name", "required")
    raw = {**shapes.definition_in(data), "status": data.get("status") or "draft", "tags": data.get("tags") or []}
    extra = {"entityTypeId": data.get("entityTypeId"), "ownerId": router.principal().key_id,
             "config": data.get("config") or {},
             "isPublic": bool(data.get("isPublic")), "isTemplate": bool(data.get("isTemplate")),
             "shares": deployments().new_shares(data.get("sharedWith") or [])}
    record = service().create(router.tenant(), raw, extra={k: v for k, v in extra.items() if v is not None})
    return ok({"workflowId": record["id"], **full(record)}, 201)


# Paths below /api/v1/workflows that are not workflow ids (registered before `<workflow_id>`).


@router.secured("GET", f"{P}/templates", READ, summary="Workflow templates", tags=TAGS)
def list_templates() -> Response[Any]:
    found = [{"id": t["id"], "name": t["name"], "description": t.get("description"), "tags": t.get("tags") or [],
              "nodes": [shapes.node_out(n) for n in t["nodes"]],
              "connections": [shapes.connection_out(e) for e in t["edges"]], "createdAt": t.get("createdAt")}
             for t in templates().values()]
    return ok({"count": len(found), "templates": found})


@router.secured("GET", f"{P}/stats", READ, summary="Counts by status", tags=TAGS)
def workflow_stats() -> Response[Any]:
    return ok(service().stats(router.tenant()))


@router.secured("POST", f"{P}/events", EXECUTE, summary="Start every active workflow whose event trigger matches",
                tags=TAGS)
def fire_event() -> Response[Any]:
    data = json_object()
    event_type, event_data = data.get("event_type"), data.get("event_data") or {}
    if not isinstance(event_type, str) or not event_type or len(event_type) > 128:
        raise shapes.unprocessable("event_type", "required: the event type name")
    if not isinstance(event_data, dict):
        raise shapes.unprocessable("event_data", "must be an object")
    outcomes = ExecutionService(router.ctx).fire_event(router.principal(), event_type, event_data,
                                                       str(data.get("source") or "platform"))
    results = [{"workflowId": o["workflowId"], "workflowName": o.get("workflowName"),
                "executionId": o.get("runId"), **({"error": o["error"]} if "error" in o else {})}
               for o in outcomes]
    failed = sum(1 for o in outcomes if "error" in o)
    return ok({"event_type": event_type, "workflows_triggered": len(results) - failed, "workflows_failed": failed,
               "results": results})


@router.secured("GET", f"{P}/discover", READ, summary="Active workflows of an app and their trigger endpoints",
                tags=TAGS)
def discover(app_id: Annotated[str, Query(alias="appId", min_length=1, max_length=200)]) -> Response[Any]:
    base = base_url(router.raw_event)
    found = []
    for record in deployments().discover(router.principal(), app_id, base):
        trigger = (trigger_node(record) or {}).get("kind", "upload")
        state = deployments().deployment_view(record)
        found.append({"id": record["id"], "name": record.get("name"), "description": record.get("description"),
                      "trigger_type": trigger, "mode": "production",
                      "endpoints": {"proxy_url": f"{base}{P}/{record['id']}/trigger", "method": "POST"},
                      "deployment": {**{k: state[k] for k in ("runtime", "deploymentStatus")},
                                     "version": record["version"]}})
    return ok(found)


@router.secured("GET", f"{P}/<workflow_id>", READ, summary="A workflow: steps, nodes and connections", tags=TAGS)
def get_workflow(workflow_id: Id) -> Response[Any]:
    return ok(full(deployments().load(router.principal(), workflow_id)))


@router.secured("PUT", f"{P}/<workflow_id>", WRITE, summary="Update: fields left out keep their value",
                tags=TAGS)
def update_workflow(workflow_id: Id) -> Response[Any]:
    data = shapes.checked(body())
    current = deployments().load(router.principal(), workflow_id)
    definition = shapes.definition_in(data, current["definition"])
    changes = {key: data[key] for key in ("name", "description", "status", "tags") if data.get(key) is not None}
    extra: dict[str, Any] = {k: data[k] for k in ("entityTypeId", "config", "isPublic", "isTemplate") if k in data}
    saved = service().update(router.tenant(), workflow_id, changes, definition=definition, extra=extra)
    return ok(full(saved))


@router.secured("DELETE", f"{P}/<workflow_id>", WRITE, summary="Delete (runs are kept)", tags=TAGS,
                status_code=204)
def delete_workflow(workflow_id: Id) -> Response[Any]:
    deployments().load(router.principal(), workflow_id)
    service().delete(router.tenant(), workflow_id)
    return no_content()


@router.secured("POST", f"{P}/<workflow_id>/duplicate", WRITE, summary="Copy as a new draft", tags=TAGS,
                status_code=201)
def duplicate_workflow(workflow_id: Id) -> Response[Any]:
    current = deployments().load(router.principal(), workflow_id)
    extra = {"ownerId": router.principal().key_id, "entityTypeId": current.get("entityTypeId"),
             "config": current.get("config")}
    copy = service().duplicate(router.tenant(), workflow_id, extra={k: v for k, v in extra.items() if v is not None})
    return ok({"workflowId": copy["id"], **full(copy)}, 201)


@router.secured("PUT", f"{P}/<workflow_id>/status", WRITE, summary="Set the status", tags=TAGS)
def set_status(workflow_id: Id) -> Response[Any]:
    status = body().get("status")
    if status not in ("draft", "active", "paused", "archived"):
        raise shapes.unprocessable("status", "must be one of draft, active, paused, archived")
    deployments().load(router.principal(), workflow_id)
    return ok(full(service().update(router.tenant(), workflow_id, {"status": status})))


@router.secured("GET", f"{P}/<workflow_id>/versions", READ, summary="Versions with their author", tags=TAGS)
def list_versions(workflow_id: Id) -> Response[Any]:
    deployments().load(router.principal(), workflow_id)
    return ok(service().versions(router.tenant(), workflow_id))


@router.secured("POST", f"{P}/<workflow_id>/versions", WRITE, summary="Snapshot a tagged version", tags=TAGS,
                status_code=201)
def create_version(workflow_id: Id) -> Response[Any]:
    data = body()
    if not isinstance(data.get("versionTag"), str) or not data["versionTag"]:
        raise shapes.unprocessable("versionTag", "required")
    deployments().load(router.principal(), workflow_id)
    created = service().snapshot(router.tenant(), workflow_id, data["versionTag"][:64], data.get("description"),
                                 created_by=router.principal().key_id)
    return ok(created, 201)


@router.secured("POST", f"{P}/<workflow_id>/run", EXECUTE, summary="Run on stored entities (media keys)",
                tags=TAGS, status_code=202)
def run_entities(workflow_id: Id) -> Response[Any]:
    ids = body().get("entityIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise shapes.unprocessable("entityIds", "a non-empty array of stored media keys")
    deployments().load(router.principal(), workflow_id)
    tenant = router.tenant()
    keys = [key if key.startswith(f"{tenant}/") else f"{tenant}/{key.lstrip('/')}" for key in ids]
    started = runs().start(tenant, workflow_id, runs().media_from_keys(tenant, keys), base_url(
        router.raw_event))
    return ok({"jobId": started["runId"], "runId": started["runId"], "status": started["status"],
               "total": started["total"]}, 202)


@router.secured("GET", f"{P}/<workflow_id>/runs/<run_id>", READ, summary="Run status with item progress",
                tags=TAGS)
def run_status(workflow_id: Id, run_id: Id) -> Response[Any]:
    deployments().load(router.principal(), workflow_id)
    run = runs().get(router.tenant(), run_id, base_url(router.raw_event))
    if run["workflowId"] != workflow_id:
        raise NotFound(f"run {run_id!r} not found")
    return ok(shapes.run_view(run))


@router.secured("GET", f"{P}/<workflow_id>/nodes", READ, summary="Nodes with connection counts", tags=TAGS)
def list_nodes(workflow_id: Id) -> Response[Any]:
    deployments().load(router.principal(), workflow_id)
    listed = service().nodes(router.tenant(), workflow_id)
    keep = ("id", "type", "label", "category", "position", "hasConfig", "inboundConnections",
            "outboundConnections")
    return ok({**listed, "nodes": [{k: n[k] for k in keep} for n in listed["nodes"]]})


@router.secured("POST", f"{P}/<workflow_id>/nodes", WRITE, summary="Add a node by catalog nodeId", tags=TAGS,
                status_code=201)
def add_node(workflow_id: Id) -> Response[Any]:
    data = body()
    kind = data.get("nodeId") or data.get("nodeType")
    if not isinstance(kind, str) or not kind:
        raise shapes.unprocessable("nodeId", "required: a catalog node id (GET /v1/nodes)")
    added = deployments().add_node(router.principal(), workflow_id, {"kind": kind, "label": data.get("label"),
                                                      "config": data.get("config") or {},
                                                      "position": data.get("position")})
    view = added["node"]
    return ok({"nodeId": added["nodeId"], "workflowId": workflow_id, "node": {
        "id": view["id"], "type": view["type"], "category": view["category"], "label": view["label"],
        "nodeVersion": data.get("version") or "latest", "position": view["position"], "data": {},
        "config": view["config"]}}, 201)


@router.secured("PUT", f"{P}/<workflow_id>/nodes/<node_id>", WRITE, summary="Merge config into a node",
                tags=TAGS)
def configure_node(workflow_id: Id, node_id: Id) -> Response[Any]:
    data = body()
    wrapped = isinstance(data.get("config"), dict) or set(data) <= {"label", "position"}
    config = data.get("config") if wrapped else data
    deployments().load(router.principal(), workflow_id)
    result = service().update_node(router.tenant(), workflow_id, node_id, config,
                                   data.get("label") if wrapped else None, data.get("position") if wrapped else None,
                                   False)
    view = result["node"]
    return ok({"nodeId": node_id, "workflowId": workflow_id, "node": {
        "id": view["id"], "type": view["type"], "label": view["label"], "config": view["config"]}})


@router.secured("DELETE", f"{P}/<workflow_id>/nodes/<node_id>", WRITE,
                summary="Remove a node and its connections", tags=TAGS)
def remove_node(workflow_id: Id, node_id: Id) -> Response[Any]:
    deployments().load(router.principal(), workflow_id)
    result = service().remove_node(router.tenant(), workflow_id, node_id)
    return ok({"removed": True, "nodeId": node_id, "removedConnections": result["removedConnections"],
               "workflowId": workflow_id})


@router.secured("PUT", f"{P}/<workflow_id>/nodes/<node_id>/input-mappings", WRITE,
                summary="Fill config fields from run inputs, event data or metadata", tags=TAGS)
def input_mappings(workflow_id: Id, node_id: Id) -> Response[Any]:
    return _set_node_map(workflow_id, node_id, "mappings", "inputMappings", "config field -> source path")


@router.secured("PUT", f"{P}/<workflow_id>/nodes/<node_id>/passthrough-values", WRITE,
                summary="Copy run inputs into the node's output", tags=TAGS)
def passthrough_values(workflow_id: Id, node_id: Id) -> Response[Any]:
    return _set_node_map(workflow_id, node_id, "values", "passThroughValues", "output key -> input key")


def _set_node_map(workflow_id: str, node_id: str, body_field: str, node_field: str, pairs: str) -> Response[Any]:
    """Store the body's ``body_field`` object as the node's ``node_field`` (a 422 naming the field otherwise)."""
    value = body().get(body_field)
    if not isinstance(value, dict):
        raise shapes.unprocessable(body_field, f"required: an object of {pairs}")
    deployments().set_node_field(router.principal(), workflow_id, node_id, node_field, value)
    return ok({"nodeId": node_id, "workflowId": workflow_id, node_field: value})


@router.secured("POST", f"{P}/<workflow_id>/connections", WRITE, summary="Connect two nodes (ports)",
                tags=TAGS, status_code=201)
def connect(workflow_id: Id) -> Response[Any]:
    data = body()
    if not data.get("sourceNodeId") or not data.get("targetNodeId"):
        raise shapes.unprocessable("sourceNodeId", "sourceNodeId and targetNodeId are required")
    edge = shapes.edge_from_ports(data["sourceNodeId"], data["targetNodeId"], data.get("sourcePort"),
                                  data.get("targetPort"))
    deployments().load(router.principal(), workflow_id)
    result = service().connect(router.tenant(), workflow_id, edge["source"], edge["target"], edge.get("kind"))
    return ok({"connectionId": result["connectionId"], "workflowId": workflow_id, "connection": {
        "id": result["connectionId"], "source": edge["source"], "target": edge["target"],
        "sourcePort": edge.get("kind") or "output", "targetPort": "input"}}, 201)


@router.secured("DELETE", f"{P}/<workflow_id>/connections/<connection_id>", WRITE,
                summary="Remove a connection (id `source~target`)", tags=TAGS)
def disconnect(workflow_id: Id, connection_id: Id) -> Response[Any]:
    deployments().load(router.principal(), workflow_id)
    service().disconnect(router.tenant(), workflow_id, connection_id)
    return ok({"removed": True, "connectionId": connection_id, "workflowId": workflow_id})


@router.secured("POST", f"{P}/<workflow_id>/validate", READ, summary="Errors and warnings per node", tags=TAGS)
def validate_workflow(workflow_id: Id) -> Response[Any]:
    deployments().load(router.principal(), workflow_id)
    checked = service().check(router.tenant(), workflow_id)
    return ok({"workflowId": workflow_id, "valid": checked["valid"],
               "errors": [shapes.issue_out(i) for i in checked["errors"]],
               "warnings": [shapes.issue_out(i) for i in checked["warnings"]],
               "nodeCount": checked["nodeCount"], "connectionCount": checked["connectionCount"]})


@router.secured("POST", f"{P}/<workflow_id>/layout", WRITE, summary="Left-to-right layered layout", tags=TAGS)
def layout_workflow(workflow_id: Id) -> Response[Any]:
    changed, moved = deployments().layout(router.principal(), workflow_id)
    return ok({"workflowId": workflow_id, "changed": changed, "nodesRepositioned": moved})


@router.secured("POST", f"{P}/<workflow_id>/compute-scopes", WRITE, summary="What the workflow needs",
                tags=TAGS)
def compute_scopes(workflow_id: Id) -> Response[Any]:
    return ok({"workflowId": workflow_id, "scopes": deployments().compute_scopes(router.principal(), workflow_id)})


@router.secured("POST", f"{P}/<workflow_id>/deploy", WRITE, summary="Publish the state machine; triggers on",
                tags=TAGS)
def deploy(workflow_id: Id) -> Response[Any]:
    saved = deployments().deploy(router.principal(), workflow_id)
    return ok({"message": "Workflow deployed successfully", "workflowId": workflow_id, "status": saved["status"]})


@router.secured("POST", f"{P}/<workflow_id>/undeploy", WRITE, summary="Remove the state machine; draft",
                tags=TAGS)
def undeploy(workflow_id: Id) -> Response[Any]:
    saved = deployments().undeploy(router.principal(), workflow_id)
    return ok({"message": "Workflow undeployed successfully", "workflowId": workflow_id,
               "status": saved["status"]})


@router.secured("POST", f"{P}/<workflow_id>/stop", WRITE, summary="Turn every trigger off", tags=TAGS)
def stop(workflow_id: Id) -> Response[Any]:
    saved = deployments().stop(router.principal(), workflow_id)
    status = deployments().deployment_view(saved)["deploymentStatus"]
    return ok({"workflowId": workflow_id, "deploymentStatus": status})


@router.secured("POST", f"{P}/<workflow_id>/start", WRITE, summary="Turn the triggers back on", tags=TAGS)
def start(workflow_id: Id) -> Response[Any]:
    replicas = body().get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= 1000:
        raise shapes.unprocessable("replicas", "an integer from 0 to 1000")
    saved = deployments().start(router.principal(), workflow_id, replicas)
    status = deployments().deployment_view(saved)["deploymentStatus"]
    return ok({"workflowId": workflow_id, "deploymentStatus": status, "replicas": replicas})


@router.secured("GET", f"{P}/<workflow_id>/lifecycle", READ, summary="Lifecycle policy and status", tags=TAGS)
def get_lifecycle(workflow_id: Id) -> Response[Any]:
    record = deployments().load(router.principal(), workflow_id)
    state = deployments().deployment_view(record)
    return ok({"workflowId": workflow_id, **{k: state[k] for k in ("lifecyclePolicy", "deploymentStatus",
                                                                   "stoppedReason")}})


@router.secured("PUT", f"{P}/<workflow_id>/lifecycle", WRITE, summary="Set the lifecycle policy", tags=TAGS)
def put_lifecycle(workflow_id: Id) -> Response[Any]:
    policy = deployments().put_lifecycle(router.principal(), workflow_id, body())
    return ok({"workflowId": workflow_id, "lifecyclePolicy": policy})


@router.secured("GET", f"{P}/<workflow_id>/share", READ, summary="Keys the workflow is shared with", tags=TAGS)
def list_shares(workflow_id: Id) -> Response[Any]:
    return ok({"workflowId": workflow_id, "sharedWith": deployments().shares(router.principal(), workflow_id)})


@router.secured("POST", f"{P}/<workflow_id>/share", WRITE, summary="Share with another key of the tenant",
                tags=TAGS)
def share(workflow_id: Id) -> Response[Any]:
    user_id = body().get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise shapes.unprocessable("userId", "required: the key id (user) to share with")
    deployments().share(router.principal(), workflow_id, user_id)
    return ok({"message": "Workflow shared successfully", "workflowId": workflow_id, "userId": user_id})


@router.secured("DELETE", f"{P}/<workflow_id>/share/<sub_id>", WRITE, summary="Stop sharing", tags=TAGS,
                status_code=204)
def unshare(workflow_id: Id, sub_id: Id) -> Response[Any]:
    deployments().unshare(router.principal(), workflow_id, sub_id)
    return no_content()


def executions() -> ExecutionService:
    return ExecutionService(router.ctx)


def inputs_of(data: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if data.get(name) is not None:
            if not isinstance(data[name], dict):
                raise shapes.unprocessable(name, "must be an object")
            return dict(data[name])
    return {}


@router.secured("POST", f"{P}/<workflow_id>/execute", EXECUTE, summary="A test run (optionally of a definition "
                "given for this run only)", tags=TAGS, status_code=201)
def execute(workflow_id: Id) -> Response[Any]:
    data = json_object()
    override = inputs_of(data, "definition")
    definition = None
    if override.get("nodes"):  # the documented empty definition overrides nothing
        current = executions().deployments.load(router.principal(), workflow_id)["definition"]
        definition = shapes.definition_in(override, current)
    run_id = executions().execute(router.principal(), workflow_id, definition, inputs_of(data, "triggerInputs"),
                                  router.base_url())
    return ok({"executionId": run_id}, 201)


@router.secured("POST", f"{P}/<workflow_id>/trigger", EXECUTE, summary="A production run; sync waits for it",
                tags=TAGS)
def trigger(workflow_id: Id) -> Response[Any]:
    data = json_object()
    sync = data.get("sync", False)
    if not isinstance(sync, bool):
        raise shapes.unprocessable("sync", "must be true or false")
    return ok(executions().trigger(router.principal(), workflow_id, inputs_of(data, "inputs"), sync, router.base_url()))


@router.secured("POST", f"{P}/<workflow_id>/email-trigger", EXECUTE,
                summary="An inbound email: each media attachment starts a run", tags=TAGS, status_code=201)
def email_trigger(workflow_id: Id) -> Response[Any]:
    run_ids = executions().email(router.principal(), workflow_id, json_object(), router.base_url())
    return ok({"executionId": run_ids[0] if run_ids else None, "executionIds": run_ids,
               "trigger_type": "email"}, 201)


@router.secured("POST", f"{P}/<workflow_id>/enqueue", EXECUTE, summary="A message on the workflow's queue trigger",
                tags=TAGS, status_code=201)
def enqueue(workflow_id: Id) -> Response[Any]:
    data = json_object()
    message = data.get("message", data.get("data"))
    if message is None:  # the whole body is the message when neither field is given
        message = {k: v for k, v in data.items() if k not in ("priority", "source")}
    if not isinstance(message, dict):
        raise shapes.unprocessable("message", "must be an object")
    priority = data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -1000 <= priority <= 1000:
        raise shapes.unprocessable("priority", "an integer from -1000 to 1000")
    message_id, run_id = executions().enqueue(router.principal(), workflow_id, message, priority,
                                              str(data.get("source") or "rest_api"))
    return ok({"executionId": run_id, "trigger_type": "queue", "messageId": message_id}, 201)
