"""Mindia (doc 003) under /api/v0: workflows of plugin steps with upload filters, partial updates,
triggers on stored media and executions. Every call lands on the /v1 use cases; docs/compat.md has the
table (a ``folder_id`` is a key prefix below the tenant's uploads/, a ``media_id`` names a stored key)."""

from __future__ import annotations

import contextlib
import re
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from mediaflow.api.compat import EXECUTE, READ, WRITE, field_problem, json_reply, product_paths, refuse_unhonoured
from mediaflow.api.http import base_url
from mediaflow.api.routes import SecuredRouter
from mediaflow.api.runs import RunService
from mediaflow.api.workflows import WorkflowService, view
from mediaflow.compat import media_id, media_key, mindia_trigger, to_mindia_filters, to_mindia_steps
from mediaflow.errors import NotFound
from mediaflow.media import MediaRef

router = SecuredRouter("mindia", in_schema=False)  # other products' contracts: docs/compat.md, not /v1's OpenAPI
Id = Annotated[str, Path(min_length=1, max_length=512)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
TAGS = ["mindia"]
STEP_STATUS = {"completed": "completed", "failed": "failed", "skipped": "cancelled"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MindiaStep(_Strict):
    id: str | None = Field(default=None, max_length=64)
    action: Literal["plugin"] = "plugin"
    plugin_name: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    config: dict[str, Any] | None = None
    enabled: bool | None = None


class MindiaWorkflowIn(_Strict):
    """Create and (partial) update: the same body; on PUT an omitted field keeps its value."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    enabled: bool | None = None
    trigger_on_upload: bool | None = None
    stop_on_failure: bool | None = None
    media_types: list[Literal["image", "video", "audio", "document"]] | None = None
    folder_ids: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")]] | None = None
    content_types: list[str] | None = None
    metadata_filter: dict[str, str] | None = None
    steps: list[MindiaStep] | None = Field(default=None, max_length=100)


def _step_path(path: str) -> str:
    """A canonical validation path in Mindia's terms (node k is step k-1: node 0 is the upload trigger)."""
    found = re.match(r"^nodes\[(\d+)\](?:\.(kind|config))?(.*)$", path)
    if not found or found.group(1) == "0":
        return path or "steps"
    field_name = {"kind": ".plugin_name", "config": ".config", None: ""}[found.group(2)]
    return f"steps[{int(found.group(1)) - 1}]{field_name}{found.group(3)}"


def mindia_workflow(workflow: dict[str, Any]) -> dict[str, Any]:
    """A workflow view (api.workflows.view) in Mindia's shape."""
    return {"id": workflow["id"], "name": workflow["name"], "description": workflow.get("description"),
            "enabled": workflow["status"] == "active", **to_mindia_filters(workflow),
            "stop_on_failure": bool(workflow["settings"].get("stopOnFailure", True)),
            "steps": to_mindia_steps(workflow), "created_at": workflow["createdAt"],
            "updated_at": workflow["updatedAt"]}


def mindia_execution(run: dict[str, Any], tenant: str, keys: list[str]) -> dict[str, Any]:
    """A run (RunService.get) and the keys it started on, as a Mindia workflow execution."""
    return {"id": run["runId"], "workflow_id": run["workflowId"], "workflow_version": run["version"],
            "media_id": media_id(tenant, keys[0]) if keys else None, "status": run["status"],
            "steps": [{"node_id": s.get("nodeId"), "plugin_name": s.get("kind"),
                       "status": STEP_STATUS.get(str(s.get("status")), s.get("status")),
                       "error": s.get("errorMessage"), "output": s.get("output")} for s in run.get("steps", [])],
            "outputs": run.get("outputs", []), "error": run.get("error"), "created_at": run.get("createdAt"),
            "started_at": run.get("startedAt"), "completed_at": run.get("endedAt")}


def _workflow_body(fields: dict[str, Any]) -> dict[str, Any]:
    steps = fields.get("steps")
    raw = {**fields, "steps": [{k: v for k, v in s.items() if v is not None} for s in steps or []]}
    refuse_unhonoured(raw, _step_path)
    return raw


def _stored(runs: RunService, tenant: str, identifier: str) -> list[MediaRef]:
    """The media a ``media_id`` names: an execution's ``media_id``, else the uploadId of POST /v1/uploads."""
    key = media_key(tenant, identifier)
    if key is not None:
        with contextlib.suppress(NotFound):
            return runs.media_from_keys(tenant, [key])
    try:
        return runs.media_from_upload(tenant, identifier)
    except NotFound:
        raise field_problem("media_id", "no stored media has this id (an execution's media_id or an uploadId)",
                            404) from None


def _execution(tenant: str, run_id: str) -> dict[str, Any]:
    runs = RunService(router.ctx)
    return mindia_execution(runs.get(tenant, run_id, base_url(router.raw_event)), tenant,
                            runs.input_keys(tenant, run_id))


@router.secured("POST", "/api/v0/workflows", WRITE, summary="Mindia: create a workflow", tags=TAGS)
def create_workflow(body: MindiaWorkflowIn) -> Response[str]:
    for required in ("name", "steps"):
        if getattr(body, required) is None:
            raise field_problem(required, "required when creating a workflow")
    raw = _workflow_body(body.model_dump(exclude_unset=True))
    with product_paths(_step_path):
        record = WorkflowService(router.ctx).create(router.tenant(), raw)
    return json_reply(mindia_workflow(view(record)), 201)


@router.secured("GET", "/api/v0/workflows", READ, summary="Mindia: list workflows", tags=TAGS)
def list_workflows(limit: Limit = 50, offset: Offset = 0) -> Response[str]:
    page = WorkflowService(router.ctx).list(router.tenant(), status=None, tag=None, search=None,
                                            sort="createdAt:desc", limit=limit, offset=offset, cursor=None)
    return json_reply({"workflows": [mindia_workflow(w) for w in page["workflows"]], "total": page["count"],
                       "limit": limit, "offset": offset})


@router.secured("GET", "/api/v0/workflows/<workflow_id>", READ, summary="Mindia: get a workflow", tags=TAGS)
def get_workflow(workflow_id: Id) -> Response[str]:
    return json_reply(mindia_workflow(WorkflowService(router.ctx).get(router.tenant(), workflow_id)))


@router.secured("PUT", "/api/v0/workflows/<workflow_id>", WRITE, summary="Mindia: partial update", tags=TAGS)
def update_workflow(workflow_id: Id, body: MindiaWorkflowIn) -> Response[str]:
    service, sent = WorkflowService(router.ctx), body.model_dump(exclude_unset=True)
    workflow = service.get(router.tenant(), workflow_id)
    merged = {k: v for k, v in mindia_workflow(workflow).items() if k in MindiaWorkflowIn.model_fields} | sent
    with product_paths(_step_path):
        if "steps" in sent:  # a new list of steps replaces the graph
            record = service.replace(router.tenant(), workflow_id, _workflow_body(merged), None)
        else:  # the graph is kept as it is (it may branch, which steps cannot say)
            definition = {"nodes": workflow["nodes"], "edges": workflow["edges"], "trigger": mindia_trigger(merged),
                          "settings": {**workflow["settings"], "stopOnFailure": bool(merged["stop_on_failure"])}}
            status = {"status": "active" if merged["enabled"] else "paused"} if "enabled" in sent else {}
            changes = {"name": merged["name"], "description": merged["description"], **status}
            record = service.update(router.tenant(), workflow_id, changes, definition=definition)
    return json_reply(mindia_workflow(view(record)))


@router.secured("DELETE", "/api/v0/workflows/<workflow_id>", WRITE, summary="Mindia: delete a workflow",
                tags=TAGS, status_code=204)
def delete_workflow(workflow_id: Id) -> Response[None]:
    WorkflowService(router.ctx).delete(router.tenant(), workflow_id)
    return Response(status_code=204, content_type="application/json", body=None)


@router.secured("POST", "/api/v0/workflows/<workflow_id>/trigger/<media>", EXECUTE, tags=TAGS,
                summary="Mindia: run on stored media; returns the new execution")
def trigger(workflow_id: Id, media: Id) -> Response[str]:
    tenant, runs = router.tenant(), RunService(router.ctx)
    started = runs.start(tenant, workflow_id, _stored(runs, tenant, media), base_url(router.raw_event))
    return json_reply(_execution(tenant, started["runId"]), 201)


@router.secured("GET", "/api/v0/workflows/<workflow_id>/executions", READ, summary="Mindia: executions",
                tags=TAGS)
def list_executions(workflow_id: Id, limit: Limit = 50, offset: Offset = 0) -> Response[str]:
    tenant = router.tenant()
    found = RunService(router.ctx).runs_of(tenant, workflow_id, min(limit + offset, 1000))["runs"][offset:]
    return json_reply({"executions": [_execution(tenant, r["runId"]) for r in found], "limit": limit,
                       "offset": offset})


@router.secured("GET", "/api/v0/workflow-executions/<execution_id>", READ, summary="Mindia: one execution",
                tags=TAGS)
def get_execution(execution_id: Id) -> Response[str]:
    return json_reply(_execution(router.tenant(), execution_id))
