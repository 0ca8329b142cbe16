"""Webhook subscriptions and deliveries on DynamoDB, and dead letters on SQS.

One table (``WebhooksTable``), keys led by the tenant:

- subscription: ``pk`` = tenant, ``sk`` = ``webhook#<id>``; the secrets are attributes of the item, as
  in the embedded SQLite store (the table is encrypted at rest with KMS, ``SSESpecification``).
- delivery: ``pk`` = tenant, ``sk`` = ``delivery#<id>``, its attempts in a ``log`` list on the same
  item and a TTL (``expiresAt``, ``DeliveryRetentionDays`` after it was created or replayed). Delivery
  ids start with the creation time, so a partition's deliveries read newest first.
- deliveries still to send carry ``dueShard`` (``due#0`` ... ``due#3``): the sparse index ``byDue``
  (``dueShard``, ``nextAttemptAt``) answers "what is due now" without reading the table. A finished
  delivery drops the attribute and leaves the index.

``claim`` is a conditional update (same attempt count and a sendable status), so two dispatchers
never send the same attempt. A claimed delivery stays in the index with ``nextAttemptAt`` pushed out
by a lease; if its dispatcher dies, the delivery is due again once the lease ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from mediaflow.adapters.aws.clients import client_of, error_code, translate, translated
from mediaflow.adapters.aws.dynamodb import DynamoTable
from mediaflow.clock import now_iso
from mediaflow.errors import Conflict, NotFound
from mediaflow.ids import new_webhook_secret

WEBHOOK = "webhook#"
DELIVERY = "delivery#"
BY_DUE_INDEX = "byDue"
DUE_SHARDS = 4
SENDABLE = ("pending", "retrying")
DEFAULT_LEASE_SECONDS = 900.0  # the longest a Lambda invocation can hold a claimed delivery


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(round(value, 3)))


def _shard(delivery_id: str) -> str:
    return f"due#{int(hashlib.sha256(delivery_id.encode()).hexdigest()[:8], 16) % DUE_SHARDS}"


_event: contextvars.ContextVar[tuple[str, float] | None] = contextvars.ContextVar("mediaflow_webhook_event",
                                                                                 default=None)


class DynamoDBWebhookStore(DynamoTable):
    """Same methods and return shapes as :class:`mediaflow.adapters.embedded.webhooks.WebhookStore` (SQLite)."""

    def __init__(self, table_name: str, resource: Any = None, region: str | None = None, *,
                 retention_days: int = 30, clock: Callable[[], float] = time.time,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        super().__init__(table_name, resource, region)
        self.retention_seconds = retention_days * 86_400
        self.clock = clock
        self.lease_seconds = lease_seconds

    def _query(self, limit: int | None = None, stop: Callable[[list[dict[str, Any]]], bool] | None = None,
               **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        with translated(self.table_name):
            while True:
                page = self.table.query(**kwargs, **({"Limit": limit} if limit else {}))
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page or (stop is not None and stop(items)):
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _update(self, key: dict[str, str], what: str, **kwargs: Any) -> dict[str, Any] | None:
        """An UpdateItem that returns the new item, or None when its condition failed."""
        from botocore.exceptions import ClientError

        try:
            item: dict[str, Any] = self.table.update_item(Key=key, ReturnValues="ALL_NEW", **kwargs)["Attributes"]
            return item
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise translate(error, what) from error

    # -- subscriptions --------------------------------------------------------------------------------
    def create(self, tenant: str, url: str, event_types: list[str], *, workflow_id: str | None = None,
               description: str = "") -> tuple[dict[str, Any], str]:
        webhook_id, secret = f"wh_{secrets.token_hex(8)}", new_webhook_secret()
        item = {"pk": tenant, "sk": WEBHOOK + webhook_id, "id": webhook_id, "url": url,
                "eventTypes": sorted(set(event_types)), "workflowId": workflow_id, "description": description,
                "secret": secret, "previousSecret": None, "previousExpiresAt": None, "status": "active",
                "createdAt": now_iso(), "disabledReason": None}
        with translated(f"webhook {webhook_id!r}"):
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        return self._public(item, False), secret

    def get(self, tenant: str, webhook_id: str, *, with_secrets: bool = False) -> dict[str, Any]:
        with translated(f"webhook {webhook_id!r}"):
            item = self.table.get_item(Key={"pk": tenant, "sk": WEBHOOK + webhook_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(f"no webhook {webhook_id!r}", field="webhookId")
        return self._public(item, with_secrets)

    def _subscriptions(self, tenant: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        items = self._query(KeyConditionExpression=Key("pk").eq(tenant) & Key("sk").begins_with(WEBHOOK))
        return sorted(items, key=lambda item: (item["createdAt"], item["id"]))

    def list_webhooks(self, tenant: str) -> list[dict[str, Any]]:
        return [self._public(item, False) for item in self._subscriptions(tenant)]

    def active_for(self, tenant: str, event_type: str, workflow_id: str | None) -> list[dict[str, Any]]:
        matches = []
        for item in self._subscriptions(tenant):
            types = list(item.get("eventTypes") or [])
            if item.get("status") == "active" and (not types or event_type in types or "*" in types) and (
                    item.get("workflowId") in (None, "") or item.get("workflowId") == workflow_id):
                matches.append(self._public(item, True))
        return matches

    def delete(self, tenant: str, webhook_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.table.delete_item(Key={"pk": tenant, "sk": WEBHOOK + webhook_id},
                                   ConditionExpression="attribute_exists(pk)")
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise NotFound(f"no webhook {webhook_id!r}", field="webhookId") from error
            raise translate(error, f"webhook {webhook_id!r}") from error

    def rotate_secret(self, tenant: str, webhook_id: str, overlap_seconds: float, now: float) -> str:
        """A new secret; the current one keeps signing until ``now + overlap_seconds``."""
        for _attempt in range(5):  # conditional on the secret read, so a concurrent rotation is not lost
            current = self.get(tenant, webhook_id, with_secrets=True)
            secret = new_webhook_secret()
            if self._update({"pk": tenant, "sk": WEBHOOK + webhook_id}, f"webhook {webhook_id!r}",
                            UpdateExpression="SET secret = :new, previousSecret = :old, previousExpiresAt = :until",
                            ConditionExpression="secret = :old",
                            ExpressionAttributeValues={":new": secret, ":old": current["secret"],
                                                       ":until": _decimal(now + overlap_seconds)}) is not None:
                return secret
        raise Conflict(f"webhook {webhook_id!r} is being rotated concurrently", field="webhookId")

    def disable(self, tenant: str, webhook_id: str, reason: str) -> None:
        self._update({"pk": tenant, "sk": WEBHOOK + webhook_id}, f"webhook {webhook_id!r}",
                     UpdateExpression="SET #s = :disabled, disabledReason = :reason",
                     ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames={"#s": "status"},
                     ExpressionAttributeValues={":disabled": "disabled", ":reason": reason})

    @staticmethod
    def _public(item: dict[str, Any], with_secrets: bool) -> dict[str, Any]:
        record = {"id": item["id"], "tenant": item["pk"], "url": item["url"],
                  "eventTypes": list(item.get("eventTypes") or []), "workflowId": item.get("workflowId"),
                  "description": item.get("description") or "", "status": item["status"],
                  "createdAt": item["createdAt"], "disabledReason": item.get("disabledReason")}
        if with_secrets:
            record.update(secret=item["secret"], previousSecret=item.get("previousSecret"),
                          previousExpiresAt=_number(item.get("previousExpiresAt")))
        return record

    # -- deliveries -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def for_event(self, event_id: str, event_time: float) -> Iterator[None]:
        """Inside the block, delivery ids derive from (event id, webhook id): an event that EventBridge
        delivers twice makes the same deliveries once (and receivers see one ``webhook-id``)."""
        token = _event.set((event_id, event_time))
        try:
            yield
        finally:
            _event.reset(token)

    def _new_delivery_id(self, webhook_id: str) -> str:
        event = _event.get()
        if event is None:
            return f"msg_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"
        digest = hashlib.sha256(f"{event[0]}\n{webhook_id}".encode()).hexdigest()[:12]
        return f"msg_{int(event[1] * 1000):012x}{digest}"

    def add_delivery(self, tenant: str, webhook_id: str, event_type: str, payload: dict[str, Any],
                     due: float) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        delivery_id = self._new_delivery_id(webhook_id)
        stamp = now_iso()
        item = {"pk": tenant, "sk": DELIVERY + delivery_id, "id": delivery_id, "webhookId": webhook_id,
                "eventType": event_type, "payload": json.dumps(payload, sort_keys=True), "status": "pending",
                "attempts": 0, "nextAttemptAt": _decimal(due), "dueShard": _shard(delivery_id),
                "lastStatusCode": None, "createdAt": stamp, "updatedAt": stamp, "log": [],
                "expiresAt": int(time.time() + self.retention_seconds)}
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise translate(error, f"delivery {delivery_id!r}") from error
            return self.delivery(tenant, delivery_id)  # the same event again: the delivery exists
        return self._delivery(item)

    def delivery(self, tenant: str, delivery_id: str) -> dict[str, Any]:
        with translated(f"delivery {delivery_id!r}"):
            item = self.table.get_item(Key={"pk": tenant, "sk": DELIVERY + delivery_id},
                                       ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(f"no delivery {delivery_id!r}", field="deliveryId")
        return self._delivery(item)

    def deliveries(self, tenant: str, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Attr, Key

        self.get(tenant, webhook_id)
        items = self._query(KeyConditionExpression=Key("pk").eq(tenant) & Key("sk").begins_with(DELIVERY),
                            FilterExpression=Attr("webhookId").eq(webhook_id), ScanIndexForward=False,
                            stop=lambda found: len(found) >= limit)
        return [self._delivery(item) for item in items[:limit]]

    def due(self, now: float, limit: int = 50) -> list[dict[str, Any]]:
        """Deliveries whose next attempt is due (and claimed ones whose lease ran out), oldest first."""
        from boto3.dynamodb.conditions import Key

        found: list[dict[str, Any]] = []
        for shard in range(DUE_SHARDS):
            found.extend(self._query(
                limit=limit, stop=lambda items: len(items) >= limit, IndexName=BY_DUE_INDEX,
                KeyConditionExpression=Key("dueShard").eq(f"due#{shard}") & Key("nextAttemptAt").lte(_decimal(now))))
        found.sort(key=lambda item: (item["nextAttemptAt"], item["id"]))
        return [self._delivery(item) for item in found[:limit]]

    def claim(self, tenant: str, delivery_id: str, attempts: int) -> bool:
        """Take a due delivery for one attempt; False when another dispatcher took it first."""
        now = self.clock()
        claimed = self._update(
            {"pk": tenant, "sk": DELIVERY + delivery_id}, f"delivery {delivery_id!r}",
            UpdateExpression="SET #s = :sending, attempts = :next, nextAttemptAt = :lease, updatedAt = :stamp",
            ConditionExpression="attempts = :attempts AND (#s IN (:pending, :retrying) OR "
                                "(#s = :sending AND nextAttemptAt <= :now))",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":sending": "sending", ":pending": "pending", ":retrying": "retrying",
                                       ":attempts": attempts, ":next": attempts + 1, ":now": _decimal(now),
                                       ":lease": _decimal(now + self.lease_seconds), ":stamp": now_iso()})
        return claimed is not None

    def record_attempt(self, tenant: str, delivery_id: str, number: int, status_code: int | None,
                       latency_ms: float, error: str | None, *, status: str, next_attempt_at: float | None) -> None:
        attempt = {"number": number, "at": now_iso(), "statusCode": status_code,
                   "latencyMs": _decimal(latency_ms), "error": error}
        values: dict[str, Any] = {":status": status, ":code": status_code, ":stamp": now_iso(), ":attempt": [attempt],
                                  ":none": []}
        expression = ("SET #s = :status, lastStatusCode = :code, updatedAt = :stamp, "
                      "#log = list_append(if_not_exists(#log, :none), :attempt)")
        if next_attempt_at is None:
            expression += " REMOVE nextAttemptAt, dueShard"
        else:
            expression += ", nextAttemptAt = :next, dueShard = :shard"
            values.update({":next": _decimal(next_attempt_at), ":shard": _shard(delivery_id)})
        self._update({"pk": tenant, "sk": DELIVERY + delivery_id}, f"delivery {delivery_id!r}",
                     UpdateExpression=expression, ConditionExpression="attribute_exists(pk)",
                     ExpressionAttributeNames={"#s": "status", "#log": "log"}, ExpressionAttributeValues=values)

    def requeue(self, tenant: str, delivery_id: str, due: float) -> dict[str, Any]:
        updated = self._update(
            {"pk": tenant, "sk": DELIVERY + delivery_id}, f"delivery {delivery_id!r}",
            UpdateExpression="SET #s = :pending, nextAttemptAt = :due, dueShard = :shard, updatedAt = :stamp, "
                             "expiresAt = :expires",
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":pending": "pending", ":due": _decimal(due), ":shard": _shard(delivery_id),
                                       ":stamp": now_iso(), ":expires": int(time.time() + self.retention_seconds)})
        if updated is None:
            raise NotFound(f"no delivery {delivery_id!r}", field="deliveryId")
        return self._delivery(updated)

    def attempts(self, tenant: str, delivery_id: str) -> list[dict[str, Any]]:
        return self.delivery(tenant, delivery_id)["log"]

    @staticmethod
    def _delivery(item: dict[str, Any]) -> dict[str, Any]:
        log = [{"number": int(a["number"]), "at": a["at"], "statusCode": _integer(a.get("statusCode")),
                "latencyMs": _number(a.get("latencyMs")), "error": a.get("error")} for a in item.get("log") or []]
        return {"id": item["id"], "tenant": item["pk"], "webhookId": item["webhookId"],
                "eventType": item["eventType"], "payload": json.loads(item["payload"]), "status": item["status"],
                "attempts": int(item["attempts"]), "nextAttemptAt": _number(item.get("nextAttemptAt")),
                "lastStatusCode": _integer(item.get("lastStatusCode")), "createdAt": item["createdAt"],
                "updatedAt": item["updatedAt"], "log": log}


# -- dead letters and the dispatcher of one deployment ------------------------------------------------------

MAX_SQS_BODY = 250_000


class SqsDeadLetters:
    """``dead_letter`` callback: the dead delivery (payload, attempts) as one SQS message."""

    def __init__(self, queue_url: str, *, client: Any = None, region: str | None = None) -> None:
        self.queue_url = queue_url
        self.sqs = client_of(client, "sqs", region)

    def __call__(self, delivery: dict[str, Any]) -> None:
        body = json.dumps(delivery, sort_keys=True, default=str)
        if len(body.encode()) > MAX_SQS_BODY:  # the payload stays readable in the delivery log
            body = json.dumps({**delivery, "payload": None, "payloadOmitted": True}, sort_keys=True, default=str)
        attributes = {name: {"DataType": "String", "StringValue": str(delivery[field])}
                      for name, field in (("tenant", "tenant"), ("webhookId", "webhookId"),
                                          ("eventType", "eventType"))}
        with translated(f"queue {self.queue_url!r}"):
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes)
