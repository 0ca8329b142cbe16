"""stopOnFailure: false compiles to "go on": failures kept per node, successors run on the failed node's input,
a fused Task re-run node by node when it fails, the normal path unchanged."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from mediaflow.compiler import compile_workflow
from mediaflow.compiler.plan import plan_workflow

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def linear(stop_on_failure: bool) -> dict[str, Any]:
    ids = ["upload", "webp", "check", "store"]
    kinds = {"upload": "upload", "webp": "convert", "check": "validate", "store": "storage"}
    configs = {"webp": {"outputFormat": "webp"}, "check": {"mediaTypes": ["video"]}}
    return {"nodes": [{"id": i, "kind": kinds[i], "config": configs.get(i, {})} for i in ids],
            "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)],
            "settings": {"stopOnFailure": stop_on_failure}}


def test_the_normal_path_stays_one_fused_task_and_a_failure_reruns_it_node_by_node() -> None:
    compiled = compile_workflow(linear(False))
    states = compiled.asl["States"]
    fused = states[compiled.asl["StartAt"]]
    assert [op["nodeId"] for op in fused["Parameters"]["ops"]] == ["webp", "check", "store"]
    assert fused["Parameters"]["recordFailure"] is False
    single = states[fused["Catch"][0]["Next"]]
    assert [op["nodeId"] for op in single["Parameters"]["ops"]] == ["webp"]
    check = states[single["Next"]]
    failed = states[check["Catch"][0]["Next"]]
    assert failed["Type"] == "Pass" and failed["ResultPath"] == "$.failures.check"
    assert failed["Next"] == check["Next"]  # the successor runs on the failed node's input
    assert [task.fallback for task in compiled.tasks] == [False, True, True, True]


def test_stop_on_failure_true_is_unchanged() -> None:
    compiled = compile_workflow(linear(True))
    fused = compiled.asl["States"][compiled.asl["StartAt"]]
    assert compiled.asl["States"][fused["Catch"][0]["Next"]]["Type"] == "Fail"
    assert "recordFailure" not in fused["Parameters"] and len(compiled.tasks) == 1


def test_the_plan_counts_the_normal_path_only() -> None:
    plan = plan_workflow(json.loads((ROOT / "examples" / "image-web-optimise.json").read_text()))
    assert plan.task_states == 1 and plan.lambda_invocations_per_run == 1
    assert sum(1 for task in plan.to_dict()["tasks"] if task.get("fallback")) == 8
