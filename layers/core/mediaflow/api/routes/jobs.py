"""Convertly-compatible jobs: POST multipart, GET status, DELETE cancels a pending job."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from mediaflow.api.http import base_url, form_parts
from mediaflow.api.jobs import JobService
from mediaflow.api.models import Job, JobAccepted, JobList
from mediaflow.api.routes import SecuredRouter, reply

JobId = Annotated[str, Path(min_length=1, max_length=64)]
TAGS = ["jobs"]


router = SecuredRouter()


def service() -> JobService:
    return JobService(router.ctx)


@router.secured("POST", "/v1/jobs", "workflows:execute", summary="Create a job (multipart: jobType, files, "
                "formats, compressions, resizes, createArchive, saveToStorage)", tags=TAGS, status_code=202)
def create_job() -> Response[JobAccepted]:
    data = service().create(router.tenant(), form_parts(router.raw_event))
    return reply(JobAccepted, data, 202, {"Location": f"/v1/jobs/{data['jobId']}"})


@router.secured("GET", "/v1/jobs", "workflows:read", summary="The tenant's latest jobs, newest first", tags=TAGS)
def list_jobs(limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Response[JobList]:
    jobs = service().recent(router.tenant(), limit)
    return reply(JobList, {"count": len(jobs), "jobs": jobs})


@router.secured("GET", "/v1/jobs/<job_id>", "workflows:read", summary="Job status, progress and results",
                tags=TAGS)
def get_job(job_id: JobId) -> Response[Job]:
    return reply(Job, service().get(router.tenant(), job_id, base_url(router.raw_event)))


@router.secured("DELETE", "/v1/jobs/<job_id>", "workflows:execute", summary="Cancel a pending job", tags=TAGS)
def cancel_job(job_id: JobId) -> Response[JobAccepted]:
    return reply(JobAccepted, service().cancel(router.tenant(), job_id))
