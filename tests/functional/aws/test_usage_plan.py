"""API keys and the stack's usage plan on moto: a new key joins the plan once, a revoked key leaves it, and
a key API Gateway would refuse is never handed out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.api.aws_backend import Resolver, _create_tables, _create_usage_plan, load_template

pytestmark = pytest.mark.functional
REGION = "us-east-1"


@pytest.fixture
def stores() -> Iterator[tuple[Any, Any, Any]]:
    import boto3
    from mediaflow.adapters.aws.dynamodb import DynamoDBKeyStore
    from mediaflow.adapters.aws.usage_plan import UsagePlanKeys, UsagePlanKeyStore
    from moto import mock_aws

    with mock_aws():
        template = load_template()
        resolve = Resolver(template)
        _create_tables(boto3, template, resolve)
        _create_usage_plan(boto3, template, resolve)
        apigateway = boto3.client("apigateway", region_name=REGION)
        plan = UsagePlanKeys(resolve.physical["ApiUsagePlan"], "mediaflow-dev", client=apigateway)
        table = DynamoDBKeyStore(resolve.physical["ApiKeysTable"], boto3.resource("dynamodb", region_name=REGION))
        yield UsagePlanKeyStore(table, plan), plan, apigateway


def plan_values(plan: Any, apigateway: Any) -> list[str]:
    items = apigateway.get_usage_plan_keys(usagePlanId=plan.usage_plan_id)["items"]
    return [apigateway.get_api_key(apiKey=i["id"], includeValue=True)["value"] for i in items
            if _exists(apigateway, i["id"])]


def _exists(apigateway: Any, key_id: str) -> bool:
    try:
        apigateway.get_api_key(apiKey=key_id)
    except apigateway.exceptions.NotFoundException:
        return False
    return True


def test_a_new_key_joins_the_plan_once_valued_with_its_hash_and_leaves_it_when_revoked(
        stores: tuple[Any, Any, Any]) -> None:
    from mediaflow.cloud.auth import usage_identifier
    from mediaflow.ids import hash_api_key

    store, plan, apigateway = stores
    api_key, record = store.create_key("acme", ["workflows:read"], name="ci")
    assert plan_values(plan, apigateway) == [hash_api_key(api_key)] == [usage_identifier(api_key)]
    plan.register(record["keyId"], hash_api_key(api_key))  # again: still one key
    assert len(apigateway.get_api_keys(nameQuery=f"mediaflow-dev-{record['keyId']}")["items"]) == 1
    assert store.lookup(api_key)["keyId"] == record["keyId"]  # the store's other calls pass through

    store.revoke("acme", record["keyId"])
    assert plan_values(plan, apigateway) == [] and store.lookup(api_key) is None


def test_a_key_the_plan_cannot_take_is_revoked_before_anyone_sees_it(
        stores: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    store, plan, _ = stores

    def refuse(key_id: str, key_hash: str) -> str:
        raise RuntimeError("TooManyRequests")

    monkeypatch.setattr(plan, "register", refuse)
    with pytest.raises(RuntimeError):
        store.create_key("acme", ["workflows:read"])
    [made] = store.list_keys("acme")
    assert made["revoked"] is True


def test_a_key_already_in_api_gateway_under_another_name_is_reused(stores: tuple[Any, Any, Any]) -> None:
    from mediaflow.adapters.aws.usage_plan import UsagePlanKeys
    from mediaflow.ids import hash_api_key

    store, plan, apigateway = stores
    api_key, record = store.create_key("acme", ["workflows:read"])
    other = UsagePlanKeys(plan.usage_plan_id, "renamed", client=apigateway)  # e.g. `sync-keys --table`
    assert other.register(record["keyId"], hash_api_key(api_key)) == plan.register(record["keyId"],
                                                                                  hash_api_key(api_key))
    assert plan_values(plan, apigateway) == [hash_api_key(api_key)]
