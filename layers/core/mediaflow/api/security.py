"""Who is calling (API keys: Bearer or X-API-Key), what they may do (scopes), how often (token bucket),
and signed, expiring tokens for the upload and download URLs the API hands out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mediaflow.api.problems import ApiProblem
from mediaflow.ports import KeyLookup


@dataclass(frozen=True)
class Principal:
    tenant: str
    key_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ApiProblem(403, f"this API key lacks the scope {scope}", code="MissingScope",
                             errors=[{"field": "scope", "path": "scope", "message": f"needs {scope}"}])


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The API key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (headers lower-cased)."""
    auth = headers.get("authorization", "").strip()
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


def authenticate(headers: Mapping[str, str], keys: KeyLookup,
                 authorizer: Mapping[str, Any] | None = None) -> Principal:
    """A Principal from an API Gateway authorizer context when one ran, else from the key store."""
    if authorizer and authorizer.get("tenant"):
        scopes = authorizer.get("scopes") or ""
        parsed = scopes.split(",") if isinstance(scopes, str) else list(scopes)
        return Principal(str(authorizer["tenant"]), str(authorizer.get("keyId") or authorizer.get("principalId")),
                         frozenset(s.strip() for s in parsed if s.strip()))
    api_key = presented_key(headers)
    if api_key is None:
        raise ApiProblem(401, "send an API key as `Authorization: Bearer <key>` or `X-API-Key`",
                         code="Unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="mediaflow"'})
    record = keys.lookup(api_key)
    if record is None or record.get("revoked"):
        raise ApiProblem(401, "the API key is not valid or was revoked", code="Unauthenticated",
                         headers={"WWW-Authenticate": 'Bearer realm="mediaflow", error="invalid_token"'})
    return Principal(str(record["tenant"]), str(record["keyId"]), frozenset(record.get("scopes") or ()))


@dataclass
class RateLimiter:
    """A token bucket per API key (per process: each Lambda container or the local server)."""

    rate_per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, key_id: str) -> None:
        """Take one token or raise 429 with Retry-After (whole seconds)."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_second)
            if tokens < 1.0:
                wait = max(1, math.ceil((1.0 - tokens) / self.rate_per_second))
                self._buckets[key_id] = (tokens, now)
                raise ApiProblem(429, f"too many requests for this API key; retry in {wait} s",
                                 code="RateLimited", headers={"Retry-After": str(wait)})
            self._buckets[key_id] = (tokens - 1.0, now)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    """HMAC-SHA256 tokens ``<payload>.<signature>`` with an expiry, for presigned-style local URLs."""

    secret: bytes
    clock: Callable[[], float] = time.time

    def sign(self, claims: dict[str, Any], expires_seconds: int) -> str:
        payload = _b64(json.dumps({**claims, "exp": int(self.clock()) + expires_seconds},
                                  sort_keys=True, separators=(",", ":")).encode())
        return f"{payload}.{_b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())}"

    def verify(self, token: str) -> dict[str, Any]:
        payload, _, signature = token.partition(".")
        expected = _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())
        if not signature or not hmac.compare_digest(signature, expected):
            raise ApiProblem(403, "the signature of this URL does not match", code="BadSignature")
        try:
            claims: dict[str, Any] = json.loads(_unb64(payload))
        except ValueError:
            raise ApiProblem(403, "the token of this URL is malformed", code="BadSignature") from None
        if int(claims.get("exp", 0)) < self.clock():
            raise ApiProblem(403, "this URL has expired", code="Expired")
        return claims
