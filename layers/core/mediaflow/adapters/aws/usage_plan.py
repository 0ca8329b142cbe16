"""Per-key limits on API Gateway: every API key gets an API Gateway key in the stack's usage plan.

The authorizer answers with ``usageIdentifierKey`` = the key's SHA-256 (``ApiKeySourceType: AUTHORIZER``),
so the API Gateway key's value is that hash: no second secret exists, and the usage plan's throttle applies
per mediaflow key. Creating a key registers it; revoking one deletes its API Gateway key (API Gateway then
answers 403 before the function runs). ``register_existing`` registers keys made before the usage plan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mediaflow.adapters.aws.clients import client_of, error_code
from mediaflow.ids import hash_api_key

logger = logging.getLogger(__name__)


def usage_key_name(prefix: str, key_id: str) -> str:
    return f"{prefix}-{key_id}"


class UsagePlanKeys:
    """API Gateway keys of one usage plan, named ``{prefix}-{keyId}``, valued with the key's SHA-256."""

    def __init__(self, usage_plan_id: str, prefix: str, client: Any = None, region: str | None = None) -> None:
        self.usage_plan_id = usage_plan_id
        self.prefix = prefix
        self.apigateway = client_of(client, "apigateway", region)

    def register(self, key_id: str, key_hash: str) -> str:
        """Create the API Gateway key and add it to the plan; returns its id (idempotent per key id)."""
        from botocore.exceptions import ClientError

        name = usage_key_name(self.prefix, key_id)
        api_key_id = self._find(name)
        if api_key_id is None:
            try:
                api_key_id = str(self.apigateway.create_api_key(
                    name=name, value=key_hash, enabled=True, description="mediaflow API key (value: its SHA-256)",
                    tags={"mediaflow:deployment": self.prefix})["id"])
            except ClientError as error:
                found = self._find_value(key_hash) if error_code(error) == "ConflictException" else None
                if found is None:  # values are unique per account and region: it exists under another name
                    raise
                api_key_id = found
        try:
            self.apigateway.create_usage_plan_key(usagePlanId=self.usage_plan_id, keyId=api_key_id, keyType="API_KEY")
        except ClientError as error:
            if error_code(error) != "ConflictException":  # already in the plan
                raise
        return str(api_key_id)

    def deregister(self, key_id: str) -> None:
        found = self._find(usage_key_name(self.prefix, key_id))
        if found:
            self.apigateway.delete_api_key(apiKey=found)

    def _find_value(self, value: str) -> str | None:
        page: dict[str, Any] = {}
        while True:
            listed = self.apigateway.get_api_keys(includeValues=True, limit=500, **page)
            found = next((str(item["id"]) for item in listed.get("items", []) if item.get("value") == value), None)
            if found or not listed.get("position"):
                return found
            page = {"position": listed["position"]}

    def _find(self, name: str) -> str | None:
        listed = self.apigateway.get_api_keys(nameQuery=name, limit=500).get("items", [])
        return next((str(item["id"]) for item in listed if item.get("name") == name), None)


class UsagePlanKeyStore:
    """A key store whose new keys join the usage plan and whose revoked keys leave it."""

    def __init__(self, store: Any, plan: UsagePlanKeys) -> None:
        self.store = store
        self.plan = plan

    def create_key(self, tenant: str, scopes: Sequence[str], *, name: str = "") -> tuple[str, dict[str, Any]]:
        api_key, record = self.store.create_key(tenant, scopes, name=name)
        try:
            self.plan.register(record["keyId"], hash_api_key(api_key))
        except Exception:
            self.store.revoke(tenant, record["keyId"])  # a key API Gateway would refuse must not be handed out
            raise
        return api_key, record

    def revoke(self, tenant: str, key_id: str) -> None:
        self.store.revoke(tenant, key_id)
        self.plan.deregister(key_id)

    def __getattr__(self, name: str) -> Any:  # lookup, list_keys, ...
        return getattr(self.store, name)


def register_existing(store: Any, plan: UsagePlanKeys) -> int:
    """Register every live key of the table that holds ``store`` (keys made before the usage plan)."""
    count, page = 0, dict[str, Any]()
    while True:
        response = store.table.scan(**page)
        for item in response.get("Items", []):
            if str(item.get("sk", "")).startswith("key#") and not item.get("revoked") and item.get("keyHash"):
                plan.register(str(item["keyId"]), str(item["keyHash"]))
                count += 1
        if "LastEvaluatedKey" not in response:
            return count
        page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}
