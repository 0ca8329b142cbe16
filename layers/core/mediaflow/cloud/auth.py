"""The API Gateway Lambda authorizer (REQUEST type): API key -> tenant, scopes and an IAM policy.

The key comes as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; only its SHA-256 is looked up
(the key format and hash of the embedded key store). The policy allows the HTTP methods the scopes
can use (``workflows:read`` -> GET/HEAD; ``workflows:write`` or ``workflows:execute`` -> the writing
methods); the API itself checks the exact scope of each route from the context (tenant, scopes, keyId).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

READ_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SCOPES = frozenset({"workflows:read", "workflows:write", "workflows:execute"})


class Unauthorized(Exception):
    """Raised with the message "Unauthorized": API Gateway answers 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def presented_key(headers: Mapping[str, Any] | None) -> str | None:
    lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items() if v is not None}
    auth = lowered.get("authorization", "").strip()
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return lowered.get("x-api-key", "").strip() or None


def usage_identifier(api_key: str) -> str:
    from mediaflow.ids import hash_api_key

    return hash_api_key(api_key)


def allowed_methods(scopes: set[str] | frozenset[str]) -> list[str]:
    methods: list[str] = []
    if scopes & SCOPES:
        methods.extend(READ_METHODS)
    if scopes & {"workflows:write", "workflows:execute"}:
        methods.extend(WRITE_METHODS)
    return methods


def authorize(event: dict[str, Any], keys: Any) -> dict[str, Any]:
    """The authorizer response for a REQUEST event; raises Unauthorized for a missing or unknown key."""
    api_key = presented_key(event.get("headers"))
    record = keys.lookup(api_key) if api_key else None
    if api_key is None or record is None or record.get("revoked"):
        raise Unauthorized()
    scopes = frozenset(record.get("scopes") or ()) & SCOPES
    method_arn = str(event.get("methodArn") or "")
    api_root = "/".join(method_arn.split("/")[:2])  # arn:aws:execute-api:region:account:apiId/stage
    methods = allowed_methods(scopes)
    statement: dict[str, Any] = {"Action": "execute-api:Invoke", "Effect": "Allow",
                                 "Resource": [f"{api_root}/{method}/*" for method in methods]}
    if not methods:
        statement = {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": f"{api_root}/*"}
    return {
        "principalId": str(record["keyId"]),
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"tenant": str(record["tenant"]), "scopes": ",".join(sorted(scopes)),
                    "keyId": str(record["keyId"])},
        # The API Gateway key registered for this key in the usage plan (ApiKeySourceType AUTHORIZER): its
        # value is the key's SHA-256, so the per-key throttle needs no second secret (adapters/aws/usage_plan).
        "usageIdentifierKey": usage_identifier(api_key),
    }
