"""Fixtures of the API tests. Every ``client`` test runs three ways:

- "http": the local server (real HTTP on 127.0.0.1, an ephemeral port) over the embedded adapters;
- "lambda": API Gateway REST proxy events fed to the resolver over the same embedded adapters;
- "aws": proxy events fed to functions/api/app.py's ``lambda_handler`` over the AWS adapters, every port on
  moto (tables, buckets and bus from template.yaml, runs on moto's Step Functions; see aws_backend.py).

The ``api`` fixture is the backend behind the test's ``client`` (the embedded one for tests without one)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import requests

ALL_SCOPES = ["workflows:read", "workflows:write", "workflows:execute"]
TRANSPORTS = ("http", "lambda", "aws")
GATEWAY = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
# Whole modules that cannot hold on the AWS backend, with the reason.
AWS_SKIPS = {
    "test_webhooks_api": "drives the embedded dispatcher and in-process bus (api.service.webhooks.run_due); "
                         "on AWS, deliveries go EventBridge rule -> dispatcher function, tested with the API "
                         "on Lambda in tests/functional/aws/test_webhooks_aws.py",
}
# Single cases that moto cannot show holding on the AWS backend (a moto gap, named in each reason).
AWS_XFAILS: dict[str, str] = {
    "test_batch_run_on_uploaded_objects": "moto ignores If-None-Match on CopyObject (AWS honours it), so two batch "
                                          "items storing the same filename at once can both take one key there",
}
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TERMINAL = {"completed", "failed", "cancelled"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Client:
    """One API client; ``transport`` is "http" (the local server), "lambda" (proxy events to the resolver)
    or "aws" (proxy events to the Lambda entry point over moto)."""

    def __init__(self, transport: str, base: str, resolve: Any, key: str | None) -> None:
        self.transport, self.base, self._resolve, self.key = transport, base, resolve, key

    def with_key(self, key: str | None) -> Client:
        return Client(self.transport, self.base, self._resolve, key)

    def request(self, method: str, path: str, *, json_body: Any = None, files: Any = None, data: Any = None,
                headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                raw_url: str | None = None) -> Reply:
        all_headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        all_headers.update(headers or {})
        url = raw_url or self.base + path
        if self.transport == "http":
            r = requests.request(method, url, json=json_body, files=files, data=data, headers=all_headers,
                                 params=params, timeout=30)
            return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
        prepared = requests.Request(method, url, json=json_body, files=files, data=data, headers=all_headers,
                                    params=params).prepare()
        return self._lambda(prepared)

    def _lambda(self, prepared: requests.PreparedRequest) -> Reply:
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(prepared.url or "")
        raw_body = prepared.body or b""
        body: bytes = raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body)  # type: ignore[arg-type]
        content_type = str(prepared.headers.get("Content-Type", ""))
        text = not body or content_type.startswith(("application/json", "text/"))
        headers = dict(prepared.headers)
        headers.setdefault("Host", "abc123.execute-api.us-east-1.amazonaws.com")
        query = dict(parse_qsl(parts.query))
        event = {
            "resource": "/{proxy+}", "path": parts.path, "httpMethod": prepared.method,
            "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "pathParameters": {"proxy": parts.path.lstrip("/")},
            "requestContext": {"stage": "prod", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                               "requestId": "test", "httpMethod": prepared.method, "path": parts.path},
            "body": (body.decode() if text else base64.b64encode(body).decode()) if body else None,
            "isBase64Encoded": bool(body) and not text,
        }
        response = self._resolve(event, None)
        headers_out: dict[str, str] = {}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers_out[name.lower()] = ", ".join(values)
        for name, value in (response.get("headers") or {}).items():
            headers_out.setdefault(name.lower(), value)
        raw = response.get("body") or ""
        content = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        return Reply(response["statusCode"], headers_out, content)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, json_body=body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, json_body=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, json_body=body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)

    def download(self, url: str) -> Reply:
        """Fetch a URL the API handed out (signed: no key). S3 presigned URLs are answered by moto."""
        if self.transport == "http" or not url.startswith(GATEWAY):
            r = requests.get(url, timeout=30)
            return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
        return self.with_key(None).request("GET", "", raw_url="http://x" + url.split("amazonaws.com/prod", 1)[-1])

    def upload(self, target: dict[str, Any], filename: str, data: bytes) -> Reply:
        """POST ``target["fields"]`` plus a ``file`` part to ``target["url"]`` (from POST /v1/uploads): the
        local signed URL (201 + the stored object) or, on AWS, the S3 presigned POST (204, answered by moto)."""
        url = target["url"]
        if url.startswith(GATEWAY):
            url = url.replace(GATEWAY, self.base)
        if not url.startswith(self.base):
            r = requests.post(url, data=target["fields"], files={"file": (filename, data)}, timeout=30)
            return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
        return self.with_key(None).request("POST", "", raw_url=url, data=target["fields"],
                                           files={"file": (filename, data)})

    def wait_run(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"/v1/runs/{run_id}").json()
            if run["status"] in TERMINAL or time.monotonic() > deadline:
                return run
            time.sleep(0.1)


@dataclass
class Api:
    """One backend: its resolver, API keys, run and job stores; ``service``/``server`` are the embedded
    LocalService and local server (None on AWS), ``handler`` the Lambda entry point (AWS)."""

    service: Any
    server: Any
    app: Any
    keys: dict[str, str]
    mode: str = "embedded"
    runs: Any = None
    jobs: Any = None
    handler: Any = None
    deployment: Any = None

    def client(self, transport: str, key: str = "a") -> Client:
        base = self.server.url if transport == "http" else GATEWAY
        resolve: Any = None
        if transport != "http":
            entry = self.handler if transport == "aws" else self.app.resolve

            # API Gateway strips the stage from the path: mimic it.
            def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
                from tests.functional.aws.conftest import FakeContext

                event["path"] = event["path"].removeprefix("/prod")
                result: dict[str, Any] = entry(event, FakeContext("mediaflow-dev-api"))
                return result
        return Client(transport, base, resolve, self.keys[key])


def _test_keys(store: Any) -> dict[str, str]:
    return {"a": store.create_key("tenant-a", ALL_SCOPES)[0],
            "b": store.create_key("tenant-b", ALL_SCOPES)[0],
            "a-read": store.create_key("tenant-a", ["workflows:read"])[0],
            "a-exec": store.create_key("tenant-a", ["workflows:read", "workflows:execute"])[0]}


@pytest.fixture(scope="session")
def embedded_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from mediaflow.api import ApiConfig, create_app
    from mediaflow.embedded.app import LocalService
    from mediaflow.embedded.bootstrap import embedded_context
    from mediaflow.embedded.http_server import local_api

    data_dir = tmp_path_factory.mktemp("api-data")
    service = LocalService(data_dir=data_dir)
    keys = _test_keys(service.adapters.keys)
    config = ApiConfig(rate_per_second=10_000, burst=10_000)  # the rate limit has its own tests
    server = local_api(service, port=0, config=config).start()
    ctx = embedded_context(service, config)
    app = create_app(ctx)
    try:
        yield Api(service, server, app, keys, runs=service.adapters.runs, jobs=ctx.jobs)
    finally:
        server.stop()
        service.close()


@pytest.fixture(scope="package")
def aws_api() -> Iterator[Api]:
    """The AWS backend inside moto, once per worker while this package's tests run (package scope keeps
    its ``mock_aws`` from spanning other packages' own mocks)."""
    from mediaflow.api import ApiConfig

    from tests.functional.api.aws_backend import aws_deployment

    config = ApiConfig(rate_per_second=10_000, burst=10_000)
    with aws_deployment(config) as deployment:
        adapters = deployment.adapters
        yield Api(None, None, deployment.app, _test_keys(adapters.keys), mode="aws", runs=adapters.runs,
                  jobs=adapters.jobs, handler=deployment.handler, deployment=deployment)


@pytest.fixture(params=TRANSPORTS)
def client(request: pytest.FixtureRequest) -> Client:
    if request.param == "aws":
        reason = AWS_SKIPS.get(request.module.__name__.rsplit(".", 1)[-1])
        if reason:
            pytest.skip(reason)
        reason = AWS_XFAILS.get(request.function.__name__)
        if reason:
            request.applymarker(pytest.mark.xfail(reason=reason, raises=AssertionError, strict=False))
    backend: Api = request.getfixturevalue("aws_api" if request.param == "aws" else "embedded_api")
    return backend.client(request.param)


@pytest.fixture
def api(request: pytest.FixtureRequest) -> Api:
    """The backend behind this test's ``client``; the embedded one when the test has no client."""
    if "client" in request.fixturenames and request.getfixturevalue("client").transport == "aws":
        backend: Api = request.getfixturevalue("aws_api")
    else:
        backend = request.getfixturevalue("embedded_api")
    return backend


@pytest.fixture
def other(client: Client, api: Api) -> Client:
    """Tenant B on the same transport."""
    return client.with_key(api.keys["b"])


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def simple_workflow(name: str = "simple", **extra: Any) -> dict[str, Any]:
    """upload -> convert webp -> storage (fast on the image worker)."""
    return {"name": name, "nodes": [{"id": "upload", "kind": "upload"},
                                    {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}},
                                    {"id": "store", "kind": "storage", "config": {"prefix": "api/"}}],
            "edges": [{"source": "upload", "target": "webp"}, {"source": "webp", "target": "store"}], **extra}


def chain_workflow(name: str, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """upload -> each ``(id, kind, config)`` in order."""
    ids = ["upload", *(node_id for node_id, _, _ in nodes)]
    return {"name": name, "nodes": [{"id": "upload", "kind": "upload"}, *(
        {"id": node_id, "kind": kind, "config": config} for node_id, kind, config in nodes)],
            "edges": [{"source": a, "target": b} for a, b in pairwise(ids)]}


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from mediaflow import samples

    return samples.photo(tmp_path_factory.mktemp("media") / "photo.jpg", 320, 240).read_bytes()


def assert_problem(reply: Reply, status: int) -> dict[str, Any]:
    assert reply.status == status, reply.content[:500]
    assert reply.content_type.startswith("application/problem+json"), reply.content_type
    body: dict[str, Any] = reply.json()
    assert body["status"] == status and body["type"] and body["title"] and "detail" in body
    assert isinstance(body.get("errors", []), list)
    return body
