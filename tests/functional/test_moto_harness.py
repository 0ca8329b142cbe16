"""The moto Step Functions harness: compiled-style ASL runs with Lambda Tasks answered in-process."""

from __future__ import annotations

from typing import Any

import pytest
from mediaflow.errors import TransientError, ValidationFailed

from tests.support.moto_sfn import run_on_moto, substitute

pytestmark = pytest.mark.functional

LIGHT = "${LightFunctionArn}"
VIPS = "${VipsFunctionArn}"


def echo(runtime: str, payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("fail"):
        raise ValidationFailed("media is too large", node_id="check")
    return {**payload, "runtime": runtime}


def test_substitute_replaces_every_placeholder() -> None:
    asl = {"A": {"Resource": VIPS, "Parameters": {"FunctionName": LIGHT, "n": 1}}, "B": [LIGHT]}
    out = substitute(asl, {"VipsFunctionArn": "arn:v", "LightFunctionArn": "arn:l"})
    assert out == {"A": {"Resource": "arn:v", "Parameters": {"FunctionName": "arn:l", "n": 1}},
                   "B": ["arn:l"]}


def test_success_path_routes_each_runtime() -> None:
    asl = {"StartAt": "Resize", "States": {
        "Resize": {"Type": "Task", "Resource": VIPS, "Next": "Store"},
        "Store": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": LIGHT, "Payload.$": "$"},
                  "ResultSelector": {"media.$": "$.Payload"}, "End": True},
    }}
    result = run_on_moto(asl, {"key": "a.jpg"}, echo)
    assert result.status == "SUCCEEDED"
    assert result.states == ["Resize", "Store"]
    assert result.output == {"media": {"runtime": "light", "key": "a.jpg"}}
    assert [runtime for runtime, _ in result.calls] == ["vips", "light"]


def test_named_error_is_caught_with_lambda_like_cause() -> None:
    asl = {"StartAt": "Check", "States": {
        "Check": {"Type": "Task", "Resource": LIGHT, "Next": "Done",
                  "Catch": [{"ErrorEquals": ["ValidationFailed"], "ResultPath": "$.error",
                             "Next": "Record"}]},
        "Record": {"Type": "Pass", "Next": "Failed"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        "Done": {"Type": "Succeed"},
    }}
    result = run_on_moto(asl, {"fail": True}, echo)
    assert result.status == "FAILED"
    assert result.states == ["Check", "Record", "Failed"]
    assert result.error == "ValidationFailed"
    assert result.cause_json == {"errorMessage": "media is too large", "errorType": "ValidationFailed"}


def test_uncaught_error_fails_the_execution() -> None:
    asl = {"StartAt": "Check", "States": {"Check": {"Type": "Task", "Resource": LIGHT, "End": True}}}
    result = run_on_moto(asl, {"fail": True}, echo)
    assert (result.status, result.error) == ("FAILED", "ValidationFailed")
    assert result.cause_json["errorType"] == "ValidationFailed"


def test_retry_counts_attempts_then_succeeds() -> None:
    attempts: list[int] = []

    def flaky(runtime: str, payload: dict[str, Any]) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 3:
            raise TransientError("storage hiccup")
        return payload

    asl = {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": LIGHT, "End": True,
        "Retry": [{"ErrorEquals": ["TransientError"], "MaxAttempts": 2, "IntervalSeconds": 1,
                   "BackoffRate": 1.0}],
    }}}
    result = run_on_moto(asl, {"k": 1}, flaky)
    assert result.status == "SUCCEEDED"
    assert len(attempts) == 3
    assert result.states == ["Work"]


def test_retry_exhausted_then_caught() -> None:
    def always(runtime: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise TransientError("still down")

    asl = {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": LIGHT, "End": True,
                 "Retry": [{"ErrorEquals": ["TransientError"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}]},
        "Handled": {"Type": "Pass", "End": True},
    }}
    result = run_on_moto(asl, {"k": 1}, always)
    assert result.status == "SUCCEEDED"
    assert len(result.calls) == 2
    assert result.output["error"]["Error"] == "TransientError"


def test_choice_routes_on_media_fields() -> None:
    asl = {"StartAt": "IsImage", "States": {
        "IsImage": {"Type": "Choice", "Choices": [{"And": [
            {"Variable": "$.width", "IsPresent": True},
            {"Variable": "$.width", "IsNumeric": True},
            {"Variable": "$.width", "NumericGreaterThan": 1000},
            {"Variable": "$.key", "StringMatches": "*.jpg"},
        ], "Next": "Large"}], "Default": "Small"},
        "Large": {"Type": "Pass", "Result": "large", "ResultPath": "$.path", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.path", "End": True},
    }}
    large = run_on_moto(asl, {"key": "a.jpg", "width": 4000}, echo)
    small = run_on_moto(asl, {"key": "a.jpg"}, echo)
    assert (large.states, large.output["path"]) == (["IsImage", "Large"], "large")
    assert (small.states, small.output["path"]) == (["IsImage", "Small"], "small")


def test_parallel_branches_collect_outputs_in_order() -> None:
    asl = {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Parallel", "ResultPath": "$.branches", "End": True,
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": VIPS, "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": LIGHT, "End": True}}},
        ],
    }}}
    result = run_on_moto(asl, {"k": 1}, echo)
    assert result.status == "SUCCEEDED"
    assert result.states[0] == "Fan"
    assert sorted(result.states[1:]) == ["A", "B"]
    assert result.output["branches"] == [{"runtime": "vips", "k": 1}, {"runtime": "light", "k": 1}]


def test_map_with_item_selector() -> None:
    asl = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "End": True,
        "ItemSelector": {"media.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "run.$": "$.run"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Work",
                          "States": {"Work": {"Type": "Task", "Resource": LIGHT, "End": True}}},
    }}}
    result = run_on_moto(asl, {"items": ["a", "b", "c"], "run": "r1"}, echo)
    assert result.status == "SUCCEEDED"
    assert result.states == ["Each", "Work", "Work", "Work"]
    assert result.output == [{"runtime": "light", "media": m, "index": i, "run": "r1"}
                             for i, m in enumerate(["a", "b", "c"])]
