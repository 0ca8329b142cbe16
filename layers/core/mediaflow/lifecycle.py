"""Lifecycle policies of a workflow's triggers (Strongly.ai's deployment lifecycle, serverless meaning).

A workflow's triggers (uploads, API `trigger`, queue, email, events) start runs only while the workflow is
deployed (status ``active``) and not stopped. The policy then decides, at the moment a trigger fires:

- ``always-on`` and ``on-demand``: always (on-demand also restarts a stopped workflow, as Strongly's
  `trigger` auto-starts one);
- ``idle-shutdown``: always, but a workflow whose latest run (or save) is older than ``idleTimeoutMinutes`` when
  an API, queue or event trigger fires is stopped (``stoppedReason: idle``) and starts nothing until `start`;
- ``scheduled-window``: only inside one of the windows, in the policy's timezone; outside, nothing starts
  and the caller gets a refusal naming the next window.

The clock is a parameter, so tests move it (``CLOCK`` is what the triggers read).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel


class TriggerDeferred(Exception):
    """A queued start that may not happen now (outside a window, stopped): try the message again later."""


PolicyType = Literal["always-on", "idle-shutdown", "on-demand", "scheduled-window"]
CLOCK: Callable[[], float] = time.time


def now() -> datetime:
    return datetime.fromtimestamp(CLOCK(), UTC)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Window(_Camel):
    days: list[int] = Field(min_length=1, max_length=7, description="0 = Sunday ... 6 = Saturday")
    start_time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end_time: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if any(day < 0 or day > 6 for day in days):
            raise ValueError("days are 0 (Sunday) through 6 (Saturday)")
        return days


class Schedule(_Camel):
    timezone: str = "UTC"
    windows: list[Window] = Field(min_length=1, max_length=50)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {zone!r}") from None
        return zone


class Policy(_Camel):
    type: PolicyType
    idle_timeout_minutes: int | None = Field(default=None, ge=5, le=1440)
    schedule: Schedule | None = None

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        if self.type == "scheduled-window" and self.schedule is None:
            raise ValueError("schedule is required for scheduled-window")
        if self.type == "idle-shutdown" and self.idle_timeout_minutes is None:
            self.idle_timeout_minutes = 30
        return self

    def view(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


DEFAULT = Policy(type="always-on")


def policy_of(record: dict[str, Any]) -> Policy:
    raw = record.get("lifecycle")
    return Policy.model_validate(raw) if raw else DEFAULT


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(schedule: Schedule, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(schedule.timezone))
    day = (local.weekday() + 1) % 7  # Python: Monday = 0; Strongly: Sunday = 0
    minute = local.hour * 60 + local.minute
    for window in schedule.windows:
        start, end = _minutes(window.start_time), _minutes(window.end_time)
        if start <= end:
            if day in window.days and start <= minute < end:
                return True
        else:  # over midnight: the evening part on a listed day, the morning part on the day after
            if (day in window.days and minute >= start) or ((day - 1) % 7 in window.days and minute < end):
                return True
    return False


def deployment_status(record: dict[str, Any]) -> str:
    """``running`` (deployed, triggers on), ``stopped`` (deployed, triggers off) or ``undeployed``."""
    if record.get("status") != "active":
        return "undeployed"
    return "stopped" if record.get("deploymentStatus") == "stopped" else "running"


def gate(record: dict[str, Any], at: datetime | None = None, last_run_at: str | None = None
         ) -> tuple[bool, str | None, dict[str, Any]]:
    """Whether a trigger may start a run of ``record`` now: ``(allowed, reason, record changes)``.

    ``last_run_at`` (the workflow's latest run) measures idleness for ``idle-shutdown``; without it (an upload,
    which is activity itself) the idle rule is not applied. The changes (an idle stop, an on-demand restart)
    are for the caller to save; a trigger that changes nothing writes nothing."""
    at = at or now()
    policy = policy_of(record)
    if record.get("status") != "active":
        return False, f"the workflow is {record.get('status', 'draft')}, not deployed (active)", {}
    if record.get("deploymentStatus") == "stopped":
        if policy.type == "on-demand":
            return True, None, {"deploymentStatus": "running", "stoppedReason": None}
        return False, "the workflow is stopped; POST .../start to enable its triggers", {}
    if policy.type == "idle-shutdown" and last_run_at is not None:
        last = max(str(last_run_at), str(record.get("updatedAt") or ""))
        idle = at - datetime.fromisoformat(last.replace("Z", "+00:00"))
        if idle > timedelta(minutes=policy.idle_timeout_minutes or 30):
            return False, "the workflow was idle past its idleTimeoutMinutes and is now stopped", {
                "deploymentStatus": "stopped", "stoppedReason": "idle"}
    if policy.type == "scheduled-window" and policy.schedule is not None and not in_window(policy.schedule, at):
        return False, f"outside the workflow's scheduled windows ({policy.schedule.timezone})", {}
    return True, None, {}
