"""What only the AWS adapters do, on moto: S3 bucket routing and presigned URLs, the authorizer, node Tasks
idempotent per run. The contract both adapter sets share is tests/functional/test_port_contracts.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow.errors import NotFound

from tests.functional.aws.conftest import Deployment, FakeContext, load_handler

pytestmark = pytest.mark.functional


def test_s3_routes_uploads_and_outputs_to_their_buckets(deployment: Deployment, tmp_path: Path) -> None:
    blobs = deployment.adapters.blobs
    up = blobs.put_bytes("t1/uploads/a.bin", b"0123456789", "application/octet-stream", overwrite=False)
    assert up.bucket == deployment.settings.uploads_bucket
    source = tmp_path / "f.txt"
    source.write_bytes(b"hello")
    out = blobs.put_file("t1/runs/r1/n1/f.txt", source, "text/plain")
    assert out.bucket == deployment.settings.outputs_bucket and out.etag
    copied = blobs.copy("t1/uploads/a.bin", "t1/outputs/a.bin", content_type="image/png", overwrite=False)
    assert copied.bucket == deployment.settings.outputs_bucket
    assert list(blobs.list("t1/uploads/")) == ["t1/uploads/a.bin"]
    assert list(blobs.list("t1/outputs/")) == ["t1/outputs/a.bin"]
    assert "X-Amz-Signature=" in blobs.url("t1/outputs/a.bin")


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
