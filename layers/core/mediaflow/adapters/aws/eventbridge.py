"""EventBus on EventBridge: every event has Source "mediaflow" and DetailType = the event name."""

from __future__ import annotations

import json
from typing import Any

from mediaflow.adapters.aws.clients import client_of, translated
from mediaflow.errors import TransientError

SOURCE = "mediaflow"


class EventBridgeBus:
    def __init__(self, bus_name: str = "default", *, client: Any = None, region: str | None = None,
                 source: str = SOURCE) -> None:
        self.bus_name = bus_name
        self.source = source
        self.events = client_of(client, "events", region)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {"Source": self.source, "DetailType": detail_type, "EventBusName": self.bus_name,
                 "Detail": json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)}
        with translated(f"event bus {self.bus_name!r}"):
            response = self.events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            failed = response.get("Entries", [{}])[0]
            raise TransientError(f"event {detail_type} was not accepted: {failed.get('ErrorCode', 'unknown')}")
