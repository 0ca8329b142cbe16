"""Backends for the client, remote CLI and MCP tests: a real `mediaflow serve` (its public command, in a
subprocess on an ephemeral loopback port) and the API Lambda on moto reached through API Gateway proxy
events (``GatewayTransport``; S3 presigned URLs go to moto through ``requests``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
ALL_SCOPES = "workflows:read,workflows:write,workflows:execute"
GATEWAY_HOST = "abc123.execute-api.us-east-1.amazonaws.com"
GATEWAY = f"https://{GATEWAY_HOST}/prod"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mediaflow(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
              ) -> subprocess.CompletedProcess[str]:
    """The `mediaflow` command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "mediaflow.cli", *args], cwd=cwd, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Served:
    url: str
    key: str
    folder: Path
    env: dict[str, str]


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`mediaflow serve` in a fresh folder, and a key made with `mediaflow keys create` there."""
    folder = tmp_path_factory.mktemp("served")
    env = {**os.environ, "MEDIAFLOW_WORKERS": "1", "MEDIAFLOW_CONFIG_DIR": str(folder / "config"),
           "PYTHONPATH": str(ROOT / "layers" / "core"), "MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}
    for name in ("MEDIAFLOW_DATA_DIR", "MEDIAFLOW_API_URL", "MEDIAFLOW_API_KEY", "MEDIAFLOW_PROFILE"):
        env.pop(name, None)
    made = mediaflow("keys", "create", "--tenant", "demo", "--scopes", ALL_SCOPES, cwd=folder, env=env)
    assert made.returncode == 0, made.stderr
    port = free_port()
    log = (folder / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "mediaflow.cli", "serve", "--port", str(port)], cwd=folder,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (folder / "serve.log").read_text()
            assert time.monotonic() < deadline, "mediaflow serve did not start"
            time.sleep(0.2)
        yield Served(url, made.stdout.strip(), folder, env)
    finally:
        stop(server)
        log.close()


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a server this test started (SIGTERM, then SIGKILL if it lingers)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class RequestsTransport(httpx.BaseTransport):
    """Hands requests to the `requests` library, which moto intercepts (S3 presigned POSTs and GETs)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import requests

        answer = requests.request(request.method, str(request.url), headers=dict(request.headers),
                                  data=request.read() or None, timeout=60)
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in ("content-encoding",
                                                                                    "transfer-encoding")]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content, request=request)


@dataclass
class OnMoto:
    url: str
    key: str
    transport: httpx.BaseTransport
    deployment: Any


@pytest.fixture(scope="package")
def on_moto() -> Iterator[OnMoto]:
    """The deployment of template.yaml on moto; requests reach functions/api/app.py's lambda_handler as API
    Gateway would send them."""
    from mediaflow.api import ApiConfig
    from mediaflow.client.gateway import GatewayTransport

    from tests.functional.api.aws_backend import aws_deployment
    from tests.functional.aws.conftest import FakeContext

    with aws_deployment(ApiConfig(rate_per_second=10_000, burst=10_000)) as deployment:
        key = deployment.adapters.keys.create_key("demo", ALL_SCOPES.split(","))[0]
        transport = GatewayTransport(deployment.handler, host=GATEWAY_HOST, stage="prod",
                                     context=FakeContext("mediaflow-dev-api"), fallback=RequestsTransport())
        yield OnMoto(GATEWAY, key, transport, deployment)


def photo(folder: Path, name: str = "photo.jpg") -> Path:
    from mediaflow.samples import photo as make

    return make(folder / name, 640, 480)


def png(folder: Path, name: str = "pixel.png") -> Path:
    """A PNG made with libvips here (not a shipped file)."""
    import pyvips

    path = folder / name
    image = pyvips.Image.black(96, 64, bands=3).draw_rect([200, 30, 30], 10, 10, 40, 30, fill=True)
    image.write_to_file(str(path))
    return path
