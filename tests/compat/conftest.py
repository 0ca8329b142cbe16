"""Fixtures of the compatibility tests: each product's documented requests, sent verbatim to two backends.

- "serve": the local HTTP server of `mediaflow serve` on 127.0.0.1 (an ephemeral port) over the embedded
  adapters; multipart requests are sent by the real ``curl`` with the document's own ``-F`` arguments;
- "aws": API Gateway REST proxy events to functions/api/app.py's ``lambda_handler`` over the AWS adapters on
  moto (tests/functional/api/aws_backend.py), multipart bodies built byte for byte as curl builds them.

The /api/v1 products have their own fixtures in tests/compat/api_v1/."""

from __future__ import annotations

import json
import secrets
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.replicate_stub import TOKEN, ReplicateStub
from tests.functional.api.conftest import Api, Client, Reply, _test_keys, aws_api

__all__ = ["aws_api"]

BACKENDS = ("serve", "aws")
TERMINAL = {"completed", "failed", "cancelled"}
SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


def curl_multipart(fields: list[str], folder: Path) -> tuple[bytes, str]:
    """The body and Content-Type curl 7/8 sends for ``-F`` arguments (``name=value``, ``name=@file``)."""
    boundary = "-" * 24 + secrets.token_hex(11)
    body = b""
    for spec in fields:
        name, _, value = spec.partition("=")
        body += f"--{boundary}\r\n".encode()
        if value.startswith("@"):
            path = folder / value[1:]
            kind = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}.get(
                path.suffix, "application/octet-stream")
            body += (f'Content-Disposition: form-data; name="{name}"; filename="{path.name}"\r\n'
                     f"Content-Type: {kind}\r\n\r\n").encode() + path.read_bytes() + b"\r\n"
        else:
            body += f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Product:
    """One backend as a product's client sees it: documented calls with the key in ``Authorization``."""

    def __init__(self, backend: str, client: Client, api: Api) -> None:
        self.backend, self.client, self.api = backend, client, api

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        """``body`` is sent as the document's JSON text when it is a str, else serialised."""
        data = body if isinstance(body, str) else None if body is None else json.dumps(body)
        extra = {"Content-Type": "application/json"} if data is not None else {}
        return self.client.request(method, path, data=data, headers={**extra, **(headers or {})})

    def curl(self, command: str, folder: Path, substitutions: dict[str, str]) -> Reply:
        """Run a documented curl command against this backend: its URL host swapped for ours, ``$VARS``
        and ``<placeholders>`` substituted, files read from ``folder``."""
        for name, value in substitutions.items():
            command = command.replace(name, value)
        argv = shlex.split(command.replace("\\\n", " "))
        assert argv[0] == "curl"
        method, url, headers, forms = "GET", "", {}, []
        args = iter(argv[1:])
        for arg in args:
            if arg == "-X":
                method = next(args)
            elif arg == "-H":
                name, _, value = next(args).partition(":")
                headers[name.strip()] = value.strip()
            elif arg == "-F":
                forms.append(next(args))
                method = "POST" if method == "GET" else method
            else:
                url = arg
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        if self.backend == "serve" and shutil.which("curl"):
            local = [self.client.base + path if arg == url else arg for arg in argv[1:]]
            out = subprocess.run(["curl", "-sS", "-i", *local], cwd=folder, capture_output=True, timeout=120,
                                 check=True).stdout
            return _parse_http(out)
        # On AWS (and where curl is missing) the same request is built as curl builds it.
        body, content_type = curl_multipart(forms, folder) if forms else (b"", "")
        if forms:
            headers["Content-Type"] = content_type
        return self.client.with_key(None).request(method, path, data=body or None, headers=headers)

    def wait_run(self, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
        return self.client.wait_run(run_id, timeout)

    def wait(self, path: str, done: Any, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data: dict[str, Any] = self.call("GET", path).json()
            if done(data) or time.monotonic() > deadline:
                return data
            time.sleep(0.2)


def _parse_http(raw: bytes) -> Reply:
    """curl -i output (the last response, after any 100 Continue) as a Reply."""
    while raw.startswith(b"HTTP/") and b" 100 " in raw.split(b"\r\n", 1)[0]:
        raw = raw.split(b"\r\n\r\n", 1)[1]
    head, _, content = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(status, headers, content)


@pytest.fixture(scope="session")
def replicate() -> Iterator[ReplicateStub]:
    with ReplicateStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def embedded_api(tmp_path_factory: pytest.TempPathFactory, replicate: ReplicateStub) -> Iterator[Api]:
    """`serve`'s server on loopback over the embedded adapters, with Replicate's token and the stub's URL
    in its settings (as MEDIAFLOW_REPLICATE_API_TOKEN / MEDIAFLOW_REPLICATE_BASE_URL would set them)."""
    from mediaflow.api import ApiConfig, create_app
    from mediaflow.embedded.app import LocalService
    from mediaflow.embedded.bootstrap import embedded_context
    from mediaflow.embedded.http_server import local_api
    from mediaflow.settings import get_settings

    settings = get_settings().model_copy(update={"replicate_api_token": TOKEN, "replicate_base_url": replicate.url,
                                                 "replicate_wait_seconds": 60.0})
    service = LocalService(settings, data_dir=tmp_path_factory.mktemp("compat-data"))
    keys = _test_keys(service.adapters.keys)
    config = ApiConfig(rate_per_second=10_000, burst=10_000)
    server = local_api(service, port=0, config=config).start()
    try:
        ctx = embedded_context(service, config)
        yield Api(service, server, create_app(ctx), keys, runs=service.adapters.runs, jobs=ctx.jobs)
    finally:
        server.stop()
        service.close()


@pytest.fixture
def aws_replicate(aws_api: Api, replicate: ReplicateStub, monkeypatch: pytest.MonkeyPatch) -> ReplicateStub:
    """The AWS deployment's functions with Replicate's token and the stub's URL in their settings."""
    settings = aws_api.deployment.adapters.settings
    monkeypatch.setattr(settings, "replicate_api_token", TOKEN)
    monkeypatch.setattr(settings, "replicate_base_url", replicate.url)
    monkeypatch.setattr(settings, "replicate_wait_seconds", 60.0)
    return replicate


@pytest.fixture(params=BACKENDS)
def product(request: pytest.FixtureRequest) -> Product:
    api: Api = request.getfixturevalue("aws_api" if request.param == "aws" else "embedded_api")
    client = api.client("http" if request.param == "serve" else "aws")
    return Product(request.param, client, api)


@pytest.fixture
def api_key(product: Product) -> str:
    key: str = product.api.keys["a"]
    return key


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real media made here: hero.png / input.png (photos), a plain PNG and a JPEG."""
    from mediaflow import samples

    folder = tmp_path_factory.mktemp("compat-media")
    photo = samples.photo(folder / "photo.jpg", 320, 240)
    import pyvips

    image = pyvips.Image.new_from_file(str(photo))
    for name in ("hero.png", "input.png", "plain.png"):
        image.write_to_file(str(folder / name))
    return folder


def seed(name: str) -> str | None:
    """A product document from shared/seeds, when this checkout has shared/ beside it."""
    matches = sorted(SEEDS.glob(f"{name}_*.txt")) if SEEDS.is_dir() else []
    return matches[0].read_text() if matches else None



@pytest.fixture
def mindia(product: Product) -> Product:
    """The product as a Mindia client sees it (tenant-a, whose uploads start its workflows on both runtimes)."""
    return product


@pytest.fixture
def mindia_upload(mindia: Product, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``upload(relative_key, data) -> run ids``: a file stored under the tenant's uploads/ and handed to the
    upload trigger of its runtime (the `serve` upload watcher; on AWS the trigger function with the
    EventBridge "Object Created" event S3 sends)."""
    if mindia.backend == "serve":
        from mediaflow.embedded.serve import UploadWatcher

        watcher = UploadWatcher(mindia.api.service)

        def upload_local(relative: str, data: bytes) -> list[str]:
            target = watcher.root / "tenant-a" / relative  # uploads/<tenant>/<path> is that tenant's upload
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return watcher.scan(settle=False)

        yield upload_local
        return
    import boto3
    from mediaflow.cloud import bootstrap as cloud

    from tests.functional.aws.conftest import FakeContext, load_handler

    bucket = mindia.api.deployment.settings.uploads_bucket
    trigger = load_handler("functions/trigger/handler.py")

    def upload_s3(relative: str, data: bytes) -> list[str]:
        key = f"tenant-a/uploads/{relative}"
        put = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
        event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {
            "bucket": {"name": bucket}, "object": {"key": key, "size": len(data), "etag": put["ETag"].strip('"'),
                                                  "version-id": put.get("VersionId", "null"), "sequencer": "01"}}}
        runs = trigger.lambda_handler(event, FakeContext("trigger"))["runs"]
        return [str(run["runId"]) for run in runs]

    # A warm trigger keeps a tenant's active workflows trigger_cache_seconds (docs/compat.md): a workflow a test
    # saves just before its upload is seen by a fresh trigger, as after that delay on AWS.
    monkeypatch.setattr(mindia.api.deployment.adapters.settings, "trigger_cache_seconds", 0)
    cloud.upload_trigger.cache_clear()
    yield upload_s3
    cloud.upload_trigger.cache_clear()


def drawn_figure(path: Path) -> Path:
    """A drawing (no photograph): a skin-toned torso with two shaded breasts and dark areolae. The nudenet
    detector reads it as FEMALE_BREAST_EXPOSED at 62% and 59% (nudenet 3.4.2's own NudeDetector gives the same),
    enough to flag it at the default minimum confidence of 50."""
    from PIL import Image, ImageDraw, ImageFilter

    skin, areola = (225, 180, 150), (150, 90, 80)
    image = Image.new("RGB", (320, 320), (40, 40, 60))
    draw = ImageDraw.Draw(image)
    draw.ellipse([40, 0, 280, 330], fill=skin)
    radius, y = 50, 170
    for cx in (100, 220):
        for step in range(12, 0, -1):
            t = step / 12
            shade = tuple(int(c * (0.8 + 0.2 * t)) for c in skin)
            draw.ellipse([cx - radius * t, y - radius * t, cx + radius * t, y + radius * t * 1.05], fill=shade)
        centre = y + radius * 0.2
        draw.ellipse([cx - 12, centre - 12, cx + 12, centre + 12], fill=areola)
        draw.ellipse([cx - 4, centre - 4, cx + 4, centre + 4], fill=tuple(c - 30 for c in areola))
    image.filter(ImageFilter.GaussianBlur(2)).save(path)
    return path
