"""The dashboard's file serving, sessions and log redaction (mediaflow.dashboard), on a built-looking folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mediaflow.dashboard import ASSET_CACHE, CsrfRejected, DashboardSite, RedactSecrets, Sessions, authorize, redact

pytestmark = pytest.mark.unit


@pytest.fixture
def site(tmp_path: Path) -> DashboardSite:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets" / "index-3f9a1c.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("outside")
    return DashboardSite(Sessions("local", port=8080), tmp_path)


def header(reply: object, name: str) -> str:
    return dict(reply.headers)[name]  # type: ignore[attr-defined]


def test_hashed_assets_are_immutable_and_pages_revalidate(site: DashboardSite) -> None:
    asset = site.handle("GET", "/assets/index-3f9a1c.js", {})
    assert asset.status == 200 and header(asset, "Cache-Control") == ASSET_CACHE
    assert header(asset, "Content-Type").startswith(("text/javascript", "application/javascript"))
    for path in ("/", "/index.html", "/workflows/wf_1/versions", "/runs/run-1"):
        page = site.handle("GET", path, {})
        assert page.status == 200 and page.body.startswith(b"<!doctype html>"), path
        assert header(page, "Cache-Control") == "no-cache"
    icon = site.handle("GET", "/favicon.svg", {})
    assert icon.status == 200 and header(icon, "Cache-Control") == "no-cache"


def test_missing_files_and_paths_outside_the_folder_are_not_found(site: DashboardSite) -> None:
    assert site.handle("GET", "/assets/gone-000.js", {}).status == 404
    assert site.handle("GET", "/robots.txt", {}).status == 404
    assert site.handle("GET", "/../secret.txt", {}).status == 404
    assert site.handle("GET", "/assets/../../secret.txt", {}).status == 404
    assert site.handle("GET", "/favicon.ico", {}).status == 204
    assert site.handle("DELETE", "/", {}).status == 405


def test_a_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    reply = DashboardSite(Sessions("local"), tmp_path / "none").handle("GET", "/workflows", {})
    assert reply.status == 200 and b"make setup" in reply.body


def test_a_token_opens_one_session_that_expires_when_idle() -> None:
    now = [1000.0]
    sessions = Sessions("acme", port=9, idle_seconds=60, clock=lambda: now[0])
    token = sessions.issue_token()
    session_id = sessions.redeem(token)
    assert session_id and sessions.redeem(token) is None
    cookie = {"cookie": f"other=1; mediaflow_session_9={session_id}"}
    found = sessions.session_of(cookie)
    assert found is not None and found[1].tenant == "acme"
    assert sessions.session_of({"cookie": f"mediaflow_session_10={session_id}"}) is None  # another server's
    now[0] += 61
    assert sessions.session_of(cookie) is None
    stale = sessions.issue_token()
    now[0] += 24 * 3600 + 1
    assert sessions.redeem(stale) is None


def test_authorize_turns_a_cookie_into_the_authorizer_context_and_checks_csrf() -> None:
    sessions = Sessions("acme", port=9)
    session_id = sessions.redeem(sessions.issue_token())

    def event(method: str, **headers: str) -> dict:
        return {"httpMethod": method, "headers": {"Cookie": f"mediaflow_session_9={session_id}", **headers},
                "requestContext": {}}

    read = event("GET")
    authorize(read, sessions)
    assert read["requestContext"]["authorizer"]["tenant"] == "acme"
    with pytest.raises(CsrfRejected):
        authorize(event("POST"), sessions)
    write = event("POST", **{"X-Requested-With": "mediaflow"})
    authorize(write, sessions)
    assert write["requestContext"]["authorizer"]["via"] == "session"
    keyed = event("POST", Authorization="Bearer mf_x")
    authorize(keyed, sessions)
    assert "authorizer" not in keyed["requestContext"]


def test_redaction_of_tokens_in_request_lines() -> None:
    assert redact("GET /signin/abc-DEF_1 HTTP/1.1") == "GET /signin/[redacted] HTTP/1.1"
    assert redact("/v1/downloads/eyJ.sig?download=1") == "/v1/downloads/[redacted]?download=1"
    assert redact('"PUT /v1/uploads/multipart/parts/eyJ.sig?size=8 HTTP/1.1" 200') == \
        '"PUT /v1/uploads/[redacted]?size=8 HTTP/1.1" 200'
    assert redact("POST /v1/uploads/multipart/eyJ.sig/complete HTTP/1.1") == "POST /v1/uploads/[redacted] HTTP/1.1"
    assert redact("/v1/x?a=1&token=s3cret&api_key=k") == "/v1/x?a=1&token=[redacted]&api_key=[redacted]"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/signin/tok", "1.1", 303), None)
    RedactSecrets().filter(record)
    assert "tok" not in record.getMessage() and "/signin/[redacted]" in record.getMessage()
