"""`pytest -m aws_e2e`: example workflows through the whole AWS path on moto.

Upload to the uploads bucket -> EventBridge "Object Created" -> trigger function -> Step Functions
(moto's interpreter, Lambda Tasks answered in-process by functions/nodes/handler.py) -> outputs in S3
-> run record -> workflow.completed / workflow.failed on the bus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.functional.aws.conftest import REGION, Deployment, FakeContext, load_handler, small_jpeg
from tests.functional.aws.test_pipeline import TENANT, save, standard, upload, wait_finished

pytestmark = [pytest.mark.functional, pytest.mark.aws_e2e]
ROOT = Path(__file__).resolve().parents[3]


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    return data


def finish_standard(deployment: Deployment, started: dict[str, Any]) -> dict[str, Any]:
    """moto emits no status-change event: hand the runs function the one AWS would send."""
    described = wait_finished(started["executionArn"])
    runs = load_handler("functions/runs/handler.py")
    event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
             "detail": {key: described.get(key) for key in
                        ("executionArn", "stateMachineArn", "name", "status", "input", "output", "error", "cause")}}
    runs.lambda_handler(event, FakeContext("runs"))
    return deployment.adapters.runs.get_run(TENANT, started["runId"])


def output_keys(deployment: Deployment) -> list[str]:
    import boto3

    listed = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=deployment.settings.outputs_bucket, Prefix=f"{TENANT}/outputs/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.mark.parametrize(("name", "upload_key", "expected"), [
    ("image-web-optimise", "incoming/shot.jpg", [f"{TENANT}/outputs/web/shot-1600.webp",
                                                 f"{TENANT}/outputs/web/shot.jpg"]),
    ("mindia-linear-steps", "shot.jpg", [f"{TENANT}/outputs/photos/shot.jpg"]),
    ("branch-media-type", "shot.jpg", [f"{TENANT}/outputs/thumbs/shot.webp"]),
])
def test_examples_run_from_an_upload(deployment: Deployment, name: str, upload_key: str,
                                     expected: list[str]) -> None:
    record = save(deployment, standard(example(name)))
    event = upload(deployment, f"{TENANT}/uploads/{upload_key}", small_jpeg(320, 240))
    started = load_handler("functions/trigger/handler.py").lambda_handler(event, FakeContext("trigger"))
    assert [r["started"] for r in started["runs"]] == [True]
    run = finish_standard(deployment, started["runs"][0])
    assert run["status"] == "completed", run
    assert run["version"] == record["version"]
    assert output_keys(deployment) == expected
    published = [e for e in deployment.events(wait_s=5) if e.get("source") == "mediaflow"]
    assert [e["detail-type"] for e in published] == ["workflow.completed"]
    assert sorted(o["key"] for o in published[0]["detail"]["outputs"]) == expected


@pytest.mark.parametrize("stop_on_failure", [True, False])
def test_a_failing_node_follows_stop_on_failure(deployment: Deployment, stop_on_failure: bool) -> None:
    definition = {
        "nodes": [{"id": "in", "kind": "upload"},
                  {"id": "strict", "kind": "validate", "config": {"maxSizeBytes": 10}},
                  {"id": "web", "kind": "convert", "config": {"outputFormat": "webp"}},
                  {"id": "store", "kind": "storage"}],
        "edges": [{"source": "in", "target": "strict"}, {"source": "in", "target": "web"},
                  {"source": "web", "target": "store"}],
        "settings": {"stopOnFailure": stop_on_failure, "executionType": "standard"},
    }
    save(deployment, definition)
    event = upload(deployment, f"{TENANT}/uploads/big.jpg", small_jpeg(320, 240))
    started = load_handler("functions/trigger/handler.py").lambda_handler(event, FakeContext("trigger"))
    run = finish_standard(deployment, started["runs"][0])
    assert run["status"] == "failed" and "ValidationFailed" in json.dumps(run["error"])
    steps = {s["nodeId"]: s["status"] for s in deployment.adapters.runs.steps(TENANT, run["runId"])}
    assert steps["strict"] == "failed"
    published = [e["detail-type"] for e in deployment.events(wait_s=5) if e.get("source") == "mediaflow"]
    assert published[-1] == "workflow.failed"
    if not stop_on_failure:  # the other branch went on and delivered its output
        assert output_keys(deployment) == [f"{TENANT}/outputs/big.webp"]
        assert steps["store"] == "completed"


def test_paused_and_non_matching_start_nothing(deployment: Deployment) -> None:
    active = save(deployment, standard(example("mindia-linear-steps")))
    save(deployment, standard(example("image-web-optimise")), status="paused")
    trigger = load_handler("functions/trigger/handler.py")
    pdf = upload(deployment, f"{TENANT}/uploads/notes.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    assert trigger.lambda_handler(pdf, FakeContext("trigger"))["runs"] == []
    photo = upload(deployment, f"{TENANT}/uploads/incoming/x.jpg", small_jpeg())
    started = trigger.lambda_handler(photo, FakeContext("trigger"))["runs"]
    assert len(started) == 1  # the Mindia workflow only; the web-optimise one is paused
    run = finish_standard(deployment, started[0])  # never leave an execution running into the next test
    assert run["workflowId"] == active["id"] and run["status"] == "completed"
