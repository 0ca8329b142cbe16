"""The AWS adapters on moto: conditional writes, NotFound, tenant scoping, S3 routing and tagging."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow.errors import Conflict, NotFound

from tests.functional.aws.conftest import Deployment, FakeContext, load_handler

pytestmark = pytest.mark.functional


def test_s3_blob_store(deployment: Deployment, tmp_path: Path) -> None:
    blobs = deployment.adapters.blobs
    up = blobs.put_bytes("t1/uploads/a.bin", b"0123456789", "application/octet-stream", overwrite=False)
    assert up.bucket == deployment.settings.uploads_bucket and up.size == 10
    with pytest.raises(Conflict):
        blobs.put_bytes("t1/uploads/a.bin", b"x", "application/octet-stream", overwrite=False)
    source = tmp_path / "f.txt"
    source.write_bytes(b"hello")
    out = blobs.put_file("t1/runs/r1/n1/f.txt", source, "text/plain")
    assert out.bucket == deployment.settings.outputs_bucket and out.etag
    with pytest.raises(Conflict):
        blobs.put_file("t1/runs/r1/n1/f.txt", source, "text/plain", overwrite=False)
    assert blobs.read_range("t1/uploads/a.bin", 2, 3) == b"234"
    assert blobs.read_range("t1/uploads/a.bin", 8, 100) == b"89"
    assert blobs.read_range("t1/uploads/a.bin", 50, 4) == b""
    assert blobs.head("t1/runs/r1/n1/f.txt").content_type == "text/plain"
    with pytest.raises(NotFound):
        blobs.head("t1/uploads/missing")
    with pytest.raises(NotFound):
        blobs.download("t1/uploads/missing", tmp_path / "x")
    assert blobs.exists("t1/uploads/a.bin") and not blobs.exists("t1/uploads/nope")
    assert blobs.download("t1/uploads/a.bin", tmp_path / "d" / "a.bin").read_bytes() == b"0123456789"
    copied = blobs.copy("t1/uploads/a.bin", "t1/outputs/a.bin", content_type="image/png", overwrite=False)
    assert copied.bucket == deployment.settings.outputs_bucket and copied.content_type == "image/png"
    with pytest.raises(Conflict):
        blobs.copy("t1/uploads/a.bin", "t1/outputs/a.bin", overwrite=False)
    assert list(blobs.list("t1/uploads/")) == ["t1/uploads/a.bin"]
    assert list(blobs.list("t1/outputs/")) == ["t1/outputs/a.bin"]
    assert "X-Amz-Signature=" in blobs.url("t1/outputs/a.bin")
    blobs.delete("t1/outputs/a.bin")
    blobs.delete("t1/outputs/a.bin")  # deleting a missing key is fine, as in S3
    assert not blobs.exists("t1/outputs/a.bin")


def test_workflow_store_conditional_writes_versions_and_tenants(deployment: Deployment) -> None:
    store = deployment.adapters.workflows
    first = store.put("t1", {"id": "w", "name": "one", "definition": {"a": 1}}, expected_version=0)
    assert first["version"] == 1
    with pytest.raises(Conflict):
        store.put("t1", {"id": "w", "definition": {}}, expected_version=0)
    second = store.put("t1", {"id": "w", "name": "two", "definition": {"a": 2}}, expected_version=1)
    assert second["version"] == 2 and second["createdAt"] == first["createdAt"]
    with pytest.raises(Conflict):
        store.put("t1", {"id": "w", "definition": {}}, expected_version=1)
    assert store.versions("t1", "w") == [1, 2]
    assert store.get_version("t1", "w", 1)["name"] == "one"
    with pytest.raises(NotFound):
        store.get("t2", "w")
    assert store.list("t2") == []
    store.put("t1", {"id": "p", "status": "paused", "definition": {}})
    assert [w["id"] for w in store.list("t1", status="active")] == ["w"]
    store.delete("t1", "w")
    with pytest.raises(NotFound):
        store.delete("t1", "w")
    with pytest.raises(NotFound):
        store.versions("t1", "w")


def test_run_store(deployment: Deployment) -> None:
    runs = deployment.adapters.runs
    runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "w", "version": 3, "input": {"x": 1.5}})
    with pytest.raises(Conflict):
        runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "w"})
    assert runs.update_run("t1", "r1", status="running")["status"] == "running"
    with pytest.raises(NotFound):
        runs.update_run("t2", "r1", status="running")
    with pytest.raises(TypeError):
        runs.update_run("t1", "r1", colour="red")
    runs.record_step("t1", "r1", {"nodeId": "a", "status": "completed"})
    runs.record_step("t1", "r1", {"nodeId": "b", "status": "failed"})
    assert [s["nodeId"] for s in runs.steps("t1", "r1")] == ["a", "b"]
    with pytest.raises(NotFound):
        runs.steps("t2", "r1")
    finished = runs.finish_run("t1", "r1", status="completed", output={"ok": True})
    assert finished is not None and finished["input"] == {"x": 1.5}
    assert runs.finish_run("t1", "r1", status="failed") is None
    assert runs.get_run("t1", "r1")["status"] == "completed"
    runs.create_run({"tenant": "t1", "runId": "r2", "workflowId": "other"})
    assert [r["runId"] for r in runs.list_runs("t1")] == ["r2", "r1"]
    assert [r["runId"] for r in runs.list_runs("t1", workflow_id="w")] == ["r1"]
    assert runs.list_runs("t2") == []


def test_keys_and_the_authorizer(deployment: Deployment) -> None:
    keys = deployment.adapters.keys
    api_key, record = keys.create_key("t1", ["workflows:read"], name="ci")
    assert api_key.startswith("mf_") and keys.lookup(api_key)["tenant"] == "t1"
    assert keys.lookup(api_key + "x") is None
    authorizer = load_handler("functions/authorizer/handler.py")
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/v1/workflows"
    response = authorizer.lambda_handler({"headers": {"Authorization": f"Bearer {api_key}"}, "methodArn": arn},
                                         FakeContext())
    assert response["context"] == {"tenant": "t1", "scopes": "workflows:read", "keyId": record["keyId"]}
    statement = response["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/*",
                                     "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/HEAD/*"]
    via_header = authorizer.lambda_handler({"headers": {"x-api-key": api_key}, "methodArn": arn}, FakeContext())
    assert via_header["principalId"] == record["keyId"]
    keys.revoke("t1", record["keyId"])
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler({"headers": {"Authorization": f"Bearer {api_key}"}, "methodArn": arn},
                                  FakeContext())
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler({"headers": {}, "methodArn": arn}, FakeContext())
    with pytest.raises(NotFound):
        keys.revoke("t2", record["keyId"])


def test_idempotency(deployment: Deployment) -> None:
    store = deployment.adapters.idempotency
    assert store.claim("t1#k") is None
    with pytest.raises(Conflict):
        store.claim("t1#k")
    store.release("t1#k")
    assert store.claim("t1#k") is None
    store.complete("t1#k", {"media": {"key": "x"}})
    assert store.claim("t1#k") == {"media": {"key": "x"}}


def test_node_task_is_idempotent_per_run_and_nodes(deployment: Deployment) -> None:
    from mediaflow.cloud import bootstrap
    from mediaflow.cloud.nodes import run_node

    a = deployment.adapters
    a.blobs.put_bytes("t1/uploads/n.txt", b"hello", "text/plain")
    payload = {"runtime": "light", "run": {"runId": "r9", "tenant": "t1", "workflowId": "w"},
               "media": {"bucket": a.settings.uploads_bucket, "key": "t1/uploads/n.txt", "contentType": "text/plain",
                         "filename": "n.txt"},
               "ops": [{"nodeId": "s", "kind": "storage", "config": {}}]}
    a.runs.create_run({"tenant": "t1", "runId": "r9", "workflowId": "w"})
    first = run_node(payload, bootstrap.task_environment(a), a.idempotency)
    second = run_node(payload, bootstrap.task_environment(a), a.idempotency)
    assert first == second and first["key"] == "t1/outputs/n.txt"
    assert list(a.blobs.list("t1/outputs/")) == ["t1/outputs/n.txt"]  # written once, no n-1.txt
    assert len(a.runs.steps("t1", "r9")) == 1
