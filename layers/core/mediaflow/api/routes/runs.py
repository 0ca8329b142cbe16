"""Runs: start (multipart file, stored objects, or sample media), list, get, cancel, retry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from mediaflow.api.http import base_url, form_parts, json_body
from mediaflow.api.models import CancelResult, RetryRequest, Run, RunAccepted, RunList, RunRequest
from mediaflow.api.routes import reply
from mediaflow.api.runs import RunService

if TYPE_CHECKING:
    from mediaflow.api.app import MediaflowResolver

Id = Annotated[str, Path(min_length=1, max_length=128)]
READ, EXECUTE = "workflows:read", "workflows:execute"
TAGS = ["runs"]


def register(app: MediaflowResolver) -> None:
    service = RunService(app.ctx)

    def tenant() -> str:
        return app.principal().tenant

    def base() -> str:
        return base_url(app.current_event.raw_event)

    def accepted(data: dict[str, Any]) -> Response[Any]:
        return reply(RunAccepted, data, 202, {"Location": f"/v1/runs/{data['runId']}"})

    @app.secured("POST", "/v1/workflows/<workflow_id>/runs", EXECUTE, tags=TAGS, status_code=202,
                 summary="Run on a multipart `file`, on stored `objects` (several = a batch) or on `sample` media")
    def start_run(workflow_id: Id) -> Response[RunAccepted]:
        event = app.current_event.raw_event
        parts = form_parts(event)
        if parts is not None:
            media = service.media_from_parts(tenant(), parts)
        else:
            request = RunRequest.model_validate(json_body(event))
            media = (service.sample_media(tenant(), request.sample_type) if request.sample or not request.objects
                     else service.media_from_keys(tenant(), request.objects))
        return accepted(service.start(tenant(), workflow_id, media, base()))

    @app.secured("GET", "/v1/workflows/<workflow_id>/runs", READ, summary="Recent runs of a workflow", tags=TAGS)
    def list_runs(workflow_id: Id, limit: Annotated[int, Query(ge=1, le=100)] = 50) -> Response[RunList]:
        return reply(RunList, service.runs_of(tenant(), workflow_id, limit))

    @app.secured("GET", "/v1/runs/<run_id>", READ, summary="A run: status, progress, steps, outputs", tags=TAGS)
    def get_run(run_id: Id) -> Response[Run]:
        return reply(Run, service.get(tenant(), run_id, base()))

    @app.secured("POST", "/v1/runs/<run_id>/cancel", EXECUTE, summary="Cancel a pending or running run",
                 tags=TAGS, status_code=202)
    def cancel_run(run_id: Id) -> Response[CancelResult]:
        return reply(CancelResult, service.cancel(tenant(), run_id), 202)

    @app.secured("POST", "/v1/runs/<run_id>/retry", EXECUTE, tags=TAGS, status_code=202,
                 summary="Redrive a failed run from its failed Task (body `{\"from\": \"start\"}`: run it whole)")
    def retry_run(run_id: Id) -> Response[RunAccepted]:
        request = RetryRequest.model_validate(json_body(app.current_event.raw_event) or {})
        return accepted(service.retry(tenant(), run_id, base(), request.start_from))
