"""Runs: start (multipart file, stored objects, or sample media), list, get, cancel, retry."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from mediaflow.api.http import form_parts, json_body
from mediaflow.api.models import CancelResult, RetryRequest, Run, RunAccepted, RunList, RunRequest
from mediaflow.api.routes import SecuredRouter, reply
from mediaflow.api.runs import RunService

Id = Annotated[str, Path(min_length=1, max_length=128)]
READ, EXECUTE = "workflows:read", "workflows:execute"
TAGS = ["runs"]


router = SecuredRouter()


def service() -> RunService:
    return RunService(router.ctx)


def accepted(data: dict[str, Any]) -> Response[Any]:
    return reply(RunAccepted, data, 202, {"Location": f"/v1/runs/{data['runId']}"})


@router.secured("POST", "/v1/workflows/<workflow_id>/runs", EXECUTE, tags=TAGS, status_code=202,
                summary="Run on a multipart `file`, on stored `objects` (several = a batch) or, with "
                        "`sample: true`, on generated sample media; 409 `WorkflowPaused` while paused")
def start_run(workflow_id: Id) -> Response[RunAccepted]:
    event = router.raw_event
    parts = form_parts(event)
    request = None if parts is not None else RunRequest.model_validate(json_body(event))
    return accepted(service().start_request(router.tenant(), workflow_id, parts, request, router.base_url()))


@router.secured("GET", "/v1/workflows/<workflow_id>/runs", READ, tags=TAGS,
                summary="Runs of a workflow, newest first: `limit` + `offset` (or `cursor`); `count` is the total")
def list_runs(workflow_id: Id, limit: Annotated[int, Query(ge=1, le=100)] = 50,
              offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
              cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response[RunList]:
    return reply(RunList, service().runs_of(router.tenant(), workflow_id, limit, offset, cursor))


@router.secured("GET", "/v1/runs/<run_id>", READ, summary="A run: status, progress, steps, outputs", tags=TAGS)
def get_run(run_id: Id) -> Response[Run]:
    return reply(Run, service().get(router.tenant(), run_id, router.base_url()))


@router.secured("POST", "/v1/runs/<run_id>/cancel", EXECUTE, summary="Cancel a pending or running run",
                tags=TAGS, status_code=202)
def cancel_run(run_id: Id) -> Response[CancelResult]:
    return reply(CancelResult, service().cancel(router.tenant(), run_id), 202)


@router.secured("POST", "/v1/runs/<run_id>/retry", EXECUTE, tags=TAGS, status_code=202,
                summary="Redrive a failed run from its failed Task (body `{\"from\": \"start\"}`: run it whole)")
def retry_run(run_id: Id) -> Response[RunAccepted]:
    request = RetryRequest.model_validate(json_body(router.raw_event) or {})
    return accepted(service().retry(router.tenant(), run_id, router.base_url(), request.start_from))
