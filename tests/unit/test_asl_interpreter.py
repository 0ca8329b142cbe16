"""The embedded ASL interpreter on small hand-written state machines."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mediaflow.errors import NodeError, TransientError
from mediaflow.execution.asl import (
    AslDefinitionError,
    AslInterpreter,
    ExecutionResult,
    StatesError,
    apply_result_path,
    evaluate_rule,
    lookup,
    string_matches,
)

pytestmark = pytest.mark.unit

STATEMACHINES = Path(__file__).resolve().parents[2] / "statemachines"


class Invoker:
    """Records every call; ``behaviour`` decides what a call returns or raises."""

    def __init__(self, behaviour: Callable[[str, dict[str, Any], int], Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.behaviour = behaviour or (lambda resource, payload, n: {"echo": payload})
        self._lock = threading.Lock()

    def __call__(self, resource: str, payload: dict[str, Any]) -> Any:
        with self._lock:
            self.calls.append((resource, payload))
            n = len(self.calls)
        return self.behaviour(resource, payload, n)


def machine(states: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **extra}


def run(
    definition: dict[str, Any],
    data: Any = None,
    invoker: Callable[[str, dict[str, Any]], Any] | None = None,
    delays: list[float] | None = None,
    **options: Any,
) -> ExecutionResult:
    sleep = delays.append if delays is not None else (lambda seconds: None)
    execute = {k: options.pop(k) for k in ("name", "cancel", "timeout_seconds") if k in options}
    interpreter = AslInterpreter(definition, invoker or Invoker(), sleep=sleep, **options)
    return interpreter.execute(data if data is not None else {}, **execute)


def task(resource: str = "${LightFunctionArn}", **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, **fields} | ({} if "Next" in fields else {"End": True})


def failing(times: int, error: Exception, result: Any = None) -> Invoker:
    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        if n <= times:
            raise error
        return result if result is not None else {"ok": n}

    return Invoker(behaviour)


# -- paths and templates -------------------------------------------------------------------------------


def test_jsonpath_lookup_fields_indexes_and_wildcards() -> None:
    data = {"a": {"b": [10, 20, {"c": "x"}]}, "odd key": 1, "items": [{"k": 1}, {"k": 2}]}
    assert lookup(data, "$") == data
    assert lookup(data, "$.a.b[1]") == 20
    assert lookup(data, "$.a.b[-1].c") == "x"
    assert lookup(data, "$['odd key']") == 1
    assert lookup(data, "$.items[*].k") == [1, 2]
    with pytest.raises(KeyError):
        lookup(data, "$.a.missing")


def test_pass_parameters_read_input_and_context() -> None:
    definition = machine({"P": {"Type": "Pass", "Parameters": {
        "static": {"nested": [1, 2]}, "media.$": "$.media", "name.$": "$$.Execution.Name",
        "state.$": "$$.State.Name", "input.$": "$$.Execution.Input", "started.$": "$$.Execution.StartTime",
    }, "End": True}})
    data = {"media": {"key": "a.png"}}
    result = run(definition, data, name="run-1")
    assert result.status == "SUCCEEDED"
    assert result.output["static"] == {"nested": [1, 2]}
    assert result.output["media"] == {"key": "a.png"}
    assert result.output["name"] == "run-1"
    assert result.output["state"] == "P"
    assert result.output["input"] == data
    assert result.output["started"].endswith("Z")


def test_pass_result_and_result_paths() -> None:
    definition = machine({
        "Whole": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.deep.er.value", "Next": "Discard"},
        "Discard": {"Type": "Pass", "Result": "ignored", "ResultPath": None, "Next": "Pick"},
        "Pick": {"Type": "Pass", "InputPath": "$.deep", "OutputPath": "$.er", "End": True},
    })
    result = run(definition, {"keep": True})
    assert result.output == {"value": {"x": 1}}


def test_result_path_replaces_and_rejects_non_objects() -> None:
    assert apply_result_path({"a": 1}, {"b": 2}, "$") == {"b": 2}
    assert apply_result_path({"a": 1}, 5, "$.media") == {"a": 1, "media": 5}
    assert apply_result_path({"a": {"b": 1}}, 5, "$.a.c") == {"a": {"b": 1, "c": 5}}
    with pytest.raises(StatesError) as failure:
        apply_result_path("text", 5, "$.media")
    assert failure.value.error == "States.ResultPathMatchFailure"


def test_output_path_null_gives_empty_object() -> None:
    result = run(machine({"P": {"Type": "Pass", "OutputPath": None, "End": True}}), {"a": 1})
    assert result.output == {}


def test_missing_input_path_fails_with_states_runtime() -> None:
    result = run(machine({"P": {"Type": "Pass", "InputPath": "$.nope", "End": True}}), {"a": 1})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


# -- Task ------------------------------------------------------------------------------------------------


def test_task_payload_result_selector_and_result_path() -> None:
    invoker = Invoker(lambda resource, payload, n: {"key": payload["media"]["key"] + ".webp", "size": 3})
    definition = machine({"T": task(
        "${VipsFunctionArn}",
        Parameters={"runtime": "vips", "media.$": "$.media", "ops": [{"kind": "convert"}]},
        ResultSelector={"key.$": "$.key"}, ResultPath="$.media",
    )})
    result = run(definition, {"media": {"key": "a.png"}, "run": {"runId": "r"}}, invoker)
    assert result.status == "SUCCEEDED"
    assert invoker.calls == [("${VipsFunctionArn}", {"runtime": "vips", "media": {"key": "a.png"},
                                                     "ops": [{"kind": "convert"}]})]
    assert result.output == {"media": {"key": "a.png.webp"}, "run": {"runId": "r"}}


def test_lambda_invoke_integration_wraps_the_payload() -> None:
    invoker = Invoker(lambda resource, payload, n: {"got": payload, "fn": resource})
    definition = machine({"T": task("arn:aws:states:::lambda:invoke", Parameters={
        "FunctionName": "${LightFunctionArn}", "Payload.$": "$"}, ResultSelector={"out.$": "$.Payload"})})
    result = run(definition, {"a": 1}, invoker)
    assert result.output == {"out": {"got": {"a": 1}, "fn": "${LightFunctionArn}"}}


def test_invoker_exception_becomes_lambda_shaped_error() -> None:
    result = run(machine({"T": task()}), {}, failing(1, NodeError("cannot decode")))
    assert result.status == "FAILED"
    assert result.error == "NodeError"
    assert json.loads(result.cause or "") == {"errorMessage": "cannot decode", "errorType": "NodeError"}


def test_plain_python_exception_is_named_after_its_type() -> None:
    result = run(machine({"T": task()}), {}, failing(1, ValueError("bad")))
    assert result.error == "ValueError"


def test_task_result_over_the_payload_limit_fails() -> None:
    invoker = Invoker(lambda resource, payload, n: {"blob": "x" * 300_000})
    result = run(machine({"T": task()}), {}, invoker)
    assert result.error == "States.DataLimitExceeded"


# -- Retry ---------------------------------------------------------------------------------------------


def test_retry_backs_off_then_succeeds() -> None:
    invoker = failing(2, TransientError("throttled"))
    delays: list[float] = []
    definition = machine({"T": task(Retry=[{"ErrorEquals": ["TransientError"], "IntervalSeconds": 2,
                                            "MaxAttempts": 3, "BackoffRate": 3.0}])})
    result = run(definition, {}, invoker, delays)
    assert result.status == "SUCCEEDED"
    assert result.output == {"ok": 3}
    assert len(invoker.calls) == 3
    assert delays == [2.0, 6.0]


def test_retry_exhausted_fails_with_the_last_error() -> None:
    invoker = failing(10, TransientError("still throttled"))
    delays: list[float] = []
    definition = machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1,
                                            "MaxAttempts": 2, "BackoffRate": 10, "MaxDelaySeconds": 5}])})
    result = run(definition, {}, invoker, delays)
    assert (result.status, result.error) == ("FAILED", "TransientError")
    assert len(invoker.calls) == 3
    assert delays == [1.0, 5.0]


def test_retry_defaults_and_max_attempts_zero() -> None:
    delays: list[float] = []
    invoker = failing(10, TransientError("x"))
    run(machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"]}])}), {}, invoker, delays)
    assert delays == [1.0, 2.0, 4.0]
    invoker = failing(10, TransientError("x"))
    run(machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}])}), {}, invoker)
    assert len(invoker.calls) == 1


def test_first_matching_retrier_wins_and_counts_separately() -> None:
    errors = [TransientError("a"), NodeError("b"), TransientError("c")]

    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        if n <= len(errors):
            raise errors[n - 1]
        return {"done": n}

    delays: list[float] = []
    definition = machine({"T": task(Retry=[
        {"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 2},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "MaxAttempts": 1},
    ])})
    result = run(definition, {}, Invoker(behaviour), delays)
    assert result.output == {"done": 4}
    assert delays == [1.0, 10.0, 2.0]


def test_task_failed_does_not_match_timeout() -> None:
    def slow(resource: str, payload: dict[str, Any], n: int) -> Any:
        time.sleep(0.5)
        return {}

    definition = machine({"T": task(TimeoutSeconds=0.1, Retry=[{"ErrorEquals": ["States.TaskFailed"]}],
                                    Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "Timed"}],
                                    Next="Done"),
                          "Timed": {"Type": "Pass", "End": True},
                          "Done": {"Type": "Succeed"}})
    invoker = Invoker(slow)
    result = run(definition, {}, invoker)
    assert result.status == "SUCCEEDED"
    assert len(invoker.calls) == 1
    assert result.output == {"Error": "States.Timeout", "Cause": result.output["Cause"]}
    assert "TaskTimedOut" in [e["type"] for e in result.history]


# -- Catch ---------------------------------------------------------------------------------------------


def test_catch_puts_the_error_object_at_result_path() -> None:
    definition = machine({
        "T": task(Catch=[{"ErrorEquals": ["TransientError"], "Next": "Nope"},
                         {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
                  Next="Nope"),
        "Nope": {"Type": "Fail", "Error": "Unexpected"},
        "Handled": {"Type": "Pass", "End": True},
    })
    result = run(definition, {"media": 1}, failing(1, NodeError("broken file")))
    assert result.status == "SUCCEEDED"
    assert result.output["media"] == 1
    assert result.output["error"]["Error"] == "NodeError"
    assert json.loads(result.output["error"]["Cause"])["errorMessage"] == "broken file"
    assert result.states_entered() == ["T", "Handled"]


def test_catch_without_result_path_replaces_the_input() -> None:
    definition = machine({"T": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}], Next="H"),
                          "H": {"Type": "Succeed"}})
    result = run(definition, {"media": 1}, failing(1, NodeError("x")))
    assert set(result.output) == {"Error", "Cause"}


def test_retry_runs_before_catch() -> None:
    invoker = failing(10, TransientError("x"))
    definition = machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}], Next="H"),
                          "H": {"Type": "Succeed"}})
    assert run(definition, {}, invoker).status == "SUCCEEDED"
    assert len(invoker.calls) == 3


def test_states_all_does_not_catch_runtime_errors() -> None:
    definition = machine({"T": task(ResultSelector={"x.$": "$.missing"},
                                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}], Next="H"),
                          "H": {"Type": "Succeed"}})
    result = run(definition, {}, Invoker(lambda r, p, n: {}))
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


# -- Fail and Succeed ------------------------------------------------------------------------------------


def test_fail_with_static_error_and_cause() -> None:
    result = run(machine({"F": {"Type": "Fail", "Error": "Custom", "Cause": "because"}}))
    assert (result.status, result.error, result.cause) == ("FAILED", "Custom", "because")
    assert [e["type"] for e in result.history][-2:] == ["FailStateEntered", "ExecutionFailed"]


def test_fail_with_error_and_cause_paths() -> None:
    definition = machine({"F": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}})
    result = run(definition, {"error": {"Error": "NodeError", "Cause": "{}"}})
    assert (result.error, result.cause) == ("NodeError", "{}")


def test_succeed_applies_input_and_output_paths() -> None:
    definition = machine({"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}})
    assert run(definition, {"a": {"b": 7}}).output == 7


# -- Choice ----------------------------------------------------------------------------------------------

DATA = {"type": "image", "size": 2048, "flag": True, "nothing": None, "name": "cat*.png", "limit": 4096,
        "when": "2024-05-01T10:00:00Z", "later": "2024-06-01T00:00:00+00:00", "other": "image"}


@pytest.mark.parametrize(("rule", "expected"), [
    ({"Variable": "$.type", "StringEquals": "image"}, True),
    ({"Variable": "$.type", "StringEquals": "video"}, False),
    ({"Variable": "$.size", "StringEquals": "2048"}, False),
    ({"Variable": "$.type", "StringLessThan": "j"}, True),
    ({"Variable": "$.type", "StringGreaterThan": "j"}, False),
    ({"Variable": "$.type", "StringLessThanEquals": "image"}, True),
    ({"Variable": "$.type", "StringGreaterThanEquals": "imagf"}, False),
    ({"Variable": "$.size", "NumericEquals": 2048}, True),
    ({"Variable": "$.size", "NumericEquals": 2048.0}, True),
    ({"Variable": "$.flag", "NumericEquals": 1}, False),
    ({"Variable": "$.size", "NumericLessThan": 4096}, True),
    ({"Variable": "$.size", "NumericGreaterThan": 4096}, False),
    ({"Variable": "$.size", "NumericGreaterThanEquals": 2048}, True),
    ({"Variable": "$.size", "NumericLessThanEquals": 2047}, False),
    ({"Variable": "$.type", "NumericLessThan": 5}, False),
    ({"Variable": "$.flag", "BooleanEquals": True}, True),
    ({"Variable": "$.size", "BooleanEquals": True}, False),
    ({"Variable": "$.size", "NumericLessThanPath": "$.limit"}, True),
    ({"Variable": "$.type", "StringEqualsPath": "$.other"}, True),
    ({"Variable": "$.flag", "BooleanEqualsPath": "$.flag"}, True),
    ({"Variable": "$.when", "TimestampLessThan": "2024-05-02T00:00:00Z"}, True),
    ({"Variable": "$.when", "TimestampGreaterThanPath": "$.later"}, False),
    ({"Variable": "$.name", "StringMatches": "cat\\*.png"}, True),
    ({"Variable": "$.name", "StringMatches": "*.png"}, True),
    ({"Variable": "$.name", "StringMatches": "*.jpg"}, False),
    ({"Variable": "$.type", "IsPresent": True}, True),
    ({"Variable": "$.absent", "IsPresent": True}, False),
    ({"Variable": "$.absent", "IsPresent": False}, True),
    ({"Variable": "$.nothing", "IsNull": True}, True),
    ({"Variable": "$.type", "IsNull": True}, False),
    ({"Variable": "$.size", "IsNumeric": True}, True),
    ({"Variable": "$.flag", "IsNumeric": True}, False),
    ({"Variable": "$.type", "IsString": True}, True),
    ({"Variable": "$.size", "IsString": False}, True),
    ({"Variable": "$.flag", "IsBoolean": True}, True),
    ({"Variable": "$.when", "IsTimestamp": True}, True),
    ({"And": [{"Variable": "$.type", "StringEquals": "image"},
              {"Variable": "$.size", "NumericLessThan": 10}]}, False),
    ({"Or": [{"Variable": "$.type", "StringEquals": "video"}, {"Variable": "$.flag", "BooleanEquals": True}]},
     True),
    ({"Not": {"Variable": "$.type", "StringEquals": "video"}}, True),
    ({"And": [{"Variable": "$.absent", "IsPresent": True}, {"Variable": "$.absent", "NumericEquals": 1}]},
     False),
])
def test_choice_rules(rule: dict[str, Any], expected: bool) -> None:
    assert evaluate_rule(rule, DATA) is expected


def test_comparing_a_missing_variable_is_a_runtime_error() -> None:
    with pytest.raises(StatesError) as failure:
        evaluate_rule({"Variable": "$.absent", "StringEquals": "x"}, DATA)
    assert failure.value.error == "States.Runtime"


@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ("photo.jpg", "*.jpg", True), ("photo.jpeg", "*.jpg", False), ("a*b", "a\\*b", True),
    ("axb", "a\\*b", False), ("a\\b", "a\\\\b", True), ("log-2024-x", "log-*-*", True),
    ("[x]?", "[x]?", True), ("xy", "[x]?", False), ("", "*", True),
])
def test_string_matches(value: str, pattern: str, expected: bool) -> None:
    assert string_matches(value, pattern) is expected


def test_choice_picks_first_match_then_default_then_fails() -> None:
    definition = machine({
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
            {"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Medium"},
        ], "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "End": True},
        "Medium": {"Type": "Pass", "Result": "medium", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "End": True},
    })
    assert [run(definition, {"n": n}).output for n in (20, 7, 1)] == ["big", "medium", "small"]
    del definition["States"]["C"]["Default"]
    result = run(definition, {"n": 1})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


# -- Parallel ------------------------------------------------------------------------------------------


def branch(states: dict[str, Any]) -> dict[str, Any]:
    return machine(states)


def test_parallel_runs_branches_concurrently_and_keeps_order() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        barrier.wait()  # deadlocks unless all three branches run at once
        return {"branch": payload["b"]}

    definition = machine({"P": {"Type": "Parallel", "ResultPath": "$.branches", "End": True, "Branches": [
        branch({"T": task(Parameters={"b": i, "in.$": "$.x"})}) for i in range(3)]}})
    result = run(definition, {"x": 1}, Invoker(behaviour))
    assert result.status == "SUCCEEDED"
    assert result.output == {"x": 1, "branches": [{"branch": 0}, {"branch": 1}, {"branch": 2}]}
    types = [e["type"] for e in result.history]
    assert "ParallelStateStarted" in types
    assert "ParallelStateSucceeded" in types


def test_parallel_branch_failure_stops_siblings_and_is_caught() -> None:
    release = threading.Event()

    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        if payload["b"] == "bad":
            raise NodeError("boom")
        release.wait(0.2)
        return {}

    slow = branch({"T1": task(Parameters={"b": "slow"}, Next="T2"), "T2": task(Parameters={"b": "never"})})
    bad = branch({"T": task(Parameters={"b": "bad"})})
    definition = machine({
        "P": {"Type": "Parallel", "Branches": [slow, bad], "Next": "Done",
              "Catch": [{"ErrorEquals": ["NodeError"], "ResultPath": "$.failure", "Next": "Done"}]},
        "Done": {"Type": "Succeed"},
    })
    invoker = Invoker(behaviour)
    result = run(definition, {}, invoker)
    assert result.status == "SUCCEEDED"
    assert result.output["failure"]["Error"] == "NodeError"
    assert {"b": "never"} not in [payload for _, payload in invoker.calls]


def test_a_failing_branch_lets_a_running_sibling_task_end_before_the_parallel_fails() -> None:
    ended: list[str] = []
    slow_started = threading.Event()

    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        if payload["b"] == "bad":
            slow_started.wait(5)
            raise NodeError("boom")
        slow_started.set()
        time.sleep(0.3)  # a task that stores something and takes longer than its sibling takes to fail
        ended.append(payload["b"])
        return {}

    slow = branch({"T1": task(Parameters={"b": "slow"}, Next="T2"), "T2": task(Parameters={"b": "never"})})
    bad = branch({"T": task(Parameters={"b": "bad"})})
    definition = machine({"P": {"Type": "Parallel", "Branches": [slow, bad], "End": True}})
    invoker = Invoker(behaviour)
    result = run(definition, {}, invoker)
    # The run ends only after the running sibling did, and nothing after it starts.
    assert (result.status, result.error, ended) == ("FAILED", "NodeError", ["slow"])
    assert {"b": "never"} not in [payload for _, payload in invoker.calls]
    assert "TaskSucceeded" not in [e["type"] for e in result.history]


def test_parallel_retry_reruns_every_branch() -> None:
    invoker = failing(1, TransientError("x"))
    definition = machine({"P": {"Type": "Parallel", "End": True, "Retry": [{"ErrorEquals": ["States.ALL"]}],
                                "Branches": [branch({"T": task()})]}})
    result = run(definition, {}, invoker)
    assert result.status == "SUCCEEDED"
    assert len(invoker.calls) == 2


# -- Map -----------------------------------------------------------------------------------------------


def test_map_item_selector_and_context() -> None:
    definition = machine({"M": {
        "Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.results", "End": True,
        "ItemSelector": {"run.$": "$.run", "media.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                          **branch({"T": task(ResultPath="$.out")})},
    }})
    invoker = Invoker(lambda r, payload, n: {"key": payload["media"] + "!"})
    result = run(definition, {"run": {"id": 1}, "items": ["a", "b", "c"]}, invoker)
    assert result.status == "SUCCEEDED"
    assert [item["index"] for item in result.output["results"]] == [0, 1, 2]
    assert [item["out"]["key"] for item in result.output["results"]] == ["a!", "b!", "c!"]
    assert all(item["run"] == {"id": 1} for item in result.output["results"])


def test_map_without_selector_passes_each_item() -> None:
    iterator = branch({"P": {"Type": "Pass", "End": True}})
    definition = machine({"M": {"Type": "Map", "End": True, "Iterator": iterator}})
    assert run(definition, [1, 2, 3]).output == [1, 2, 3]
    assert run(definition, []).output == []


def test_map_respects_max_concurrency() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return payload

    definition = machine({"M": {"Type": "Map", "MaxConcurrency": 2, "End": True,
                                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                                      "ExecutionType": "EXPRESS"},
                                                  **branch({"T": task()})}}})
    result = run(definition, [{"i": i} for i in range(8)], Invoker(behaviour))
    assert result.status == "SUCCEEDED"
    assert result.output == [{"i": i} for i in range(8)]
    assert peak == 2


def test_map_item_failure_fails_the_map_without_tolerance() -> None:
    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        if payload["i"] == 2:
            raise NodeError("item 2 is corrupt")
        return payload

    definition = machine({"M": {"Type": "Map", "End": True, "ItemProcessor": branch({"T": task()})}})
    result = run(definition, [{"i": i} for i in range(4)], Invoker(behaviour))
    assert (result.status, result.error) == ("FAILED", "NodeError")
    assert "MapIterationFailed" in [e["type"] for e in result.history]


@pytest.mark.parametrize(("tolerance", "status"), [
    ({"ToleratedFailurePercentage": 50}, "SUCCEEDED"),
    ({"ToleratedFailurePercentage": 20}, "FAILED"),
    ({"ToleratedFailureCount": 1}, "SUCCEEDED"),
    ({"ToleratedFailureCount": 0}, "FAILED"),
])
def test_map_tolerated_failures(tolerance: dict[str, Any], status: str) -> None:
    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        if payload["i"] == 1:
            raise NodeError("bad item")
        return payload

    definition = machine({"M": {"Type": "Map", "End": True, **tolerance,
                                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"},
                                                  **branch({"T": task()})}}})
    result = run(definition, [{"i": i} for i in range(4)], Invoker(behaviour))
    assert result.status == status
    if status == "SUCCEEDED":
        assert result.output[0] == {"i": 0}
        assert result.output[1]["Error"] == "NodeError"
    else:
        assert result.error == "States.ExceedToleratedFailureThreshold"


def test_items_path_must_be_an_array() -> None:
    definition = machine({"M": {"Type": "Map", "ItemsPath": "$.x", "End": True,
                                "ItemProcessor": branch({"P": {"Type": "Pass", "End": True}})}})
    assert run(definition, {"x": {"a": 1}}).error == "States.Runtime"


# -- timeouts, cancellation, history ---------------------------------------------------------------------


def sleepy(seconds: float) -> Callable[[str, dict[str, Any], int], Any]:
    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        time.sleep(seconds)
        return {}

    return behaviour


def test_task_timeout_fails_with_states_timeout() -> None:
    invoker = Invoker(sleepy(1))
    result = run(machine({"T": task(TimeoutSeconds=0.1)}), {}, invoker)
    assert (result.status, result.error) == ("FAILED", "States.Timeout")


def test_machine_timeout_ends_timed_out() -> None:
    invoker = Invoker(sleepy(1))
    started = time.monotonic()
    result = run(machine({"T": task()}, TimeoutSeconds=0.2), {}, invoker)
    assert result.status == "TIMED_OUT"
    assert result.error == "States.Timeout"
    assert time.monotonic() - started < 0.9
    assert result.history[-1]["type"] == "ExecutionTimedOut"


def test_cancel_aborts_a_running_execution() -> None:
    cancel = threading.Event()
    entered = threading.Event()

    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        entered.set()
        time.sleep(2)
        return {}

    definition = machine({"T": task(Next="After"), "After": {"Type": "Pass", "End": True}})
    outcome: list[ExecutionResult] = []
    worker = threading.Thread(
        target=lambda: outcome.append(run(definition, {}, Invoker(behaviour), cancel=cancel)))
    worker.start()
    assert entered.wait(2)
    cancel.set()
    worker.join(1)
    assert not worker.is_alive()
    assert outcome[0].status == "ABORTED"
    assert outcome[0].output is None
    assert "PassStateEntered" not in [e["type"] for e in outcome[0].history]
    assert outcome[0].history[-1]["type"] == "ExecutionAborted"


def test_cancel_before_start_aborts_immediately() -> None:
    cancel = threading.Event()
    cancel.set()
    invoker = Invoker()
    result = run(machine({"T": task()}), {}, invoker, cancel=cancel)
    assert result.status == "ABORTED"
    assert invoker.calls == []


def test_history_reads_like_step_functions() -> None:
    definition = machine({"T": task(Next="C"), "C": {"Type": "Choice", "Choices": [
        {"Variable": "$.echo", "IsPresent": True, "Next": "Done"}]}, "Done": {"Type": "Succeed"}})
    result = run(definition, {"a": 1})
    assert [e["type"] for e in result.history] == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskSucceeded", "TaskStateExited",
        "ChoiceStateEntered", "ChoiceStateExited", "SucceedStateEntered", "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in result.history] == list(range(1, len(result.history) + 1))
    assert all(e["timestamp"].endswith("Z") for e in result.history)
    assert result.states_entered() == ["T", "C", "Done"]


def test_wait_state_uses_the_sleep_function() -> None:
    delays: list[float] = []
    definition = machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}})
    assert run(definition, {"s": 3}, delays=delays).status == "SUCCEEDED"
    assert delays == [3.0]


# -- definitions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("definition", [
    {"StartAt": "X", "States": {}},
    {"StartAt": "X", "States": {"Y": {"Type": "Pass", "End": True}}},
    {"StartAt": "X", "States": {"X": {"Type": "Pass"}}},
    {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Nowhere"}}},
    {"StartAt": "X", "States": {"X": {"Type": "Mystery", "End": True}}},
    {"StartAt": "X", "States": {"X": {"Type": "Task", "End": True}}},
    {"StartAt": "X", "States": {"X": {"Type": "Choice", "Choices": [{"Next": "Y"}]}}},
    {"StartAt": "X", "States": {"X": {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {}}],
                                      "End": True}}},
])
def test_invalid_definitions_are_refused(definition: dict[str, Any]) -> None:
    with pytest.raises(AslDefinitionError):
        AslInterpreter(definition, Invoker())


@pytest.mark.parametrize("path", sorted(STATEMACHINES.glob("*.asl.json")), ids=lambda p: p.name)
def test_compiled_state_machines_run(path: Path) -> None:
    """Every golden compiled workflow runs end to end with an invoker that returns a new MediaRef."""

    def behaviour(resource: str, payload: dict[str, Any], n: int) -> Any:
        media = dict(payload["media"])
        media["key"] = f"{media['key']}.{payload['ops'][-1]['nodeId']}"
        return media

    media = {"bucket": "local", "key": "t/uploads/cat.png", "contentType": "image/png", "size": 1000,
             "mediaType": "image", "width": 64, "height": 48, "filename": "cat.png"}
    data = {"run": {"runId": "r1", "workflowId": "w", "tenant": "t", "version": 1}, "media": media,
            "items": [media, {**media, "key": "t/uploads/dog.png"}]}
    invoker = Invoker(behaviour)
    result = run(json.loads(path.read_text()), data, invoker)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert all(resource.startswith("${") for resource, _ in invoker.calls)
