"""The run-starting and run-finishing use cases on the in-memory fakes (tests/unit/fakes.py): the same code
both deployments run, in milliseconds, with no folder, SQLite or moto."""

from __future__ import annotations

from typing import Any

import pytest
from mediaflow.media import MediaRef
from mediaflow.ports import BlobStore, EventBus, Idempotency, Launcher, RunStore, WorkflowStore
from mediaflow.runs import Ended, RunIdentity, begin_task, cancel_pending, finish
from mediaflow.starts import start_event, start_upload
from mediaflow.triggers import run_name
from mediaflow.validation import validate

from tests.unit.fakes import (
    FakeBlobStore,
    FakeEventBus,
    FakeIdempotency,
    FakeLauncher,
    FakeRunStore,
    FakeWorkflowStore,
)

pytestmark = pytest.mark.unit
TENANT = "t1"


def workflow(workflow_id: str, *, media_types: list[str] | None = None, status: str = "active",
             entry: str = "upload", **entry_config: Any) -> dict[str, Any]:
    raw = {"name": workflow_id, "trigger": {"filters": {"mediaTypes": media_types or []}},
           "nodes": [{"id": "start", "kind": entry, "config": entry_config},
                     {"id": "next", **({"kind": "convert", "config": {"outputFormat": "webp"}} if entry == "upload"
                                       else {"kind": "transform", "config": {}})}],
           "edges": [{"source": "start", "target": "next"}]}
    report = validate(raw)
    assert report.valid and report.definition is not None, report.errors
    return {"id": workflow_id, "name": workflow_id, "tenant": TENANT, "status": status,
            "definition": report.definition.canonical()}


def photo(blobs: FakeBlobStore) -> MediaRef:
    return blobs.put_bytes(f"{TENANT}/uploads/u1/cat.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")


def test_an_upload_starts_each_matching_active_workflow_once() -> None:
    blobs, launcher = FakeBlobStore(), FakeLauncher()
    store = FakeWorkflowStore([workflow("images", media_types=["image"]), workflow("videos", media_types=["video"]),
                               workflow("paused", status="paused"), workflow("any")])
    media = photo(blobs)

    def start() -> list[Any]:
        return start_upload(TENANT, media, "u1/cat.jpg", workflows=store.list(TENANT), launcher=launcher,
                            run_id_for=lambda record: run_name(record["id"], "u1/cat.jpg", record["version"]))

    first = start()
    assert sorted(s["runId"] for s in first if s["started"]) == sorted(s["runId"] for s in launcher.started)
    assert sorted(s["input"]["run"]["workflowId"] for s in launcher.started) == ["any", "images"]
    assert all(s["input"]["media"]["key"] == media.key for s in launcher.started)
    again = start()  # the same notification delivered twice starts nothing new
    assert [s["started"] for s in again] == [False, False] and len(launcher.started) == 2


def test_an_event_starts_only_the_workflows_whose_event_trigger_matches() -> None:
    runs = FakeRunStore()
    launcher = FakeLauncher(runs)
    store = FakeWorkflowStore([workflow("orders", entry="event", eventName="order.*"),
                               workflow("other", entry="event", eventName="invoice.paid"),
                               workflow("uploads", media_types=["image"])])
    ids = iter(["run-a", "run-b"])
    results = start_event(TENANT, "order.created", {"orderId": 7}, "api", workflows=store.list(TENANT),
                          launcher=launcher, new_run_id=lambda: next(ids))
    assert results == [{"workflowId": "orders", "workflowName": "orders", "runId": "run-a"}]
    [started] = launcher.started
    assert started["input"]["event"] == {"eventName": "order.created", "data": {"orderId": 7}, "source": "api"}
    assert runs.get_run(TENANT, "run-a")["status"] == "pending"


def test_a_run_ends_once_with_its_outputs_and_events() -> None:
    runs, bus = FakeRunStore(), FakeEventBus()
    execution_input = {"run": {"tenant": TENANT, "runId": "r1", "workflowId": "w", "version": 2},
                       "media": {"bucket": "fake", "key": f"{TENANT}/uploads/a.jpg"}}
    runs.create_run({"tenant": TENANT, "runId": "r1", "workflowId": "w", "version": 2, "input": execution_input})
    begin_task(runs, TENANT, "r1")
    assert runs.get_run(TENANT, "r1")["status"] == "running"
    identity = RunIdentity.of(execution_input)
    assert identity is not None
    output = {"media": {"bucket": "fake", "key": f"{TENANT}/outputs/a.webp", "contentType": "image/webp"}}
    detail = finish(identity, Ended("SUCCEEDED", output), execution_input=execution_input, runs=runs, bus=bus)
    assert detail is not None
    assert runs.get_run(TENANT, "r1")["status"] == "completed"
    [completed] = bus.of_type("workflow.completed")
    assert completed["runId"] == "r1" and [o["key"] for o in completed["outputs"]] == [f"{TENANT}/outputs/a.webp"]
    late = finish(identity, Ended("FAILED", None, "States.Timeout", "late"), execution_input=execution_input,
                  runs=runs, bus=bus)
    assert late is None and runs.get_run(TENANT, "r1")["status"] == "completed"
    assert bus.of_type("workflow.failed") == []


def test_a_pending_run_can_be_cancelled_but_a_running_one_cannot_this_way() -> None:
    runs = FakeRunStore()
    runs.create_run({"tenant": TENANT, "runId": "r1", "workflowId": "w"})
    runs.create_run({"tenant": TENANT, "runId": "r2", "workflowId": "w"})
    begin_task(runs, TENANT, "r2")
    assert cancel_pending(runs, TENANT, "r1") is not None
    assert cancel_pending(runs, TENANT, "r2") is None
    assert [runs.get_run(TENANT, r)["status"] for r in ("r1", "r2")] == ["cancelled", "running"]


@pytest.mark.parametrize(("port", "fake"), [
    (BlobStore, FakeBlobStore), (WorkflowStore, FakeWorkflowStore), (RunStore, FakeRunStore),
    (EventBus, FakeEventBus), (Idempotency, FakeIdempotency), (Launcher, FakeLauncher)])
def test_each_fake_has_every_method_of_its_port(port: type, fake: type) -> None:
    declared = {name for klass in port.__mro__ if klass.__module__ == "mediaflow.ports"
                for name, value in vars(klass).items() if callable(value) and not name.startswith("_")}
    assert declared and sorted(name for name in declared if not callable(getattr(fake, name, None))) == []
