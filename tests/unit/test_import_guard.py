"""The guard of URL imports and URL exports (mediaflow.transfer over the webhook SSRF guard), the
import_url config, the run option's definition and the export names."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mediaflow.errors import ExportFailed, ImportRefused
from mediaflow.nodes import import_url, storage
from mediaflow.nodes.storage_exports import unsafe_relative
from mediaflow.transfer import fetch, put, shown, without_userinfo
from mediaflow.validation import validate
from pydantic import ValidationError

pytestmark = pytest.mark.unit

LOOPBACK_SPELLINGS = [
    "https://127.0.0.1/a.jpg", "https://2130706433/a.jpg", "https://0177.0.0.1/a.jpg", "https://0x7f.0.0.1/a.jpg",
    "https://0x7f000001/a.jpg", "https://127.1/a.jpg", "https://0177.1/a.jpg", "https://[::1]/a.jpg",
    "https://[::ffff:127.0.0.1]/a.jpg", "https://[::ffff:7f00:1]/a.jpg", "https://localhost/a.jpg",
]
PRIVATE_SPELLINGS = [
    "https://[0:0:0:0:0:ffff:a00:1]/a.jpg", "https://0.0.0.0/a.jpg", "https://0/a.jpg", "https://[::]/a.jpg",
    "https://169.254.169.254/latest/meta-data/", "https://2852039166/", "https://0xA9FEA9FE/",
    "https://0251.0376.0251.0376/", "https://[fd00:ec2::254]/", "https://[fd00::1]/a.jpg", "https://[fe80::1]/a.jpg",
    "https://10.0.0.1/a.jpg", "https://10.1/a.jpg", "https://172.16.5.4/a.jpg", "https://192.168.1.1/a.jpg",
    "https://100.64.0.1/a.jpg", "https://[2002:a9fe:a9fe::]/a.jpg", "https://224.0.0.1/a.jpg",
    "https://internal.example/a.jpg", "https://user:pw@10.0.0.1/a.jpg", "https://[64:ff9b::a00:1]/a.jpg",
]


def resolver(host: str, port: int) -> list[str]:
    """Names in this test resolve without DNS: ``internal.example`` to private space, anything else to loopback."""
    return ["10.20.30.40"] if host == "internal.example" else ["127.0.0.1"]


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS + PRIVATE_SPELLINGS)
def test_every_private_spelling_is_refused_without_the_allowance(url: str, tmp_path: Path) -> None:
    with pytest.raises(ImportRefused) as refused:
        fetch(url, tmp_path / "out", max_bytes=1000, timeout=1, resolver=resolver)
    assert refused.value.code == "ImportRefused" and refused.value.field == "url"
    assert not (tmp_path / "out").exists()
    with pytest.raises(ExportFailed, match="refused"):
        put(url, Path(__file__), "text/plain", timeout=1, resolver=resolver)


@pytest.mark.parametrize("url", PRIVATE_SPELLINGS)
def test_the_loopback_allowance_never_opens_private_space(url: str, tmp_path: Path) -> None:
    with pytest.raises(ImportRefused):
        fetch(url, tmp_path / "out", max_bytes=1000, timeout=1, allow_loopback=True, resolver=resolver)


@pytest.mark.parametrize("url", ["http://93.184.216.34/a.jpg", "ftp://example.com/a.jpg", "file:///etc/passwd",
                                 "gopher://example.com/", "https:///nohost"])
def test_only_https_reaches_public_addresses(url: str, tmp_path: Path) -> None:
    with pytest.raises(ImportRefused):
        fetch(url, tmp_path / "out", max_bytes=1000, timeout=1, allow_loopback=True, resolver=resolver)


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        Recorder.seen.append(dict(self.headers))
        body = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_the_checked_address_is_the_one_connected_to(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    """DNS rebinding: the name is resolved once, checked, and the connection goes to that address, so an
    answer that changes afterwards (to private space) is never used."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    port = server.server_address[1]
    fetched = fetch(f"http://me:secret@media.test:{port}/a.png?sig=1", tmp_path / "out", max_bytes=1000, timeout=5,
                    allow_loopback=True, resolver=rebinding)
    assert calls == ["media.test"]
    assert fetched.size == 40 and fetched.url == f"http://media.test:{port}/a.png"
    headers = {name.lower(): value for name, value in Recorder.seen[-1].items()}
    assert headers["host"] == f"media.test:{port}"
    assert "authorization" not in headers and "cookie" not in headers


def test_urls_lose_credentials_and_queries_where_shown() -> None:
    assert without_userinfo("https://a:b@example.com:8443/x?y=1") == "https://example.com:8443/x?y=1"
    assert shown("https://a:b@example.com/x.jpg?X-Amz-Signature=s") == "https://example.com/x.jpg"


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "file:///etc/passwd", "example.com/a.jpg", ""])
def test_import_url_config_takes_https_http_and_s3_only(url: str) -> None:
    with pytest.raises(ValidationError):
        import_url.Config.model_validate({"url": url})
    assert import_url.Config.model_validate({"url": "s3://bucket/key.jpg"}).url == "s3://bucket/key.jpg"


def test_the_run_option_puts_an_import_between_trigger_and_the_rest() -> None:
    definition = {"name": "w", "nodes": [{"id": "up", "kind": "upload"}, {"id": "import", "kind": "resize",
                                                                           "config": {"width": 10}}],
                  "edges": [{"source": "up", "target": "import"}]}
    changed = import_url.prepended(definition, "https://example.com/a.jpg")
    assert changed["edges"] == [{"source": "up", "target": "import-2"}, {"source": "import-2", "target": "import"}]
    assert changed["nodes"][-1] == {"id": "import-2", "kind": "import_url",
                                    "config": {"url": "https://example.com/a.jpg"}}
    assert validate(changed).valid
    assert definition["edges"] == [{"source": "up", "target": "import"}]  # the saved workflow is untouched


def test_an_event_workflow_may_work_on_media_after_an_import() -> None:
    nodes = [{"id": "e", "kind": "event", "config": {"eventName": "x"}},
             {"id": "r", "kind": "resize", "config": {"width": 10}}]
    without = {"name": "w", "nodes": nodes, "edges": [{"source": "e", "target": "r"}]}
    assert [issue.code for issue in validate(without).errors] == ["needs_media"]
    with_import = {"name": "w", "nodes": [*nodes, {"id": "i", "kind": "import_url",
                                                   "config": {"url": "https://example.com/a.jpg"}}],
                   "edges": [{"source": "e", "target": "i"}, {"source": "i", "target": "r"}]}
    assert validate(with_import).valid, validate(with_import).errors


@pytest.mark.parametrize(("text", "problem"), [
    ("../x", "`..`"), ("a/../../b", "`..`"), ("/abs", "relative"), ("C:/x", "relative"), ("a\\b", "backslash"),
    ("a%2fb", "percent"), ("a%5Cb", "percent"), ("%2e%2e/x", "percent"), ("a\x00b", "control"),
])
def test_export_names_never_leave_the_destination(text: str, problem: str) -> None:
    assert problem in (unsafe_relative(text) or "")
    field = "filename" if "/" not in text else "path"
    with pytest.raises(ValidationError):
        storage.Config.model_validate({"destination": "local", field: text})


def test_safe_export_names_pass() -> None:
    for text in ("", "site/img", "{runId}/{original}", "a.b/c-d_e"):
        assert unsafe_relative(text) is None
    config = storage.Config.model_validate({"destination": "s3", "bucket": "user-exports", "prefix": "m/{runId}/",
                                            "roleArn": "arn:aws:iam::111122223333:role/x", "externalId": "t-1"})
    assert config.role_arn.endswith(":role/x")
    with pytest.raises(ValidationError):
        storage.Config.model_validate({"destination": "s3"})  # needs the bucket
    with pytest.raises(ValidationError):
        storage.Config.model_validate({"destination": "s3", "bucket": "b-1", "prefix": "../up/"})
