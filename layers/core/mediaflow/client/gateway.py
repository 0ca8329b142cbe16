"""An httpx transport that hands each request to a Lambda handler as an API Gateway REST proxy event.

API Gateway turns an HTTPS request into a proxy event (path without the stage, headers, query, a body that
is base64 when binary, and the authorizer's context) and the handler's answer back into HTTP. This transport
does the same in-process, so the client can drive the API's handler without a network: ``mediaflow mcp``
uses it over the embedded data dir (the local process is the data dir's owner: the authorizer context names
its tenant), and tests use it to drive the deployed Lambda entry point on moto. Requests to other hosts
(S3 presigned URLs) go to ``fallback``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

Handler = Callable[[dict[str, Any], Any], Mapping[str, Any]]
TEXT_TYPES = ("application/json", "application/problem+json", "text/", "application/x-www-form-urlencoded")


class GatewayTransport(httpx.BaseTransport):
    """``handler(event, context)`` answers requests to ``host``; ``stage`` is stripped from paths as API
    Gateway does; ``authorizer`` is the context a Lambda authorizer would have passed (None: the API checks
    the key itself)."""

    def __init__(self, handler: Handler, *, host: str = "mediaflow.local", stage: str = "",
                 authorizer: Mapping[str, Any] | None = None, context: Any = None,
                 fallback: httpx.BaseTransport | None = None) -> None:
        self.handler, self.host, self.stage = handler, host, stage.strip("/")
        self.authorizer = dict(authorizer) if authorizer else None
        self.context = context
        self.fallback = fallback

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.host:
            if self.fallback is None:
                raise httpx.ConnectError(f"no route to {request.url.host} from this transport", request=request)
            return self.fallback.handle_request(request)
        answer = self.handler(proxy_event(request, self.stage, self.authorizer), self.context)
        return http_response(answer, request)

    def close(self) -> None:
        if self.fallback is not None:
            self.fallback.close()


def proxy_event(request: httpx.Request, stage: str = "", authorizer: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
    """The REST API proxy event API Gateway would send for ``request``."""
    body = request.read()
    path = request.url.path
    if stage and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        path = path[len(stage) + 1:] or "/"
    headers = dict(request.headers.items())
    headers.setdefault("host", request.url.host)
    headers["x-forwarded-proto"] = request.url.scheme
    multi_query: dict[str, list[str]] = {}
    for name, value in request.url.params.multi_items():
        multi_query.setdefault(name, []).append(value)
    content_type = request.headers.get("content-type", "")
    text = content_type.startswith(TEXT_TYPES)
    context: dict[str, Any] = {"stage": stage or "$default", "domainName": request.url.host,
                               "requestId": uuid.uuid4().hex, "httpMethod": request.method,
                               "path": request.url.path, "identity": {"sourceIp": "127.0.0.1"}}
    if authorizer:
        context["authorizer"] = dict(authorizer)
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": request.method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None, "requestContext": context,
        "body": (body.decode("utf-8") if text else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and not text,
    }


def http_response(answer: Mapping[str, Any], request: httpx.Request) -> httpx.Response:
    """The HTTP response API Gateway would send for a proxy integration's answer."""
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        seen.add(name.lower())
        headers.extend((name, str(value)) for value in values)
    headers.extend((name, str(value)) for name, value in (answer.get("headers") or {}).items()
                   if name.lower() not in seen)
    raw = answer.get("body") or ""
    content = base64.b64decode(raw) if answer.get("isBase64Encoded") else str(raw).encode("utf-8")
    return httpx.Response(int(answer.get("statusCode") or 502), headers=headers, content=content, request=request)
