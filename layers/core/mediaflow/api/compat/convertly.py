"""Convertly (docs 000, 001) under /api: workflows in the dashboard builder's shape, runs on a multipart
``file``, and the async jobs API. Every call lands on the /v1 use cases; docs/compat.md has the table."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field

from mediaflow.api.compat import EXECUTE, READ, WRITE, field_problem, json_reply, product_paths, refuse_unhonoured
from mediaflow.api.convert import SyncConversion
from mediaflow.api.http import base_url, content_disposition, form_parts
from mediaflow.api.jobs import JobService
from mediaflow.api.routes import SecuredRouter
from mediaflow.api.runs import RunService
from mediaflow.api.workflows import WorkflowService, templates, view
from mediaflow.compat import to_convertly_definition

router = SecuredRouter("convertly", in_schema=False)  # other products' contracts: docs/compat.md, not /v1's OpenAPI
Id = Annotated[str, Path(min_length=1, max_length=128)]
TAGS = ["convertly"]
RECENT_RUNS = 50


class _Strict(BaseModel):
    """Documented fields only: anything else is refused (422 naming it), never dropped."""

    model_config = ConfigDict(extra="forbid")


class ConvertlyDefinition(_Strict):
    nodes: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    edges: list[dict[str, Any]] = Field(default_factory=list, max_length=400)
    outputFormat: str | None = None  # noqa: N815 - Convertly's field names
    compressionLevel: int | None = Field(default=None, ge=1, le=100)  # noqa: N815
    compressionMode: Literal["balanced", "max", "lossless"] | None = None  # noqa: N815
    audioOutputFormat: str | None = None  # noqa: N815
    audioCompressionLevel: int | None = Field(default=None, ge=1, le=100)  # noqa: N815
    uploadSource: Literal["api", "s3", "none"] | None = None  # noqa: N815
    uploadLogicGate: Literal["and", "or", "AND", "OR"] | None = None  # noqa: N815
    uploadConditions: list[dict[str, Any]] | None = None  # noqa: N815
    storageDestination: Literal["outputs", "convertly-storage", "custom"] | None = None  # noqa: N815
    renamePattern: str | None = Field(default=None, max_length=200)  # noqa: N815
    resizeWidth: str | int | None = None  # noqa: N815
    branchConditions: list[dict[str, Any]] | None = None  # noqa: N815
    branchLogicGate: Literal["and", "or", "AND", "OR"] | None = None  # noqa: N815
    selectedPlatforms: list[str] | None = None  # noqa: N815


class ConvertlyWorkflowIn(_Strict):
    id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    template: str | None = Field(default=None, max_length=100)
    outputFormat: str | None = None  # noqa: N815
    compressionMode: Literal["balanced", "max", "lossless"] | None = None  # noqa: N815
    isActive: bool | None = None  # noqa: N815
    definition: ConvertlyDefinition | None = None


class ActiveChange(_Strict):
    isActive: bool  # noqa: N815


def _definition_path(path: str) -> str:
    """A canonical validation path in the Convertly payload's terms."""
    path = re.sub(r"^nodes\[(\d+)\]\.(kind|config)", r"nodes[\1].data.\2", path)
    return f"definition.{path}" if path else "definition"


def convertly_workflow(workflow: dict[str, Any]) -> dict[str, Any]:
    """A workflow view (api.workflows.view) in Convertly's shape."""
    definition = to_convertly_definition(workflow)
    compress = next((n for n in workflow["nodes"] if n["kind"] == "compress"), None)
    return {"id": workflow["id"], "name": workflow["name"], "description": workflow.get("description"),
            "template": workflow.get("template"), "outputFormat": definition.get("outputFormat"),
            "compressionMode": (compress or {}).get("config", {}).get("mode"),
            "isActive": workflow["status"] == "active", "status": workflow["status"],
            "version": workflow["version"], "definition": definition,
            "createdAt": workflow["createdAt"], "updatedAt": workflow["updatedAt"]}


def convertly_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run (RunService.get or a runs_of summary) as Convertly's run record."""
    return {"id": run["runId"], "runId": run["runId"], "workflowId": run["workflowId"], "status": run["status"],
            "outputs": run.get("outputs", []), "error": run.get("error"), "createdAt": run.get("createdAt"),
            "startedAt": run.get("startedAt"), "completedAt": run.get("endedAt")}


def _workflow_body(body: ConvertlyWorkflowIn) -> dict[str, Any]:
    raw = body.model_dump(exclude_unset=True)
    if body.definition is None:
        if body.template is None:
            raise field_problem("definition", "give a definition, or the name of a template")
        if body.template not in templates():
            raise field_problem("template", f"no template named {body.template!r}: "
                                "GET /v1/workflows/templates lists them; or send a definition")
        return raw
    raw["definition"] = body.definition.model_dump(exclude_unset=True)
    refuse_unhonoured(raw, _definition_path)
    return raw


@router.secured("GET", "/api/workflows", READ, summary="Convertly: every workflow with its definition", tags=TAGS)
def list_workflows() -> Response[str]:
    page = WorkflowService(router.ctx).list(router.tenant(), status=None, tag=None, search=None,
                                            sort="updatedAt:desc", limit=1000, offset=0, cursor=None)
    return json_reply({"workflows": [convertly_workflow(w) for w in page["workflows"]], "count": page["count"]})


@router.secured("POST", "/api/workflows", WRITE, summary="Convertly: create (no id) or replace (id)", tags=TAGS)
def save_workflow(body: ConvertlyWorkflowIn) -> Response[str]:
    service, raw = WorkflowService(router.ctx), _workflow_body(body)
    with product_paths(_definition_path):
        if body.definition is None and body.template is not None:
            status = "active" if body.isActive else "paused" if body.isActive is False else "draft"
            record = service.from_template(router.tenant(), body.template, body.name, status)
        elif body.id:
            record = service.replace(router.tenant(), body.id, raw, None)
        else:
            record = service.create(router.tenant(), raw)
    return json_reply(convertly_workflow(view(record)), 200 if body.id else 201)


@router.secured("PATCH", "/api/workflows/<workflow_id>", WRITE, summary="Convertly: pause or resume", tags=TAGS)
def set_active(workflow_id: Id, body: ActiveChange) -> Response[str]:
    service = WorkflowService(router.ctx)
    record = service.update(router.tenant(), workflow_id, {"status": "active" if body.isActive else "paused"})
    return json_reply(convertly_workflow(view(record)))


@router.secured("DELETE", "/api/workflows/<workflow_id>", WRITE, summary="Convertly: delete (runs kept)", tags=TAGS)
def delete_workflow(workflow_id: Id) -> Response[str]:
    WorkflowService(router.ctx).delete(router.tenant(), workflow_id)
    return json_reply({"id": workflow_id, "deleted": True})


@router.secured("POST", "/api/workflows/<workflow_id>/run", EXECUTE, tags=TAGS,
                summary="Convertly: run on a multipart `file`; returns the run record (work goes on async)")
def run_workflow(workflow_id: Id) -> Response[str]:
    runs, base = RunService(router.ctx), base_url(router.raw_event)
    parts = form_parts(router.raw_event)
    if parts is None:
        raise field_problem("file", "send the file as multipart/form-data (curl -F file=@...)", 415)
    started = runs.start(router.tenant(), workflow_id, runs.media_from_parts(router.tenant(), parts), base)
    record = convertly_run(runs.get(router.tenant(), started["runId"], base))
    return json_reply(record, 202, {"Location": f"/v1/runs/{started['runId']}"})


@router.secured("GET", "/api/workflows/<workflow_id>/run", READ, summary="Convertly: the 50 most recent runs",
                tags=TAGS)
def recent_runs(workflow_id: Id) -> Response[str]:
    runs, base = RunService(router.ctx), base_url(router.raw_event)
    found = runs.runs_of(router.tenant(), workflow_id, RECENT_RUNS)["runs"]
    return json_reply({"workflowId": workflow_id,
                       "runs": [convertly_run(runs.get(router.tenant(), r["runId"], base)) for r in found]})


@router.secured("POST", "/api/jobs", EXECUTE, summary="Convertly: create a job (multipart fields of doc 001)",
                tags=TAGS)
def create_job() -> Response[str]:
    data = JobService(router.ctx).create(router.tenant(), form_parts(router.raw_event))
    return json_reply(data, 202, {"Location": f"/api/jobs/{data['jobId']}"})


@router.secured("GET", "/api/jobs/<job_id>", READ, summary="Convertly: job status, progress and results", tags=TAGS)
def get_job(job_id: Id) -> Response[str]:
    return json_reply(JobService(router.ctx).get(router.tenant(), job_id, base_url(router.raw_event)))


@router.secured("DELETE", "/api/jobs/<job_id>", EXECUTE, summary="Convertly: cancel a pending job", tags=TAGS)
def cancel_job(job_id: Id) -> Response[str]:
    return json_reply(JobService(router.ctx).cancel(router.tenant(), job_id))


def _converted(operation: Literal["convert", "compress"]) -> Response[bytes]:
    data, content_type, filename = SyncConversion(router.ctx).run(
        router.tenant(), operation, form_parts(router.raw_event), base_url(router.raw_event))
    return Response(200, content_type, data,
                    headers={"Content-Disposition": content_disposition("attachment", filename)})


@router.secured("POST", "/api/convert", EXECUTE, summary="Convertly: convert one file; the file is the answer",
                tags=TAGS, enable_validation=False)
def convert() -> Response[bytes]:
    return _converted("convert")


@router.secured("POST", "/api/compress", EXECUTE, summary="Convertly: compress one file; the file is the answer",
                tags=TAGS, enable_validation=False)
def compress() -> Response[bytes]:
    return _converted("compress")
