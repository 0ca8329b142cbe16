"""The queue of `queue` triggers on AWS: one SQS queue of the deployment (``TriggerQueue`` in template.yaml),
consumed by the trigger function. Messages name their tenant and workflow; SQS standard queues have no
priority, so ``priority`` rides along in the message and is not used for ordering (docs/compat.md)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any


class SqsTriggerQueue:
    priority_honoured = False

    def __init__(self, queue_url: str, region: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self.region)
        return self._client

    def send(self, tenant: str, workflow_id: str, message: dict[str, Any], *, priority: int = 0,
             source: str = "rest_api") -> str:
        message_id = uuid.uuid4().hex
        body = {"messageId": message_id, "tenant": tenant, "workflowId": workflow_id, "message": message,
                "priority": priority, "source": source}
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
        return message_id

    def kick(self, handler: Callable[[dict[str, Any]], str]) -> None:
        """Nothing to do: SQS hands each message to the trigger function."""


def queued_items(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(SQS message id, queued item)`` of each record of an SQS event (a malformed body is an empty item)."""
    items = []
    for record in event.get("Records") or []:
        if record.get("eventSource") != "aws:sqs":
            continue
        try:
            item = json.loads(record.get("body") or "")
        except ValueError:
            item = {}
        items.append((str(record.get("messageId")), item if isinstance(item, dict) else {}))
    return items


def is_trigger_message(item: dict[str, Any]) -> bool:
    return all(key in item for key in ("messageId", "tenant", "workflowId", "message"))
