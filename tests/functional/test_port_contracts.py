"""One contract for each port in ports.py, run over both adapter sets: the embedded adapters on a temporary
data dir (a folder, SQLite) and the AWS adapters on moto (S3, DynamoDB tables made from template.yaml).

What only one side has (SQLite's immutable version rows and WAL mode, several processes on one database,
S3's two buckets and presigned URLs, the authorizer function) stays in test_embedded_adapters.py and
aws/test_adapters.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mediaflow.errors import Conflict, NotFound
from mediaflow.media import InvalidKeyError
from mediaflow.ports import (
    BlobStore,
    Idempotency,
    JobStore,
    KeyStore,
    RunStore,
    VersionedWorkflowStore,
    WebhookRepository,
)

pytestmark = pytest.mark.functional


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Ports:
    side: str
    blobs: BlobStore
    workflows: VersionedWorkflowStore
    runs: RunStore
    keys: KeyStore
    jobs: JobStore
    idempotency: Idempotency
    webhooks: WebhookRepository
    clock: Clock


def _embedded(tmp_path: Path) -> Iterator[Ports]:
    from mediaflow.adapters.embedded import SQLiteIdempotency, open_embedded
    from mediaflow.adapters.embedded.webhooks import WebhookStore
    from mediaflow.embedded.bootstrap import job_store

    a = open_embedded(tmp_path / "data")
    clock = Clock()
    yield Ports("embedded", a.blobs, a.workflows, a.runs, a.keys, job_store(a), SQLiteIdempotency(a.db, clock=clock),
                WebhookStore(a.db), clock)


def _aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ports]:
    import boto3
    from mediaflow.adapters.aws import DynamoDBIdempotency, open_aws
    from mediaflow.adapters.aws.webhooks import DynamoDBWebhookStore
    from mediaflow.settings import Settings
    from moto import mock_aws

    from tests.functional.aws.conftest import PREFIX, REGION, _create_tables
    from tests.support.moto_dynamodb import atomic_requests

    with mock_aws(), atomic_requests():
        env = {"MEDIAFLOW_UPLOADS_BUCKET": f"{PREFIX}-uploads", "MEDIAFLOW_OUTPUTS_BUCKET": f"{PREFIX}-outputs"}
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in env.values():
            s3.create_bucket(Bucket=bucket)
        _create_tables(boto3.client("dynamodb", region_name=REGION), env)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings(region=REGION)
        a = open_aws(settings)
        clock = Clock()
        idempotency = DynamoDBIdempotency(settings.idempotency_table, region=REGION, clock=clock)
        webhooks = DynamoDBWebhookStore(settings.webhooks_table, region=REGION, clock=clock)
        yield Ports("aws", a.blobs, a.workflows, a.runs, a.keys, a.jobs, idempotency, webhooks, clock)


@pytest.fixture(params=["embedded", "aws"])
def ports(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ports]:
    yield from (_embedded(tmp_path) if request.param == "embedded" else _aws(monkeypatch))


# -- BlobStore -----------------------------------------------------------------------------------------------


def test_blobs_write_read_and_describe(ports: Ports, tmp_path: Path) -> None:
    blobs = ports.blobs
    up = blobs.put_bytes("t1/uploads/a.bin", b"0123456789", "application/octet-stream", overwrite=False)
    assert (up.key, up.size, up.filename) == ("t1/uploads/a.bin", 10, "a.bin")
    source = tmp_path / "in.mp4"
    source.write_bytes(b"video" * 1000)
    ref = blobs.put_file("t1/outputs/in.mp4", source, "video/mp4")
    assert (ref.size, ref.media_type, ref.content_type) == (5000, "video", "video/mp4") and ref.etag
    assert blobs.head("t1/outputs/in.mp4").etag == ref.etag
    assert blobs.read_range("t1/uploads/a.bin", 2, 3) == b"234"
    assert blobs.read_range("t1/uploads/a.bin", 8, 100) == b"89"
    assert blobs.read_range("t1/uploads/a.bin", 50, 4) == b""
    described, head = blobs.read_head("t1/uploads/a.bin", 4)
    assert (described.size, head) == (10, b"0123")
    assert blobs.download("t1/uploads/a.bin", tmp_path / "d" / "a.bin").read_bytes() == b"0123456789"
    assert blobs.exists("t1/uploads/a.bin") and not blobs.exists("t1/uploads/nope")
    assert isinstance(blobs.url("t1/uploads/a.bin"), str)


def test_blobs_never_overwrite_an_original_and_copy_create_only(ports: Ports) -> None:
    blobs = ports.blobs
    blobs.put_bytes("t1/uploads/a.bin", b"first", "application/octet-stream", overwrite=False)
    with pytest.raises(Conflict):
        blobs.put_bytes("t1/uploads/a.bin", b"second", "application/octet-stream", overwrite=False)
    assert blobs.read_range("t1/uploads/a.bin", 0, 100) == b"first"
    copied = blobs.copy("t1/uploads/a.bin", "t1/outputs/a.png", content_type="image/png", overwrite=False)
    assert (copied.key, copied.content_type, copied.size) == ("t1/outputs/a.png", "image/png", 5)
    with pytest.raises(Conflict):  # create-only copies stay strict, even for the same bytes
        blobs.copy("t1/uploads/a.bin", "t1/outputs/a.png", overwrite=False)
    assert blobs.read_range("t1/outputs/a.png", 0, 100) == b"first"


def test_blobs_list_delete_and_missing_objects(ports: Ports, tmp_path: Path) -> None:
    blobs = ports.blobs
    for key in ("t1/outputs/b.png", "t1/outputs/a.png", "t1/outputs/sub/c.png", "t2/outputs/e.png"):
        blobs.put_bytes(key, b"x", "image/png")
    assert list(blobs.list("t1/outputs/")) == ["t1/outputs/a.png", "t1/outputs/b.png", "t1/outputs/sub/c.png"]
    assert list(blobs.list("t1/outputs/a")) == ["t1/outputs/a.png"]
    assert list(blobs.list("t3/")) == []
    blobs.delete("t1/outputs/a.png")
    blobs.delete("t1/outputs/a.png")  # deleting a missing key is fine, as in S3
    assert not blobs.exists("t1/outputs/a.png")
    with pytest.raises(NotFound):
        blobs.head("t1/outputs/a.png")
    with pytest.raises(NotFound):
        blobs.download("t1/outputs/a.png", tmp_path / "x")
    with pytest.raises(NotFound):
        blobs.copy("t1/outputs/a.png", "t1/outputs/z.png")


@pytest.mark.parametrize("key", ["../escape", "t1/../../escape", "t1//x", "t1/.mf-meta/x", "a" * 1100])
def test_blobs_refuse_unsafe_keys(ports: Ports, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        ports.blobs.put_bytes(key, b"x", "text/plain")


def test_blobs_declare_what_each_side_offers(ports: Ports) -> None:
    """local_path and presigned_post are declared on both sides; each answers for itself, never by absence."""
    ports.blobs.put_bytes("t1/uploads/a.txt", b"hello", "text/plain")
    local = ports.blobs.local_path("t1/uploads/a.txt")
    post = ports.blobs.presigned_post("t1/uploads/b.txt", content_type="text/plain", expires_seconds=60,
                                      max_bytes=100, fields={"x-amz-meta-origin": "test"})
    if ports.side == "embedded":
        assert local is not None and local.read_bytes() == b"hello"
        assert post is None  # the embedded API signs its own upload URLs
    else:
        assert local is None
        assert post is not None and post["fields"]["key"] == "t1/uploads/b.txt"
        assert post["fields"]["x-amz-meta-origin"] == "test" and post["url"].startswith("https://")


# -- WorkflowStore -------------------------------------------------------------------------------------------


def test_workflows_keep_every_version_under_optimistic_concurrency(ports: Ports) -> None:
    store = ports.workflows
    first = store.put("t1", {"id": "w", "name": "one", "definition": {"a": 1}}, expected_version=0)
    assert (first["version"], first["tenant"]) == (1, "t1")
    with pytest.raises(Conflict):
        store.put("t1", {"id": "w", "definition": {}}, expected_version=0)
    second = store.put("t1", {"id": "w", "name": "two", "definition": {"a": 2}}, expected_version=1)
    assert second["version"] == 2 and second["createdAt"] == first["createdAt"]
    with pytest.raises(Conflict):
        store.put("t1", {"id": "w", "name": "stale", "definition": {}}, expected_version=1)
    assert store.get("t1", "w")["name"] == "two"
    assert store.versions("t1", "w") == [1, 2]
    assert store.get_version("t1", "w", 1)["name"] == "one"
    assert store.put("t1", {"id": "w", "name": "last write wins", "definition": {}})["version"] == 3


def test_concurrent_workflow_updates_have_one_winner(ports: Ports) -> None:
    ports.workflows.put("t1", {"id": "wf", "name": "base", "definition": {}})

    def update(n: int) -> bool:
        try:
            ports.workflows.put("t1", {"id": "wf", "name": f"writer {n}", "definition": {}}, expected_version=1)
        except Conflict:
            return False
        return True

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the writers' threads interleave as closely as the interpreter lets them
    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(update, range(8)))
    finally:
        sys.setswitchinterval(switching)
    assert outcomes.count(True) == 1
    assert ports.workflows.versions("t1", "wf") == [1, 2]


def test_workflows_list_filters_delete_and_tenants(ports: Ports) -> None:
    store = ports.workflows
    store.put("t1", {"id": "a", "status": "active", "definition": {}})
    store.put("t1", {"id": "b", "status": "draft", "definition": {}})
    store.put("t2", {"id": "c", "definition": {}})
    assert sorted(w["id"] for w in store.list("t1")) == ["a", "b"]
    assert [w["id"] for w in store.list("t1", status="draft")] == ["b"]
    for missing in (lambda: store.get("t2", "a"), lambda: store.delete("t2", "a"),
                    lambda: store.get_version("t2", "a", 1), lambda: store.versions("t2", "a")):
        with pytest.raises(NotFound):
            missing()
    store.delete("t1", "a")
    with pytest.raises(NotFound):
        store.get("t1", "a")
    with pytest.raises(NotFound):
        store.delete("t1", "a")


# -- RunStore ------------------------------------------------------------------------------------------------


def test_run_lifecycle_steps_and_tenants(ports: Ports) -> None:
    runs = ports.runs
    created = runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "w", "version": 3,
                               "input": {"x": 1.5}})
    assert (created["status"], created["version"], created["input"]) == ("pending", 3, {"x": 1.5})
    with pytest.raises(Conflict):
        runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "w"})
    with pytest.raises(ValueError):
        runs.create_run({"tenant": "t1", "runId": "r9"})
    assert runs.update_run("t1", "r1", status="running")["status"] == "running"
    with pytest.raises(ValueError, match="status"):
        runs.update_run("t1", "r1", status="exploded")
    with pytest.raises(TypeError):
        runs.update_run("t1", "r1", colour="red")
    runs.record_step("t1", "r1", {"nodeId": "a", "status": "completed"})
    runs.record_step("t1", "r1", {"nodeId": "b", "status": "failed"})
    assert [s["nodeId"] for s in runs.steps("t1", "r1")] == ["a", "b"]
    for other_tenant in (lambda: runs.get_run("t2", "r1"), lambda: runs.steps("t2", "r1"),
                         lambda: runs.update_run("t2", "r1", status="cancelled")):
        with pytest.raises(NotFound):
            other_tenant()
    assert runs.list_runs("t2") == [] and runs.count_runs("t2") == 0


def test_a_run_finishes_once(ports: Ports) -> None:
    runs = ports.runs
    runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "w", "input": {"x": 1}})
    assert runs.update_run_if("t1", "r1", {"pending"}, status="running") is not None
    assert runs.update_run_if("t1", "r1", {"pending"}, status="cancelled") is None
    finished = runs.finish_run("t1", "r1", status="completed", output={"ok": True})
    assert finished is not None and finished["input"] == {"x": 1} and finished["output"] == {"ok": True}
    assert runs.finish_run("t1", "r1", status="failed") is None
    assert runs.get_run("t1", "r1")["status"] == "completed"


def test_runs_list_newest_first_by_workflow_and_page(ports: Ports) -> None:
    runs = ports.runs
    for n, workflow in enumerate(["a", "b", "a"]):
        runs.create_run({"tenant": "t1", "runId": f"r{n}", "workflowId": workflow})
        time.sleep(0.005)  # distinct creation times
    assert [r["runId"] for r in runs.list_runs("t1")] == ["r2", "r1", "r0"]
    assert [r["runId"] for r in runs.list_runs("t1", workflow_id="a")] == ["r2", "r0"]
    assert [r["runId"] for r in runs.list_runs("t1", limit=1, offset=1)] == ["r1"]
    assert (runs.count_runs("t1"), runs.count_runs("t1", workflow_id="a")) == (3, 2)


# -- KeyStore, JobStore, Idempotency -------------------------------------------------------------------------


def test_api_keys_look_up_list_and_revoke(ports: Ports) -> None:
    keys = ports.keys
    api_key, record = keys.create_key("t1", ["workflows:write", "workflows:read"], name="ci")
    assert api_key.startswith("mf_") and sorted(record["scopes"]) == ["workflows:read", "workflows:write"]
    found = keys.lookup(api_key)
    assert found is not None and (found["tenant"], found["keyId"]) == ("t1", record["keyId"])
    assert keys.lookup(api_key + "x") is None
    with pytest.raises(NotFound):
        keys.revoke("t2", record["keyId"])
    keys.revoke("t1", record["keyId"])
    assert keys.lookup(api_key) is None
    assert [k["revoked"] for k in keys.list_keys("t1")] == [True]
    assert keys.list_keys("t2") == []


def test_jobs_create_update_and_list(ports: Ports) -> None:
    jobs = ports.jobs
    jobs.create_job({"tenant": "t1", "jobId": "j1", "status": "processing", "runs": [{"runId": "r1"}]})
    jobs.create_job({"tenant": "t1", "jobId": "j2", "status": "processing", "runs": []})
    assert jobs.update_job("t1", "j1", status="completed")["status"] == "completed"
    assert jobs.get_job("t1", "j1")["runs"] == [{"runId": "r1"}]
    assert sorted(j["jobId"] for j in jobs.list_jobs("t1")) == ["j1", "j2"]
    with pytest.raises(NotFound):
        jobs.get_job("t2", "j1")
    assert jobs.list_jobs("t2") == []


def test_idempotency_claim_complete_release_and_expiry(ports: Ports) -> None:
    idem = ports.idempotency
    assert idem.claim("t1#k", ttl_seconds=60) is None
    with pytest.raises(Conflict):
        idem.claim("t1#k", ttl_seconds=60)
    idem.release("t1#k")  # a claim that did not complete can be taken again
    assert idem.claim("t1#k", ttl_seconds=60) is None
    idem.complete("t1#k", {"media": {"key": "x"}}, ttl_seconds=60)
    assert idem.claim("t1#k") == {"media": {"key": "x"}}
    ports.clock.now += 61
    assert idem.claim("t1#k") is None  # expired: claimed afresh


def test_concurrent_claims_have_one_winner(ports: Ports) -> None:
    def claim(_: int) -> bool:
        try:
            return ports.idempotency.claim("t1:event:42") is None
        except Conflict:
            return False

    with ThreadPoolExecutor(4) as pool:
        outcomes: list[Any] = list(pool.map(claim, range(8)))
    assert outcomes.count(True) == 1


# -- WebhookRepository ---------------------------------------------------------------------------------------


def test_webhook_subscriptions_by_tenant_event_and_workflow(ports: Ports) -> None:
    hooks = ports.webhooks
    created, secret = hooks.create("t1", "https://hooks.example.com/in", ["b", "a", "a"], workflow_id="w")
    anywhere, _ = hooks.create("t1", "https://hooks.example.com/all", ["a"])
    assert secret.startswith("whsec_") and created["eventTypes"] == ["a", "b"]
    assert "secret" not in hooks.get("t1", created["id"])
    assert hooks.get("t1", created["id"], with_secrets=True)["secret"] == secret
    assert sorted(w["id"] for w in hooks.active_for("t1", "a", "w")) == sorted([created["id"], anywhere["id"]])
    assert [w["id"] for w in hooks.active_for("t1", "a", "other")] == [anywhere["id"]]
    assert hooks.active_for("t1", "c", "w") == [] and hooks.active_for("t2", "a", "w") == []
    rotated = hooks.rotate_secret("t1", created["id"], 60, ports.clock.now)
    assert rotated != secret and hooks.get("t1", created["id"], with_secrets=True)["previousSecret"] == secret
    hooks.disable("t1", anywhere["id"], "too many failures")
    assert [w["id"] for w in hooks.active_for("t1", "a", None)] == []
    with pytest.raises(NotFound):
        hooks.get("t2", created["id"])
    hooks.delete("t1", created["id"])
    with pytest.raises(NotFound):
        hooks.get("t1", created["id"])


def test_a_delivery_is_due_claimed_once_and_retried(ports: Ports) -> None:
    hooks, now = ports.webhooks, ports.clock.now
    webhook, _ = hooks.create("t1", "https://hooks.example.com/in", ["a"])
    delivery = hooks.add_delivery("t1", webhook["id"], "a", {"type": "a", "data": {"x": 1}}, now)
    assert (delivery["status"], delivery["attempts"]) == ("pending", 0)
    assert [d["id"] for d in hooks.due(now)] == [delivery["id"]]
    assert hooks.claim("t1", delivery["id"], 0) is True
    assert hooks.claim("t1", delivery["id"], 0) is False  # the same attempt is sent once
    hooks.record_attempt("t1", delivery["id"], 1, 503, 12.5, "Service Unavailable", status="retrying",
                         next_attempt_at=now + 10)
    after = hooks.delivery("t1", delivery["id"])
    assert (after["status"], after["attempts"], after["lastStatusCode"]) == ("retrying", 1, 503)
    assert [a["statusCode"] for a in hooks.attempts("t1", delivery["id"])] == [503]
    assert [d["id"] for d in hooks.due(now + 10)] == [delivery["id"]]
    assert [d["id"] for d in hooks.deliveries("t1", webhook["id"])] == [delivery["id"]]
    with pytest.raises(NotFound):
        hooks.delivery("t2", delivery["id"])
