"""Runs (multipart file, stored objects as a batch, sample media), cancel, retry, uploads, downloads and
Convertly-compatible jobs, on both transports."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from tests.functional.api.conftest import Api, Client, assert_problem, simple_workflow

pytestmark = pytest.mark.functional


@pytest.fixture
def workflow(client: Client) -> dict:
    reply = client.post("/v1/workflows", simple_workflow("runs"))
    assert reply.status == 201
    return reply.json()


def test_run_on_a_multipart_file(client: Client, workflow: dict, photo: bytes) -> None:
    reply = client.request("POST", f"/v1/workflows/{workflow['id']}/runs",
                           files={"file": ("photo.jpg", photo, "image/jpeg")})
    assert reply.status == 202 and reply.headers["location"] == f"/v1/runs/{reply.json()['runId']}"
    run = client.wait_run(reply.json()["runId"])
    assert run["status"] == "completed" and run["version"] == 1 and not run["batch"]
    assert run["progress"]["total"] == 1 and run["progress"]["completed"] == 1
    assert {s["nodeId"] for s in run["steps"]} >= {"webp", "store"}
    assert all("durationMs" in s for s in run["steps"])
    output = run["outputs"][0]
    assert output["contentType"] == "image/webp"
    downloaded = client.download(output["url"])
    assert downloaded.status == 200 and downloaded.content[8:12] == b"WEBP"
    listing = client.get(f"/v1/workflows/{workflow['id']}/runs").json()
    assert listing["runs"][0]["runId"] == run["runId"]


def test_batch_run_on_uploaded_objects(client: Client, workflow: dict, photo: bytes) -> None:
    target = client.post("/v1/uploads", {"filename": "a.jpg", "contentType": "image/jpeg"})
    assert target.status == 201
    t = target.json()
    assert t["key"].startswith("tenant-a/uploads/")
    stored = client.upload(t, "a.jpg", photo)
    if client.transport == "aws":  # an S3 presigned POST: 204 and no body
        assert stored.status == 204, stored.content[:500]
    else:
        assert stored.status == 201 and stored.json()["mediaType"] == "image"
    reply = client.post(f"/v1/workflows/{workflow['id']}/runs", {"objects": [t["key"], t["key"]]})
    assert reply.status == 202 and reply.json()["batch"] and reply.json()["total"] == 2
    run = client.wait_run(reply.json()["runId"])
    assert run["status"] == "completed"
    assert run["progress"] == {**run["progress"], "total": 2, "completed": 2, "failed": 0}
    assert len(run["outputs"]) == 2
    assert_problem(client.post(f"/v1/workflows/{workflow['id']}/runs", {"objects": ["tenant-a/uploads/none"]}), 404)


def test_sample_run_and_bad_run_requests(client: Client, workflow: dict) -> None:
    reply = client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": True})
    assert reply.status == 202
    assert client.wait_run(reply.json()["runId"])["status"] == "completed"
    assert_problem(client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": "maybe"}), 422)
    assert_problem(client.post(f"/v1/workflows/{workflow['id']}/runs", {"objects": []}), 422)
    assert_problem(client.request("POST", f"/v1/workflows/{workflow['id']}/runs", data={"x": "1"},
                                  files={"other": ("", b"")}), 422)
    client.put(f"/v1/workflows/{workflow['id']}/status", {"status": "archived"})
    assert_problem(client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": True}), 409)
    assert_problem(client.post("/v1/workflows/missing/runs", {"sample": True}), 404)


def test_failed_run_is_retried_and_finished_runs_cannot_be_cancelled(client: Client, photo: bytes) -> None:
    body = {"name": "fails", "nodes": [{"id": "upload", "kind": "upload"},
                                      {"id": "only-video", "kind": "validate", "config": {"mediaTypes": ["video"]}}],
            "edges": [{"source": "upload", "target": "only-video"}]}
    wf = client.post("/v1/workflows", body).json()
    first = client.request("POST", f"/v1/workflows/{wf['id']}/runs", files={"file": ("p.jpg", photo)}).json()
    failed = client.wait_run(first["runId"])
    assert failed["status"] == "failed" and failed["error"]
    assert any(s["status"] == "failed" and s["nodeId"] == "only-video" for s in failed["steps"])
    retried = client.post(f"/v1/runs/{first['runId']}/retry", {"from": "start"})
    assert retried.status == 202
    again = client.wait_run(retried.json()["runId"])
    assert again["retryOf"] == first["runId"] and again["status"] == "failed"
    assert_problem(client.post(f"/v1/runs/{first['runId']}/cancel"), 409)
    assert_problem(client.post("/v1/runs/run-none/cancel"), 404)


def test_what_a_step_stored_after_its_run_failed_is_listed_on_the_run(client: Client, api: Api,
                                                                      photo: bytes) -> None:
    """A branch's task can still be running when a sibling fails the run (a Lambda cannot be called back):
    its step lands after the run ended, and the run lists what it stored all the same."""
    body = {"name": "fails late", "nodes": [{"id": "upload", "kind": "upload"},
                                           {"id": "only-video", "kind": "validate",
                                            "config": {"mediaTypes": ["video"]}}],
            "edges": [{"source": "upload", "target": "only-video"}]}
    wf = client.post("/v1/workflows", body).json()
    started = client.request("POST", f"/v1/workflows/{wf['id']}/runs", files={"file": ("p.jpg", photo)}).json()
    failed = client.wait_run(started["runId"])
    assert failed["status"] == "failed" and failed["outputs"] == []
    media = api.runs.get_run("tenant-a", started["runId"])["input"]["media"]
    late = {**media, "key": f"tenant-a/outputs/{started['runId']}/keep/p.jpg"}
    api.runs.record_step("tenant-a", started["runId"], {"nodeId": "keep", "kind": "storage", "status": "completed",
                                                        "output": {"media": late}})
    run = client.get(f"/v1/runs/{started['runId']}").json()
    assert run["status"] == "failed"
    assert [output["key"] for output in run["outputs"]] == [late["key"]]
    assert run["outputs"][0]["filename"] == "p.jpg"


def test_cancel_a_pending_run(client: Client, api: Api, workflow: dict) -> None:
    run_id = f"run-stale-{client.transport}"
    api.runs.create_run({"tenant": "tenant-a", "runId": run_id, "workflowId": workflow["id"], "status": "pending",
                         "input": {}})
    reply = client.post(f"/v1/runs/{run_id}/cancel")
    assert reply.status == 202 and reply.json()["status"] == "cancelled"
    assert client.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"
    assert_problem(client.post(f"/v1/runs/{run_id}/retry"), 409)  # no media to run again


def wait_job(client: Client, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_jobs_lifecycle(client: Client, photo: bytes) -> None:
    form = {"jobType": "convert", "formats": json.dumps(["webp", "png"]), "compressions": "[82]",
            "resizes": '["original"]', "createArchive": "true", "saveToStorage": "true"}
    files = [("files", ("one.jpg", photo, "image/jpeg")), ("files", ("two.jpg", photo, "image/jpeg"))]
    reply = client.request("POST", "/v1/jobs", data=form, files=files)
    assert reply.status == 202 and reply.json()["status"] == "pending"
    job = wait_job(client, reply.json()["jobId"])
    assert job["status"] == "completed" and job["progress"] == {"total": 2, "completed": 2, "failed": 0,
                                                                "percent": 100}
    assert sorted(o["contentType"] for o in job["results"][0]["outputs"]) == ["image/png", "image/webp"]
    archive = client.download(job["archive"]["url"])
    assert len(zipfile.ZipFile(io.BytesIO(archive.content)).namelist()) == 4
    assert_problem(client.delete(f"/v1/jobs/{job['jobId']}"), 409)
    assert_problem(client.request("POST", "/v1/jobs", data={"jobType": "melt"}, files=files), 422)
    assert_problem(client.request("POST", "/v1/jobs", data={"jobType": "convert"}), 415)
    assert_problem(client.get("/v1/jobs/nope"), 404)


def test_resize_job_fails_on_non_media_and_pending_job_cancels(client: Client, api: Api) -> None:
    reply = client.request("POST", "/v1/jobs", data={"jobType": "resize", "resizes": "[64]"},
                           files={"files": ("notes.txt", b"plain text, not an image")})
    job = wait_job(client, reply.json()["jobId"])
    assert job["status"] == "failed" and job["errorMessage"].startswith("notes.txt")
    job_id = f"job-pending-{client.transport}"
    api.jobs.create_job({"tenant": "tenant-a", "jobId": job_id, "jobType": "convert", "files": []})
    cancelled = client.delete(f"/v1/jobs/{job_id}")
    assert cancelled.status == 200 and cancelled.json() == {"jobId": job_id, "status": "cancelled"}
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
