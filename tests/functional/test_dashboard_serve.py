"""`mediaflow serve` as a browser meets it, over real HTTP on loopback: the printed one-time sign-in link, the
session cookie it sets, the CSRF header for changes, sign-out, the app's files with their cache headers, and an
access log that never shows a token."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.support.serve_process import Served, stop_serve

pytestmark = pytest.mark.functional
HEADER = {"X-Requested-With": "mediaflow"}
WORKFLOW = {"name": "from the browser",
            "nodes": [{"id": "upload", "kind": "upload"},
                      {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}}],
            "edges": [{"source": "upload", "target": "webp"}]}


def sign_in(served: Served) -> requests.Session:
    browser = requests.Session()
    reply = browser.get(served.signin_link, allow_redirects=False, timeout=30)
    assert reply.status_code == 303 and reply.headers["Location"] == "/"
    return browser


def test_the_printed_link_signs_in_once_with_a_strict_httponly_cookie(served: Served) -> None:
    reply = requests.get(served.signin_link, allow_redirects=False, timeout=30)
    assert reply.status_code == 303 and reply.headers["Location"] == "/"
    cookie = reply.headers["Set-Cookie"]
    port = served.url.rsplit(":", 1)[1]
    assert cookie.startswith(f"mediaflow_session_{port}=")
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Path=/"))
    session_id = cookie.split(";", 1)[0].split("=", 1)[1]
    browser = requests.Session()
    browser.cookies.set(f"mediaflow_session_{port}", session_id)
    assert browser.get(f"{served.url}/v1/session", timeout=30).json() == {
        "signedIn": True, "tenant": "local", "keyId": "session", "via": "session", "mode": "embedded",
        "scopes": ["workflows:execute", "workflows:read", "workflows:write"]}
    assert browser.get(f"{served.url}/v1/workflows", timeout=30).status_code == 200
    again = requests.get(served.signin_link, allow_redirects=False, timeout=30)
    assert again.status_code == 403 and "Set-Cookie" not in again.headers and "not valid" in again.text
    guessed = requests.get(f"{served.url}/signin/{'A' * 43}", allow_redirects=False, timeout=30)
    assert guessed.status_code == 403
    anonymous = requests.get(f"{served.url}/v1/workflows", timeout=30)
    assert anonymous.status_code == 401 and anonymous.headers["Content-Type"].startswith("application/problem+json")
    assert requests.get(f"{served.url}/v1/session", timeout=30).json()["signedIn"] is False


def test_changes_by_cookie_need_the_dashboard_header_and_a_key_needs_none(served: Served) -> None:
    browser = sign_in(served)
    refused = browser.post(f"{served.url}/v1/workflows", json=WORKFLOW, timeout=30)
    assert refused.status_code == 403 and refused.json()["type"].endswith("CsrfRejected")
    assert browser.get(f"{served.url}/v1/workflows", timeout=30).json()["count"] == 0  # nothing was created
    created = browser.post(f"{served.url}/v1/workflows", json=WORKFLOW, headers=HEADER, timeout=30)
    assert created.status_code == 201
    workflow_id = created.json()["id"]
    assert browser.delete(f"{served.url}/v1/workflows/{workflow_id}", timeout=30).status_code == 403
    key = served.api_key()
    with_key = requests.post(f"{served.url}/v1/workflows", json=WORKFLOW, headers={"X-API-Key": key}, timeout=30)
    assert with_key.status_code == 201
    # a bad key is not rescued by a good cookie: the key, when sent, is who the caller is
    bad_key = browser.get(f"{served.url}/v1/workflows", headers={"X-API-Key": "mf_wrong"}, timeout=30)
    assert bad_key.status_code == 401


def test_sign_out_ends_the_session(served: Served) -> None:
    browser = sign_in(served)
    assert browser.post(f"{served.url}/signout", timeout=30).status_code == 403
    assert browser.get(f"{served.url}/v1/session", timeout=30).json()["signedIn"] is True
    out = browser.post(f"{served.url}/signout", headers=HEADER, timeout=30)
    assert out.status_code == 204 and "Max-Age=0" in out.headers["Set-Cookie"]
    assert browser.get(f"{served.url}/v1/session", timeout=30).json()["signedIn"] is False
    assert browser.get(f"{served.url}/v1/workflows", timeout=30).status_code == 401


def test_app_routes_get_the_page_and_api_paths_stay_the_api(served: Served) -> None:
    for path in ("/", "/workflows", "/workflows/wf_123", "/runs/run-1"):
        reply = requests.get(served.url + path, timeout=30)
        assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/html"), path
        assert reply.headers["Cache-Control"] == "no-cache"
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    index = requests.get(served.url + "/", timeout=30).text
    for asset in re.findall(r'(?:src|href)="(/assets/[^"]+)"', index):
        reply = requests.get(served.url + asset, timeout=30)
        assert reply.status_code == 200 and reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert requests.get(served.url + "/assets/missing-0000.js", timeout=30).status_code == 404
    assert requests.get(served.url + "/v1/nope", timeout=30).status_code == 401  # unknown API paths reveal nothing
    assert requests.get(served.url + "/v1/health", timeout=30).json()["status"] == "ok"
    assert requests.post(served.url + "/workflows", timeout=30).status_code == 405
    assert requests.get(served.url + "/../../etc/passwd", timeout=30).status_code in (200, 404)
    assert "root:" not in requests.get(served.url + "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd", timeout=30).text


def test_the_access_log_never_shows_the_token_or_signed_urls(served: Served) -> None:
    token = served.signin_link.rsplit("/", 1)[1]
    browser = sign_in(served)
    browser.get(f"{served.url}/v1/session?token=leaky-query-value", timeout=30)
    created = browser.post(f"{served.url}/v1/workflows", json=WORKFLOW, headers=HEADER, timeout=30).json()
    run = browser.post(f"{served.url}/v1/workflows/{created['id']}/runs", json={"sample": True}, headers=HEADER,
                       timeout=60).json()
    deadline = time.monotonic() + 120
    body = browser.get(f"{served.url}/v1/runs/{run['runId']}", timeout=30).json()
    while body["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        body = browser.get(f"{served.url}/v1/runs/{run['runId']}", timeout=30).json()
    assert body["status"] == "completed"
    download = body["outputs"][0]["url"]
    assert requests.get(download, timeout=30).status_code == 200
    signed = download.rsplit("/", 1)[1]
    stop_serve(served.process)
    log = "".join(served.stderr)
    assert "GET /signin/[redacted]" in log and "/v1/downloads/[redacted]" in log and "token=[redacted]" in log
    for secret in (token, signed, "leaky-query-value"):
        assert secret not in log
    cookie = browser.cookies.get(f"mediaflow_session_{served.url.rsplit(':', 1)[1]}")
    assert cookie and cookie not in log and cookie not in "".join(served.stdout)
