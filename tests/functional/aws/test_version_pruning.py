"""Published state machine versions are pruned on every save: the live one, the newest N, the young ones
and any a running execution uses are kept (moto, with the version calls it lacks bridged in tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.moto_sfn import bridge_versions

pytestmark = pytest.mark.functional
REGION = "us-east-1"
ARNS = {name: f"arn:aws:lambda:{REGION}:123456789012:function:{name}"
        for name in ("VipsFunctionArn", "FfmpegFunctionArn", "RembgFunctionArn", "LightFunctionArn")}


def machine(step: int) -> dict[str, Any]:
    return {"StartAt": "Step", "States": {"Step": {"Type": "Pass", "Result": step, "End": True}}}


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    bridge_versions(monkeypatch)
    with mock_aws():
        yield boto3.client("stepfunctions", region_name=REGION)


def orchestrator(sfn: Any, **options: Any) -> Any:
    import boto3
    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"sfn-{len(options)}-{options.get('clock') is not None}",
                           AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    role_arn = role["Role"]["Arn"]
    return StepFunctionsOrchestrator(role_arn=role_arn, function_arns=ARNS, name_prefix="mf-test", client=sfn,
                                     **options)


def versions(sfn: Any, arn: str) -> list[int]:
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    return sorted(int(v["stateMachineVersionArn"].rsplit(":", 1)[1]) for v in listed)


def test_saving_keeps_live_newest_and_running_versions_and_deletes_the_rest(sfn: Any) -> None:
    orch = orchestrator(sfn, versions_kept=3, version_grace_seconds=0)
    live = orch.deploy("t1", "wf", 1, machine(1), "STANDARD", activate=True)
    arn = live["arn"]
    second = orch.deploy("t1", "wf", 2, machine(2), "STANDARD", activate=False)
    running = orch.start(second, "run-on-2", {})
    assert running["started"]
    for step in range(3, 9):
        orch.deploy("t1", "wf", step, machine(step), "STANDARD", activate=False)

    # 1 is live, 2 has a RUNNING execution, 6-8 are the newest three; 3-5 are gone.
    assert versions(sfn, arn) == [1, 2, 6, 7, 8]
    alias = sfn.describe_state_machine_alias(stateMachineAliasArn=live["aliasArn"])
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"] == f"{arn}:1"

    sfn.stop_execution(executionArn=running["executionArn"])
    orch.deploy("t1", "wf", 9, machine(9), "STANDARD", activate=True)  # live moves to 9
    assert versions(sfn, arn) == [7, 8, 9]


def test_young_versions_are_kept_for_express_runs_still_queued(sfn: Any) -> None:
    orch = orchestrator(sfn, versions_kept=2, version_grace_seconds=3600)
    first = orch.deploy("t1", "wf", 1, machine(1), "EXPRESS", activate=False)
    for step in range(2, 6):
        orch.deploy("t1", "wf", step, machine(step), "EXPRESS", activate=False)
    assert versions(sfn, first["arn"]) == [1, 2, 3, 4, 5]

    later = orchestrator(sfn, versions_kept=2, version_grace_seconds=3600, clock=lambda: 4e9)  # far later
    later.deploy("t1", "wf", 6, machine(6), "EXPRESS", activate=False)
    assert versions(sfn, first["arn"]) == [5, 6]


def test_a_failing_prune_never_fails_the_save(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    orch = orchestrator(sfn, versions_kept=1, version_grace_seconds=0)

    def broken(arn: str) -> list[str]:
        raise RuntimeError("throttled")

    monkeypatch.setattr(orch, "prune_versions", broken)
    deployed = orch.deploy("t1", "wf", 1, machine(1), "STANDARD", activate=True)
    assert deployed["versionArn"].endswith(":1")
