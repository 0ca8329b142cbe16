"""Shapes of the `/api/v1` compatibility API, translated to and from mediaflow's canonical workflow.

Two products share `/api/v1/workflows`: the entity-workflow API (a linear ``steps`` list and
``entityTypeId``) and Strongly.ai (``nodes[] {id, nodeId, label, position, config}`` and ``connections[]
{sourceNodeId, sourcePort, targetNodeId, targetPort}``). A body with ``steps`` is the entity API's; every
response carries both views. Translation only: storing, validating and running stay in the services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mediaflow.api.problems import ApiProblem
from mediaflow.catalog import get_spec

STEP_TYPES = ("ai_generate", "validate", "publish", "notify", "transform", "condition")
TRIGGER_ID = "trigger"
SOURCE_PORTS = ("output", "true", "false")
TARGET_PORTS = ("input",)


class WorkflowFields(BaseModel):
    """The typed fields of a create or update body of either product (nodes and steps are checked by
    translation and validation); anything else is refused by the definition's own model."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: Literal["draft", "active", "paused", "archived"] | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    entityTypeId: str | None = Field(default=None, min_length=1, max_length=200)  # noqa: N815 (the wire name)
    config: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    sharedWith: list[str] | None = Field(default=None, max_length=100)  # noqa: N815
    isPublic: bool | None = None  # noqa: N815
    isTemplate: bool | None = None  # noqa: N815


def checked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` once its typed fields hold (422 naming the field otherwise)."""
    WorkflowFields.model_validate(body)
    return body


def unprocessable(field: str, message: str) -> ApiProblem:
    return ApiProblem(422, f"{field}: {message}", code="RequestValidation",
                      errors=[{"field": field, "path": field, "message": message}])


# -- entity-workflow API: steps -------------------------------------------------------------------------


def steps_definition(steps: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges of a linear workflow: an upload trigger, then each step in order."""
    nodes: list[dict[str, Any]] = [{"id": TRIGGER_ID, "kind": "upload"}]
    edges: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise unprocessable(f"steps[{index}]", "each step is an object with `type` and `config`")
        kind = step.get("type")
        if kind not in STEP_TYPES:
            raise unprocessable(f"steps[{index}].type", f"must be one of {', '.join(STEP_TYPES)}")
        config = step.get("config", {})
        if not isinstance(config, dict):
            raise unprocessable(f"steps[{index}].config", "must be an object")
        node_id = str(step.get("id") or f"step-{index + 1}")
        nodes.append({"id": node_id, "kind": kind, "config": config})
        edges.append({"source": nodes[-2]["id"], "target": node_id})
    return nodes, edges


def steps_view(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The ordered steps of any workflow: its non-trigger nodes in a topological order."""
    return [{"id": node["id"], "type": node["kind"], "config": node.get("config") or {}}
            for node in ordered_nodes(definition) if not _is_trigger(node)]


def _is_trigger(node: dict[str, Any]) -> bool:
    spec = get_spec(str(node.get("kind")))
    return spec is not None and spec.role == "trigger"


def ordered_nodes(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Nodes in a stable topological order (Kahn's algorithm, ties in definition order)."""
    nodes = definition.get("nodes", [])
    ids = [n["id"] for n in nodes]
    indegree = dict.fromkeys(ids, 0)
    children: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for edge in definition.get("edges", []):
        if edge.get("source") in children and edge.get("target") in indegree:
            children[edge["source"]].append(edge["target"])
            indegree[edge["target"]] += 1
    ready = [node_id for node_id in ids if indegree[node_id] == 0]
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for child in children[current]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    order += [node_id for node_id in ids if node_id not in order]  # cycles: kept, validation reports them
    by_id = {n["id"]: n for n in nodes}
    return [by_id[node_id] for node_id in order]


# -- Strongly: nodes, connections, settings ---------------------------------------------------------------


def node_in(node: Any, index: int) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise unprocessable(f"nodes[{index}]", "each node is an object")
    kind = node.get("nodeId") or node.get("nodeType") or node.get("kind") or node.get("type")
    if not kind:
        raise unprocessable(f"nodes[{index}].nodeId", "the catalog node id (a mediaflow node kind) is required")
    if not node.get("id"):
        raise unprocessable(f"nodes[{index}].id", "required")
    out: dict[str, Any] = {"id": node["id"], "kind": kind}
    for key in ("label", "position", "config", "inputMappings", "passThroughValues"):
        if node.get(key) is not None:
            out[key] = node[key]
    return out


def node_out(node: dict[str, Any]) -> dict[str, Any]:
    out = {"id": node["id"], "nodeId": node["kind"], "label": node.get("label") or _catalog_name(node["kind"]),
           "position": node.get("position") or {"x": 0, "y": 0}, "config": node.get("config") or {}}
    for key in ("inputMappings", "passThroughValues"):
        if node.get(key):
            out[key] = node[key]
    return out


def _catalog_name(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def edge_in(connection: Any, index: int) -> dict[str, Any]:
    where = f"connections[{index}]"
    if not isinstance(connection, dict):
        raise unprocessable(where, "each connection is an object")
    source = connection.get("sourceNodeId") or connection.get("source")
    target = connection.get("targetNodeId") or connection.get("target")
    if not source or not target:
        raise unprocessable(f"{where}.sourceNodeId", "sourceNodeId and targetNodeId are required")
    return edge_from_ports(source, target, connection.get("sourcePort"), connection.get("targetPort"), where)


def edge_from_ports(source: str, target: str, source_port: Any, target_port: Any, where: str = "body"
                    ) -> dict[str, Any]:
    """An edge; ports are `output`/`input`, and `true`/`false` out of a branch."""
    if source_port is not None and str(source_port) not in SOURCE_PORTS:
        raise unprocessable(f"{where}.sourcePort", f"must be one of {', '.join(SOURCE_PORTS)}")
    if target_port is not None and str(target_port) not in TARGET_PORTS:
        raise unprocessable(f"{where}.targetPort", "mediaflow nodes have one input port, `input` "
                                                   "(agent ports such as ai or tools do not exist here)")
    edge: dict[str, Any] = {"source": source, "target": target}
    if str(source_port) in ("true", "false"):
        edge["kind"] = str(source_port)
    return edge


def connection_out(edge: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{edge['source']}~{edge['target']}", "sourceNodeId": edge["source"],
            "sourcePort": edge.get("kind") or "output", "targetNodeId": edge["target"], "targetPort": "input"}


def settings_in(settings: Any, current: dict[str, Any]) -> dict[str, Any]:
    """Strongly's ``{timeout, retryOnFailure, maxRetries}`` (and canonical keys) merged onto ``current``."""
    if not isinstance(settings, dict):
        raise unprocessable("settings", "must be an object")
    merged = dict(current)
    retry = dict(merged.get("retry") or {})
    for key, value in settings.items():
        if key == "timeout":
            merged["timeoutSeconds"] = value
        elif key == "maxRetries":
            retry["maxAttempts"] = value
        elif key == "retryOnFailure":
            if value is True and not retry.get("maxAttempts") and "maxRetries" not in settings:
                retry["maxAttempts"] = 2
        else:
            merged[key] = value
    if settings.get("retryOnFailure") is False:  # whatever maxRetries says
        retry["maxAttempts"] = 0
    if retry:
        merged["retry"] = retry
    return merged


def settings_out(settings: dict[str, Any]) -> dict[str, Any]:
    attempts = int((settings.get("retry") or {}).get("maxAttempts", 2))
    return {"timeout": settings.get("timeoutSeconds"), "retryOnFailure": attempts > 0, "maxRetries": attempts,
            **{k: v for k, v in settings.items() if k not in ("timeoutSeconds",)}}


def definition_in(body: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The canonical definition of a body of either product, fields absent from it kept from ``current``."""
    definition = dict(current or {})
    for key in ("name", "description"):
        if body.get(key) is not None:
            definition[key] = body[key]
    if body.get("steps") is not None:
        if not isinstance(body["steps"], list):
            raise unprocessable("steps", "must be an array")
        definition["nodes"], definition["edges"] = steps_definition(body["steps"])
        return definition
    if body.get("nodes") is not None:
        if not isinstance(body["nodes"], list):
            raise unprocessable("nodes", "must be an array")
        definition["nodes"] = [node_in(node, index) for index, node in enumerate(body["nodes"])]
        if body.get("connections") is None and body.get("edges") is None:  # keep the edges still possible
            ids = {n["id"] for n in definition["nodes"]}
            definition["edges"] = [e for e in definition.get("edges", []) if e["source"] in ids and e["target"] in ids]
    connections = body.get("connections") if body.get("connections") is not None else body.get("edges")
    if connections is not None:
        if not isinstance(connections, list):
            raise unprocessable("connections", "must be an array")
        definition["edges"] = [edge_in(c, index) for index, c in enumerate(connections)]
    if body.get("settings") is not None:
        definition["settings"] = settings_in(body["settings"], definition.get("settings") or {})
    if body.get("trigger") is not None:
        definition["trigger"] = body["trigger"]
    definition.setdefault("nodes", [])
    definition.setdefault("edges", [])
    return definition


# -- responses ------------------------------------------------------------------------------------------


def millis(iso: str | None) -> int | None:
    if not iso:
        return None
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def shared_ids(record: dict[str, Any]) -> list[str]:
    return [str(share["userId"]) for share in record.get("shares") or []]


def workflow_view(record: dict[str, Any], tenant: str, last_run_at: str | None, *, full: bool = True
                  ) -> dict[str, Any]:
    """Both products' view of one stored workflow."""
    definition = record.get("definition") or {}
    view: dict[str, Any] = {
        "id": record["id"], "name": record.get("name") or definition.get("name") or "",
        "description": record.get("description") or definition.get("description"),
        "status": record.get("status", "draft"), "version": record["version"], "tags": record.get("tags") or [],
        "organizationId": tenant, "ownerId": record.get("ownerId"),
        "isPublic": bool(record.get("isPublic")), "isTemplate": bool(record.get("isTemplate")),
        "entityTypeId": record.get("entityTypeId"), "stepsCount": len(steps_view(definition)),
        "lastRunAt": millis(last_run_at), "valid": bool(record.get("valid", True)),
        "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
    }
    if full:
        view.update({
            "nodes": [node_out(n) for n in definition.get("nodes", [])],
            "connections": [connection_out(e) for e in definition.get("edges", [])],
            "config": record.get("config") or {}, "settings": settings_out(definition.get("settings") or {}),
            "sharedWith": shared_ids(record), "steps": steps_view(definition),
            "scopes": record.get("scopes") or [],
        })
    return view


def issue_out(issue: dict[str, Any]) -> dict[str, Any]:
    """A validation issue as Strongly reports it: ``{type, message, nodeId}`` (plus our path)."""
    return {"type": str(issue["code"]).replace("_", "-"), "message": issue["message"],
            "nodeId": issue.get("nodeId"), "path": issue.get("path")}


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    """The entity API's run status from a /v1 run."""
    return {"id": run["runId"], "jobId": run["runId"], "workflowId": run["workflowId"], "status": run["status"],
            "progress": {k: run["progress"][k] for k in ("total", "completed", "failed")},
            "startedAt": millis(run.get("startedAt") or run.get("createdAt")),
            "completedAt": millis(run.get("endedAt")),
            "error": run.get("error")}
