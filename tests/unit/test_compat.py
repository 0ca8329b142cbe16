"""Convertly and Mindia payloads normalise to the canonical shape."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from mediaflow.compiler import plan_workflow
from mediaflow.validation import validate

pytestmark = pytest.mark.unit
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_convertly_seed_payload_fills_node_configs_from_definition_defaults() -> None:
    report = validate((EXAMPLES / "convertly-convert-compress.json").read_text())
    assert report.valid and report.source == "convertly" and report.definition is not None
    configs = {node.id: node.config for node in report.definition.nodes}
    assert configs["convert"] == {"outputFormat": "webp", "compressionLevel": 75}
    assert configs["compress"] == {"compressionLevel": 75, "mode": "balanced"}
    assert configs["storage"] == {"destination": "convertly-storage"}
    assert report.meta["status"] == "active"
    assert report.definition.name == "Convert + compress for the web"


def test_convertly_seed_plans_with_at_most_two_media_tasks() -> None:
    plan = plan_workflow(json.loads((EXAMPLES / "convertly-convert-compress.json").read_text()))
    assert plan.task_states <= 2
    assert plan.compiled.tasks[0].node_ids[:2] == ("convert", "compress")
    assert plan.compiled.execution_type == "EXPRESS"


def test_convertly_branch_conditions_and_unknown_keys() -> None:
    payload = {"definition": {
        "branchConditions": [{"field": "mediaType", "operator": "equals", "value": "video"}],
        "nodes": [{"id": "u", "data": {"kind": "upload"}},
                  {"id": "b", "data": {"kind": "branch"}},
                  {"id": "x", "data": {"kind": "platform", "config": {"colour": "red"}}},
                  {"id": "y", "data": {"kind": "storage"}}],
        "edges": [{"source": "u", "target": "b"}, {"source": "b", "target": "x", "sourceHandle": "true"},
                  {"source": "b", "target": "y", "kind": "false"}],
        "selectedPlatforms": ["instagram"],
    }}
    report = validate(payload)
    assert report.valid, [str(e) for e in report.errors]
    assert report.definition is not None
    nodes = {node.id: node for node in report.definition.nodes}
    assert nodes["b"].config["conditions"]["conditions"][0]["op"] == "eq"
    assert nodes["x"].kind == "publish" and nodes["x"].config == {"platforms": ["instagram"]}
    assert [w.path for w in report.warnings] == ["nodes[2].data.config.colour"]


def test_mindia_steps_become_a_linear_chain() -> None:
    report = validate((EXAMPLES / "mindia-linear-steps.json").read_text())
    assert report.valid and report.source == "mindia" and report.definition is not None
    ids = [node.id for node in report.definition.nodes]
    assert ids == ["upload", "step-1", "step-2", "step-3", "step-4"]
    assert [(e.source, e.target) for e in report.definition.edges] == list(itertools.pairwise(ids))
    assert report.definition.trigger.filters.media_types == ["image"]
    assert report.definition.settings.stop_on_failure is True


def test_mindia_unknown_plugin_is_reported() -> None:
    report = validate({"name": "x", "steps": [{"action": "plugin", "plugin_name": "google_vision"}]})
    assert report.errors[0].code == "unknown_kind" and report.errors[0].node_id == "step-1"
