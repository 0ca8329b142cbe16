"""Timestamps as the records, events and API carry them: UTC ISO 8601 with a ``Z``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal


def now_iso(at: float | None = None, *, timespec: Literal["seconds", "milliseconds"] = "milliseconds") -> str:
    """``at`` (a Unix time; now when None) as ``2026-01-31T12:00:00.123Z``."""
    stamp = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return stamp.isoformat(timespec=timespec).replace("+00:00", "Z")
