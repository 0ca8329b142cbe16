"""Validation: every problem is reported with the node id and the field path, never a traceback."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from mediaflow.validation import LIMITS, validate

pytestmark = pytest.mark.unit


def linear(*kinds: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    nodes = [{"id": "in", "kind": "upload"}] + [
        {"id": f"s{i}", "kind": kind, "config": config} for i, (kind, config) in enumerate(kinds)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"nodes": nodes, "edges": edges}


def codes(report: Any) -> list[str]:
    return [issue.code for issue in report.errors]


def test_valid_linear_workflow_is_canonicalised() -> None:
    report = validate(linear(("convert", {"outputFormat": "JPG"}), ("storage", {})))
    assert report.valid
    assert report.definition is not None
    assert report.definition.nodes[1].config == {"outputFormat": "jpeg"}


def test_unknown_kind_names_node_and_suggests() -> None:
    report = validate(linear(("resise", {"width": 10})))
    issue = report.errors[0]
    assert (issue.code, issue.node_id, issue.path) == ("unknown_kind", "s0", "nodes[1].kind")
    assert "resize" in issue.message


def test_bad_config_reports_field_path() -> None:
    report = validate(linear(("resize", {"width": 0, "fit": "squash"})))
    paths = sorted(issue.path for issue in report.errors)
    assert paths == ["nodes[1].config.fit", "nodes[1].config.width"]
    assert all(issue.node_id == "s0" for issue in report.errors)


def test_unknown_config_key_is_refused() -> None:
    report = validate(linear(("compress", {"quality": 50})))
    assert report.errors[0].path == "nodes[1].config.quality"


def test_dangling_edges_unreachable_and_missing_trigger() -> None:
    definition = {"nodes": [{"id": "a", "kind": "convert"}, {"id": "b", "kind": "storage"}],
                  "edges": [{"source": "a", "target": "zz"}]}
    report = validate(definition)
    assert {"dangling_edge", "missing_trigger"} <= set(codes(report))
    assert any(issue.path == "edges[0].target" for issue in report.errors)
    unreachable = validate({"nodes": [{"id": "t", "kind": "upload"}, {"id": "x", "kind": "storage"}]})
    assert codes(unreachable) == ["unreachable"] and unreachable.errors[0].node_id == "x"


def test_cycle_is_named() -> None:
    definition = linear(("convert", {}), ("compress", {}), ("storage", {}))
    definition["edges"].append({"source": "s2", "target": "s0"})
    report = validate(definition)
    assert [i.message for i in report.errors if i.code == "cycle"] == ["cycle: s0 -> s1 -> s2 -> s0"]


def test_branch_needs_one_true_and_one_false_edge() -> None:
    conditions = {"conditions": [{"field": "mediaType", "op": "eq", "value": "image"}]}
    definition: dict[str, Any] = {
        "nodes": [{"id": "t", "kind": "upload"}, {"id": "b", "kind": "branch", "config": conditions},
                  {"id": "x", "kind": "storage"}, {"id": "y", "kind": "storage"}],
        "edges": [{"source": "t", "target": "b"}, {"source": "b", "target": "x", "kind": "true"},
                  {"source": "b", "target": "y", "kind": "true"}],
    }
    assert "branch_edges" in codes(validate(definition))
    definition["edges"][2]["kind"] = "false"
    assert validate(definition).valid
    definition["edges"][0]["kind"] = "true"
    assert "edge_kind" in codes(validate(definition))


def test_condition_operators_are_checked() -> None:
    bad = {"conditions": [{"field": "width", "op": "gt", "value": "wide"}]}
    report = validate(linear(("condition", {"conditions": bad})))
    assert report.errors[0].path.startswith("nodes[1].config.conditions")
    unknown_field = {"conditions": [{"field": "colour", "op": "eq", "value": "red"}]}
    assert "unknown field" in validate(linear(("condition", {"conditions": unknown_field}))).errors[0].message


def test_limits_on_nodes_fan_out_and_depth() -> None:
    many = {"nodes": [{"id": f"n{i}", "kind": "storage"} for i in range(LIMITS.max_nodes + 1)]}
    assert codes(validate(many)) == ["limit_exceeded"]
    fan = {"nodes": [{"id": "t", "kind": "upload"}] + [{"id": f"s{i}", "kind": "storage"} for i in range(17)],
           "edges": [{"source": "t", "target": f"s{i}"} for i in range(17)]}
    assert "limit_exceeded" in codes(validate(fan))
    deep = linear(*[("rename", {})] * (LIMITS.max_depth + 1))
    assert "limit_exceeded" in codes(validate(deep))


def test_express_with_video_is_refused() -> None:
    definition = linear(("transcode", {}))
    definition["settings"] = {"executionType": "express"}
    report = validate(definition)
    assert report.errors[0].path == "settings.executionType"


@pytest.mark.parametrize("payload", [
    "{not json",
    "",
    "[1, 2]",
    '"a string"',
    json.dumps({"nodes": "many"}),
    json.dumps({"nodes": [{"id": 5, "kind": ["convert"]}]}),
    json.dumps({"nodes": [{"id": "x", "kind": "convert", "config": {"outputFormat": {"a": 1}}}]}),
    "[" * 50_000 + "]" * 50_000,
    json.dumps({"nodes": [{"id": "t", "kind": "upload", "config": {"a": {}}}]}),
    json.dumps({"nodes": [{"id": f"n{i}", "kind": "convert"} for i in range(10_000)],
                "edges": [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(9_999)]}),
    b"\xff\xfe\x00garbage",
])
def test_bad_input_gets_clear_errors_fast(payload: str | bytes) -> None:
    started = time.process_time()  # CPU time: other processes on a busy machine do not count
    report = validate(payload)
    elapsed = time.process_time() - started
    assert not report.valid
    assert report.errors and all(issue.message for issue in report.errors)
    assert elapsed < 1.0


def test_deeply_nested_config_is_refused_with_path() -> None:
    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(200):
        cursor["k"] = {}
        cursor = cursor["k"]
    report = validate(json.dumps(linear(("transform", {"set": nested}))))
    assert report.errors[0].code == "too_deep"
    assert report.errors[0].path.startswith("nodes[1].config.set")
