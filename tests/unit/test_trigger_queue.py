"""The embedded trigger queue: priority then age, retries with a delay up to a limit, deferred messages that
cost no attempt, claims of a stopped process taken again, and a drain that starts each message once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mediaflow.adapters.embedded.queue import CLAIM_SECONDS, MAX_ATTEMPTS, RETRY_SECONDS, SQLiteTriggerQueue
from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
from mediaflow.lifecycle import TriggerDeferred

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def queue(tmp_path: Path) -> tuple[SQLiteTriggerQueue, Clock]:
    clock = Clock()
    return SQLiteTriggerQueue(SQLiteDatabase(tmp_path / "q.sqlite"), clock=clock), clock


def test_priority_first_then_oldest_and_each_message_once(queue: tuple[SQLiteTriggerQueue, Clock]) -> None:
    q, _ = queue
    ids = [q.send("t", "wf", {"n": n}, priority=p) for n, p in enumerate([0, 5, 0, 5])]
    seen: list[Any] = []

    def start(item: dict[str, Any]) -> str:
        seen.append(item["message"]["n"])
        return f"run-{item['messageId']}"

    assert q.drain(start) == 4
    assert seen == [1, 3, 0, 2]
    assert all(q.status(i) == {"state": "done", "attempts": 1, "run_id": f"run-{i}", "error": None} for i in ids)
    assert q.drain(lambda item: pytest.fail("nothing is left")) == 0 and not q.pending()


def test_a_failing_start_is_retried_later_then_given_up(queue: tuple[SQLiteTriggerQueue, Clock]) -> None:
    q, clock = queue
    message_id = q.send("t", "wf", {})

    def fail(item: dict[str, Any]) -> str:
        raise RuntimeError("no such object")

    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert q.drain(fail) == 0
        status = q.status(message_id)
        assert status is not None and status["attempts"] == attempt
        clock.now += RETRY_SECONDS
    assert q.status(message_id) == {"state": "failed", "attempts": MAX_ATTEMPTS, "run_id": None,
                                    "error": "no such object"}


def test_a_deferred_message_costs_no_attempt_and_waits(queue: tuple[SQLiteTriggerQueue, Clock]) -> None:
    q, clock = queue
    message_id = q.send("t", "wf", {})

    def outside(item: dict[str, Any]) -> str:
        raise TriggerDeferred("outside the window")

    for _ in range(MAX_ATTEMPTS + 2):
        q.drain(outside)
        clock.now += RETRY_SECONDS
    assert q.status(message_id) == {"state": "ready", "attempts": 0, "run_id": None, "error": "outside the window"}
    assert q.next_available() is not None
    assert q.drain(lambda item: "run-1") == 1


def test_a_claim_of_a_stopped_process_is_taken_again(queue: tuple[SQLiteTriggerQueue, Clock]) -> None:
    q, clock = queue
    message_id = q.send("t", "wf", {})
    assert q.claim() is not None  # the process stops before the run starts
    assert q.claim() is None and q.pending()
    clock.now += CLAIM_SECONDS + 1
    assert q.drain(lambda item: "run-1") == 1
    assert q.status(message_id) == {"state": "done", "attempts": 2, "run_id": "run-1", "error": None}
