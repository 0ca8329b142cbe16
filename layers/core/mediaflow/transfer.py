"""Guarded HTTP transfers for media leaving or entering mediaflow: GET (``import_url``) and PUT (export to a
presigned URL).

Every hop goes through the webhook SSRF guard (mediaflow.webhooks.ssrf): https to public addresses only, IP
literals judged in every spelling, and the connection made to the address that was checked, so a DNS answer
that changes between check and connect cannot move it. Redirects are followed by hand, each new location
checked again, at most ``max_redirects`` of them. Credentials never travel: userinfo is cut from every URL and
no Authorization or Cookie header is ever sent. A download stops at ``max_bytes`` and at ``timeout`` seconds
(the whole transfer, however slowly the bytes drip).
"""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from mediaflow.errors import ExportFailed, ImportFailed, ImportRefused, ImportTimeout, ImportTooLarge
from mediaflow.webhooks.ssrf import Resolver, Target, UnsafeWebhookUrl, check_url, pinned_connection, system_resolver

USER_AGENT = "mediaflow-import/1"
CHUNK = 65_536
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    url: str  # where the bytes came from (after redirects), without userinfo and query
    redirects: int

    @property
    def filename(self) -> str:
        """The last path component of the final URL, percent-decoded ("" for a bare host)."""
        return unquote(PurePosixPath(urlsplit(self.url).path).name)


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` removed (credentials are never forwarded)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def shown(url: str) -> str:
    """How a URL appears in run records and errors: scheme, host and path (a query may carry signatures)."""
    parts = urlsplit(without_userinfo(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def guarded(url: str, *, allow_loopback: bool, resolver: Resolver) -> Target:
    """The checked target of ``url``; ImportRefused names why it is not one mediaflow connects to."""
    try:
        return check_url(without_userinfo(url), allow_loopback_http=allow_loopback, resolver=resolver)
    except UnsafeWebhookUrl as refused:
        raise ImportRefused(f"{shown(url)}: {refused.message}", field="url") from None


def fetch(url: str, target: Path, *, max_bytes: int, timeout: float, max_redirects: int = 5,
          allow_loopback: bool = False, resolver: Resolver = system_resolver,
          context: ssl.SSLContext | None = None) -> Fetched:
    """Download ``url`` into ``target``; a named error (ImportRefused, ImportTooLarge, ImportTimeout,
    ImportFailed) otherwise, with nothing left at ``target``."""
    deadline = time.monotonic() + timeout
    current = without_userinfo(url)
    try:
        for hop in range(max_redirects + 1):
            checked = guarded(current, allow_loopback=allow_loopback, resolver=resolver)
            location = _get(checked, current, target, max_bytes, deadline, context)
            if location is None:
                return Fetched(target, target.stat().st_size, shown(current), hop)
            current = without_userinfo(urljoin(current, location))
        raise ImportRefused(f"{shown(url)}: more than {max_redirects} redirects", field="url")
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _remaining(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ImportTimeout(f"{shown(url)}: not delivered within the import time limit", field="url")
    return left


def _get(checked: Target, url: str, target: Path, max_bytes: int, deadline: float,
         context: ssl.SSLContext | None) -> str | None:
    """One GET; the redirect location for a 3xx, else None once the body is at ``target``."""
    connection = pinned_connection(checked, _remaining(deadline, url), context)
    try:
        connection.request("GET", checked.path, headers={
            "User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"})
        sock = connection.sock  # kept: the connection forgets it once a response says it will close
        response = connection.getresponse()
        if response.status in REDIRECTS:
            location = response.getheader("Location")
            if not location:
                raise ImportFailed(f"{shown(url)} answered {response.status} without a Location", field="url")
            return location
        if response.status != 200:
            raise ImportFailed(f"{shown(url)} answered HTTP {response.status}", field="url")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ImportTooLarge(f"{shown(url)} is {int(declared)} bytes; the import limit is {max_bytes}",
                                 field="url")
        received = 0
        with target.open("wb") as out:
            while True:
                if sock is not None:
                    sock.settimeout(_remaining(deadline, url))
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                if received > max_bytes:
                    raise ImportTooLarge(f"{shown(url)} is larger than the import limit of {max_bytes} bytes",
                                         field="url")
                out.write(chunk)
                _remaining(deadline, url)
        return None
    except TimeoutError:
        raise ImportTimeout(f"{shown(url)}: not delivered within the import time limit", field="url") from None
    except (OSError, http.client.HTTPException) as error:
        raise ImportFailed(f"{shown(url)}: {type(error).__name__}: {error}", field="url") from None
    finally:
        connection.close()


def put(url: str, source: Path, content_type: str, *, timeout: float, allow_loopback: bool = False,
        resolver: Resolver = system_resolver, context: ssl.SSLContext | None = None) -> int:
    """PUT the file at ``source`` to a presigned URL (redirects are not followed); returns the HTTP status.
    ExportFailed names the URL (without its query) and the status or the connection error."""
    clean = without_userinfo(url)
    try:
        checked = check_url(clean, allow_loopback_http=allow_loopback, resolver=resolver)
    except UnsafeWebhookUrl as refused:
        raise ExportFailed(f"export to {shown(url)} refused: {refused.message}", field="url") from None
    connection = pinned_connection(checked, timeout, context)
    try:
        with source.open("rb") as body:
            connection.request("PUT", checked.path, body=body, headers={
                "User-Agent": USER_AGENT, "Content-Type": content_type,
                "Content-Length": str(source.stat().st_size)})
        response = connection.getresponse()
        response.read(CHUNK)
    except (OSError, http.client.HTTPException) as error:
        raise ExportFailed(f"export to {shown(url)} failed: {type(error).__name__}: {error}", field="url") from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise ExportFailed(f"export to {shown(url)} failed: HTTP {response.status}", field="url")
    return response.status
