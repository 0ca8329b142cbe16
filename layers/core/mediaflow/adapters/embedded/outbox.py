"""An EventBus for worker processes: events go to an SQLite outbox that the parent drains onto its
in-process bus (worker processes cannot reach the parent's subscribers directly)."""

from __future__ import annotations

import json
from typing import Any

from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
from mediaflow.ports import EventBus

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, detail_type TEXT NOT NULL, detail TEXT NOT NULL);
"""


class OutboxBus:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def ready(self) -> None:
        """Create the outbox table (once per database object)."""
        self.db.ensure(_SCHEMA)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.ready()
        with self.db.write() as conn:
            conn.execute("INSERT INTO event_outbox (detail_type, detail) VALUES (?, ?)",
                         (detail_type, json.dumps(detail, default=str)))

    def drain(self, bus: EventBus) -> int:
        """Move every waiting event onto ``bus`` in publication order; returns how many."""
        self.ready()
        if not self.db.read("SELECT 1 FROM event_outbox LIMIT 1"):
            return 0  # the usual case, without the write lock that workers wait for
        with self.db.write() as conn:
            rows = conn.execute("SELECT seq, detail_type, detail FROM event_outbox ORDER BY seq").fetchall()
            if rows:
                conn.execute("DELETE FROM event_outbox WHERE seq <= ?", (rows[-1]["seq"],))
        for row in rows:
            bus.publish(row["detail_type"], json.loads(row["detail"]))
        return len(rows)
