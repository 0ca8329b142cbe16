"""Backends of the /api/v1 compatibility tests: a running local server on loopback (real HTTP, port 0) and the
API Lambda entry point over moto (template.yaml's resources), both with `ai_generate` pointed at a loopback
OpenAI-compatible stub. Requests carry `X-API-Key`, as Strongly.ai's clients send it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.functional.api.conftest import Api, Client, Reply, _test_keys, photo  # noqa: F401 (a fixture)

SEED = Path("/work/shared/seeds")
TERMINAL = {"completed", "failed", "cancelled"}


@dataclass
class ChatStub:
    """An OpenAI-compatible `/v1/chat/completions` on 127.0.0.1 that answers a caption and records requests."""

    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> ChatStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                time.sleep(stub.delay)
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                parts = body["messages"][0]["content"]
                has_image = any(p.get("type") == "image_url" for p in parts)
                text = f"A generated caption ({'with' if has_image else 'without'} image) #{len(stub.requests)}"
                answer = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class StronglyClient(Client):
    """A client that authenticates as Strongly.ai's do: `X-API-Key`."""

    def request(self, method: str, path: str, **kw: Any) -> Reply:
        headers = {"X-API-Key": self.key or "", **(kw.pop("headers", None) or {})}
        key, self.key = self.key, None
        try:
            return super().request(method, path, headers=headers, **kw)
        finally:
            self.key = key

    def with_key(self, key: str | None) -> StronglyClient:
        return StronglyClient(self.transport, self.base, self._resolve, key)

    def wait(self, path: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.get(path).json()
            if body["status"] in TERMINAL or time.monotonic() > deadline:
                return body
            time.sleep(0.1)


@pytest.fixture(scope="session")
def chat_stub() -> Iterator[ChatStub]:
    stub = ChatStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="session")
def v1_embedded(tmp_path_factory: pytest.TempPathFactory, chat_stub: ChatStub) -> Iterator[Api]:
    from mediaflow.api import ApiConfig, create_app
    from mediaflow.embedded.app import LocalService
    from mediaflow.embedded.bootstrap import embedded_context
    from mediaflow.embedded.http_server import local_api
    from mediaflow.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("api-v1"), workers=1, ai_provider="openai",
                        ai_base_url=chat_stub.url, ai_api_key="stub-token", ai_model="stub-model")
    service = LocalService(settings)
    keys = _test_keys(service.adapters.keys)
    keys["a2"] = service.adapters.keys.create_key("tenant-a", ["workflows:read", "workflows:write",
                                                               "workflows:execute"])[0]
    config = ApiConfig(rate_per_second=10_000, burst=10_000)
    server = local_api(service, port=0, config=config).start()
    ctx = embedded_context(service, config)
    try:
        yield Api(service, server, create_app(ctx), keys, runs=service.adapters.runs, jobs=ctx.jobs)
    finally:
        server.stop()
        service.close()


@pytest.fixture(scope="package")
def v1_aws(chat_stub: ChatStub) -> Iterator[Api]:
    from mediaflow.api import ApiConfig

    from tests.functional.api.aws_backend import aws_deployment

    with aws_deployment(ApiConfig(rate_per_second=10_000, burst=10_000)) as deployment:
        adapters = deployment.adapters
        # The node functions read the deployment's settings: ai_generate goes to the loopback stub here
        # (Bedrock itself is not in moto; its request shape is covered by a botocore Stubber test).
        # The upload trigger reads active workflows afresh (a warm one keeps them trigger_cache_seconds, 5 s by
        # default, docs/compat.md), so stop/start and lifecycle changes are seen by the next upload here.
        adapters.settings = adapters.settings.model_copy(update={
            "ai_provider": "openai", "ai_base_url": chat_stub.url, "ai_model": "stub-model",
            "inbound_email_domain": "mail.example.com", "trigger_cache_seconds": 0})
        from mediaflow.cloud import bootstrap as cloud

        cloud.upload_trigger.cache_clear()  # built from this deployment's adapters on first use
        keys = _test_keys(adapters.keys)
        keys["a2"] = adapters.keys.create_key("tenant-a", ["workflows:read", "workflows:write",
                                                           "workflows:execute"])[0]
        yield Api(None, None, deployment.app, keys, mode="aws", runs=adapters.runs, jobs=adapters.jobs,
                  handler=deployment.handler, deployment=deployment)
        cloud.upload_trigger.cache_clear()


@pytest.fixture(params=("serve", "lambda-moto"))
def client(request: pytest.FixtureRequest) -> StronglyClient:
    backend: Api = request.getfixturevalue("v1_aws" if request.param == "lambda-moto" else "v1_embedded")
    plain = backend.client("aws" if request.param == "lambda-moto" else "http")
    return StronglyClient(plain.transport, plain.base, plain._resolve, plain.key)


@pytest.fixture
def backend(client: StronglyClient, request: pytest.FixtureRequest) -> Api:
    name = "v1_aws" if client.transport == "aws" else "v1_embedded"
    api: Api = request.getfixturevalue(name)
    return api


def key_id(backend: Api, name: str) -> str:
    """The key id (Strongly's user id) of one of the backend's test keys."""
    store = backend.service.adapters.keys if backend.service is not None else backend.deployment.adapters.keys
    record = store.lookup(backend.keys[name])
    assert record is not None
    return str(record["keyId"])


def store_photo(backend: Api, tenant: str, name: str, data: bytes) -> str:
    """Store media as an upload of ``tenant`` (what POST /v1/uploads does) and return its key."""
    from mediaflow.api.runs import store_bytes

    ctx = backend.app.ctx
    key = f"{tenant}/uploads/entities/{name}"
    store_bytes(ctx, key, data)
    return key
