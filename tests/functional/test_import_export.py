"""Media in from a URL (``import_url``) and out to destinations outside mediaflow (the ``storage`` node's
exports), on both runtimes: the embedded executor, and the same compiled workflow on moto's Step Functions
with its Lambda Tasks answered in-process (tests/support/moto_sfn.py). The sources and receivers are real
HTTP servers on 127.0.0.1; the user's buckets and role are on moto."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mediaflow.adapters.embedded import open_embedded
from mediaflow.compiler import compile_workflow
from mediaflow.embedded.app import LocalService
from mediaflow.runs import output_refs
from mediaflow.settings import Settings
from mediaflow.validation import validate
from PIL import Image

from tests.support.moto_sfn import MOCK_CONFIG, REGION, run_on_moto, workers_in_process

pytestmark = [pytest.mark.functional]
RUNTIMES = ("embedded", "aws")
TENANT = "t1"
MAX_BYTES = 200_000
USER_ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{USER_ACCOUNT}:role/mediaflow-export"


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


PHOTO = jpeg_bytes()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Source:
    """A real HTTP server on loopback: media, redirects, oversized and slow answers, and PUT receivers."""

    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    seen_tokens: set[str] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def puts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PUT"]


def _handler(source: Source) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            source.requests.append(Recorded("GET", self.path, dict(self.headers)))
            path = self.path.split("?", 1)[0]
            if path.endswith("/photo.jpg") or path == "/photo":
                self._send(200, PHOTO, {"Content-Type": "text/plain"})  # a lying type: the bytes decide
            elif path == "/hop":
                self._send(302, headers={"Location": "/photo.jpg"})
            elif path == "/to-private":
                self._send(302, headers={"Location": "https://10.0.0.7/photo.jpg"})
            elif path == "/to-private-http":
                self._send(307, headers={"Location": "http://10.0.0.7/photo.jpg"})
            elif path == "/to-metadata":
                self._send(301, headers={"Location": "https://169.254.169.254/latest/meta-data/"})
            elif path == "/loop":
                self._send(302, headers={"Location": "/loop"})
            elif path == "/big":
                self._send(200, PHOTO + b"\0" * MAX_BYTES)
            elif path == "/big-undeclared":  # no Content-Length: the cap holds while streaming
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(PHOTO + b"\0" * MAX_BYTES)
                self.close_connection = True
            elif path == "/slow":
                self.send_response(200)
                self.send_header("Content-Length", str(len(PHOTO)))
                self.end_headers()
                try:
                    for offset in range(0, len(PHOTO), 16):
                        self.wfile.write(PHOTO[offset:offset + 16])
                        self.wfile.flush()
                        time.sleep(0.25)
                except OSError:
                    pass
            elif path == "/flaky":  # the first GET of each ?n= token fails
                token = self.path.partition("?")[2]
                first = token not in source.seen_tokens
                source.seen_tokens.add(token)
                self._send(503) if first else self._send(200, PHOTO)
            elif path == "/page.html":
                self._send(200, b"<!doctype html><html><body>hello</body></html>", {"Content-Type": "image/jpeg"})
            else:
                self._send(404)

        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            source.requests.append(Recorded("PUT", self.path, dict(self.headers), body))
            self._send(403 if self.path.startswith("/denied") else 200)

    return Handler


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    holder = Source(server=None)  # type: ignore[arg-type]
    holder.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    holder.server.daemon_threads = True
    thread = threading.Thread(target=holder.server.serve_forever, daemon=True)
    thread.start()
    yield holder
    holder.server.shutdown()
    holder.server.server_close()


def settings_for(data_dir: Path, export_root: Path, *, loopback: bool = True) -> Settings:
    return Settings(data_dir=data_dir, workers=1, import_allow_loopback=loopback, import_max_bytes=MAX_BYTES,
                    import_timeout_seconds=1.5, export_local_root=export_root,
                    export_buckets="user-exports,partner-exports", region=REGION)


def workflow(*nodes: dict[str, Any]) -> dict[str, Any]:
    """An event-started workflow (no media: the import fetches it) of ``nodes`` in a chain."""
    chain = [{"id": "start", "kind": "event", "config": {"eventName": "import"}}, *nodes]
    return {"name": "import and export", "nodes": chain,
            "edges": [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(chain)]}


def fetch(url: str, **config: Any) -> dict[str, Any]:
    return {"id": "fetch", "kind": "import_url", "config": {"url": url, **config}}


def store(**config: Any) -> dict[str, Any]:
    return {"id": "save", "kind": "storage", "config": config}


@dataclass
class Ended:
    runtime: str
    status: str
    error: str | None
    steps: list[dict[str, Any]]
    outputs: dict[str, bytes]

    def step(self, node_id: str) -> dict[str, Any]:
        return next(s for s in self.steps if s["nodeId"] == node_id)


def run_on(runtime: str, definition: dict[str, Any], tmp_path: Path, *, loopback: bool = True,
           run_id: str = "run-import-1") -> Ended:
    """Run ``definition`` once on ``runtime``; inside an active mock_aws on "aws" (its buckets stay)."""
    report = validate(definition)
    assert report.valid and report.definition is not None, report.errors
    compiled = compile_workflow(report.definition, report.configs)
    run = {"runId": run_id, "workflowId": "wf-import", "tenant": TENANT, "version": 1,
           "startedAt": "2026-01-01T00:00:00.000Z"}
    execution_input = {"run": run, "media": None, "event": {"eventName": "import", "data": {}, "source": "test"}}
    data_dir = tmp_path / runtime
    settings = settings_for(data_dir, tmp_path / "exports", loopback=loopback)
    if runtime == "embedded":
        with LocalService(settings, tenant=TENANT) as service:
            result = service.runtime.start(compiled.asl, execution_input, run_id)
            blobs, runs = service.adapters.blobs, service.adapters.runs
            status, error = result.status, result.error
            outputs = {ref["key"]: blobs.local_path(ref["key"]).read_bytes()
                       for ref in output_refs(result.output)} if result.output else {}
            return Ended(runtime, status, error, runs.steps(TENANT, run_id), outputs)
    adapters = open_embedded(data_dir)
    adapters.runs.create_run({"tenant": TENANT, "runId": run_id, "workflowId": "wf-import", "version": 1,
                              "status": "pending", "input": execution_input})
    handler = workers_in_process(adapters, data_dir / "work", settings)
    on_moto = run_on_moto(compiled.asl, execution_input, handler, name=run_id,
                          machine_type=compiled.execution_type)
    outputs = {ref["key"]: adapters.blobs.local_path(ref["key"]).read_bytes()
               for ref in output_refs(on_moto.output)} if on_moto.output else {}
    return Ended(runtime, on_moto.status, on_moto.error, adapters.runs.steps(TENANT, run_id), outputs)


@pytest.fixture
def aws() -> Iterator[Any]:
    """moto with the user's bucket in this account, and a second account holding a bucket behind a role."""
    import boto3
    from moto import mock_aws

    with mock_aws(config=MOCK_CONFIG):
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="user-exports")
        yield boto3


# -- import ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_import_from_a_loopback_server_then_resize_and_store(runtime: str, source: Source, tmp_path: Path,
                                                             aws: Any) -> None:
    url = source.base.replace("http://", "http://someone:secret@") + "/hop"
    ended = run_on(runtime, workflow(fetch(url), {"id": "small", "kind": "resize", "config": {"width": 16}},
                                     store(prefix="imported/")), tmp_path)
    assert ended.status == "SUCCEEDED", (ended.error, ended.steps)
    imported = ended.step("fetch")["output"]
    assert imported["contentType"] == "image/jpeg" and imported["mediaType"] == "image"  # by magic bytes
    assert imported["redirects"] == 1 and imported["source"] == f"{source.base}/photo.jpg"
    assert imported["size"] == len(PHOTO)
    saved = [key for key in ended.outputs if key.startswith(f"{TENANT}/outputs/imported/")]
    assert len(saved) == 1 and saved[0].endswith("photo.jpg")
    assert Image.open(io.BytesIO(ended.outputs[saved[0]])).size == (16, 12)
    gets = [r for r in source.requests if r.method == "GET"][-2:]
    for request in gets:  # no credentials travel: userinfo cut, no Authorization or Cookie sent
        assert not {"authorization", "cookie"} & {name.lower() for name in request.headers}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("path", "error", "reason"), [
    ("/to-private", "ImportRefused", "not a public address"),
    ("/to-private-http", "ImportRefused", "must use https"),
    ("/to-metadata", "ImportRefused", "169.254.169.254"),
    ("/loop", "ImportRefused", "redirects"),
    ("/big", "ImportTooLarge", "import limit"),
    ("/big-undeclared", "ImportTooLarge", "import limit"),
    ("/slow", "ImportTimeout", "time limit"),
    ("/page.html", "UnsupportedMedia", "not one of"),
    ("/missing.jpg", "ImportFailed", "HTTP 404"),
])
def test_import_refusals_fail_the_node_with_a_named_error(runtime: str, path: str, error: str, reason: str,
                                                          source: Source, tmp_path: Path, aws: Any) -> None:
    ended = run_on(runtime, workflow(fetch(source.base + path), store()), tmp_path)
    assert ended.status == "FAILED"
    assert ended.error == error
    failed = ended.step("fetch")
    assert failed["status"] == "failed" and failed["error"] == error
    assert reason in failed["errorMessage"]
    assert ended.outputs == {}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_loopback_is_refused_without_the_allowance(runtime: str, source: Source, tmp_path: Path, aws: Any) -> None:
    asked = len(source.requests)
    ended = run_on(runtime, workflow(fetch(source.base + "/photo.jpg"), store()), tmp_path, loopback=False)
    assert ended.status == "FAILED" and ended.error == "ImportRefused"
    assert "must use https" in ended.step("fetch")["errorMessage"]
    assert len(source.requests) == asked  # refused before any connection


def test_s3_import_reads_only_allow_listed_buckets(source: Source, tmp_path: Path, aws: Any) -> None:
    s3 = aws.client("s3", region_name=REGION)
    for bucket in ("partner-media", "private-stuff"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="in/photo.jpg", Body=PHOTO)
    definition = workflow(fetch("s3://partner-media/in/photo.jpg"), store())
    settings_env = {"import_buckets": "partner-media"}
    ended = run_with(definition, tmp_path, settings_env)
    assert ended.status == "SUCCEEDED", ended.steps
    assert ended.step("fetch")["output"]["source"] == "s3://partner-media/in/photo.jpg"
    assert list(ended.outputs.values()) == [PHOTO]
    refused = run_with(workflow(fetch("s3://private-stuff/in/photo.jpg"), store()), tmp_path / "2", settings_env)
    assert refused.status == "FAILED" and refused.error == "ImportRefused"
    assert "allow-list" in refused.step("fetch")["errorMessage"]


def run_with(definition: dict[str, Any], tmp_path: Path, overrides: dict[str, Any]) -> Ended:
    """The AWS runtime with extra settings (the S3 import allow-list is an AWS parameter)."""
    original = settings_for

    def patched(data_dir: Path, export_root: Path, *, loopback: bool = True) -> Settings:
        return original(data_dir, export_root, loopback=loopback).model_copy(update=overrides)

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(globals(), "settings_for", patched)
        return run_on("aws", definition, tmp_path)


# -- export ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_export_to_a_presigned_put_url(runtime: str, source: Source, tmp_path: Path, aws: Any) -> None:
    target = f"{source.base}/receiver/{runtime}/out.jpg?X-Amz-Signature=abc"
    ended = run_on(runtime, workflow(fetch(source.base + "/photo.jpg"), store(destination="url", url=target)),
                   tmp_path)
    assert ended.status == "SUCCEEDED", ended.steps
    put = [r for r in source.puts() if r.path.startswith(f"/receiver/{runtime}/")]
    assert len(put) == 1 and put[0].body == PHOTO
    assert put[0].headers["Content-Type"] == "image/jpeg"
    assert "Authorization" not in put[0].headers
    exported = ended.step("save")["output"]["export"]
    assert exported == {"destination": f"{source.base}/receiver/{runtime}/out.jpg", "status": 200}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_export_failure_keeps_the_output_in_mediaflow(runtime: str, source: Source, tmp_path: Path,
                                                      aws: Any) -> None:
    ended = run_on(runtime, workflow(fetch(source.base + "/photo.jpg"),
                                     store(destination="url", url=f"{source.base}/denied/x.jpg")), tmp_path)
    assert ended.status == "FAILED" and ended.error == "ExportFailed"
    failed = ended.step("save")
    assert failed["error"] == "ExportFailed"
    assert f"{source.base}/denied/x.jpg" in failed["errorMessage"] and "HTTP 403" in failed["errorMessage"]
    kept = failed["output"]["key"]
    assert kept.startswith(f"{TENANT}/outputs/") and kept in failed["errorMessage"]
    assert open_embedded(tmp_path / runtime).blobs.local_path(kept).read_bytes() == PHOTO


def test_export_to_the_users_bucket_on_moto(source: Source, tmp_path: Path, aws: Any) -> None:
    ended = run_on("aws", workflow(fetch(source.base + "/photo.jpg"),
                                   store(destination="s3", bucket="user-exports", prefix="media/{runId}/",
                                         filename="{original}-web")), tmp_path)
    assert ended.status == "SUCCEEDED", ended.steps
    key = "media/run-import-1/photo-web.jpg"
    body = aws.client("s3", region_name=REGION).get_object(Bucket="user-exports", Key=key)["Body"].read()
    assert body == PHOTO
    assert ended.step("save")["output"]["export"]["destination"] == f"s3://user-exports/{key}"


def test_export_through_the_users_role_in_another_account(source: Source, tmp_path: Path, aws: Any) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends

    user = aws.client("sts", region_name=REGION).assume_role(RoleArn=ROLE_ARN, RoleSessionName="setup",
                                                              ExternalId="tenant-t1")["Credentials"]
    as_user = aws.client("s3", region_name=REGION, aws_access_key_id=user["AccessKeyId"],
                         aws_secret_access_key=user["SecretAccessKey"], aws_session_token=user["SessionToken"])
    as_user.create_bucket(Bucket="partner-exports")
    ended = run_on("aws", workflow(fetch(source.base + "/photo.jpg"),
                                   store(destination="s3", bucket="partner-exports", roleArn=ROLE_ARN,
                                         externalId="tenant-t1")), tmp_path)
    assert ended.status == "SUCCEEDED", ended.steps
    assert as_user.get_object(Bucket="partner-exports", Key="photo.jpg")["Body"].read() == PHOTO
    sessions = [r for account in (DEFAULT_ACCOUNT_ID, USER_ACCOUNT)
                for r in sts_backends[account]["global"].assumed_roles if r.session_name == "mediaflow-export"]
    assert sessions and sessions[-1].role_arn == ROLE_ARN and sessions[-1].external_id == "tenant-t1"
    assert sessions[-1].account_id == USER_ACCOUNT  # the object was written with the user's account's credentials


def test_export_to_a_bucket_off_the_allow_list_is_refused(source: Source, tmp_path: Path, aws: Any) -> None:
    aws.client("s3", region_name=REGION).create_bucket(Bucket="someone-else")
    ended = run_on("aws", workflow(fetch(source.base + "/photo.jpg"),
                                   store(destination="s3", bucket="someone-else")), tmp_path)
    assert ended.status == "FAILED" and ended.error == "ExportFailed"
    assert "allow-list" in ended.step("save")["errorMessage"]
    assert "Contents" not in aws.client("s3", region_name=REGION).list_objects_v2(Bucket="someone-else")


def test_local_export_under_the_root(source: Source, tmp_path: Path) -> None:
    ended = run_on("embedded", workflow(fetch(source.base + "/photo.jpg"),
                                        store(destination="local", path="site/img", filename="{runId}-{original}")),
                   tmp_path)
    assert ended.status == "SUCCEEDED", ended.steps
    written = tmp_path / "exports" / "site" / "img" / "run-import-1-photo.jpg"
    assert written.read_bytes() == PHOTO
    assert ended.step("save")["output"]["export"]["path"] == "site/img/run-import-1-photo.jpg"


@pytest.mark.parametrize("path", ["../outside", "/etc", "a/../../b", "a%2f..%2fb", "a\\..\\b", "%2e%2e/x"])
def test_local_export_outside_the_root_is_refused_when_saved(path: str) -> None:
    report = validate(workflow(fetch("https://example.com/a.jpg"), store(destination="local", path=path)))
    assert not report.valid
    assert any("path" in str(issue) for issue in report.errors), report.errors


def test_local_export_through_a_symlink_out_of_the_root_is_refused(source: Source, tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "exports" / "link").symlink_to(tmp_path / "elsewhere")
    ended = run_on("embedded", workflow(fetch(source.base + "/photo.jpg"), store(destination="local", path="link")),
                   tmp_path)
    assert ended.status == "FAILED" and ended.error == "ExportFailed"
    assert "leaves the export root" in ended.step("save")["errorMessage"]
    assert list((tmp_path / "elsewhere").iterdir()) == []
    kept = ended.step("save")["output"]["key"]  # the output kept in mediaflow is named on the step
    assert open_embedded(tmp_path / "embedded").blobs.local_path(kept).read_bytes() == PHOTO
