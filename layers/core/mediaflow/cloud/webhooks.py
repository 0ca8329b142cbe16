"""Webhooks on AWS: the dispatcher of the deployment and the two use cases behind functions/webhooks.

- ``deliver_event``: an EventBridge bus event becomes one delivery per matching subscription, each
  attempted at once while the invocation has time;
- ``run_due``: the scheduled runner attempts what is due (retries, replays, pings).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mediaflow.adapters.aws.webhooks import DynamoDBWebhookStore, SqsDeadLetters
from mediaflow.clock import now_iso
from mediaflow.ports import BlobStore
from mediaflow.settings import Settings
from mediaflow.webhooks.dispatch import Dispatcher


def aws_dispatcher(blobs: BlobStore, settings: Settings | None = None, *, dynamodb: Any = None,
                   sqs: Any = None, clock: Callable[[], float] = time.time, **options: Any) -> Dispatcher:
    """The dispatcher over the deployment's webhooks table, presigned S3 GETs (1 h) for output keys and
    the SQS dead-letter queue (when ``MEDIAFLOW_WEBHOOK_DEAD_LETTER_QUEUE_URL`` is set)."""
    s = settings or Settings()
    store = DynamoDBWebhookStore(s.webhooks_table, dynamodb, s.region,
                                 retention_days=s.webhook_delivery_retention_days, clock=clock)
    dead = SqsDeadLetters(s.webhook_dead_letter_queue_url, client=sqs, region=s.region) \
        if s.webhook_dead_letter_queue_url else None
    return Dispatcher(store, timeout_seconds=s.webhook_timeout_seconds,
                      allow_loopback_http=s.webhook_allow_loopback_http, clock=clock, dead_letter=dead,
                      url_for=lambda key: str(blobs.url(key, 3600)), **options)


def deliver_event(dispatcher: Dispatcher, event: dict[str, Any], *, time_left: Callable[[], float],
                  reserve_seconds: float = 20.0) -> dict[str, int]:
    """An EventBridge event -> one delivery per matching subscription, each attempted at once while the
    invocation has time; the rest (and every retry) is left to the scheduled runner."""
    detail = event.get("detail") or {}
    when = datetime.fromisoformat(str(event.get("time") or now_iso()).replace("Z", "+00:00")).timestamp()
    store = dispatcher.store
    scope = store.for_event(str(event.get("id") or secrets.token_hex(8)), when) \
        if isinstance(store, DynamoDBWebhookStore) else contextlib.nullcontext()
    with scope:
        deliveries = dispatcher.enqueue(str(event.get("detail-type") or ""), dict(detail))
    attempted = 0
    for delivery in deliveries:
        if time_left() < dispatcher.timeout_seconds + reserve_seconds:
            break
        attempted += int(dispatcher.attempt(delivery))
    return {"deliveries": len(deliveries), "attempted": attempted}


def run_due(dispatcher: Dispatcher, *, time_left: Callable[[], float], batch: int = 25,
            reserve_seconds: float = 20.0) -> int:
    """The scheduled runner: attempt due deliveries in batches while the invocation has time."""
    total = 0
    while time_left() >= dispatcher.timeout_seconds + reserve_seconds:
        due = dispatcher.store.due(dispatcher.clock(), batch)
        if not due:
            break
        sent = 0
        for delivery in due:
            if time_left() < dispatcher.timeout_seconds + reserve_seconds:
                break
            sent += int(dispatcher.attempt(delivery))
        total += sent
        if sent == 0:
            break
    return total
