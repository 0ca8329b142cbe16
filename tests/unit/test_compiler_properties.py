"""Property tests: random valid DAGs compile to sound, deterministic, small ASL; cycles are named."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mediaflow.compiler import BatchOptions, compile_workflow, dumps_asl, plan_workflow
from mediaflow.compiler.asl import LONG_ROUTE_RESOURCE
from mediaflow.compiler.check import check_asl
from mediaflow.validation import validate

pytestmark = pytest.mark.unit

TASK_NODES: list[tuple[str, dict[str, Any]]] = [
    ("convert", {"outputFormat": "webp"}),
    ("convert", {"outputFormat": "png", "compressionLevel": 90}),
    ("convert", {"outputFormat": "mp4"}),
    ("compress", {"compressionLevel": 60}),
    ("resize", {"width": 320}),
    ("adjust", {"grayscale": True}),
    ("strip_metadata", {}),
    ("thumbnail", {"width": 128}),
    ("thumbnail", {"source": "video"}),
    ("inspect", {}),
    ("background_remove", {}),
    ("transcode", {"preset": "720p"}),
    ("trim", {"durationSeconds": 5}),
    ("poster_frame", {"atSeconds": 1}),
    ("gif", {}),
    ("pdf_preview", {}),
    ("rename", {"pattern": "{original}-x"}),
    ("transform", {"set": {"k": "v"}}),
    ("validate", {"mediaTypes": ["image"]}),
    ("storage", {"prefix": "out/"}),
    ("webhook", {}),
]
CONDITIONS = {"conditions": [{"field": "mediaType", "op": "eq", "value": "image"},
                             {"field": "width", "op": "gt", "value": 100}], "logic": "or"}


@st.composite
def workflows(draw: st.DrawFn, *, max_nodes: int = 14) -> dict[str, Any]:
    count = draw(st.integers(min_value=1, max_value=max_nodes))
    nodes: list[dict[str, Any]] = [{"id": "start", "kind": "upload"}]
    parents: dict[str, list[str]] = {"start": []}
    for index in range(count):
        node_id = f"n{index}"
        choice = draw(st.integers(min_value=0, max_value=len(TASK_NODES) + 1))
        if choice == len(TASK_NODES):
            nodes.append({"id": node_id, "kind": "branch", "config": {"conditions": CONDITIONS}})
        elif choice == len(TASK_NODES) + 1:
            nodes.append({"id": node_id, "kind": "condition", "config": {"conditions": CONDITIONS}})
        else:
            kind, config = TASK_NODES[choice]
            nodes.append({"id": node_id, "kind": kind, "config": config})
        earlier = [n["id"] for n in nodes[:-1]]
        chosen = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2, unique=True))
        parents[node_id] = chosen
    children: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    for child, owners in parents.items():
        for owner in owners:
            children[owner].append(child)
    edges: list[dict[str, Any]] = []
    for node in nodes:
        kids = children[node["id"]]
        if node["kind"] == "branch":
            if len(kids) == 2:
                edges += [{"source": node["id"], "target": kids[0], "kind": "true"},
                          {"source": node["id"], "target": kids[1], "kind": "false"}]
                continue
            node["kind"] = "condition"
        edges += [{"source": node["id"], "target": kid} for kid in kids]
    settings_ = {"stopOnFailure": draw(st.booleans())}
    return {"nodes": nodes, "edges": edges, "settings": settings_}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflows())
def test_random_valid_dags_compile_to_sound_asl(workflow: dict[str, Any]) -> None:
    report = validate(workflow)
    assert report.valid, [str(e) for e in report.errors]
    compiled = compile_workflow(workflow)
    assert check_asl(compiled.asl) == []
    text = dumps_asl(compiled.asl)
    assert len(text.encode()) < 1_000_000
    assert dumps_asl(compile_workflow(json.loads(json.dumps(workflow))).asl) == text
    # every Task carries Retry and Catch, and media travels by reference only
    for state in _all_states(compiled.asl):
        if state["Type"] == "Task":
            assert state["Retry"] and state["Catch"]
            if state["Resource"] == LONG_ROUTE_RESOURCE:  # its payload is the Handoff Pass's copy of the Task's
                environment = state["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"]
                assert environment[0]["Value.$"] == "States.JsonToString($.handoff)"
            else:
                assert state["Parameters"]["media.$"] == "$.media"
    # every non-trigger node is executed by some task or choice state
    covered = {op for task in compiled.tasks for op in task.node_ids}
    choice_nodes = {n["id"] for n in workflow["nodes"] if n["kind"] in ("branch", "condition")}
    assert covered | choice_nodes | {"start"} == {n["id"] for n in workflow["nodes"]}


@settings(max_examples=60, deadline=None)
@given(workflows(max_nodes=8), st.integers(min_value=1, max_value=500))
def test_batch_compiles_to_a_map(workflow: dict[str, Any], items: int) -> None:
    plan = plan_workflow(workflow, batch=BatchOptions(expected_items=items))
    state = plan.compiled.asl["States"]["Items"]
    assert state["Type"] == "Map"
    assert check_asl(plan.compiled.asl) == []
    mode = state["ItemProcessor"]["ProcessorConfig"]["Mode"]
    assert mode == ("DISTRIBUTED" if items > 40 else "INLINE")
    if items > 40:
        assert plan.compiled.execution_type == "STANDARD"


@settings(max_examples=100, deadline=None)
@given(workflows(max_nodes=10), st.data())
def test_cycles_are_rejected_and_named(workflow: dict[str, Any], data: st.DataObject) -> None:
    ids = [n["id"] for n in workflow["nodes"] if n["id"] != "start"]
    # add a back edge from a descendant to an ancestor on some path
    path = ["start"]
    while True:
        kids = [e["target"] for e in workflow["edges"] if e["source"] == path[-1]]
        if not kids:
            break
        path.append(data.draw(st.sampled_from(kids)))
    if len(path) < 2:
        path.append(ids[0])
        workflow["edges"].append({"source": "start", "target": ids[0]})
    low = data.draw(st.integers(min_value=1, max_value=len(path) - 1))
    high = data.draw(st.integers(min_value=low, max_value=len(path) - 1))
    workflow["edges"].append({"source": path[high], "target": path[low]})
    report = validate(workflow)
    assert not report.valid
    cycles = [e for e in report.errors if e.code == "cycle"]
    assert cycles, [str(e) for e in report.errors]
    named = cycles[0].message.removeprefix("cycle: ").split(" -> ")
    assert named[0] == named[-1]
    edge_set = {(e["source"], e["target"]) for e in workflow["edges"]}
    assert all((a, b) in edge_set for a, b in itertools.pairwise(named))


def _all_states(machine: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in machine["States"].values():
        found.append(state)
        for branch in state.get("Branches", []):
            found.extend(_all_states(branch))
        if "ItemProcessor" in state:
            found.extend(_all_states(state["ItemProcessor"]))
    return found
