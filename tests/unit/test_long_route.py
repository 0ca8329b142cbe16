"""Video past Lambda's budget: encoder threads, the estimate, the Lambda budget, the compiled long route and
its placeholders, and what `mediaflow plan` shows."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mediaflow.cli import main
from mediaflow.cloud.nodes import lambda_budget, with_lambda_budget
from mediaflow.compiler import compile_workflow
from mediaflow.compiler.asl import LONG_ROUTE_RESOURCE, PLACEHOLDERS, substitute
from mediaflow.errors import ExceedsLambdaBudget
from mediaflow.execution.contract import TaskEnvironment, TaskPayload
from mediaflow.settings import Settings
from mediaflow.validation import validate
from mediaflow.workers.video import check_scratch_space, check_time_budget, estimate_seconds, run_chain
from pydantic import ValidationError

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
VIDEO_EXAMPLE = ROOT / "examples" / "video-poster-preview.json"
FFMPEG_TASK = {"runtime": "ffmpeg", "ops": [{"nodeId": "web", "kind": "transcode"}]}


def test_threads_follow_the_cpus_unless_fixed() -> None:
    assert Settings(ffmpeg_threads="auto").ffmpeg_thread_count == len(os.sched_getaffinity(0))
    assert Settings(ffmpeg_threads=3).ffmpeg_thread_count == 3
    assert Settings.model_fields["ffmpeg_threads"].default == "auto"
    with pytest.raises(ValidationError):
        Settings(ffmpeg_threads=0)


def test_the_estimate_grows_with_duration_pixels_and_encodes_and_shrinks_with_threads() -> None:
    hour_720p = estimate_seconds(["transcode"], 3600, 1280 * 720, 1)
    assert hour_720p == pytest.approx(3600)
    assert estimate_seconds(["transcode"], 3600, 3840 * 2160, 1) == pytest.approx(9 * 3600)
    assert estimate_seconds(["transcode"], 3600, 1280 * 720, 6) < hour_720p / 3
    assert estimate_seconds(["poster_frame"], 3600, 1280 * 720, 1) < 100  # a seek, not an encode
    assert estimate_seconds(["audio"], 3600, 3840 * 2160, 1) == estimate_seconds(["audio"], 3600, None, 1)
    assert estimate_seconds(["transcode", "rename", "storage"], None, None, 1) == 0.0


def environment(budget: float | None, threads: int = 2) -> TaskEnvironment:
    return TaskEnvironment(blobs=None, workdir=Path(), settings=Settings(ffmpeg_threads=threads),  # type: ignore[arg-type]
                           time_budget_seconds=budget)


def test_work_past_the_budget_is_handed_off_and_no_budget_means_run_here() -> None:
    check_time_budget(environment(None), ["transcode"], 4 * 3600, 3840 * 2160, "web")  # embedded, ECS
    check_time_budget(environment(600), ["transcode"], 60, 1280 * 720, "web")
    with pytest.raises(ExceedsLambdaBudget) as raised:
        check_time_budget(environment(600), ["transcode"], 2 * 3600, 1920 * 1080, "web")
    assert raised.value.node_id == "web" and "exceeds the Lambda budget of 600 s" in raised.value.message


def test_an_input_too_large_for_the_scratch_space_is_handed_off_before_downloading(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    env = TaskEnvironment(blobs=None, workdir=tmp_path, settings=Settings(), time_budget_seconds=600)  # type: ignore[arg-type]
    payload = TaskPayload.model_validate({
        "runtime": "ffmpeg", "run": {"runId": "r1"}, "ops": [{"nodeId": "web", "kind": "transcode"}],
        "media": {"bucket": "b", "key": "t/uploads/huge.mp4", "contentType": "video/mp4", "size": free,
                  "mediaType": "video", "filename": "huge.mp4"}})
    with pytest.raises(ExceedsLambdaBudget, match="scratch space"):
        run_chain(payload, env)  # no blob store: it never got as far as the download
    check_scratch_space(dataclasses.replace(env, time_budget_seconds=None), free * 10, "web")  # no budget: here


def test_the_lambda_budget_applies_to_ffmpeg_with_a_long_route_only() -> None:
    fargate = Settings(ffmpeg_long_route="fargate")
    assert lambda_budget(FFMPEG_TASK, fargate, 900_000) == pytest.approx(900 * 0.7 - 60)
    assert lambda_budget(FFMPEG_TASK, Settings(ffmpeg_long_route="off"), 900_000) is None
    assert lambda_budget({**FFMPEG_TASK, "runtime": "vips"}, fargate, 900_000) is None
    assert lambda_budget(FFMPEG_TASK, fargate, None) is None
    assert lambda_budget(FFMPEG_TASK, Settings(ffmpeg_long_route="fargate", ffmpeg_lambda_budget_seconds=5),
                         900_000) == 5
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 300_000)
    env = with_lambda_budget(TaskEnvironment(blobs=None, workdir=Path(), settings=fargate),  # type: ignore[arg-type]
                             FFMPEG_TASK, context)
    assert env.time_budget_seconds == pytest.approx(300 * 0.7 - 60)


def states_of(machine: dict[str, Any]) -> dict[str, Any]:
    found = dict(machine["States"])
    for state in machine["States"].values():
        for branch in state.get("Branches", []):
            found.update(states_of(branch))
    return found


def test_every_ffmpeg_task_gets_a_fargate_route_that_rejoins_its_path() -> None:
    compiled = compile_workflow(json.loads(VIDEO_EXAMPLE.read_text()))
    states = states_of(compiled.asl)
    ffmpeg_tasks = [task for task in compiled.tasks if task.runtime == "ffmpeg"]
    assert len([task for task in ffmpeg_tasks if not task.fallback]) == 3  # (+ node-by-node re-runs)
    assert all(task.long_route for task in ffmpeg_tasks)
    assert not any(task.long_route for task in compiled.tasks if task.runtime != "ffmpeg")
    for task in ffmpeg_tasks:
        lambda_state = states[task.state]
        handoff = states[lambda_state["Catch"][0]["Next"]]
        assert lambda_state["Catch"][0]["ErrorEquals"] == ["ExceedsLambdaBudget"]
        assert handoff["Type"] == "Pass" and handoff["Parameters"] == lambda_state["Parameters"]
        fargate = states[handoff["Next"]]
        assert fargate["Resource"] == LONG_ROUTE_RESOURCE and task.long_route == handoff["Next"]
        assert fargate["Parameters"]["LaunchType"] == "FARGATE"
        on_failure = next(c["Next"] for c in lambda_state["Catch"] if c["ErrorEquals"] == ["States.ALL"])
        assert fargate["Catch"][0]["Next"] == on_failure  # the Task's own failure path (here: node by node)
        collect = states[fargate["Next"]]
        assert collect["Resource"] == lambda_state["Resource"] == "${FfmpegFunctionArn}"
        assert collect["Parameters"] == {**lambda_state["Parameters"], "handoff": "collect"}
        assert collect.get("Next") == lambda_state.get("Next") and collect.get("End") == lambda_state.get("End")
        assert collect["ResultPath"] == lambda_state["ResultPath"] == "$.media"
    assert compiled.asl["TimeoutSeconds"] == 6 * 3600  # a Fargate encode may outlast the usual hour


def test_an_express_workflow_never_holds_the_long_route() -> None:
    """Express workflows cannot wait on .sync integrations: video kinds are refused there, and a video
    `convert` (an ffmpeg Task that validation lets through) stays on Lambda."""
    definition = json.loads(VIDEO_EXAMPLE.read_text())
    definition["settings"] = {**definition.get("settings", {}), "executionType": "express"}
    report = validate(definition)
    assert not report.valid and any("executionType" in str(issue) for issue in report.errors)
    to_mp4 = {"nodes": [{"id": "upload", "kind": "upload"},
                        {"id": "mp4", "kind": "convert", "config": {"outputFormat": "mp4"}}],
              "edges": [{"source": "upload", "target": "mp4"}], "settings": {"executionType": "express"}}
    compiled = compile_workflow(to_mp4)
    assert compiled.execution_type == "EXPRESS" and [task.runtime for task in compiled.tasks] == ["ffmpeg"]
    assert not compiled.tasks[0].long_route and LONG_ROUTE_RESOURCE not in json.dumps(compiled.asl)
    assert compile_workflow({**to_mp4, "settings": {}}).tasks[0].long_route


def test_placeholders_fill_the_cluster_and_list_the_subnets() -> None:
    compiled = compile_workflow(json.loads(VIDEO_EXAMPLE.read_text()))
    filled = substitute(compiled.asl, {"FfmpegClusterArn": "arn:cluster", "FfmpegTaskDefinitionArn": "arn:td:3",
                                       "FargateSubnets": "subnet-a, subnet-b", "FargateSecurityGroups": "sg-1",
                                       **{name: f"arn:fn:{name}" for name in PLACEHOLDERS}})
    fargate = next(s for s in states_of(filled).values() if s.get("Resource") == LONG_ROUTE_RESOURCE)
    network = fargate["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert (network["Subnets"], network["SecurityGroups"]) == (["subnet-a", "subnet-b"], ["sg-1"])
    assert (fargate["Parameters"]["Cluster"], fargate["Parameters"]["TaskDefinition"]) == ("arn:cluster", "arn:td:3")
    assert "${" not in json.dumps(filled)
    assert substitute({"Subnets": "${FargateSubnets}"}, {})["Subnets"] == []


def test_plan_shows_the_long_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(VIDEO_EXAMPLE), "--json"]) == 0
    tasks = json.loads(capsys.readouterr().out)["tasks"]
    assert {task["runtime"] for task in tasks if task["longRoute"]} == {"ffmpeg"}
    assert all(task["longRoute"] for task in tasks if task["runtime"] == "ffmpeg")
    assert main(["plan", str(VIDEO_EXAMPLE)]) == 0
    text = capsys.readouterr().out
    assert "ECS Fargate" in text and "ecs:runTask.sync" in text
