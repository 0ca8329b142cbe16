"""Workflows: CRUD with optimistic concurrency, status, duplicate, validate, plan, versions and diffs,
templates, stats, node and connection editing, and events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from mediaflow.api.models import (
    ConnectionIn,
    ConnectionResult,
    EventIn,
    EventResult,
    FromTemplate,
    NodeIn,
    NodeList,
    NodeResult,
    NodeUpdate,
    StatusChange,
    TemplateList,
    ValidationResult,
    VersionCreated,
    VersionIn,
    VersionList,
    Workflow,
    WorkflowDiff,
    WorkflowInput,
    WorkflowList,
    WorkflowPatch,
    WorkflowPlan,
    WorkflowStats,
)
from mediaflow.api.routes import no_content, reply
from mediaflow.api.workflows import WorkflowService, etag, parse_if_match, templates, view
from mediaflow.ids import new_run_id
from mediaflow.starts import start_event

if TYPE_CHECKING:
    from mediaflow.api.app import MediaflowResolver

WorkflowId = Annotated[str, Path(min_length=1, max_length=64)]
Version = Annotated[int, Path(ge=1, le=2_147_483_647)]
Sort = Literal["updatedAt:desc", "updatedAt:asc", "createdAt:desc", "createdAt:asc", "name:asc", "name:desc"]
READ, WRITE, EXECUTE = "workflows:read", "workflows:write", "workflows:execute"
TAGS = ["workflows"]


def register(app: MediaflowResolver) -> None:
    service = WorkflowService(app.ctx)

    def tenant() -> str:
        return app.principal().tenant

    def if_match() -> int | None:
        return parse_if_match(app.current_event.headers.get("if-match") or app.current_event.headers.get("If-Match"))

    def workflow_reply(record: dict[str, Any], status: int = 200) -> Response[Any]:
        return reply(Workflow, view(record), status, {"ETag": etag(record)})

    @app.secured("GET", "/v1/workflows", READ, summary="List workflows", tags=TAGS)
    def list_workflows(
        status: Annotated[Literal["draft", "active", "paused", "archived"] | None, Query()] = None,
        tag: Annotated[str | None, Query(max_length=100)] = None,
        search: Annotated[str | None, Query(max_length=200)] = None,
        sort: Annotated[Sort, Query()] = "updatedAt:desc",
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response[WorkflowList]:
        page = service.list(tenant(), status=status, tag=tag, search=search, sort=sort, limit=limit, offset=offset,
                            cursor=cursor)
        return reply(WorkflowList, page)

    @app.secured("POST", "/v1/workflows", WRITE, summary="Create a workflow (canonical, Convertly or Mindia shape)",
                 tags=TAGS, status_code=201)
    def create_workflow(body: WorkflowInput) -> Response[Workflow]:
        record = service.create(tenant(), body.model_dump(by_alias=True, exclude_unset=True))
        return workflow_reply(record, 201)

    @app.secured("GET", "/v1/workflows/templates", READ, summary="Workflow templates", tags=TAGS)
    def list_templates() -> Response[TemplateList]:
        found = list(templates().values())
        return reply(TemplateList, {"count": len(found), "templates": found})

    @app.secured("POST", "/v1/workflows/templates/<template_id>", WRITE, summary="Create a workflow from a template",
                 tags=TAGS, status_code=201)
    def create_from_template(template_id: WorkflowId, body: FromTemplate) -> Response[Workflow]:
        return workflow_reply(service.from_template(tenant(), template_id, body.name, body.status), 201)

    @app.secured("GET", "/v1/workflows/stats", READ, summary="Counts by status", tags=TAGS)
    def workflow_stats() -> Response[WorkflowStats]:
        return reply(WorkflowStats, service.stats(tenant()))

    @app.secured("POST", "/v1/workflows/events", EXECUTE, summary="Fire active workflows with a matching event "
                 "trigger", tags=TAGS)
    def fire_event(body: EventIn) -> Response[EventResult]:
        results = start_event(tenant(), body.event_name, body.data, body.source, launcher=app.ctx.launcher,
                              workflows=app.ctx.workflows.list(tenant(), status="active", limit=1000),
                              new_run_id=new_run_id)
        failed = sum(1 for result in results if "error" in result)
        return reply(EventResult, {"eventName": body.event_name, "workflowsTriggered": len(results) - failed,
                                   "workflowsFailed": failed, "results": results})

    @app.secured("GET", "/v1/workflows/<workflow_id>", READ, summary="Get a workflow", tags=TAGS)
    def get_workflow(workflow_id: WorkflowId) -> Response[Workflow]:
        data = service.get(tenant(), workflow_id)
        return reply(Workflow, data, 200, {"ETag": f'"{data["version"]}"'})

    @app.secured("PUT", "/v1/workflows/<workflow_id>", WRITE, summary="Replace a workflow (If-Match or version)",
                 tags=TAGS)
    def replace_workflow(workflow_id: WorkflowId, body: WorkflowInput) -> Response[Workflow]:
        raw = body.model_dump(by_alias=True, exclude_unset=True)
        return workflow_reply(service.replace(tenant(), workflow_id, raw, if_match()))

    @app.secured("PATCH", "/v1/workflows/<workflow_id>", WRITE, summary="Change name, description, tags or "
                 "isActive", tags=TAGS)
    def patch_workflow(workflow_id: WorkflowId, body: WorkflowPatch) -> Response[Workflow]:
        changes = body.model_dump(exclude_none=True)
        if body.is_active is not None and body.status is None:
            changes["status"] = "active" if body.is_active else "paused"
        expected = if_match() if body.version is None else body.version
        return workflow_reply(service.update(tenant(), workflow_id, changes, expected))

    @app.secured("DELETE", "/v1/workflows/<workflow_id>", WRITE, summary="Delete a workflow (runs are kept)",
                 tags=TAGS, status_code=204)
    def delete_workflow(workflow_id: WorkflowId) -> Response[None]:
        service.delete(tenant(), workflow_id)
        return no_content()

    @app.secured("PUT", "/v1/workflows/<workflow_id>/status", WRITE, summary="Set the status", tags=TAGS)
    def set_status(workflow_id: WorkflowId, body: StatusChange) -> Response[Workflow]:
        return workflow_reply(service.update(tenant(), workflow_id, {"status": body.status}, if_match()))

    @app.secured("POST", "/v1/workflows/<workflow_id>/duplicate", WRITE, summary="Copy as a new draft", tags=TAGS,
                 status_code=201)
    def duplicate_workflow(workflow_id: WorkflowId) -> Response[Workflow]:
        return workflow_reply(service.duplicate(tenant(), workflow_id), 201)

    @app.secured("POST", "/v1/workflows/<workflow_id>/validate", READ, summary="Errors and warnings per node",
                 tags=TAGS)
    def validate_workflow(workflow_id: WorkflowId) -> Response[ValidationResult]:
        return reply(ValidationResult, service.check(tenant(), workflow_id))

    @app.secured("GET", "/v1/workflows/<workflow_id>/plan", READ, summary="Compiled state machine and cost",
                 tags=TAGS)
    def plan_workflow(workflow_id: WorkflowId, items: Annotated[int, Query(ge=1, le=10_000)] = 1
                      ) -> Response[WorkflowPlan]:
        return reply(WorkflowPlan, service.plan(tenant(), workflow_id, items))

    @app.secured("GET", "/v1/workflows/<workflow_id>/versions", READ, summary="Versions", tags=TAGS)
    def list_versions(workflow_id: WorkflowId) -> Response[VersionList]:
        return reply(VersionList, service.versions(tenant(), workflow_id))

    @app.secured("POST", "/v1/workflows/<workflow_id>/versions", WRITE, summary="Snapshot a tagged version",
                 tags=TAGS, status_code=201)
    def create_version(workflow_id: WorkflowId, body: VersionIn) -> Response[VersionCreated]:
        return reply(VersionCreated, service.snapshot(tenant(), workflow_id, body.version_tag, body.description), 201)

    @app.secured("GET", "/v1/workflows/<workflow_id>/versions/<version>", READ, summary="One version", tags=TAGS)
    def get_version(workflow_id: WorkflowId, version: Version) -> Response[Workflow]:
        return reply(Workflow, service.version(tenant(), workflow_id, version))

    @app.secured("GET", "/v1/workflows/<workflow_id>/versions/<version>/diff/<other>", READ,
                 summary="What changed between two versions", tags=TAGS)
    def diff_versions(workflow_id: WorkflowId, version: Version,
                      other: Version) -> Response[WorkflowDiff]:
        return reply(WorkflowDiff, service.diff(tenant(), workflow_id, version, other))

    register_graph(app, service)


def register_graph(app: MediaflowResolver, service: WorkflowService) -> None:
    def tenant() -> str:
        return app.principal().tenant

    @app.secured("GET", "/v1/workflows/<workflow_id>/nodes", READ, summary="Nodes with connection counts", tags=TAGS)
    def list_nodes(workflow_id: WorkflowId) -> Response[NodeList]:
        return reply(NodeList, service.nodes(tenant(), workflow_id))

    @app.secured("POST", "/v1/workflows/<workflow_id>/nodes", WRITE, summary="Add a node", tags=TAGS,
                 status_code=201)
    def add_node(workflow_id: WorkflowId, body: NodeIn) -> Response[NodeResult]:
        node = {"id": body.id, "kind": body.kind, "label": body.label, "config": body.config,
                "position": body.position}
        return reply(NodeResult, service.add_node(tenant(), workflow_id, node, body.after, body.edge_kind), 201)

    @app.secured("PUT", "/v1/workflows/<workflow_id>/nodes/<node_id>", WRITE, summary="Configure a node",
                 tags=TAGS)
    def update_node(workflow_id: WorkflowId, node_id: WorkflowId, body: NodeUpdate) -> Response[NodeResult]:
        result = service.update_node(tenant(), workflow_id, node_id, body.config, body.label, body.position,
                                     body.replace_config)
        return reply(NodeResult, result)

    @app.secured("DELETE", "/v1/workflows/<workflow_id>/nodes/<node_id>", WRITE,
                 summary="Remove a node and its connections", tags=TAGS)
    def remove_node(workflow_id: WorkflowId, node_id: WorkflowId) -> Response[NodeResult]:
        return reply(NodeResult, service.remove_node(tenant(), workflow_id, node_id))

    @app.secured("POST", "/v1/workflows/<workflow_id>/connections", WRITE, summary="Connect two nodes", tags=TAGS,
                 status_code=201)
    def connect(workflow_id: WorkflowId, body: ConnectionIn) -> Response[ConnectionResult]:
        return reply(ConnectionResult, service.connect(tenant(), workflow_id, body.source, body.target, body.kind),
                     201)

    @app.secured("DELETE", "/v1/workflows/<workflow_id>/connections/<connection_id>", WRITE,
                 summary="Remove a connection (id `source~target`)", tags=TAGS)
    def disconnect(workflow_id: WorkflowId, connection_id: Annotated[str, Path(max_length=140)]
                   ) -> Response[ConnectionResult]:
        return reply(ConnectionResult, service.disconnect(tenant(), workflow_id, connection_id))
