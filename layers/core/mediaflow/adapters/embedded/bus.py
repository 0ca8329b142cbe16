"""In-process EventBus: the embedded mode's EventBridge."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from mediaflow.clock import now_iso

logger = logging.getLogger(__name__)

Handler = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    """One published event, shaped like an EventBridge entry."""

    detail_type: str
    detail: dict[str, Any]
    source: str = "mediaflow"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(
        default_factory=lambda: now_iso(timespec="seconds"))

    def to_eventbridge(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "detail-type": self.detail_type, "time": self.time,
                "detail": self.detail}


class InProcessEventBus:
    """Delivers each event synchronously to the matching subscribers and keeps it in ``events``.

    A subscriber that raises is logged and skipped: as with EventBridge, the publisher never sees a
    target's failure.
    """

    def __init__(self, source: str = "mediaflow", keep: int = 10_000) -> None:
        self.source = source
        self.events: deque[Event] = deque(maxlen=keep)  # recent events only: a long-lived server stays small
        self._subscribers: list[tuple[Handler, frozenset[str] | None]] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler, detail_types: Collection[str] | None = None) -> Callable[[], None]:
        """Call ``handler`` for ``detail_types`` (all when None); returns an unsubscribe function."""
        entry = (handler, frozenset(detail_types) if detail_types is not None else None)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        event = Event(detail_type=detail_type, detail=detail, source=self.source)
        with self._lock:
            self.events.append(event)
            subscribers = list(self._subscribers)
        for handler, types in subscribers:
            if types is not None and detail_type not in types:
                continue
            try:
                handler(event)
            except Exception:
                logger.exception("event subscriber %r failed on %s", handler, detail_type)

    def published(self, detail_type: str | None = None) -> list[Event]:
        with self._lock:
            return [e for e in self.events if detail_type is None or e.detail_type == detail_type]

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
