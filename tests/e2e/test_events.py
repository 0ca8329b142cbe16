"""Events on the embedded bus: workflow.completed/failed, run.node.failed, and webhook nodes inside runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mediaflow import samples
from mediaflow.embedded.app import LocalService
from mediaflow.settings import Settings
from mediaflow.validation import validate

pytestmark = pytest.mark.e2e


def workflow(stop_on_failure: bool) -> dict[str, Any]:
    return {
        "nodes": [{"id": "in", "kind": "upload"},
                  {"id": "small", "kind": "resize", "config": {"width": 64}},
                  {"id": "mid", "kind": "webhook", "config": {"event": "image.resized"}},
                  {"id": "store", "kind": "storage"},
                  {"id": "strict", "kind": "validate", "config": {"maxSizeBytes": 10}}],
        "edges": [{"source": "in", "target": "small"}, {"source": "small", "target": "mid"},
                  {"source": "mid", "target": "store"}, {"source": "in", "target": "strict"}],
        "settings": {"stopOnFailure": stop_on_failure},
    }


def test_events_of_a_run_that_goes_on_past_a_failed_node(tmp_path: Path) -> None:
    photo = samples.photo(tmp_path / "p.jpg", 200, 150)
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1), tenant="acme") as service:
        [result] = service.run_files(validate(workflow(False)), [photo], None, workflow_id="wf-events")
        events = [(e.detail_type, e.detail) for e in service.adapters.bus.published()]
    assert result.status == "failed"
    types = [t for t, _ in events]
    assert types.count("image.resized") == 1 and types[-1] == "workflow.failed"
    resized = next(d for t, d in events if t == "image.resized")
    assert resized["nodeId"] == "mid" and resized["runId"] == result.run_id and resized["tenant"] == "acme"
    node_failed = next(d for t, d in events if t == "run.node.failed")
    assert node_failed["nodeIds"] == ["strict"] and node_failed["error"]["error"] == "ValidationFailed"
    finished = events[-1][1]
    assert finished["status"] == "failed" and finished["workflowId"] == "wf-events"
    assert [o["key"].rsplit("/", 1)[-1] for o in finished["outputs"]] == ["p.jpg"]


def test_completed_run_event_lists_outputs(tmp_path: Path) -> None:
    photo = samples.photo(tmp_path / "p.jpg", 200, 150)
    definition = workflow(True)
    definition["nodes"].pop()
    definition["edges"].pop()
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1), tenant="acme") as service:
        [result] = service.run_files(validate(definition), [photo], None)
        done = service.adapters.bus.published("workflow.completed")
    assert result.status == "completed" and len(done) == 1
    detail = done[0].detail
    assert detail["runId"] == result.run_id and detail["error"] is None
    assert detail["outputs"][0]["key"].startswith("acme/outputs/")
