"""Multipart uploads, their parts and upload tokens (docs/uploads.md). The upload routes take an API key
with ``workflows:execute`` or an upload token; the part URLs take neither (they are signed)."""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from mediaflow.api.http import base_url, raw_body
from mediaflow.api.models import (
    CompletedUpload,
    CompleteIn,
    MultipartIn,
    MultipartStatus,
    MultipartUpload,
    PartNumbersIn,
    PartUrls,
    UploadToken,
    UploadTokenIn,
)
from mediaflow.api.problems import ApiProblem
from mediaflow.api.routes import SecuredRouter, no_content, reply
from mediaflow.api.security import UPLOAD_SCOPE
from mediaflow.api.uploads import UploadService

router = SecuredRouter("uploads")
EXAMPLE_PAGE = FilePath(__file__).resolve().parents[1] / "examples" / "browser-upload.html"
UploadId = Annotated[str, Path(description="The uploadId from POST /v1/uploads/multipart", max_length=4096)]


def _service() -> UploadService:
    return UploadService(router.ctx)


@router.secured("POST", "/v1/upload-tokens", "workflows:execute", summary="A short-lived upload token for one "
                "workflow (for browsers)", tags=["uploads"], status_code=201)
def create_upload_token(body: UploadTokenIn) -> Response[UploadToken]:
    return reply(UploadToken, _service().create_token(router.tenant(), body), 201)


@router.secured("POST", "/v1/uploads/multipart", UPLOAD_SCOPE, summary="Start a multipart upload",
                tags=["uploads"], status_code=201)
def create_multipart_upload(body: MultipartIn) -> Response[MultipartUpload]:
    created = _service().create(router.app.principal(), body, base_url(router.raw_event))
    return reply(MultipartUpload, created, 201)


@router.secured("GET", "/v1/uploads/multipart/<upload_id>", UPLOAD_SCOPE,
                summary="The parts uploaded so far and those missing (to resume)", tags=["uploads"])
def get_multipart_upload(upload_id: UploadId) -> Response[MultipartStatus]:
    return reply(MultipartStatus, _service().status(router.app.principal(), upload_id))


@router.secured("POST", "/v1/uploads/multipart/<upload_id>/parts", UPLOAD_SCOPE,
                summary="Fresh URLs for parts (at most 100 per call)", tags=["uploads"])
def multipart_part_urls(upload_id: UploadId, body: PartNumbersIn) -> Response[PartUrls]:
    urls = _service().part_urls(router.app.principal(), upload_id, body.part_numbers, base_url(router.raw_event))
    return reply(PartUrls, urls)


@router.secured("POST", "/v1/uploads/multipart/<upload_id>/complete", UPLOAD_SCOPE,
                summary="Assemble the parts; the finished file starts its workflows once", tags=["uploads"])
def complete_multipart_upload(upload_id: UploadId, body: CompleteIn) -> Response[CompletedUpload]:
    return reply(CompletedUpload, _service().complete(router.app.principal(), upload_id, body))


@router.secured("DELETE", "/v1/uploads/multipart/<upload_id>", UPLOAD_SCOPE,
                summary="Abort a multipart upload (its parts are deleted)", tags=["uploads"], status_code=204)
def abort_multipart_upload(upload_id: UploadId) -> Response[None]:
    _service().abort(router.app.principal(), upload_id)
    return no_content()


@router.secured("PUT", "/v1/uploads/parts/<token>", None, summary="Receive one part (signed URL; local server)",
                tags=["uploads"], include_in_schema=False, enable_validation=False)
def receive_part(token: str) -> Response[Any]:
    event = router.raw_event
    size = ((event.get("queryStringParameters") or {}).get("size") or "").strip()
    if size and not size.isdigit():
        raise ApiProblem(422, "size must be a whole number", code="BadRequest")
    part = _service().receive_part(token, raw_body(event), int(size) if size else None)
    return Response(200, "application/json", json.dumps(part), headers={"ETag": part["etag"]})


@router.secured("GET", "/v1/examples/browser-upload.html", None, summary="The browser upload example page",
                tags=["uploads"], include_in_schema=False, enable_validation=False)
def browser_upload_example() -> Response[Any]:
    return Response(200, "text/html; charset=utf-8", EXAMPLE_PAGE.read_text(encoding="utf-8"),
                    headers={"Cache-Control": "no-cache"})
