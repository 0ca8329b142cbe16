"""The dashboard on `mediaflow serve`: the built single-page app (package data ``dashboard_dist/``), the
one-time sign-in link and the browser sessions it creates.

A session is a cookie (HttpOnly, SameSite=Strict) that the local server turns into the same authorizer
context API Gateway hands the resolver on AWS, so the API sees one kind of caller either way. Requests that
change something and carry only the cookie must also send ``X-Requested-With: mediaflow`` (a header a page
of another origin cannot add without a CORS preflight this server never grants). Tokens never reach a log:
the access log prints ``/signin/[redacted]`` and signed download/upload URLs likewise.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any

ASSET_CACHE = "public, max-age=31536000, immutable"
PAGE_CACHE = "no-cache"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "mediaflow"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIXES = ("/v1/", "/api/")
SCOPES = "workflows:read,workflows:write,workflows:execute"
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
     "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
)
NOT_BUILT = (b"<!doctype html><html lang=en><meta charset=utf-8><title>mediaflow</title>"
             b"<main><h1>The dashboard is not built</h1><p>Run <code>make setup</code> (it builds dashboard/ with "
             b"npm), or install a mediaflow wheel, which ships it. The API is at <a href=/v1/docs>/v1/docs</a>."
             b"</p></main>")


def dist_dir() -> Path:
    """Where the built app is: package data of ``mediaflow`` (present in wheels and after ``make setup``)."""
    return Path(str(resources.files("mediaflow") / "dashboard_dist"))


def is_api_path(path: str) -> bool:
    return path in ("/v1", "/api") or path.startswith(API_PREFIXES)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Session:
    tenant: str
    expires: float


@dataclass
class Sessions:
    """One-time sign-in tokens and the sessions they open, in this process's memory (a restart signs out)."""

    tenant: str
    port: int = 0
    token_seconds: float = 24 * 3600
    idle_seconds: float = 12 * 3600
    clock: Any = time.time
    _tokens: dict[str, float] = field(default_factory=dict)
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cookie_name(self) -> str:
        # cookies are shared by every port of a host: one name per server keeps two servers' sessions apart
        return f"mediaflow_session_{self.port}"

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[_digest(token)] = self.clock() + self.token_seconds
        return token

    def redeem(self, token: str) -> str | None:
        """A new session id for a valid, unused token (which is then spent), else None."""
        with self._lock:
            expires = self._tokens.pop(_digest(token), None)
            if expires is None or expires < self.clock():
                return None
            session_id = secrets.token_urlsafe(32)
            self._sessions[_digest(session_id)] = Session(self.tenant, self.clock() + self.idle_seconds)
            return session_id

    def lookup(self, session_id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(_digest(session_id))
            if session is None:
                return None
            if session.expires < self.clock():
                del self._sessions[_digest(session_id)]
                return None
            session.expires = self.clock() + self.idle_seconds
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_digest(session_id), None)

    def session_of(self, headers: Mapping[str, str]) -> tuple[str, Session] | None:
        """(session id, session) from the Cookie header (names lower-cased)."""
        raw = headers.get("cookie")
        if not raw:
            return None
        try:
            jar: SimpleCookie = SimpleCookie(raw)
        except CookieError:
            return None
        morsel = jar.get(self.cookie_name)
        if morsel is None or not morsel.value:
            return None
        session = self.lookup(morsel.value)
        return (morsel.value, session) if session is not None else None

    def set_cookie(self, session_id: str) -> str:
        return (f"{self.cookie_name}={session_id}; Path=/; HttpOnly; SameSite=Strict; "
                f"Max-Age={int(self.idle_seconds)}")

    def clear_cookie(self) -> str:
        return f"{self.cookie_name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"


class CsrfRejected(Exception):
    """A cookie-authenticated request that changes something came without the dashboard's header."""


def authorize(event: dict[str, Any], sessions: Sessions) -> None:
    """Give a request that carries a session cookie and no API key the session's authorizer context.

    Raises CsrfRejected for an unsafe method without ``X-Requested-With: mediaflow``."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if headers.get("authorization") or headers.get("x-api-key"):
        return  # an explicit key wins; the cookie plays no part
    found = sessions.session_of(headers)
    if found is None:
        return
    method = str(event.get("httpMethod") or "GET").upper()
    if method not in SAFE_METHODS and headers.get(CSRF_HEADER, "").strip().lower() != CSRF_VALUE:
        raise CsrfRejected
    event["requestContext"]["authorizer"] = {"tenant": found[1].tenant, "keyId": "session", "scopes": SCOPES,
                                             "via": "session"}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class DashboardSite:
    """Answers the non-API paths: ``/signin/<token>``, ``/signout`` and the app's files."""

    def __init__(self, sessions: Sessions, root: Path | None = None) -> None:
        self.sessions = sessions
        self.root = (root or dist_dir()).resolve()

    def handle(self, method: str, path: str, headers: Mapping[str, str]) -> Reply:
        if path.startswith("/signin/"):
            return self._sign_in(method, path.removeprefix("/signin/"))
        if path == "/signout":
            return self._sign_out(method, headers)
        if method not in ("GET", "HEAD"):
            return Reply(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"method not allowed\n")
        return self._file(path)

    def _sign_in(self, method: str, token: str) -> Reply:
        if method not in ("GET", "HEAD"):
            return Reply(405, [("Allow", "GET"), ("Content-Type", "text/plain")], b"method not allowed\n")
        session_id = self.sessions.redeem(token) if method == "GET" else None
        if session_id is None:
            page = (b"<!doctype html><html lang=en><meta charset=utf-8><title>Sign-in link not valid</title><main>"
                    b"<h1>This sign-in link is not valid</h1><p>A link works once. Restart <code>mediaflow serve"
                    b"</code> for a new one, or sign in with an API key (<code>mediaflow keys create</code>) on "
                    b"<a href=/>the dashboard</a>.</p></main>")
            return Reply(403, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                               *SECURITY_HEADERS], page)
        return Reply(303, [("Location", "/"), ("Set-Cookie", self.sessions.set_cookie(session_id)),
                           ("Cache-Control", "no-store")], b"")

    def _sign_out(self, method: str, headers: Mapping[str, str]) -> Reply:
        if method != "POST":
            return Reply(405, [("Allow", "POST"), ("Content-Type", "text/plain")], b"method not allowed\n")
        if headers.get(CSRF_HEADER, "").strip().lower() != CSRF_VALUE:
            return Reply(403, [("Content-Type", "text/plain")], b"send X-Requested-With: mediaflow\n")
        found = self.sessions.session_of(headers)
        if found is not None:
            self.sessions.end(found[0])
        return Reply(204, [("Set-Cookie", self.sessions.clear_cookie()), ("Cache-Control", "no-store")], b"")

    def _file(self, path: str) -> Reply:
        relative = path.lstrip("/")
        target = (self.root / relative).resolve() if relative else self.root / "index.html"
        inside = target == self.root or self.root in target.parents
        if inside and target.is_file() and target.name != "index.html":
            cache = ASSET_CACHE if relative.startswith("assets/") else PAGE_CACHE
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type in ("application/javascript", "image/svg+xml"):
                content_type += "; charset=utf-8"
            return Reply(200, [("Content-Type", content_type), ("Cache-Control", cache), *SECURITY_HEADERS],
                         target.read_bytes())
        if relative == "favicon.ico":  # browsers ask for it whatever the page says; none is no error
            return Reply(204, [("Cache-Control", PAGE_CACHE)], b"")
        if relative != "index.html" and (relative.startswith("assets/") or re.search(r"\.[A-Za-z0-9]{1,8}$", relative)):
            return Reply(404, [("Content-Type", "text/plain"), ("Cache-Control", "no-store")], b"not found\n")
        index = self.root / "index.html"
        body = index.read_bytes() if index.is_file() else NOT_BUILT
        return Reply(200, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", PAGE_CACHE),
                           *SECURITY_HEADERS], body)


# the whole rest of the path: a multipart upload's signed handle and part tokens come after a first segment
_SECRET_PATH = re.compile(r"(/(?:signin|v1/downloads|v1/uploads)/)[^?\s\"]+")
_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:token|key|api_key|apikey|access_token)=)[^&\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """A request target with its sign-in token, signed-URL token and key-like query values replaced."""
    return _SECRET_QUERY.sub(r"\1[redacted]", _SECRET_PATH.sub(r"\1[redacted]", text))


class RedactSecrets(logging.Filter):
    """On uvicorn's access log: the request line's path goes through ``redact``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
