"""Every golden state machine runs on moto's Step Functions interpreter with stub Task handlers and
reaches the expected end state: success on each path through its Choices, and each failure path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from mediaflow.errors import UnsupportedMedia

from tests.support.moto_sfn import run_on_moto

pytestmark = pytest.mark.functional
ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "statemachines").glob("*.asl.json"))
RUN = {"runId": "r-1", "workflowId": "wf", "tenant": "t1", "version": 1, "startedAt": "2026-01-01T00:00:00Z"}
IMAGE = {"bucket": "b", "key": "t1/uploads/a.jpg", "contentType": "image/jpeg", "size": 1000,
         "mediaType": "image", "width": 64, "height": 48, "filename": "a.jpg"}
VIDEO = {"bucket": "b", "key": "t1/uploads/v.mp4", "contentType": "video/mp4", "size": 90000,
         "mediaType": "video", "durationMs": 4000, "filename": "v.mp4"}
PDF = {"bucket": "b", "key": "t1/uploads/d.pdf", "contentType": "application/pdf", "size": 500,
       "mediaType": "document", "filename": "d.pdf"}


def load(path: Path) -> dict[str, Any]:
    machine: dict[str, Any] = json.loads(path.read_text())
    if "Items" in machine["States"]:
        # moto's parser refuses DISTRIBUTED + EXPRESS children (docs/moto-stepfunctions.md)
        processor = machine["States"]["Items"]["ItemProcessor"]["ProcessorConfig"]
        if processor.get("ExecutionType") == "EXPRESS":
            processor["ExecutionType"] = "STANDARD"
    return machine


def task_states(machine: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, state in machine["States"].items():
        # node Tasks (the long route's Fargate and Collect states run the same ops: tested in test_long_route)
        if state["Type"] == "Task" and state["Resource"].startswith("${") and "handoff" not in state["Parameters"]:
            found.append((name, state))
        for branch in state.get("Branches", []):
            found.extend(task_states(branch))
        if "ItemProcessor" in state:
            found.extend(task_states(state["ItemProcessor"]))
    return found


def stub(fail_nodes: tuple[str, ...] = ()) -> Any:
    def handler(runtime: str, payload: dict[str, Any]) -> dict[str, Any]:
        ids = [op["nodeId"] for op in payload["ops"]]
        if tuple(ids) == fail_nodes:
            raise UnsupportedMedia("stub refuses this media", node_id=ids[0])
        media = copy.deepcopy(payload["media"])
        media["key"] = f"{payload['run']['tenant']}/runs/{payload['run']['runId']}/{ids[-1]}/out"
        return media

    return handler


def run_input(machine: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    if "Items" in machine["States"]:
        return {"run": RUN, "items": [media, {**media, "key": media["key"] + "2"}]}
    return {"run": RUN, "media": media}


def inputs_for(path: Path) -> list[tuple[dict[str, Any], bool]]:
    """Inputs that take every path of the machine, and whether each one reaches a Task."""
    name = path.name
    if name.startswith(("video-", "audio-")):
        return [(VIDEO, True)]
    if name.startswith("document-"):
        return [(PDF, True), (IMAGE, False)]  # the condition holds for the PDF and skips the image
    if name.startswith("branch-"):
        return [(IMAGE, True), (VIDEO, True)]  # both sides of the branch
    return [(IMAGE, True)]


def has_failure(value: Any) -> bool:
    if isinstance(value, dict):
        return "failure" in value or "failures" in value or any(has_failure(v) for v in value.values())
    if isinstance(value, list):
        return any(has_failure(v) for v in value)
    return False


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_success_paths(path: Path) -> None:
    machine = load(path)
    for media, reaches_a_task in inputs_for(path):
        execution = run_on_moto(machine, run_input(machine, media), stub())
        assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
        assert not has_failure(execution.output)
        if reaches_a_task:
            assert execution.calls and all(call[1]["media"]["key"] for call in execution.calls)
        else:
            assert not execution.calls and execution.output["skipped"]["reason"] == "conditions not met"


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_failure_paths(path: Path) -> None:
    machine = load(path)
    media = inputs_for(path)[0][0]
    for _name, state in task_states(machine):
        failing = tuple(op["nodeId"] for op in state["Parameters"]["ops"])
        execution = run_on_moto(machine, run_input(machine, media), stub(failing))
        if not any(tuple(op["nodeId"] for op in call[1]["ops"]) == failing for call in execution.calls):
            continue  # this Task is on a path the input does not take
        catch_target = next(c["Next"] for c in state["Catch"] if c["ErrorEquals"] == ["States.ALL"])
        stops = _state_named(machine, catch_target)["Type"] == "Fail"
        if stops:
            assert execution.status == "FAILED"
            assert execution.error == "UnsupportedMedia"
            assert json.loads(execution.cause or "{}")["errorType"] == "UnsupportedMedia"
        elif _state_named(machine, catch_target)["Type"] == "Task":
            # stopOnFailure: false: a failed fused Task re-runs its nodes one by one (here they succeed).
            assert execution.status == "SUCCEEDED"
            assert [tuple(op["nodeId"] for op in call[1]["ops"]) for call in execution.calls].count(failing) == 1
        else:
            assert execution.status == "SUCCEEDED"
            assert has_failure(execution.output)
        if not path.name.endswith(".map.asl.json"):  # Distributed Map children are not in the history
            assert catch_target in execution.states


def _state_named(machine: dict[str, Any], name: str) -> dict[str, Any]:
    if name in machine["States"]:
        return dict(machine["States"][name])
    for state in machine["States"].values():
        for inner in [*state.get("Branches", []), *([state["ItemProcessor"]] if "ItemProcessor" in state else [])]:
            try:
                return _state_named(inner, name)
            except KeyError:
                continue
    raise KeyError(name)
