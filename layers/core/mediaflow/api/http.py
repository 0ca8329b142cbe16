"""Request helpers shared by the routes: raw bodies (base64 as API Gateway sends binary), multipart
form data, the public base URL of the API, and header access."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from mediaflow.api.problems import ApiProblem

TEXT_TYPES = ("application/json", "application/problem+json", "text/", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def lower_headers(event: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None}


def raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except ValueError:
            raise ApiProblem(400, "the body is not valid base64", code="BadRequest") from None
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def json_body(event: Mapping[str, Any]) -> Any:
    data = raw_body(event)
    if not data.strip():
        return {}
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise ApiProblem(400, "the body is not valid JSON", code="MalformedJson",
                         errors=[{"field": "body", "path": "body", "message": "not valid JSON"}]) from None


def _param(header: str, name: str) -> str | None:
    for segment in header.split(";")[1:]:
        key, _, value = segment.strip().partition("=")
        if key.strip().lower() == name:
            value = value.strip()
            return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return None


def _bad_multipart(detail: str) -> ApiProblem:
    return ApiProblem(400, f"malformed multipart/form-data: {detail}", code="BadMultipart",
                      errors=[{"field": "body", "path": "body", "message": detail}])


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart/form-data body into parts (files keep their bytes untouched). Anything that is not a
    well-formed body (no boundary, no delimiter, a part without headers, no closing delimiter) is a 400."""
    boundary = _param(content_type, "boundary")
    if not boundary:
        raise _bad_multipart("the Content-Type has no boundary parameter")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise _bad_multipart("the body does not contain the boundary")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        chunk = chunk.removeprefix(b"\r\n")
        chunk = chunk.removesuffix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise _bad_multipart("a part has no header block")
        headers = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "name")
        if name is None:
            continue
        parts.append(Part(name, data, _param(disposition, "filename"), headers.get("content-type")))
    raise _bad_multipart("the closing boundary is missing (a truncated body?)")


def form_parts(event: Mapping[str, Any]) -> list[Part] | None:
    """The multipart parts of the request, or None when the body is not multipart/form-data."""
    content_type = lower_headers(event).get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    return parse_multipart(raw_body(event), content_type)


def body_fingerprint(event: Mapping[str, Any]) -> bytes:
    """What identifies a request body under an ``Idempotency-Key``: a multipart body by its parsed fields and
    the digests of their bytes (a retry by ``curl -F`` has a new boundary, yet is the same request), any
    other body by its bytes."""
    parts = form_parts(event)
    if parts is None:
        return raw_body(event)
    fields = [[part.name, part.filename, part.content_type, hashlib.sha256(part.data).hexdigest()] for part in parts]
    return json.dumps(fields).encode()


def base_url(event: Mapping[str, Any]) -> str:
    """The public URL the client used to reach the API (stage included on execute-api domains)."""
    headers = lower_headers(event)
    context = event.get("requestContext") or {}
    host = headers.get("host") or str(context.get("domainName") or "localhost")
    proto = headers.get("x-forwarded-proto", "https").split(",")[0].strip() or "https"
    stage = str(context.get("stage") or "")
    prefix = f"/{stage}" if host.endswith(".amazonaws.com") and stage and stage != "$default" else ""
    return f"{proto}://{host}{prefix}"


_HEADER_UNSAFE = re.compile(r'[^A-Za-z0-9._\- ]+')  # what a quoted header file name carries safely


def content_disposition(disposition: str, filename: str) -> str:
    """A ``Content-Disposition`` value naming ``filename``: a plain ASCII name as it is, any other as RFC 6266's
    ``filename*`` (UTF-8, percent-encoded) after an ASCII stand-in for clients that read only ``filename``."""
    def ascii_only(text: str) -> str:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        return _HEADER_UNSAFE.sub("-", text).strip(".- ")

    name = PurePosixPath(filename)
    suffix = ascii_only(name.suffix)
    stand_in = (ascii_only(name.stem) or "file") + (f".{suffix}" if suffix else "")
    if stand_in == filename:
        return f'{disposition}; filename="{filename}"'
    return f"{disposition}; filename=\"{stand_in}\"; filename*=UTF-8''{quote(filename, safe='')}"
