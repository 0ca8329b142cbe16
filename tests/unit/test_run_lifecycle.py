"""mediaflow.runs: how a run ends and what it publishes, the same for both runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mediaflow.adapters.embedded.bus import InProcessEventBus
from mediaflow.adapters.embedded.sqlite import SQLiteDatabase, SQLiteRunStore
from mediaflow.errors import RunCancelled
from mediaflow.runs import Ended, RunIdentity, begin_task, cancel_pending, finish

pytestmark = pytest.mark.unit

UPLOAD = {"bucket": "b", "key": "t1/uploads/cat.jpg", "contentType": "image/jpeg"}
IDENTITY = RunIdentity("t1", "r1", "wf", 2, "2026-01-01T00:00:00.000Z")


@pytest.fixture
def runs(tmp_path: Path) -> SQLiteRunStore:
    store = SQLiteRunStore(SQLiteDatabase(tmp_path / "db.sqlite"))
    store.create_run({"tenant": "t1", "runId": "r1", "workflowId": "wf", "version": 2, "input": run_input()})
    return store


def run_input() -> dict[str, Any]:
    return {"run": {"tenant": "t1", "runId": "r1", "workflowId": "wf", "version": 2}, "media": UPLOAD}


def out(key: str) -> dict[str, Any]:
    return {"bucket": "b", "key": key, "contentType": "image/webp"}


def test_a_run_is_finished_once_and_publishes_one_run_event(runs: SQLiteRunStore) -> None:
    bus = InProcessEventBus()
    ended = Ended("SUCCEEDED", {"media": out("t1/outputs/cat.webp")})
    detail = finish(IDENTITY, ended, execution_input=run_input(), runs=runs, bus=bus)
    assert detail is not None and detail["status"] == "completed" and detail["mediaIds"] == [UPLOAD["key"]]
    assert finish(IDENTITY, Ended("FAILED", None, "X", "y"), execution_input=run_input(), runs=runs,
                  bus=bus) is None
    assert [event.detail_type for event in bus.events] == ["workflow.completed"]
    assert runs.get_run("t1", "r1")["status"] == "completed"


def test_failures_of_a_run_that_went_on_are_each_published_and_all_named(runs: SQLiteRunStore) -> None:
    bus = InProcessEventBus()
    output = {"media": out("t1/outputs/cat.webp"), "failures": {
        "a": {"nodeIds": ["a"], "error": "ValidationFailed", "cause": "no"},
        "c": {"nodeIds": ["c"], "error": "UnsupportedMedia", "cause": "no"}}}
    detail = finish(IDENTITY, Ended("SUCCEEDED", output), execution_input=run_input(), runs=runs, bus=bus)
    assert detail is not None and detail["status"] == "failed" and detail["failedNodes"] == ["a", "c"]
    assert [e.detail["nodeIds"] for e in bus.events if e.detail_type == "run.node.failed"] == [["a"], ["c"]]
    assert [e.detail_type for e in bus.events].count("workflow.failed") == 1


def test_a_failed_run_lists_what_its_steps_wrote_and_names_the_failing_node(runs: SQLiteRunStore) -> None:
    runs.record_step("t1", "r1", {"nodeId": "keep", "status": "completed",
                                  "output": {"media": out("t1/outputs/kept/cat.jpg")}})
    runs.record_step("t1", "r1", {"nodeId": "check", "status": "failed", "error": "ValidationFailed"})
    bus = InProcessEventBus()
    detail = finish(IDENTITY, Ended("FAILED", None, "ValidationFailed", "no"), execution_input=run_input(),
                    runs=runs, bus=bus)
    assert detail is not None and detail["failedNodes"] == ["check"]
    assert [o["key"] for o in detail["outputs"]] == ["t1/outputs/kept/cat.jpg"]
    assert runs.get_run("t1", "r1")["output"] == {"outputs": [out("t1/outputs/kept/cat.jpg")]}


def test_webhook_node_data_rides_in_the_run_event(runs: SQLiteRunStore) -> None:
    runs.record_step("t1", "r1", {"nodeId": "hook", "status": "completed", "output": {
        "event": "workflow.completed", "published": False, "runEvent": {"media": out("t1/runs/r1/x.webp")}}})
    bus = InProcessEventBus()
    detail = finish(IDENTITY, Ended("SUCCEEDED", {"media": out("t1/runs/r1/x.webp")}),
                    execution_input=run_input(), runs=runs, bus=bus)
    assert detail is not None and detail["webhooks"] == [{"media": out("t1/runs/r1/x.webp"), "nodeId": "hook"}]


def test_a_run_is_pending_until_a_task_starts_and_a_cancelled_one_refuses_its_tasks(
        runs: SQLiteRunStore) -> None:
    assert runs.get_run("t1", "r1")["status"] == "pending"
    begin_task(runs, "t1", "r1")
    assert runs.get_run("t1", "r1")["status"] == "running"
    assert cancel_pending(runs, "t1", "r1") is None  # past pending: the runtime cancels it
    runs.create_run({"tenant": "t1", "runId": "r2", "workflowId": "wf", "input": {}})
    assert cancel_pending(runs, "t1", "r2") is not None
    with pytest.raises(RunCancelled):
        begin_task(runs, "t1", "r2")
