"""The long route on moto: ffmpeg work estimated past the Lambda budget runs in the same image as an ECS
Fargate task from the state machine (``ecs:runTask.sync``), and gives the same bytes as the Lambda route.

Upload -> trigger -> Step Functions (moto's interpreter) -> the ffmpeg Lambda (functions/nodes/handler.py,
in-process) estimates the work, raises ExceedsLambdaBudget -> Catch -> Handoff -> ``ecs:runTask.sync`` on
moto's ECS with the template's task definition -> the container entry point (functions/nodes/fargate.py)
runs the Task -> Collect (the Lambda again) returns the stored result -> storage -> run completed.

moto's ECS starts no container: the bridge below runs the container's entry point with the environment
RunTask received, as Fargate would (docs/moto-stepfunctions.md lists it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from mediaflow import samples

from tests.functional.aws.conftest import REGION, Deployment, FakeContext, load_handler, load_template
from tests.functional.aws.test_examples_e2e import finish_standard
from tests.functional.aws.test_pipeline import TENANT, save, upload

pytestmark = [pytest.mark.functional, pytest.mark.aws_e2e]
WORKFLOW = {
    "name": "web video",
    "nodes": [{"id": "upload", "kind": "upload"},
              {"id": "web", "kind": "transcode", "config": {"outputFormat": "mp4", "preset": "480p"}},
              {"id": "store", "kind": "storage", "config": {"prefix": "video/"}}],
    "edges": [{"source": "upload", "target": "web"}, {"source": "web", "target": "store"}],
    "trigger": {"filters": {"mediaTypes": ["video"]}},
    "settings": {"stopOnFailure": True, "retry": {"maxAttempts": 1, "intervalSeconds": 1}},
}


@contextmanager
def containers_run(ran: list[dict[str, Any]]) -> Iterator[None]:
    """moto's RunTask records the task; this also runs its container: the template's entry point
    (functions/nodes/fargate.py) with the task definition's and the overrides' environment."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.run_task
    entry = load_handler("functions/nodes/fargate.py")

    def run_task(self: Any, cluster_str: str, task_definition_str: str, count: int,
                 overrides: dict[str, Any] | None, started_by: Any, tags: Any, launch_type: str | None,
                 *args: Any) -> Any:
        tasks = original(self, cluster_str, task_definition_str, count, overrides, started_by, tags, launch_type,
                         *args)
        definition = self.describe_task_definition(task_definition_str)
        for task in tasks:
            container = definition.container_definitions[0]
            environment = {item["name"]: item["value"] for item in container.get("environment", [])}
            for override in (overrides or {}).get("containerOverrides", []):
                if override["name"] == container["name"]:
                    environment.update({item["name"]: item["value"] for item in override.get("environment", [])})
            with mock.patch.dict(os.environ, environment):
                status = entry.main()
            task.containers[0].exitCode = status
            ran.append({"cluster": cluster_str, "taskDefinition": task_definition_str, "entryPoint":
                        container.get("entryPoint"), "launchType": launch_type,
                        "environment": environment, "exitCode": status})
        return tasks

    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    # moto's awsvpc RunTask reads NetworkInterface.private_dns_name, which its ENIs lack.
    dns_name = property(lambda eni: f"ip-{eni.private_ip_address.replace('.', '-')}.ec2.internal")
    with mock.patch.object(EC2ContainerServiceBackend, "run_task", run_task), ecs_integration_cases(), \
            mock.patch.object(NetworkInterface, "private_dns_name", dns_name, create=True):
        yield


def recase(value: Any, first: Any) -> Any:
    """``value`` with every key's first letter passed through ``first`` (str.lower or str.upper)."""
    if isinstance(value, dict):
        return {first(key[:1]) + key[1:]: recase(item, first) for key, item in value.items()}
    if isinstance(value, list):
        return [recase(item, first) for item in value]
    return value


@contextmanager
def ecs_integration_cases() -> Iterator[None]:
    """moto's ecs:runTask integration passes the state's PascalCase Parameters to boto3 unchanged (boto3
    refuses them: KeyError 'Cluster') and leaves ECS's camelCase answer as it is (then reads "Tasks":
    KeyError). Step Functions does both translations; so does this."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
        StateTaskServiceEcs,
    )

    original = StateTaskServiceEcs._eval_service_task

    def evaluate(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any],
                 state_credentials: Any) -> Any:
        return original(self, env, resource_runtime_part, recase(normalised_parameters, str.lower),
                        state_credentials)

    def normalise(self: Any, response: Any, boto_service_name: str | None = None,
                  service_action_name: str | None = None) -> None:
        pascal = recase(response, str.upper)
        response.clear()
        response.update(pascal)

    with mock.patch.object(StateTaskServiceEcs, "_eval_service_task", evaluate), \
            mock.patch.object(StateTaskServiceEcs, "_normalise_response", normalise):
        yield


def deploy_long_route(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The template's ECS cluster and task definition on moto, in a VPC, and the settings that point at them."""
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="ffmpeg", Description="long route", VpcId=vpc)["GroupId"]
    resources = load_template()["Resources"]
    props = resources["FfmpegTaskDefinition"]["Properties"]
    container = props["ContainerDefinitions"][0]
    ecs = boto3.client("ecs", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="mediaflow-test-ffmpeg")["cluster"]["clusterArn"]
    static_env = [{"name": item["Name"], "value": item["Value"]} for item in container["Environment"]
                  if isinstance(item["Value"], str) and not item["Value"].startswith("!")]
    definition = ecs.register_task_definition(
        family="mediaflow-test-ffmpeg", requiresCompatibilities=props["RequiresCompatibilities"],
        networkMode=props["NetworkMode"], cpu="8192", memory="16384",
        # moto sizes tasks from each container's memory; Fargate needs only the task's (the template's).
        containerDefinitions=[{"name": container["Name"], "image": "mediaflow-ffmpeg:test", "essential": True,
                               "entryPoint": container["EntryPoint"], "environment": static_env,
                               "memory": 16384}],
    )["taskDefinition"]["taskDefinitionArn"]
    values = {"MEDIAFLOW_FFMPEG_LONG_ROUTE": "fargate", "MEDIAFLOW_FFMPEG_CLUSTER_ARN": cluster,
              "MEDIAFLOW_FFMPEG_TASK_DEFINITION_ARN": definition, "MEDIAFLOW_FARGATE_SUBNETS": ",".join(subnets),
              "MEDIAFLOW_FARGATE_SECURITY_GROUPS": group}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def reload(deployment: Deployment) -> Deployment:
    from mediaflow.cloud import bootstrap

    bootstrap.reset()
    adapters = bootstrap.adapters()
    return Deployment(adapters.settings, adapters, deployment.queue_url, deployment.calls)


def run_upload(deployment: Deployment, key: str, data: bytes) -> dict[str, Any]:
    event = upload(deployment, f"{TENANT}/uploads/{key}", data)
    started = load_handler("functions/trigger/handler.py").lambda_handler(event, FakeContext("trigger"))
    assert [r["started"] for r in started["runs"]] == [True], started
    run = finish_standard(deployment, started["runs"][0])
    run["executionArn"] = started["runs"][0]["executionArn"]
    return run


def entered_states(execution_arn: str) -> list[str]:
    import boto3

    sfn = boto3.client("stepfunctions", region_name=REGION)
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def output(deployment: Deployment, key: str) -> bytes:
    import boto3

    body: bytes = boto3.client("s3", region_name=REGION).get_object(
        Bucket=deployment.settings.outputs_bucket, Key=key)["Body"].read()
    return body


def test_video_past_the_lambda_budget_runs_on_fargate_with_the_same_bytes(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clip = samples.video(tmp_path / "clip.mp4", 3.0, size="320x240").read_bytes()
    values = deploy_long_route(monkeypatch)
    ran: list[dict[str, Any]] = []

    # The Lambda route: the budget is ample, nothing is handed off.
    monkeypatch.setenv("MEDIAFLOW_FFMPEG_LAMBDA_BUDGET_SECONDS", "100000")
    on_lambda = reload(deployment)
    save(on_lambda, WORKFLOW)
    with containers_run(ran):
        short = run_upload(on_lambda, "short/clip.mp4", clip)
    assert short["status"] == "completed", short
    assert ran == [] and not any(state.endswith(".Fargate") for state in entered_states(short["executionArn"]))

    # The long route: every estimate exceeds a zero budget.
    monkeypatch.setenv("MEDIAFLOW_FFMPEG_LAMBDA_BUDGET_SECONDS", "0")
    on_fargate = reload(deployment)
    before = len(on_fargate.calls)
    with containers_run(ran):
        long = run_upload(on_fargate, "long/clip.mp4", clip)
    assert long["status"] == "completed", long
    states = entered_states(long["executionArn"])
    assert states == ["web+store", "web+store.Handoff", "web+store.Fargate", "web+store.Collect"], states
    assert len(ran) == 1 and ran[0]["exitCode"] == 0
    assert ran[0]["cluster"] == values["MEDIAFLOW_FFMPEG_CLUSTER_ARN"]
    assert ran[0]["taskDefinition"] == values["MEDIAFLOW_FFMPEG_TASK_DEFINITION_ARN"]
    assert ran[0]["launchType"] == "FARGATE" and ran[0]["entryPoint"] == ["python3", "/var/task/fargate.py"]
    import json

    payload = json.loads(ran[0]["environment"]["MEDIAFLOW_TASK_PAYLOAD"])
    assert [op["nodeId"] for op in payload["ops"]] == ["web", "store"]
    assert payload["media"]["key"] == f"{TENANT}/uploads/long/clip.mp4"
    ffmpeg_calls = [payload for runtime, payload in on_fargate.calls[before:] if runtime == "ffmpeg"]
    assert [call.get("handoff") for call in ffmpeg_calls] == [None, "collect"]

    steps = on_fargate.adapters.runs.steps(TENANT, long["runId"])
    assert [(s["nodeId"], s["status"]) for s in steps] == [("web", "completed"), ("store", "completed")]
    keys = [run["output"]["media"]["key"] for run in (short, long)]
    assert keys[0] != keys[1] and all(key.startswith(f"{TENANT}/outputs/video/clip") for key in keys), keys
    digests = [hashlib.sha256(output(on_fargate, key)).hexdigest() for key in keys]
    assert digests[0] == digests[1]  # same image, same code, same thread count: same bytes
    assert long["output"]["handoff"]["taskArn"].startswith("arn:aws:ecs:")


def test_a_failing_fargate_task_fails_the_run_with_the_nodes_error(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clip = samples.video(tmp_path / "clip.mp4", 3.0, size="320x240").read_bytes()
    deploy_long_route(monkeypatch)
    monkeypatch.setenv("MEDIAFLOW_FFMPEG_LAMBDA_BUDGET_SECONDS", "0")
    on_fargate = reload(deployment)
    save(on_fargate, WORKFLOW)
    ran: list[dict[str, Any]] = []
    broken = clip[: len(clip) // 3]  # the header (faststart moov) survives: probed, then fails to decode
    with containers_run(ran):
        run = run_upload(on_fargate, "broken/clip.mp4", broken)
    assert len(ran) == 1 and ran[0]["exitCode"] == 1
    assert run["status"] == "failed", run
    steps = on_fargate.adapters.runs.steps(TENANT, run["runId"])
    failed = [s for s in steps if s["status"] == "failed"]
    assert [s["nodeId"] for s in failed] == ["web"] and failed[0]["error"] != "ExceedsLambdaBudget", steps
    assert "web+store.Collect" in entered_states(run["executionArn"])
