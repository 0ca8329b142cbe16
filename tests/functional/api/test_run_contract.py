"""The run API's smaller promises, on every transport (the local server over real HTTP, proxy events to the
resolver, and functions/api's Lambda handler on moto): what a run request must say, paused workflows, paging,
malformed multipart, idempotent multipart retries, errors without server paths, nothing stored for a refused
request, and webhooks only for the tenant's own workflows."""

from __future__ import annotations

import re
import struct
import uuid

import pytest
import requests

from tests.functional.api.conftest import Api, Client, assert_problem, chain_workflow, simple_workflow

pytestmark = pytest.mark.functional


def _workflow(client: Client, name: str = "contract", **extra: object) -> dict:
    reply = client.post("/v1/workflows", simple_workflow(name, **extra))
    assert reply.status == 201, reply.content[:300]
    return reply.json()


def _uploads(api: Api, tenant: str = "tenant-a") -> set[str]:
    """Every media file stored for the tenant's runs: uploads, and the inputs of direct (API) runs."""
    from mediaflow.starts import direct_key, upload_key

    blobs = api.service.adapters.blobs if api.service is not None else api.deployment.adapters.blobs
    return {key for folder in (direct_key(tenant, ""), upload_key(tenant, "")) for key in blobs.list(folder)}


def test_a_run_request_without_media_is_422_naming_what_is_missing(client: Client) -> None:
    workflow = _workflow(client)
    path = f"/v1/workflows/{workflow['id']}/runs"
    for reply in (client.post(path), client.post(path, {}), client.post(path, {"sampleType": "video"}),
                  client.post(path, {"sample": False})):
        body = assert_problem(reply, 422)
        assert body["type"].endswith("/MissingMedia")
        assert {"file", "objects", "sample"} <= {error["field"] for error in body["errors"]}
        assert "sample" in body["detail"] and "objects" in body["detail"]
    assert client.get(f"/v1/workflows/{workflow['id']}/runs").json()["count"] == 0
    started = client.post(path, {"sample": True})
    assert started.status == 202, started.content[:300]
    assert client.wait_run(started.json()["runId"])["status"] == "completed"


def test_a_paused_workflow_refuses_manual_runs_until_resumed(client: Client, photo: bytes) -> None:
    workflow = _workflow(client, "pausable")
    path = f"/v1/workflows/{workflow['id']}/runs"
    first = client.post(path, {"sample": True}).json()
    assert client.wait_run(first["runId"])["status"] == "completed"
    assert client.put(f"/v1/workflows/{workflow['id']}/status", {"status": "paused"}).status == 200
    for reply in (client.post(path, {"sample": True}),
                  client.request("POST", path, files={"file": ("p.jpg", photo, "image/jpeg")})):
        body = assert_problem(reply, 409)
        assert body["type"].endswith("/WorkflowPaused") and body["errors"][0]["field"] == "status"
        assert '"active"' in body["detail"]  # says how to run it on purpose: resume it
    assert client.get(f"/v1/workflows/{workflow['id']}/runs").json()["count"] == 1
    assert client.put(f"/v1/workflows/{workflow['id']}/status", {"status": "active"}).status == 200
    resumed = client.post(path, {"sample": True})
    assert resumed.status == 202 and client.wait_run(resumed.json()["runId"])["status"] == "completed"


def test_runs_of_a_workflow_page_with_limit_offset_and_cursor(client: Client, photo: bytes) -> None:
    workflow = _workflow(client, "paged")
    path = f"/v1/workflows/{workflow['id']}/runs"
    started = [client.request("POST", path, files={"file": (f"p{i}.jpg", photo, "image/jpeg")}).json()["runId"]
               for i in range(5)]
    for run_id in started:
        client.wait_run(run_id)
    everything = client.get(path).json()
    assert everything["count"] == 5 and sorted(r["runId"] for r in everything["runs"]) == sorted(started)
    newest_first = [r["runId"] for r in everything["runs"]]
    first = client.get(path, params={"limit": 2}).json()
    second = client.get(path, params={"limit": 2, "offset": 2}).json()
    last = client.get(path, params={"limit": 2, "offset": 4}).json()
    assert [first["count"], second["count"], last["count"]] == [5, 5, 5]
    assert [r["runId"] for r in first["runs"] + second["runs"] + last["runs"]] == newest_first
    assert first["nextCursor"] and last["nextCursor"] is None
    by_cursor = client.get(path, params={"limit": 2, "cursor": first["nextCursor"]}).json()
    assert [r["runId"] for r in by_cursor["runs"]] == newest_first[2:4]
    assert client.get(path, params={"limit": 2, "offset": 10}).json()["runs"] == []
    assert_problem(client.get(path, params={"cursor": "not-a-cursor"}), 400)
    assert_problem(client.get(path, params={"offset": -1}), 422)


@pytest.mark.parametrize("content_type, body", [
    ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--\r\n"),
    ("multipart/form-data; boundary=", b"anything"),
    ("multipart/form-data; boundary=zzz", b"no delimiter anywhere in this body"),
    ("multipart/form-data; boundary=zzz", b"--zzz\r\nContent-Disposition: form-data; name=\"file\"; "
                                          b"filename=\"a.jpg\"\r\n\r\nnever closed"),
    ("multipart/form-data; boundary=zzz", b"--zzz\r\nno header block at all--zzz--\r\n"),
])
def test_malformed_multipart_is_400_problem_json(client: Client, content_type: str, body: bytes) -> None:
    workflow = _workflow(client, "multipart")
    before = client.get(f"/v1/workflows/{workflow['id']}/runs").json()["count"]
    reply = client.request("POST", f"/v1/workflows/{workflow['id']}/runs", data=body,
                           headers={"Content-Type": content_type})
    problem = assert_problem(reply, 400)
    assert problem["type"].endswith("/BadMultipart")
    assert client.get(f"/v1/workflows/{workflow['id']}/runs").json()["count"] == before


def _multipart(boundary: str, fields: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += b"Content-Type: image/jpeg\r\n" if filename else b""
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_an_idempotent_multipart_retry_with_a_new_boundary_replays(client: Client, api: Api, photo: bytes) -> None:
    workflow = _workflow(client, "idempotent")
    path = f"/v1/workflows/{workflow['id']}/runs"
    key = f"retry-{uuid.uuid4().hex}"
    fields = [("note", None, b"first try"), ("file", "p.jpg", photo)]

    def post(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> object:
        return client.request("POST", path, data=_multipart(boundary, parts), headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Idempotency-Key": key})

    uploads_before = _uploads(api)
    first = post("----curlA1b2c3", fields)
    assert first.status == 202, first.content[:300]  # type: ignore[attr-defined]
    retry = post("------------------------d74496d66958873e", fields)  # what a second `curl -F` sends
    assert retry.status == 202, retry.content[:300]  # type: ignore[attr-defined]
    assert retry.headers.get("idempotent-replayed") == "true"  # type: ignore[attr-defined]
    assert retry.json()["runId"] == first.json()["runId"]  # type: ignore[attr-defined]
    assert len(_uploads(api) - uploads_before) == 1  # the retry stored nothing
    changed = post("----curlA1b2c3", [("note", None, b"first try"), ("file", "p.jpg", photo + b"\0")])
    assert assert_problem(changed, 422)["type"].endswith("/IdempotencyKeyReused")  # type: ignore[arg-type]
    truncated = client.request("POST", path, data=_multipart("b", fields)[:-10], headers={
        "Content-Type": "multipart/form-data; boundary=b", "Idempotency-Key": f"other-{key}"})
    assert assert_problem(truncated, 400)["type"].endswith("/BadMultipart")
    client.wait_run(first.json()["runId"])  # type: ignore[attr-defined]


# An MP4 header (ftyp box) with nothing playable after it: ffprobe names the scratch file in its message.
BROKEN_MP4 = struct.pack(">I", 24) + b"ftypisom" + b"\0\0\2\0isomiso2" + b"\0" * 2000
SERVER_PATH = re.compile(r"(?<![\w.:/])/(?:tmp|var|home|work|usr|opt|private|root|data)\b[^\s'\"]*")


def test_run_errors_keep_the_message_without_server_paths(client: Client) -> None:
    workflow = client.post("/v1/workflows", chain_workflow("video", ("mp4", "transcode", {"outputFormat": "mp4"}))
                           ).json()
    started = client.request("POST", f"/v1/workflows/{workflow['id']}/runs",
                             files={"file": ("clip.mp4", BROKEN_MP4, "video/mp4")})
    assert started.status == 202, started.content[:300]
    run = client.wait_run(started.json()["runId"], timeout=120)
    assert run["status"] == "failed"
    failed = [step for step in run["steps"] if step["status"] == "failed"]
    assert failed and failed[0]["error"] == "MediaDecodeError"
    texts = [failed[0]["errorMessage"], str(run["error"])]
    assert any("Invalid data found" in text or "moov atom not found" in text for text in texts), texts
    for text in texts:
        assert not SERVER_PATH.search(text), text


def test_a_refused_run_request_stores_nothing(client: Client, api: Api, photo: bytes) -> None:
    workflow = _workflow(client, "refusals")
    before = _uploads(api)
    assert_problem(client.request("POST", "/v1/workflows/missing/runs", files={"file": ("p.jpg", photo)}), 404)
    assert_problem(client.post("/v1/workflows/missing/runs", {"sample": True}), 404)
    client.put(f"/v1/workflows/{workflow['id']}/status", {"status": "paused"})
    assert_problem(client.request("POST", f"/v1/workflows/{workflow['id']}/runs", files={"file": ("p.jpg", photo)}),
                   409)
    assert_problem(client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": True}), 409)
    client.put(f"/v1/workflows/{workflow['id']}/status", {"status": "archived"})
    assert_problem(client.request("POST", f"/v1/workflows/{workflow['id']}/runs", files={"file": ("p.jpg", photo)}),
                   409)
    other = client.with_key(api.keys["b"])
    assert_problem(other.request("POST", f"/v1/workflows/{workflow['id']}/runs", files={"file": ("p.jpg", photo)}),
                   404)
    assert _uploads(api) == before
    assert _uploads(api, "tenant-b") == set()


def test_a_webhook_for_another_tenants_workflow_is_404(client: Client, api: Api) -> None:
    theirs = client.with_key(api.keys["b"]).post("/v1/workflows", simple_workflow("theirs")).json()
    mine = _workflow(client, "mine")
    url = "https://93.184.216.34/mediaflow"  # a public address: no DNS needed
    refused = client.post("/v1/webhooks", {"url": url, "workflowId": theirs["id"]})
    assert assert_problem(refused, 404)["errors"][0]["field"] == "workflowId"
    assert_problem(client.post("/v1/webhooks", {"url": url, "workflowId": "no-such-workflow"}), 404)
    created = client.post("/v1/webhooks", {"url": url, "workflowId": mine["id"]})
    assert created.status == 201, created.content[:300]
    assert created.json()["workflowId"] == mine["id"]
    listed = client.get("/v1/webhooks").json()["webhooks"]
    assert [hook["workflowId"] for hook in listed if hook["url"] == url] == [mine["id"]]
    assert client.delete(f"/v1/webhooks/{created.json()['id']}").status == 204


def test_the_local_server_answers_a_multipart_without_boundary_over_raw_http(embedded_api: Api) -> None:
    """The exact request that answered 500: a Content-Type of bare ``multipart/form-data``."""
    key = embedded_api.keys["a"]
    workflow = requests.post(f"{embedded_api.server.url}/v1/workflows", json=simple_workflow("raw"), timeout=30,
                             headers={"Authorization": f"Bearer {key}"}).json()
    reply = requests.post(f"{embedded_api.server.url}/v1/workflows/{workflow['id']}/runs", data=b"\xff\xfe\x00garbage",
                          headers={"Authorization": f"Bearer {key}", "Content-Type": "multipart/form-data"},
                          timeout=30)
    assert reply.status_code == 400 and reply.headers["content-type"].startswith("application/problem+json")
