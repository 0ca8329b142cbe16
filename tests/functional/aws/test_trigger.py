"""The upload trigger: keys decoded exactly once per event shape, non-matching and paused workflows start
nothing, keys outside {tenant}/uploads/ are ignored."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from tests.functional.aws.conftest import Deployment, FakeContext, load_handler, small_jpeg
from tests.functional.aws.test_pipeline import EXAMPLE, TENANT, save, standard, upload, wait_finished

pytestmark = [pytest.mark.functional, pytest.mark.aws_e2e]
KEY = f"{TENANT}/uploads/a b+c%20d ü 100%.jpg"


def eventbridge(bucket: str, key: str) -> dict[str, object]:
    return {"source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 5, "etag": "e",
                                                             "version-id": "v1", "sequencer": "01"}}}


def notification(bucket: str, raw_key: str) -> dict[str, object]:
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": bucket}, "object": {"key": raw_key, "size": 5, "eTag": "e", "versionId": "v1",
                                               "sequencer": "01"}}}]}


def test_each_event_shape_is_decoded_exactly_once() -> None:
    from mediaflow.cloud.trigger import parse_upload_event

    assert [o.key for o in parse_upload_event(eventbridge("b", KEY))] == [KEY]
    assert [o.key for o in parse_upload_event(notification("b", quote_plus(KEY)))] == [KEY]
    # a literal "%2B" or "+" in an EventBridge key is part of the name, not an escape
    assert parse_upload_event(eventbridge("b", "t/uploads/x%2By+z.jpg"))[0].key == "t/uploads/x%2By+z.jpg"
    assert parse_upload_event(eventbridge("b", "t/uploads/a+b.jpg"), eventbridge_encoding="form")[0].key == \
        "t/uploads/a b.jpg"
    assert parse_upload_event({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}) == []


def test_an_awkward_key_starts_its_run_on_the_stored_object(deployment: Deployment) -> None:
    save(deployment, standard(json.loads(EXAMPLE.read_text())))
    event = upload(deployment, KEY, small_jpeg())
    assert event["detail"]["object"]["key"] == KEY  # S3 -> EventBridge carries the key as stored

    result = load_handler("functions/trigger/handler.py").lambda_handler(event, FakeContext("trigger"))

    assert [r["started"] for r in result["runs"]] == [True]
    run = deployment.adapters.runs.get_run(TENANT, result["runs"][0]["runId"])
    assert run["input"]["media"]["key"] == KEY and run["input"]["media"]["mediaType"] == "image"
    assert wait_finished(result["runs"][0]["executionArn"])["status"] == "SUCCEEDED"


def test_non_matching_and_foreign_uploads_start_nothing(deployment: Deployment) -> None:
    from mediaflow.validation import validate

    definition = validate(json.loads(EXAMPLE.read_text())).definition.canonical()  # type: ignore[union-attr]
    definition["trigger"] = {"onUpload": True, "filters": {"mediaTypes": ["video"]}}
    save(deployment, definition)
    trigger = load_handler("functions/trigger/handler.py")

    for key in (f"{TENANT}/uploads/p.jpg", f"{TENANT}/other/p.jpg", "other/uploads/p.jpg"):
        assert trigger.lambda_handler(upload(deployment, key, small_jpeg()), FakeContext())["runs"] == []
    assert deployment.calls == []


def test_a_paused_workflow_starts_nothing(deployment: Deployment) -> None:
    from mediaflow.cloud import bootstrap, workflows

    a = deployment.adapters
    record = save(deployment, standard(json.loads(EXAMPLE.read_text())))
    paused = workflows.set_status(TENANT, record["id"], "paused", workflows=a.workflows, launcher=bootstrap.launcher(a))
    assert paused["status"] == "paused" and paused["version"] == record["version"] + 1

    result = load_handler("functions/trigger/handler.py").lambda_handler(
        upload(deployment, f"{TENANT}/uploads/q.jpg", small_jpeg()), FakeContext())

    assert result["runs"] == [] and deployment.calls == []


def test_deleting_a_workflow_removes_its_state_machine(deployment: Deployment) -> None:
    import boto3
    from mediaflow.cloud import workflows
    from mediaflow.errors import NotFound

    a = deployment.adapters
    record = save(deployment, standard(json.loads(EXAMPLE.read_text())))
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    assert [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]] == [record["stateMachine"]["arn"]]
    workflows.delete_workflow(TENANT, record["id"], workflows=a.workflows, orchestrator=a.orchestrator)
    assert sfn.list_state_machines()["stateMachines"] == []
    with pytest.raises(NotFound):
        a.workflows.get(TENANT, record["id"])
    assert a.workflows.machine(TENANT, record["id"], "x") is None


def test_saving_a_new_version_publishes_a_version_and_moves_the_alias(deployment: Deployment) -> None:
    import boto3
    from mediaflow.cloud import bootstrap, workflows

    a = deployment.adapters
    raw = standard(json.loads(EXAMPLE.read_text()))
    first = save(deployment, raw)
    raw["nodes"][1]["config"] = {**raw["nodes"][1].get("config", {}), "outputFormat": "png"}
    second = workflows.save_workflow(TENANT, raw, workflows=a.workflows, launcher=bootstrap.launcher(a),
                                     status="active", workflow_id=first["id"], expected_version=first["version"])
    assert second["version"] == 2 and second["stateMachine"]["versionArn"] != first["stateMachine"]["versionArn"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    alias = sfn.describe_state_machine_alias(stateMachineAliasArn=second["stateMachine"]["aliasArn"])
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"] == second["stateMachine"]["versionArn"]
    from mediaflow.errors import Conflict

    with pytest.raises(Conflict):
        workflows.save_workflow(TENANT, raw, workflows=a.workflows, launcher=bootstrap.launcher(a),
                                workflow_id=first["id"], expected_version=1)
