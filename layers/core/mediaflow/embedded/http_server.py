"""The local HTTP server of `mediaflow serve`: uvicorn (HTTP/1.1, keep-alive, backlog, access log, graceful
shutdown) in front of a thin ASGI adapter that turns each request into the API Gateway REST proxy event the
SAME resolver takes on Lambda, and the proxy response back into HTTP. The Lambda path never comes here.

Requests resolve concurrently on a thread pool (the resolver keeps its per-request state per thread).
Bodies are passed as API Gateway passes them with binary media types on: UTF-8 text (JSON, forms, text/*)
as a string, everything else (multipart uploads, images, text that is not UTF-8) base64-encoded with
``isBase64Encoded``. Protocol errors, oversized bodies and stalled clients are answered or cut here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mediaflow.api.http import TEXT_TYPES
from mediaflow.api.problems import PROBLEM_JSON, problem_body

Resolve = Callable[[dict[str, Any], Any], dict[str, Any]]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

logger = logging.getLogger("mediaflow.server")


@dataclass(frozen=True)
class ServerLimits:
    """How the server treats connections; every value is a documented default of `mediaflow serve`."""

    max_body_bytes: int = 10 * 1024 * 1024
    threads: int = 32  # requests resolved at once; more wait on the event loop, not in the kernel
    backlog: int = 1024
    max_connections: int = 1000  # beyond this, new requests get 503 at once
    keep_alive_seconds: float = 5.0  # an idle keep-alive connection is closed after this
    idle_read_seconds: float = 15.0  # a request whose bytes stop arriving this long is cut
    request_read_seconds: float = 120.0  # a request (headers + body) must have arrived within this
    graceful_seconds: float = 30.0  # on shutdown, requests in flight get this long to finish


class LocalContext:
    """A stand-in for the Lambda context object."""

    function_name = "mediaflow-api-local"
    memory_limit_in_mb = 0
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:mediaflow-api-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _is_text(content_type: str, body: bytes) -> bool:
    if not body:
        return True
    if not content_type.lower().startswith(TEXT_TYPES):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False  # passed on as bytes, so the resolver can name the problem
    return True


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
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    is_text = _is_text(content_type, body)
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
        "body": (body.decode("utf-8") if is_text else base64.b64encode(body).decode()) if body else None,
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


def problem_bytes(status: int, detail: str, code: str | None = None) -> bytes:
    return json.dumps(problem_body(status, HTTPStatus(status).phrase, detail, code=code)).encode()


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class ResolverApp:
    """The ASGI adapter: HTTP request -> API Gateway event -> resolver (on a worker thread) -> HTTP response."""

    def __init__(self, resolve: Resolve, limits: ServerLimits) -> None:
        self.resolve = resolve
        self.limits = limits
        self.executor = ThreadPoolExecutor(max_workers=limits.threads, thread_name_prefix="mediaflow-http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            body = await self._body(scope, receive)
        except BodyTooLarge:
            await _reply(send, 413, [("Content-Type", PROBLEM_JSON), ("Connection", "close")],
                         problem_bytes(413, f"the body is larger than {self.limits.max_body_bytes} bytes",
                                       "PayloadTooLarge"), scope["method"])
            return
        except ClientGone:
            return
        event = self._event(scope, body)
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self.executor, self.resolve, event, LocalContext())
            status, headers, data = response_parts(response)
        except Exception:  # the resolver maps errors itself; this is a last resort
            logger.exception("the resolver failed")
            status, headers, data = 500, [("Content-Type", PROBLEM_JSON)], problem_bytes(500, "internal error")
        await _reply(send, status, headers, data, scope["method"])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and int(declared) > self.limits.max_body_bytes:  # h11 checked it is digits
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _event(self, scope: Scope, body: bytes) -> dict[str, Any]:
        headers = [(_header_name(k.decode("latin-1")), v.decode("latin-1")) for k, v in scope["headers"]]
        if not any(k.lower() == "x-forwarded-proto" for k, _ in headers):
            headers.append(("X-Forwarded-Proto", scope.get("scheme") or "http"))
        server = scope.get("server") or ("127.0.0.1", 0)
        host = next((v for k, v in headers if k.lower() == "host"), f"{server[0]}:{server[1]}")
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        client = scope.get("client") or ("", 0)
        return to_event(scope["method"], target, headers, body, client[0], host)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


async def _reply(send: Send, status: int, headers: list[tuple[str, str]], data: bytes, method: str) -> None:
    out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
           if k.lower() not in ("content-length", "transfer-encoding")]
    out.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else data})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with problem+json for malformed requests and read timeouts: a connection
    that sends nothing, stalls mid-request or takes too long to send a whole request is closed."""

    limits = ServerLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._request_started: float | None = None
        super().connection_made(transport)
        self._watch(received=False)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch(received=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._request_started = None
        self._watch(received=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _watch(self, *, received: bool) -> None:
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            return  # the whole request is in: the application has it
        now = self.loop.time()
        if received and self._request_started is None:
            self._request_started = now
        if self._request_started is None:
            deadline = now + self.limits.keep_alive_seconds
        else:
            deadline = min(now + self.limits.idle_read_seconds,
                           self._request_started + self.limits.request_read_seconds)
        self._deadline = self.loop.call_at(deadline, self._timed_out)

    def _timed_out(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            if self._request_started is not None:
                logger.warning("closing a connection from %s: the request did not arrive in time", self.client)
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        body = problem_bytes(400, f"malformed HTTP request: {msg}", "MalformedRequest")
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"connection", b"close")]
        try:
            for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                          h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
        except h11.LocalProtocolError:
            pass  # a response had already started: nothing more can be said on this connection
        self.transport.close()

    def handle_events(self) -> None:
        try:
            super().handle_events()
        except h11.RemoteProtocolError as error:  # raised from Data/EndOfMessage handling paths
            self.send_400_response(str(error))


def _protocol_for(limits: ServerLimits) -> type[GuardedH11Protocol]:
    return type("MediaflowH11Protocol", (GuardedH11Protocol,), {"limits": limits})


class ApiServer:
    """The API on uvicorn in a background thread (port 0 picks a free port); ``stop()`` drains requests in
    flight up to ``limits.graceful_seconds``."""

    def __init__(self, resolve: Resolve, host: str = "127.0.0.1", port: int = 8080,
                 max_body_bytes: int = 10 * 1024 * 1024, *, limits: ServerLimits | None = None,
                 access_log: bool = False) -> None:
        self.limits = limits or ServerLimits(max_body_bytes=max_body_bytes)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP,
        # and without it every response waits ~40 ms for the client's delayed ACK.
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.set_inheritable(False)
        bound_host, bound_port = self.socket.getsockname()[:2]
        self.url = f"http://[{bound_host}]:{bound_port}" if ":" in str(bound_host) else \
            f"http://{bound_host}:{bound_port}"
        self.app = ResolverApp(resolve, self.limits)
        config = uvicorn.Config(
            self.app, http=_protocol_for(self.limits), lifespan="on", log_config=None, access_log=access_log,
            backlog=self.limits.backlog, limit_concurrency=self.limits.max_connections,
            timeout_keep_alive=int(self.limits.keep_alive_seconds),
            timeout_graceful_shutdown=int(self.limits.graceful_seconds), server_header=False,
            date_header=True, interface="asgi3",
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> ApiServer:
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                        name="mediaflow-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish (up to the grace period), close."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self.limits.graceful_seconds + 5)
        self.app.close()
        self.socket.close()


def local_api(service: Any, host: str = "127.0.0.1", port: int = 8080, config: Any = None, *,
              access_log: bool = False) -> ApiServer:
    """The embedded API over a LocalService, ready to ``start()``."""
    from mediaflow.api import create_app
    from mediaflow.embedded.bootstrap import embedded_context

    context = embedded_context(service, config)
    app = create_app(context)
    return ApiServer(app.resolve, host, port, context.config.max_body_bytes, access_log=access_log)
