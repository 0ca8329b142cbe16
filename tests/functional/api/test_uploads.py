"""Multipart uploads and upload tokens, on both runtimes: a real ``mediaflow serve`` (parts PUT to its signed
URLs over loopback HTTP) and the API Lambda on moto (parts PUT to S3 presigned URLs, the finished object's
S3 event through the template's upload rule to the trigger function). docs/uploads.md is the contract."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid
from typing import Any

import pytest
import requests

from tests.functional.api.conftest import GATEWAY, Api, Client, assert_problem
from tests.functional.api.runtimes import Runtime

pytestmark = pytest.mark.functional

MIB = 1024 * 1024


def save(client: Client, definition: dict[str, Any]) -> str:
    reply = client.post("/v1/workflows", {**definition, "status": "active"})
    assert reply.status == 201, reply.content[:500]
    workflow_id: str = reply.json()["id"]
    return workflow_id


def any_file_workflow(name: str, tag: str, max_bytes: int) -> dict[str, Any]:
    """upload -> validate (size only: any file passes) -> storage; starts on uploads carrying suite=tag."""
    return {"name": name, "trigger": {"filters": {"metadata": {"suite": tag}}},
            "nodes": [{"id": "upload", "kind": "upload"},
                      {"id": "check", "kind": "validate", "config": {"maxSizeBytes": max_bytes}},
                      {"id": "store", "kind": "storage", "config": {"prefix": f"{name}/"}}],
            "edges": [{"source": "upload", "target": "check"}, {"source": "check", "target": "store"}]}


def put_part(client: Client, url: str, data: bytes) -> tuple[int, dict[str, Any], str]:
    """PUT one part to the URL the API handed out, as a browser or the CLI does (no API key): the local
    server's signed URL, or an S3 presigned URL answered by moto. (status, JSON or {}, ETag)."""
    if url.startswith(GATEWAY):  # the embedded resolver behind a gateway-shaped base
        reply = client.with_key(None).request("PUT", "", raw_url=url, data=data,
                                              headers={"Content-Type": "application/octet-stream"})
        status, headers, body = reply.status, reply.headers, reply.content
    else:
        answer = requests.put(url, data=data, timeout=60, headers={"Content-Type": "application/octet-stream"})
        status, headers, body = answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.content
    parsed = {}
    if body and headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
        parsed = json.loads(body)
    return status, parsed, headers.get("etag", "")


def big_file(size: int) -> bytes:
    """Random bytes up front (no media type sniffs from them), zeros after: quick to make, as large as asked."""
    head = os.urandom(64 * 1024)
    return head + bytes(size - len(head))


def part_of(data: bytes, created: dict[str, Any], number: int) -> bytes:
    size = created["partSize"]
    return data[(number - 1) * size:number * size]


def test_a_200_mb_file_in_parts_with_one_part_failing_and_retried_runs_its_workflow_once(runtime: Runtime) -> None:
    tag = uuid.uuid4().hex[:8]
    client = runtime.client
    runtime.trigger_uploads()  # AWS: deliver what earlier tests left on the queue, so only this upload counts
    workflow_id = save(client, any_file_workflow(f"big-{tag}", tag, 300 * MIB))
    data = big_file(200 * MIB)
    reply = client.post("/v1/uploads/multipart", {"filename": "footage.bin", "size": len(data),
                                                  "metadata": {"suite": tag}})
    assert reply.status == 201, reply.content[:500]
    created = reply.json()
    assert created["partSize"] == 8 * MIB and created["partCount"] == 25 == len(created["parts"])
    assert created["key"].startswith("tenant-a/uploads/") and created["key"].endswith("/footage.bin")

    etags: dict[int, str] = {}
    for part in created["parts"]:
        number = part["partNumber"]
        chunk = part_of(data, created, number)
        if number == 3:  # the first try of part 3 breaks off half-way
            status, body, _ = put_part(client, part["url"], chunk[:len(chunk) // 2])
            if runtime.name == "embedded":  # the local server checks a part's size on arrival
                assert status == 422 and body["errors"][0]["field"] == "body", body
            continue
        status, body, etag = put_part(client, part["url"], chunk)
        assert status == 200 and etag, body
        etags[number] = etag

    state = client.get(f"/v1/uploads/multipart/{created['uploadId']}").json()
    assert state["missing"] == [3] and len(state["uploaded"]) in (24, 25)  # S3 holds the short part 3
    retry_url = client.post(f"/v1/uploads/multipart/{created['uploadId']}/parts",
                            {"partNumbers": [3]}).json()["parts"][0]["url"]
    status, _, etags[3] = put_part(client, retry_url, part_of(data, created, 3))
    assert status == 200 and etags[3]
    assert client.get(f"/v1/uploads/multipart/{created['uploadId']}").json()["missing"] == []

    parts = [{"partNumber": n, "etag": etags[n]} for n in sorted(etags)]
    done = client.post(f"/v1/uploads/multipart/{created['uploadId']}/complete", {"parts": parts})
    assert done.status == 200, done.content[:500]
    assert done.json()["size"] == len(data) and done.json()["key"] == created["key"]
    runtime.trigger_uploads()  # AWS: the CompleteMultipartUpload event -> upload rule -> trigger
    again = client.post(f"/v1/uploads/multipart/{created['uploadId']}/complete", {"parts": parts})
    assert again.status == 200 and again.json()["runIds"] == [], again.content[:300]  # a lost answer, retried
    assert runtime.trigger_uploads() == []

    [run_id] = runtime.run_ids_of(workflow_id)
    if runtime.name == "embedded":
        assert done.json()["runIds"] == [run_id]
    run = client.wait_run(run_id, 120)
    assert run["status"] == "completed", run
    [output] = run["outputs"]
    assert output["size"] == len(data) and output["filename"] == "footage.bin"
    stored = requests.get(output["url"], timeout=60, headers={"Range": "bytes=0-65535"}) \
        if runtime.name == "embedded" else None
    if stored is not None:
        assert hashlib.sha256(stored.content[:65536]).digest() == hashlib.sha256(data[:65536]).digest()
    assert runtime.run_ids_of(workflow_id) == [run_id]


def test_bad_multipart_requests_are_problems_naming_the_field(client: Client) -> None:
    def problem(reply: Any, status: int, field: str) -> dict[str, Any]:
        body = assert_problem(reply, status)
        assert any(error["field"] == field or error.get("path", "").endswith(field) for error in body["errors"]), body
        return body

    problem(client.post("/v1/uploads/multipart", {"filename": "a.bin", "size": 0}), 422, "size")
    problem(client.post("/v1/uploads/multipart", {"filename": "a.bin", "size": 10, "partSize": 1024}), 422,
            "partSize")
    problem(client.post("/v1/uploads/multipart", {"filename": "a.bin", "size": 10, "metadata": {
        "mediaflow-workflow": "x"}}), 422, "metadata")
    problem(client.post("/v1/uploads/multipart", {"filename": "a.bin", "size": 10**15}), 413, "size")
    created = client.post("/v1/uploads/multipart", {"filename": "a.bin", "size": 6 * MIB}).json()
    upload = f"/v1/uploads/multipart/{created['uploadId']}"
    assert created["partCount"] == 1
    problem(client.post(f"{upload}/parts", {"partNumbers": [1, 2]}), 422, "partNumbers.1")
    problem(client.post(f"{upload}/complete", {"parts": [{"partNumber": 1, "etag": ""}]}), 422, "parts.0.etag")
    problem(client.post(f"{upload}/complete", {"parts": [{"partNumber": 1}]}), 422, "parts.0.etag")
    problem(client.post(f"{upload}/complete", {"parts": [{"partNumber": 1, "etag": '"abc"'}]}), 422,
            "parts.0.partNumber")
    status, body, etag = put_part(client, created["parts"][0]["url"], b"too short")
    if client.transport == "aws":  # S3 takes any size; completing names the part
        assert status == 200
        problem(client.post(f"{upload}/complete", {"parts": [{"partNumber": 1, "etag": etag}]}), 422, "parts.0.size")
    else:
        assert status == 422 and body["type"].endswith("WrongPartSize") and body["errors"][0]["field"] == "body", body
    data = bytes(6 * MIB)
    status, _, etag = put_part(client, created["parts"][0]["url"], data)
    assert status == 200
    problem(client.post(f"{upload}/complete", {"parts": [{"partNumber": 1, "etag": '"0123"'}]}), 422,
            "parts.0.etag")
    problem(client.post(f"{upload}/complete", {"parts": [{"partNumber": 2, "etag": etag}]}), 422,
            "parts.0.partNumber")
    if client.transport != "aws":  # neither a part URL nor an upload's handle is a download URL
        part_token = created["parts"][0]["url"].split("/v1/uploads/parts/")[1].split("?")[0]
        for token in (part_token, created["uploadId"]):
            assert_problem(client.with_key(None).get(f"/v1/downloads/{token}"), 403)
    assert client.delete(upload).status == 204
    assert_problem(client.get(upload), 404)
    assert_problem(client.get("/v1/uploads/multipart/not-an-upload"), 404)


def _context(api: Api, client: Client) -> Any:
    """The ApiContext answering ``client``'s requests (to move its clock)."""
    if client.transport == "http":
        return api.server.context
    return api.app.ctx


def test_an_upload_token_for_workflow_a_cannot_start_workflow_b_and_expires(client: Client, api: Api,
                                                                             photo: bytes) -> None:
    tag = uuid.uuid4().hex[:8]
    a = save(client, any_file_workflow(f"a-{tag}", tag, 10 * MIB))
    b = save(client, any_file_workflow(f"b-{tag}", tag, 10 * MIB))
    made = client.post("/v1/upload-tokens", {"workflowId": a, "expiresIn": 600, "maxBytes": 8 * MIB,
                                             "contentTypes": ["image/*"]})
    assert made.status == 201, made.content[:300]
    token = made.json()
    assert token["token"].startswith("mfu_") and token["workflowId"] == a and token["maxBytes"] == 8 * MIB
    browser = client.with_key(token["token"])

    body = {"filename": "photo.jpg", "size": len(photo), "contentType": "image/jpeg", "metadata": {"suite": tag}}
    wrong = assert_problem(browser.post("/v1/uploads/multipart", {**body, "workflowId": b}), 403)
    assert wrong["errors"][0]["field"] == "workflowId"
    assert_problem(browser.post("/v1/uploads/multipart", {**body, "contentType": "video/mp4"}), 415)
    assert_problem(browser.post("/v1/uploads/multipart", {**body, "size": 9 * MIB}), 413)
    for method, path in (("POST", f"/v1/workflows/{b}/runs"), ("GET", "/v1/workflows"), ("POST", "/v1/upload-tokens"),
                         ("GET", f"/v1/runs/{uuid.uuid4().hex}")):
        assert_problem(browser.request(method, path, json_body={"sample": True, "workflowId": b}), 403)

    created = browser.post("/v1/uploads/multipart", body)
    assert created.status == 201, created.content[:300]
    upload = created.json()
    status, _, etag = put_part(client, upload["parts"][0]["url"], photo)
    assert status == 200
    done = browser.post(f"/v1/uploads/multipart/{upload['uploadId']}/complete",
                        {"parts": [{"partNumber": 1, "etag": etag}]})
    assert done.status == 200, done.content[:300]
    if client.transport == "aws":
        api.deployment.trigger_uploads()
    deadline = time.monotonic() + 30
    while not client.get(f"/v1/workflows/{a}/runs").json()["runs"] and time.monotonic() < deadline:
        time.sleep(0.2)
    [run] = client.get(f"/v1/workflows/{a}/runs").json()["runs"]
    assert client.wait_run(run["runId"], 60)["status"] == "completed"
    assert client.get(f"/v1/workflows/{b}/runs").json()["runs"] == []  # same trigger filters, not started

    # an upload made with the API key for workflow B is not the token's to touch
    other = client.post("/v1/uploads/multipart", {**body, "workflowId": b}).json()
    assert_problem(browser.get(f"/v1/uploads/multipart/{other['uploadId']}"), 404)

    context = _context(api, client)
    real_clock = context.clock
    try:
        context.clock = lambda: time.time() + 601
        expired = assert_problem(browser.post("/v1/uploads/multipart", body), 401)
        assert expired["type"].endswith("UploadTokenExpired") and expired["errors"][0]["field"] == "Authorization"
    finally:
        context.clock = real_clock
    assert browser.post("/v1/uploads/multipart", body).status == 201


def test_a_simple_upload_with_a_token_starts_only_its_workflow(runtime: Runtime, photo: bytes) -> None:
    tag = uuid.uuid4().hex[:8]
    client = runtime.client
    runtime.trigger_uploads()
    a = save(client, any_file_workflow(f"sa-{tag}", tag, 10 * MIB))
    b = save(client, any_file_workflow(f"sb-{tag}", tag, 10 * MIB))
    token = client.post("/v1/upload-tokens", {"workflowId": a, "maxBytes": MIB}).json()["token"]
    browser = client.with_key(token)
    target = browser.post("/v1/uploads", {"filename": "photo.jpg", "contentType": "image/jpeg",
                                          "metadata": {"suite": tag}})
    assert target.status == 201, target.content[:300]
    assert target.json()["fields"]["x-amz-meta-mediaflow-workflow"] == a
    stored = client.upload(target.json(), "photo.jpg", photo)
    assert stored.status in (201, 204), stored.content[:300]
    runtime.trigger_uploads()
    deadline = time.monotonic() + 30
    while not runtime.run_ids_of(a) and time.monotonic() < deadline:
        time.sleep(0.2)
    [run_id] = runtime.run_ids_of(a)
    assert client.wait_run(run_id, 60)["status"] == "completed"
    assert runtime.run_ids_of(b) == []


def test_an_upload_made_with_start_false_starts_nothing_and_runs_once_by_its_key(runtime: Runtime) -> None:
    """`start: false` (what `mediaflow run --api` sends a large file with): the upload starts no workflow, not
    even an active one its trigger matches, and the run asked for by the object's key is the only run."""
    tag = uuid.uuid4().hex[:8]
    client = runtime.client
    runtime.trigger_uploads()
    workflow_id = save(client, any_file_workflow(f"ns-{tag}", tag, 10 * MIB))
    data = big_file(MIB)
    created = client.post("/v1/uploads/multipart", {"filename": "clip.bin", "size": len(data), "start": False,
                                                    "metadata": {"suite": tag}})
    assert created.status == 201, created.content[:500]
    [part] = created.json()["parts"]
    status, _, etag = put_part(client, part["url"], data)
    assert status == 200 and etag
    done = client.post(f"/v1/uploads/multipart/{created.json()['uploadId']}/complete",
                       {"parts": [{"partNumber": 1, "etag": etag}]})
    assert done.status == 200 and done.json()["runIds"] == [], done.content[:300]
    runtime.trigger_uploads()  # AWS: the object's event reaches the trigger, which starts nothing
    assert runtime.run_ids_of(workflow_id) == []
    started = client.post(f"/v1/workflows/{workflow_id}/runs", {"objects": [done.json()["key"]]})
    assert started.status == 202, started.content[:300]
    assert client.wait_run(started.json()["runId"], 120)["status"] == "completed"
    runtime.trigger_uploads()
    assert runtime.run_ids_of(workflow_id) == [started.json()["runId"]]
    refused = client.post("/v1/uploads/multipart", {"filename": "clip.bin", "size": 10, "start": False,
                                                    "workflowId": workflow_id})
    assert assert_problem(refused, 422)["errors"][0]["field"] == "start"


def test_cors_preflight_and_the_part_etag_are_open_to_the_configured_origin(api: Api) -> None:
    from mediaflow.api import create_app
    from mediaflow.embedded.bootstrap import embedded_context

    origin = "https://shop.example"
    ctx = embedded_context(api.service, dataclasses.replace(api.app.ctx.config, cors_allow_origins=(origin,)))
    app = create_app(ctx)

    def call(method: str, path: str, headers: dict[str, str], body: str | None = None) -> dict[str, Any]:
        event = {"resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": headers,
                 "multiValueHeaders": {k: [v] for k, v in headers.items()}, "body": body, "isBase64Encoded": False,
                 "requestContext": {"stage": "$default", "domainName": "127.0.0.1", "httpMethod": method,
                                    "path": path, "requestId": "cors"}}
        answer: dict[str, Any] = app.resolve(event, None)
        return answer

    preflight = call("OPTIONS", "/v1/uploads/multipart", {"Origin": origin, "Access-Control-Request-Method": "POST",
                                                          "Access-Control-Request-Headers": "authorization"})
    assert preflight["statusCode"] == 204, preflight
    headers = {k.lower(): v for k, v in (preflight.get("multiValueHeaders") or {}).items()}
    assert headers["access-control-allow-origin"] == [origin]
    created = call("POST", "/v1/uploads/multipart", {"Origin": origin, "Content-Type": "application/json",
                                                     "Authorization": f"Bearer {api.keys['a']}"},
                   '{"filename": "a.bin", "size": 10}')
    assert created["statusCode"] == 201, created
    headers = {k.lower(): v for k, v in (created.get("multiValueHeaders") or {}).items()}
    assert headers["access-control-allow-origin"] == [origin]
    assert "ETag" in headers["access-control-expose-headers"][0]


def test_the_local_sweeper_deletes_incomplete_uploads_past_their_retention(api: Api) -> None:
    from mediaflow.api.security import Principal
    from mediaflow.api.uploads import UploadService

    ctx = api.app.ctx
    store = ctx.multipart
    service = UploadService(ctx)
    from mediaflow.api.models import MultipartIn

    principal = Principal("tenant-a", "k", frozenset({"workflows:execute"}))
    created = service.create(principal, MultipartIn(filename="left.bin", size=10), "http://127.0.0.1")
    folder = next(f for f in store.root.iterdir() if f.is_dir() and (f / "upload.json").read_text().count(
        created["key"]))
    assert store.sweep(ctx.config.multipart_expires_seconds) == []
    real_clock = store.clock
    try:
        store.clock = lambda: time.time() + ctx.config.multipart_expires_seconds + 1
        assert folder.name in store.sweep(ctx.config.multipart_expires_seconds)
    finally:
        store.clock = real_clock
    assert not folder.exists()
    with pytest.raises(Exception, match="no upload"):
        service.status(principal, created["uploadId"])


def test_the_template_opens_the_upload_routes_to_tokens_and_the_part_etag_to_browsers() -> None:
    from tests.functional.aws.conftest import load_template

    template = load_template()
    uploads = template["Resources"]["UploadsBucket"]["Properties"]
    [cors] = uploads["CorsConfiguration"]["CorsRules"]
    assert "PUT" in cors["AllowedMethods"] and cors["ExposedHeaders"] == ["ETag"]
    rules = uploads["LifecycleConfiguration"]["Rules"]
    assert any(rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 2 for rule in rules)
    api = template["Resources"]["ApiFunction"]["Properties"]
    public = {event["Properties"]["Path"] for event in api["Events"].values()
              if event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"}
    assert {"/v1/uploads", "/v1/uploads/multipart", "/v1/uploads/multipart/{uploadId}",
            "/v1/uploads/multipart/{uploadId}/{step}"} <= public
    assert "/v1/upload-tokens" not in public  # made with an API key, behind the authorizer
    actions = {action for policy in api["Policies"] if isinstance(policy, dict) and "Statement" in policy
               for statement in policy["Statement"] for action in statement["Action"]}
    assert {"s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"} <= actions


def test_mediaflow_serve_sweeps_stale_part_folders_when_it_starts(tmp_path: Any) -> None:
    from tests.functional.api.runtimes import serve

    stale = tmp_path / "multipart" / "0123456789abcdef01234567"
    stale.mkdir(parents=True)
    (stale / "upload.json").write_text(json.dumps({"key": "tenant-a/uploads/x/a.bin", "createdAt": 0}))
    (stale / "1.part").write_bytes(b"left behind")
    fresh = tmp_path / "multipart" / "fedcba9876543210fedcba98"
    fresh.mkdir()
    (fresh / "upload.json").write_text(json.dumps({"key": "tenant-a/uploads/y/b.bin", "createdAt": time.time()}))
    with serve(tmp_path) as (base, _):
        assert requests.get(f"{base}/v1/health", timeout=10).status_code == 200
        deadline = time.monotonic() + 10
        while stale.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not stale.exists() and fresh.exists()
