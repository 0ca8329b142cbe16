"""The local HTTP server of `mediaflow serve`: real HTTP on loopback turned into API Gateway REST proxy
events for the SAME resolver that serves Lambda, and the proxy responses turned back into HTTP.

Bodies are passed as API Gateway passes them with binary media types on: text (JSON, forms, text/*)
as a string, everything else (multipart uploads, images) base64-encoded with ``isBase64Encoded``.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mediaflow.api.http import TEXT_TYPES
from mediaflow.api.problems import PROBLEM_JSON, problem_body

Resolve = Callable[[dict[str, Any], Any], dict[str, Any]]


class LocalContext:
    """A stand-in for the Lambda context object."""

    function_name = "mediaflow-api-local"
    memory_limit_in_mb = 0
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:mediaflow-api-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def to_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, client_ip: str,
             host: str) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for one HTTP request."""
    parts = urlsplit(target)
    path = parts.path or "/"
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "").lower()
    is_text = not body or content_type.startswith(TEXT_TYPES)
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method.upper(),
        "headers": {k: v[-1] for k, v in multi_headers.items()}, "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}", "httpMethod": method.upper(), "path": path, "stage": "$default",
            "requestId": str(uuid.uuid4()), "requestTimeEpoch": int(time.time() * 1000), "protocol": "HTTP/1.1",
            "domainName": host, "identity": {"sourceIp": client_ip, "userAgent": None},
        },
        "body": (body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode())
        if body else None,
        "isBase64Encoded": bool(body) and not is_text,
    }


def response_parts(response: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of an API Gateway proxy response."""
    headers: list[tuple[str, str]] = []
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in (values if isinstance(values, list) else [values]))
    seen = {name.lower() for name, _ in headers}
    headers.extend((k, str(v)) for k, v in (response.get("headers") or {}).items() if k.lower() not in seen)
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
    return int(response.get("statusCode", 500)), headers, body


def make_handler(resolve: Resolve, max_body_bytes: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mediaflow"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_body_bytes:
                self.close_connection = True
                self._send(413, [("Content-Type", PROBLEM_JSON)], _problem(413, "the body is too large"))
                return
            body = self.rfile.read(length) if length else b""
            address = self.server.server_address
            host = self.headers.get("Host") or f"{address[0]!s}:{address[1]!s}"  # type: ignore[index]
            headers = [(k, v) for k, v in self.headers.items()]
            if not any(k.lower() == "x-forwarded-proto" for k, _ in headers):
                headers.append(("X-Forwarded-Proto", "http"))
            event = to_event(self.command, self.path, headers, body, self.client_address[0], host)
            try:
                status, out_headers, data = response_parts(resolve(event, LocalContext()))
            except Exception:  # the resolver maps errors itself; this is a last resort
                status, out_headers, data = 500, [("Content-Type", PROBLEM_JSON)], _problem(500, "internal error")
            self._send(status, out_headers, data)

        def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            if status in (204, 304):
                data = b""  # no body may follow these: a stray one would be read as the next response
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def _problem(status: int, detail: str) -> bytes:
    import json
    from http import HTTPStatus

    return json.dumps(problem_body(status, HTTPStatus(status).phrase, detail)).encode()


class ApiServer:
    """The API on a ThreadingHTTPServer in a background thread (port 0 picks a free port)."""

    def __init__(self, resolve: Resolve, host: str = "127.0.0.1", port: int = 8080,
                 max_body_bytes: int = 10 * 1024 * 1024) -> None:
        self.httpd = ThreadingHTTPServer((host, port), make_handler(resolve, max_body_bytes))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port!s}"

    def start(self) -> ApiServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="mediaflow-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def local_api(service: Any, host: str = "127.0.0.1", port: int = 8080, config: Any = None) -> ApiServer:
    """The embedded API over a LocalService, ready to ``start()``."""
    from mediaflow.api import create_app, embedded_context

    context = embedded_context(service, config)
    app = create_app(context)
    return ApiServer(app.resolve, host, port, context.config.max_body_bytes)
