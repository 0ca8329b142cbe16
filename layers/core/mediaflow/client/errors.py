"""What the client raises: every HTTP error carries the API's RFC 9457 problem (``type``, ``title``,
``status``, ``detail`` and the per-field ``errors`` that name the node and the field)."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of everything the client raises."""


class TransportError(ClientError):
    """The API could not be reached (connection refused, DNS, timeout) after the retries."""


class WaitTimeout(ClientError):
    """A run or job did not end within the time the caller allowed; ``last`` is its last state."""

    def __init__(self, message: str, last: Any = None) -> None:
        super().__init__(message)
        self.last = last


class ApiError(ClientError):
    """An error answer of the API. ``problem`` is the whole problem+json body (or a synthesised one when
    the answer was not problem+json, e.g. a gateway's own 502)."""

    def __init__(self, status: int, problem: dict[str, Any], *, method: str = "", url: str = "",
                 headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.problem = problem
        self.method, self.url = method, url
        self.headers = headers or {}
        super().__init__(self.summary())

    @property
    def code(self) -> str:
        """The problem's code: the last segment of its ``type`` URI (``InvalidDefinition``, ``NotFound``...)."""
        return str(self.problem.get("type") or "").rstrip("/").rsplit("/", 1)[-1] or str(self.status)

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or "")

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.title)

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.problem.get("errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    def summary(self) -> str:
        lines = [f"{self.status} {self.code}: {self.detail}"]
        for error in self.errors:
            where = " ".join(part for part in (
                f"node {error['nodeId']}" if error.get("nodeId") else "",
                f"field {error.get('path') or error.get('field')}" if error.get("path") or error.get("field") else "",
            ) if part)
            lines.append(f"  - {where + ': ' if where else ''}{error.get('message', '')}")
        return "\n".join(lines)


class BadRequest(ApiError):
    """400."""


class Unauthorized(ApiError):
    """401: no key, or a key that is wrong or revoked."""


class Forbidden(ApiError):
    """403: the key lacks a scope, or a signed URL does not match."""


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409 or 412: a version or state conflict (stale ``If-Match``, a run already ended...)."""


class Unprocessable(ApiError):
    """422: the request or the workflow definition is not valid; ``errors`` name node and field."""


class RateLimited(ApiError):
    """429 after the retries ran out."""


class ServerError(ApiError):
    """5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
                                         409: Conflict, 412: Conflict, 422: Unprocessable, 429: RateLimited}


def error_for(status: int) -> type[ApiError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)
