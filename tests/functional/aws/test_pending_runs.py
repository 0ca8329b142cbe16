"""On AWS a run is ``pending`` until a node Lambda starts its first task; cancelled while pending, its tasks
do nothing (the trigger, node and runs functions' entry points on moto)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.functional.aws.conftest import REGION, Deployment, FakeContext, load_handler, small_jpeg
from tests.functional.aws.test_pipeline import EXAMPLE, TENANT, save, standard, upload, wait_finished

pytestmark = pytest.mark.functional


def test_a_run_is_pending_until_its_first_task_and_cancelled_then_writes_nothing(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from mediaflow.cloud import nodes
    from mediaflow.runs import cancel_pending

    entered, release = threading.Event(), threading.Event()
    execute = nodes.execute_task

    def queued(payload: dict[str, Any], env: Any) -> Any:  # the node Lambda has not started the task yet
        entered.set()
        release.wait(30)
        return execute(payload, env)

    monkeypatch.setattr(nodes, "execute_task", queued)
    save(deployment, standard(json.loads(EXAMPLE.read_text())))
    event = upload(deployment, f"{TENANT}/uploads/queued.jpg", small_jpeg())
    [started] = load_handler("functions/trigger/handler.py").lambda_handler(event, FakeContext("trigger"))["runs"]
    assert entered.wait(30)
    run = deployment.adapters.runs.get_run(TENANT, started["runId"])
    assert run["status"] == "pending" and run["executionArn"] == started["executionArn"]
    assert cancel_pending(deployment.adapters.runs, TENANT, started["runId"]) is not None
    release.set()
    described = wait_finished(started["executionArn"])
    assert described["status"] == "FAILED" and described["error"] == "RunCancelled"
    runs = load_handler("functions/runs/handler.py")
    status_event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                    "detail": {key: described.get(key) for key in
                               ("executionArn", "stateMachineArn", "name", "status", "input", "output", "error",
                                "cause")}}
    assert runs.lambda_handler(status_event, FakeContext("runs")) is None  # already ended: cancelled
    assert deployment.adapters.runs.get_run(TENANT, started["runId"])["status"] == "cancelled"
    assert deployment.adapters.runs.steps(TENANT, started["runId"]) == []
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=deployment.settings.outputs_bucket)
    assert listed.get("KeyCount", 0) == 0
    assert [e for e in deployment.events(wait_s=1) if e.get("source") == "mediaflow"] == []


def test_a_run_starts_running_with_one_conditional_update_and_no_read(deployment: Deployment) -> None:
    from mediaflow.runs import begin_task

    store = deployment.adapters.runs
    store.create_run({"tenant": TENANT, "runId": "r-status", "workflowId": "wf", "status": "pending",
                      "input": {"media": {"key": "k"}}})
    calls: list[str] = []
    client = store.table.meta.client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    begin_task(store, TENANT, "r-status")
    assert calls == ["UpdateItem"]
    run = store.get_run(TENANT, "r-status")
    assert run["status"] == "running" and run["startedAt"]
    [listed] = [r for r in store.list_runs(TENANT) if r["runId"] == "r-status"]  # the indexes carry the fields
    assert listed["status"] == "running" and listed["startedAt"] == run["startedAt"]
    calls.clear()
    begin_task(store, TENANT, "r-status")  # a later task: already running, nothing written
    assert calls == ["UpdateItem", "GetItem"] and store.get_run(TENANT, "r-status")["status"] == "running"


def test_a_writer_that_read_before_the_run_started_does_not_put_it_back_to_pending(deployment: Deployment) -> None:
    from mediaflow.runs import begin_task

    store = deployment.adapters.runs
    store.create_run({"tenant": TENANT, "runId": "r-race", "workflowId": "wf", "status": "pending", "input": {}})
    stale = store._get_item(TENANT, "r-race")  # a progress update read the pending run ...
    begin_task(store, TENANT, "r-race")  # ... then a worker started it ...
    store._last_read = {(TENANT, "r-race"): stale}  # ... and the update writes on its stale read
    updated = store.update_run(TENANT, "r-race", progress={"total": 1, "completed": 0})
    assert updated["status"] == "running" and updated["progress"] == {"total": 1, "completed": 0}
    assert store.get_run(TENANT, "r-race")["status"] == "running"
    finished = store.finish_run(TENANT, "r-race", status="completed", endedAt="2026-12-02T00:00:00.000Z")
    assert finished is not None and finished["startedAt"] and store.get_run(TENANT, "r-race")["status"] == "completed"
