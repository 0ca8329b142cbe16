"""The ONE place where errors become HTTP: RFC 9457 application/problem+json.

Handlers raise domain errors (``mediaflow.errors``) or :class:`ApiProblem`; nothing else builds an error
response. ``problem_response`` is also used by the gate in front of the resolver (401, 413, 429).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import BaseModel, Field, ValidationError

from mediaflow.errors import InvalidDefinition, MediaflowError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://mediaflow.dev/problems/"


class ApiProblem(MediaflowError):
    """An HTTP-level problem with an explicit status and per-field errors."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 field: str | None = None, node_id: str | None = None) -> None:
        super().__init__(message, field=field, node_id=node_id)
        self.http_status = status
        self.code = code or HTTPStatus(status).phrase.replace(" ", "")
        self.errors = errors or []
        self.headers = headers or {}


class DefinitionRejected(ApiProblem):
    """A workflow that does not validate; ``errors`` carry the node id and field path of each issue."""

    def __init__(self, message: str, errors: list[dict[str, Any]], warnings: list[dict[str, Any]] | None = None
                 ) -> None:
        super().__init__(422, message, code="InvalidDefinition", errors=errors)
        self.warnings = warnings or []


@contextmanager
def rejected_as(message: str, *, warnings: bool = True) -> Iterator[None]:
    """Inside the block an InvalidDefinition carrying validation issues (``compiler.compile_definition``)
    becomes a 422 :class:`DefinitionRejected` with ``message`` and one entry per issue."""
    try:
        yield
    except InvalidDefinition as error:
        if not error.issues:
            raise
        raise DefinitionRejected(message, issue_errors(error.issues),
                                 issue_errors(error.warnings) if warnings else None) from None


def issue_errors(issues: list[Any]) -> list[dict[str, Any]]:
    """Validation issues (``mediaflow.validation.Issue``) as problem ``errors`` entries."""
    out = []
    for issue in issues:
        item: dict[str, Any] = {"field": issue.path or None, "path": issue.path or None, "message": issue.message,
                                "code": issue.code}
        if issue.node_id is not None:
            item["nodeId"] = issue.node_id
        out.append(item)
    return out


def problem_body(status: int, title: str, detail: str, *, code: str | None = None,
                 errors: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (code or HTTPStatus(status).phrase.replace(" ", "")),
        "title": title, "status": status, "detail": detail, "errors": errors or [],
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def problem_response(status: int, detail: str, *, code: str | None = None,
                     errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> Response[str]:
    title = HTTPStatus(status).phrase
    body = problem_body(status, title, detail, code=code, errors=errors, **extra)
    return Response(status_code=status, content_type=PROBLEM_JSON, headers=headers or {},
                    body=json.dumps(body, default=str))


def _field_errors(error: MediaflowError) -> list[dict[str, Any]]:
    if error.field is None and error.node_id is None:
        return []
    item: dict[str, Any] = {"field": error.field, "path": error.field, "message": error.message}
    if error.node_id is not None:
        item["nodeId"] = error.node_id
    return [item]


def _loc_path(loc: Any) -> str:
    parts = [str(part) for part in loc if part not in ("body",)] if isinstance(loc, list | tuple) else [str(loc)]
    where = loc[0] if isinstance(loc, list | tuple) and loc else "body"
    return ".".join(parts) if where == "body" else ".".join([str(p) for p in loc])


def from_exception(error: Exception) -> Response[str]:
    """Map any exception to a problem response."""
    if isinstance(error, DefinitionRejected):
        return problem_response(422, error.message, code=error.code, errors=error.errors,
                                warnings=error.warnings or None)
    if isinstance(error, ApiProblem):
        return problem_response(error.http_status, error.message, code=error.code,
                                errors=error.errors or _field_errors(error), headers=error.headers)
    if isinstance(error, MediaflowError):
        status = error.http_status if 400 <= error.http_status < 600 else 500
        if status >= 500 and status != 503:
            logger.exception("internal error", exc_info=error)
            return problem_response(500, "an internal error occurred", code="InternalError")
        return problem_response(status, error.message, code=error.code, errors=_field_errors(error))
    if isinstance(error, RequestUnsupportedContentType):
        return problem_response(415, "unsupported content type", code="UnsupportedMediaType")
    if isinstance(error, RequestValidationError):
        errors = [{"field": _loc_path(item.get("loc", ())), "path": _loc_path(item.get("loc", ())),
                   "message": str(item.get("msg", "invalid value")), "code": str(item.get("type", "invalid"))}
                  for item in error.errors()]
        return problem_response(422, "the request is not valid", code="RequestValidation", errors=errors)
    if isinstance(error, ValidationError):
        errors = [{"field": _loc_path(item["loc"]), "path": _loc_path(item["loc"]), "message": item["msg"],
                   "code": item["type"]} for item in error.errors(include_url=False)]
        return problem_response(422, "the request is not valid", code="RequestValidation", errors=errors)
    if isinstance(error, NotFoundError):
        return problem_response(404, "no such route", code="NotFound")
    if isinstance(error, ServiceError):
        return problem_response(error.status_code, str(error.msg))
    logger.exception("unhandled error", exc_info=error)
    return problem_response(500, "an internal error occurred", code="InternalError")


def register(app: Any) -> None:
    """Install the mapping on a resolver: every exception and unknown routes become problem+json."""

    @app.exception_handler(Exception)
    def _any(error: Exception) -> Response[str]:
        return from_exception(error)

    @app.not_found
    def _not_found(error: Exception) -> Response[str]:
        return problem_response(404, "no such route", code="NotFound")


class FieldProblem(BaseModel):
    """One field's error inside a problem: where (``field``/``path``, ``nodeId``), what and a machine code."""

    field: str | None = None
    path: str | None = None
    node_id: str | None = Field(default=None, alias="nodeId")
    message: str
    code: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response carries them."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = Field(default_factory=list)


ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503)


def route_responses(success_status: int = 200) -> dict[int, Any]:
    """OpenAPI ``responses`` of a route: its success status (schema from the handler's ``Response[Model]``
    annotation; none for 204) and the problem statuses every route can answer."""
    success: dict[str, Any] = {"description": HTTPStatus(success_status).phrase}
    if success_status == 204:
        success["content"] = {}
    problem = {PROBLEM_JSON: {"model": Problem}}
    return {success_status: success,
            **{status: {"description": HTTPStatus(status).phrase, "content": problem} for status in ERROR_STATUSES}}
