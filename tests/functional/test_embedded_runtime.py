"""The embedded runtime: run records, events and the worker-process pool."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediaflow.adapters.embedded import EmbeddedAdapters, open_embedded
from mediaflow.embedded.executor import EmbeddedRuntime
from mediaflow.errors import NodeError
from mediaflow.runs import begin_task, find_failures, output_refs
from mediaflow.settings import Settings

pytestmark = pytest.mark.functional

RETRY = [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 2}]


def light_task(node_id: str, kind: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task", "Resource": "${LightFunctionArn}",
        "Parameters": {"runtime": "light", "run.$": "$.run", "media.$": "$.media",
                       "ops": [{"nodeId": node_id, "kind": kind, "config": config}]},
        "ResultPath": "$.media", "TimeoutSeconds": 60, "Retry": RETRY, **fields,
    }
    if "Next" not in fields:
        state["End"] = True
    return state


def continue_on_failure(node_id: str, next_state: str | None = None) -> dict[str, Any]:
    """What the compiler emits for a node that fails while the run goes on (stopOnFailure=false)."""
    state: dict[str, Any] = {"Type": "Pass", "ResultPath": "$.failure",
                             "Parameters": {"nodeIds": [node_id], "error.$": "$.error.Error",
                                            "cause.$": "$.error.Cause"}}
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


@pytest.fixture
def adapters(tmp_path: Path) -> EmbeddedAdapters:
    return open_embedded(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, workers=2, tenant="t1")


def run_input(adapters: EmbeddedAdapters, run_id: str = "r1") -> dict[str, Any]:
    ref = adapters.blobs.put_bytes("t1/uploads/cat.png", b"\x89PNG\r\n\x1a\nnot-really", "image/png")
    return {"run": {"runId": run_id, "workflowId": "wf", "tenant": "t1", "version": 2,
                    "startedAt": "2024-05-01T10:00:00.000Z"},
            "media": ref.to_state()}


class FakeInvoker:
    """Stands in for the worker pool: returns the media under a new key, or raises."""

    def __init__(self, fail_nodes: dict[str, Exception] | None = None, block: threading.Event | None = None,
                 runs: Any = None):
        self.fail_nodes = fail_nodes or {}
        self.runs = runs  # given: starts each task as a worker does (a pending run becomes running)
        self.block = block
        self.started = threading.Event()
        self.calls: list[dict[str, Any]] = []

    def __call__(self, resource: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(payload)
        if self.runs is not None:
            begin_task(self.runs, payload["run"]["tenant"], payload["run"]["runId"])
        self.started.set()
        if self.block is not None:
            self.block.wait(5)
        node = payload["ops"][-1]["nodeId"]
        if node in self.fail_nodes:
            raise self.fail_nodes[node]
        media = dict(payload["media"])
        media["key"] = f"t1/outputs/{node}/{media['filename']}"
        return media


@pytest.fixture
def runtime_with(settings: Settings, adapters: EmbeddedAdapters) -> Iterator[Any]:
    runtimes: list[EmbeddedRuntime] = []

    def build(invoker: Any) -> EmbeddedRuntime:
        runtime = EmbeddedRuntime(settings, adapters.blobs, adapters.runs, adapters.bus, invoker=invoker,
                                  sleep=lambda seconds: None)
        runtimes.append(runtime)
        return runtime

    yield build
    for runtime in runtimes:
        runtime.close()


def test_successful_run_is_recorded_and_announced(runtime_with: Any, adapters: EmbeddedAdapters) -> None:
    asl = {"StartAt": "resize", "States": {"resize": light_task("resize", "rename", {}, Next="store"),
                                           "store": light_task("store", "storage", {})}}
    data = run_input(adapters)
    result = runtime_with(FakeInvoker()).start(asl, data, "r1")
    assert result.status == "SUCCEEDED"
    run = adapters.runs.get_run("t1", "r1")
    assert run["status"] == "completed"
    assert run["workflowId"] == "wf"
    assert run["version"] == 2
    assert run["output"]["media"]["key"] == "t1/outputs/store/cat.png"
    assert run["error"] is None
    assert run["progress"] == {"tasksSucceeded": 2, "tasksFailed": 0}
    assert run["startedAt"] and run["endedAt"]
    [event] = adapters.bus.events
    assert event.detail_type == "workflow.completed"
    assert event.detail["status"] == "completed"
    assert event.detail["runId"] == "r1"
    assert (event.detail["tenant"], event.detail["workflowId"], event.detail["version"]) == ("t1", "wf", 2)
    assert [ref["key"] for ref in event.detail["outputs"]] == ["t1/outputs/store/cat.png"]
    assert event.detail["error"] is None


def test_failed_execution_fails_the_run(runtime_with: Any, adapters: EmbeddedAdapters) -> None:
    asl = {"StartAt": "store", "States": {
        "store": light_task("store", "storage", {}, Catch=[
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "store.Failed"}]),
        "store.Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    }}
    invoker = FakeInvoker({"store": NodeError("disk full")})
    result = runtime_with(invoker).start(asl, run_input(adapters), "r1")
    assert (result.status, result.error) == ("FAILED", "NodeError")
    run = adapters.runs.get_run("t1", "r1")
    assert run["status"] == "failed"
    assert run["error"]["error"] == "NodeError"
    assert run["error"]["message"] == "disk full"
    assert adapters.bus.events[0].detail_type == "workflow.failed"


def test_failure_object_in_a_succeeded_output_fails_the_run(runtime_with: Any,
                                                            adapters: EmbeddedAdapters) -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "bad.Failed"}]
    asl = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "ResultPath": "$.branches", "End": True,
                                            "Branches": [
        {"StartAt": "good", "States": {"good": light_task("good", "storage", {})}},
        {"StartAt": "bad", "States": {"bad": light_task("bad", "storage", {}, Catch=catch),
                                      "bad.Failed": continue_on_failure("bad")}},
    ]}}}
    result = runtime_with(FakeInvoker({"bad": NodeError("corrupt")})).start(asl, run_input(adapters), "r1")
    assert result.status == "SUCCEEDED"
    run = adapters.runs.get_run("t1", "r1")
    assert run["status"] == "failed"
    assert run["error"]["error"] == "NodeError"
    assert run["error"]["nodeIds"] == ["bad"]
    assert run["error"]["message"] == "corrupt"
    assert [e.detail_type for e in adapters.bus.events] == ["run.node.failed", "workflow.failed"]
    event = adapters.bus.events[-1]
    assert event.detail_type == "workflow.failed"
    assert [ref["key"] for ref in event.detail["outputs"]] == ["t1/outputs/good/cat.png"]


def test_async_run_can_be_cancelled(runtime_with: Any, adapters: EmbeddedAdapters) -> None:
    release = threading.Event()
    invoker = FakeInvoker(block=release, runs=adapters.runs)
    asl = {"StartAt": "a", "States": {"a": light_task("a", "storage", {}, Next="b"),
                                      "b": light_task("b", "storage", {})}}
    runtime = runtime_with(invoker)
    handle = runtime.start_async(asl, run_input(adapters), "r1")
    assert invoker.started.wait(5)
    assert adapters.runs.get_run("t1", "r1")["status"] == "running"
    assert runtime.cancel("r1")
    result = handle.result(5)
    release.set()
    assert result.status == "ABORTED"
    assert handle.done()
    assert len(invoker.calls) == 1
    assert adapters.runs.get_run("t1", "r1")["status"] == "cancelled"
    assert adapters.bus.events[0].detail["status"] == "cancelled"
    assert not runtime.cancel("r1")


def test_existing_pending_run_is_reused(runtime_with: Any, adapters: EmbeddedAdapters) -> None:
    data = run_input(adapters)
    adapters.runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "wf", "version": 2, "input": data})
    asl = {"StartAt": "s", "States": {"s": {"Type": "Succeed"}}}
    assert runtime_with(FakeInvoker()).start(asl, data, "r1").status == "SUCCEEDED"
    assert adapters.runs.get_run("t1", "r1")["status"] == "completed"


def test_invalid_state_machine_fails_the_run(runtime_with: Any, adapters: EmbeddedAdapters) -> None:
    result = runtime_with(FakeInvoker()).start({"StartAt": "x", "States": {}}, run_input(adapters), "r1")
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert adapters.runs.get_run("t1", "r1")["status"] == "failed"


def test_failures_and_outputs_are_found_anywhere() -> None:
    output = {"media": {"bucket": "b", "key": "in"}, "branches": [
        {"media": {"bucket": "b", "key": "out1"}},
        {"media": {"bucket": "b", "key": "in"}, "failure": {"nodeIds": ["x"], "error": "E",
                                                            "cause": json.dumps({"errorMessage": "m"})}},
    ]}
    assert [r["key"] for r in output_refs(output, exclude={"in"})] == ["out1"]
    [failure] = find_failures(output)
    assert (failure["error"], failure["message"], failure["nodeIds"]) == ("E", "m", ["x"])


@pytest.mark.skipif(importlib.util.find_spec("mediaflow.workers.light") is None,
                    reason="the light worker is not installed")
def test_process_pool_runs_light_ops(settings: Settings, adapters: EmbeddedAdapters) -> None:
    asl = {"StartAt": "store", "States": {"store": light_task("store", "storage", {"prefix": "thumbs/"},
                                                             Next="bad"),
                                          "bad": light_task("bad", "storage", {"prefix": "not allowed!"})}}
    data = run_input(adapters)
    with EmbeddedRuntime(settings, adapters.blobs, adapters.runs, adapters.bus) as runtime:
        result = runtime.start(asl, data, "r1")
    # The first task ran in a worker process; the second one failed there with a named domain error.
    assert result.status == "FAILED", result.cause
    assert result.error == "InvalidDefinition"
    assert json.loads(result.cause or "")["errorType"] == "InvalidDefinition"
    assert adapters.blobs.exists("t1/outputs/thumbs/cat.png")
    assert adapters.blobs.read_range("t1/outputs/thumbs/cat.png", 0, 100) == b"\x89PNG\r\n\x1a\nnot-really"
    steps = adapters.runs.steps("t1", "r1")
    assert [(s["nodeId"], s["status"]) for s in steps] == [("store", "completed"), ("bad", "failed")]
    run = adapters.runs.get_run("t1", "r1")
    assert run["status"] == "failed"
    assert run["error"]["error"] == "InvalidDefinition"
    assert adapters.bus.events[0].detail_type == "workflow.failed"
    assert not [path for path in (settings.data_dir / "tmp").glob("worker-*/*") if path.is_dir()]  # no scratch left


def test_a_task_the_draining_pool_refuses_leaves_the_run_to_resume(runtime_with: Any,
                                                                   adapters: EmbeddedAdapters) -> None:
    """A drain stops the pool before every run has reached a state boundary: a Task refused then (the pool's
    PoolDraining, or a worker killed past the grace period) must not end its run as failed, which no resume
    could complete; the run stays unfinished and the next process resumes it."""
    from mediaflow.embedded.workerpool import PoolDraining

    asl = {"StartAt": "store", "States": {"store": light_task("store", "storage", {})}}
    holder: dict[str, EmbeddedRuntime] = {}

    def refusing(resource: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
        holder["runtime"]._suspending.set()  # the drain began while this run waited for a worker
        raise PoolDraining("the runtime is stopping and takes no more tasks")

    runtime = runtime_with(refusing)
    holder["runtime"] = runtime
    result = runtime.start(asl, run_input(adapters), "r1")
    assert result.status == "FAILED"  # the execution saw the refusal...
    assert adapters.runs.get_run("t1", "r1")["status"] in ("pending", "running")  # ...the run is not ended
    assert not [event for event in adapters.bus.events if event.detail.get("runId") == "r1"]
