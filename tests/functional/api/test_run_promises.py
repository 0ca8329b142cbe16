"""Runs keep the same promises on both runtimes (a real ``mediaflow serve`` and the Lambda entry points on
moto): the events a run publishes, event-triggered runs, upload triggers, pending runs, batch progress and
``stopOnFailure``. See runtimes.py for how each runtime is reached."""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.functional.api.conftest import EXAMPLES, Api
from tests.functional.api.runtimes import Runtime, aws_runtime, ended, run_events

pytestmark = pytest.mark.functional

NOT_AN_IMAGE = b"this is plain text, not a picture\n" * 20


def save(runtime: Runtime, definition: dict[str, Any], status: str = "active") -> str:
    reply = runtime.client.post("/v1/workflows", {**definition, "status": status})
    assert reply.status == 201, reply.content[:500]
    workflow_id: str = reply.json()["id"]
    return workflow_id


def run_file(runtime: Runtime, workflow_id: str, filename: str, data: bytes) -> str:
    reply = runtime.client.request("POST", f"/v1/workflows/{workflow_id}/runs", files={"file": (filename, data)})
    assert reply.status in (201, 202), reply.content[:500]
    run_id: str = reply.json()["runId"]
    return run_id


def chain(*nodes: tuple[str, str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A linear workflow from an upload trigger through ``nodes`` (id, kind, config)."""
    ids = ["upload", *[node_id for node_id, _, _ in nodes]]
    return {"name": extra.pop("name", "chain"),
            "nodes": [{"id": "upload", "kind": "upload"},
                      *[{"id": node_id, "kind": kind, "config": config} for node_id, kind, config in nodes]],
            "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)], **extra}


# -- 6. events -------------------------------------------------------------------------------------------


def test_a_run_with_a_webhook_node_publishes_one_workflow_completed_carrying_the_node_data(
        runtime: Runtime, photo: bytes) -> None:
    workflow_id = save(runtime, chain(("webp", "convert", {"outputFormat": "webp"}),
                                      ("hook", "webhook", {"event": "workflow.completed"}),
                                      ("store", "storage", {"prefix": "events/"}), name="one-event"))
    run_id = run_file(runtime, workflow_id, "photo.jpg", photo)
    run = runtime.client.wait_run(run_id, 120)
    assert run["status"] == "completed", run
    events = runtime.events_of({run_id}, until=ended({run_id}))
    [completed] = run_events(events, run_id, "workflow.completed")
    assert not run_events(events, run_id, "workflow.failed")
    assert completed["workflowId"] == workflow_id and completed["status"] == "completed"
    [hook] = completed["webhooks"]
    assert hook["nodeId"] == "hook" and hook["media"]["contentType"] == "image/webp"
    [media_id] = completed["mediaIds"]
    assert media_id.startswith("tenant-a/") and media_id.endswith("photo.jpg")
    assert completed["failedNodes"] == []
    assert [o["key"] for o in completed["outputs"]] == [o["key"] for o in run["outputs"]]


def test_a_failed_run_publishes_one_workflow_failed_with_its_media_and_failing_node(
        runtime: Runtime) -> None:
    workflow_id = save(runtime, chain(("webp", "convert", {"outputFormat": "webp"}),
                                      ("store", "storage", {"prefix": "events/"}), name="fails"))
    run_id = run_file(runtime, workflow_id, "notes.jpg", NOT_AN_IMAGE)
    run = runtime.client.wait_run(run_id, 120)
    assert run["status"] == "failed", run
    events = runtime.events_of({run_id}, until=ended({run_id}))
    [failed] = run_events(events, run_id, "workflow.failed")
    assert not run_events(events, run_id, "workflow.completed")
    assert failed["failedNodes"] == ["webp"]
    assert failed["error"]["nodeIds"] == ["webp"]
    [media_id] = failed["mediaIds"]
    assert media_id.endswith("notes.jpg")


# -- 5. stopOnFailure -------------------------------------------------------------------------------------


def test_stop_on_failure_false_hands_the_failed_nodes_input_on_and_runs_every_later_step(
        runtime: Runtime, photo: bytes) -> None:
    workflow_id = save(runtime, chain(("webp", "convert", {"outputFormat": "webp"}),
                                      ("check", "validate", {"mediaTypes": ["video"]}),
                                      ("small", "resize", {"width": 64}),
                                      ("store", "storage", {"prefix": "go-on/"}),
                                      name="go-on", settings={"stopOnFailure": False}))
    run_id = run_file(runtime, workflow_id, "photo.jpg", photo)
    run = runtime.client.wait_run(run_id, 120)
    assert run["status"] == "failed", run
    assert run["error"]["nodeIds"] == ["check"] and run["error"]["error"] == "ValidationFailed"
    statuses = {step["nodeId"]: step["status"] for step in run["steps"]}
    assert statuses == {"webp": "completed", "check": "failed", "small": "completed", "store": "completed"}
    stored = [o for o in run["outputs"] if "/go-on/" in o["key"]]
    assert len(stored) == 1, run["outputs"]
    # The failed node's input (the webp) went on: resized, then stored.
    assert stored[0]["contentType"] == "image/webp"
    downloaded = runtime.client.download(stored[0]["url"])
    assert downloaded.status == 200 and downloaded.content[:4] == b"RIFF"
    events = runtime.events_of({run_id}, until=ended({run_id}))
    [node_failed] = run_events(events, run_id, "run.node.failed")
    assert node_failed["nodeIds"] == ["check"]
    [failed] = run_events(events, run_id, "workflow.failed")
    assert failed["failedNodes"] == ["check"]
    assert {o["key"] for o in failed["outputs"]} >= {stored[0]["key"]}


def test_stop_on_failure_true_lists_what_a_sibling_branch_already_stored(runtime: Runtime, photo: bytes) -> None:
    workflow_id = save(runtime, {
        "name": "siblings",
        "nodes": [{"id": "upload", "kind": "upload"},
                  {"id": "keep", "kind": "storage", "config": {"prefix": "kept/"}},
                  {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}},
                  {"id": "small", "kind": "resize", "config": {"width": 32}},
                  {"id": "check", "kind": "validate", "config": {"mediaTypes": ["video"]}}],
        "edges": [{"source": "upload", "target": "keep"}, {"source": "upload", "target": "webp"},
                  {"source": "webp", "target": "small"}, {"source": "small", "target": "check"}]})
    run_id = run_file(runtime, workflow_id, "photo.jpg", photo)
    run = runtime.client.wait_run(run_id, 120)
    assert run["status"] == "failed", run
    steps = {step["nodeId"]: step["status"] for step in run["steps"]}
    # One light copy finishes long before a decode, two encodes and the check of the other branch.
    assert steps["check"] == "failed" and steps["keep"] == "completed", steps
    [kept] = [o for o in run["outputs"] if "/kept/" in o["key"]]
    assert runtime.client.download(kept["url"]).content == photo


# -- 1. event-triggered runs ------------------------------------------------------------------------------


def test_an_event_run_carries_the_event_and_runs_its_media_less_nodes(runtime: Runtime) -> None:
    name = f"product.created.{runtime.name}"
    workflow_id = save(runtime, {
        "name": "on product", "nodes": [
            {"id": "ev", "kind": "event", "config": {"eventName": "product.*"}},
            {"id": "is-photo", "kind": "branch", "config": {"conditions": {"logic": "and", "conditions": [
                {"field": "event.data.kind", "op": "eq", "value": "photo"}]}}},
            {"id": "urgent", "kind": "condition", "config": {"conditions": {"logic": "and", "conditions": [
                {"field": "event.data.priority", "op": "gt", "value": 1}]}}},
            {"id": "tag", "kind": "transform", "config": {"set": {"run": "{runId}"}}},
            {"id": "check", "kind": "validate", "config": {}},
            {"id": "note", "kind": "notify", "config": {"event": "product.noted", "message": "new photo"}},
            {"id": "hook", "kind": "webhook", "config": {"event": "product.hooked"}},
            {"id": "other", "kind": "notify", "config": {"event": "product.other"}}],
        "edges": [{"source": "ev", "target": "is-photo"},
                  {"source": "is-photo", "target": "urgent", "kind": "true"},
                  {"source": "is-photo", "target": "other", "kind": "false"},
                  {"source": "urgent", "target": "tag"}, {"source": "tag", "target": "check"},
                  {"source": "check", "target": "note"}, {"source": "note", "target": "hook"}]})
    event = {"eventName": name, "data": {"kind": "photo", "priority": 3, "sku": "A-1"}, "source": "shop"}
    fired = runtime.client.post("/v1/workflows/events", event)
    assert fired.status == 200, fired.content[:300]
    [result] = [r for r in fired.json()["results"] if r["workflowId"] == workflow_id]
    run = runtime.client.wait_run(result["runId"], 120)
    assert run["status"] == "completed", run
    assert {step["nodeId"]: step["status"] for step in run["steps"]} == {
        "tag": "completed", "check": "completed", "note": "completed", "hook": "completed"}
    events = runtime.events_of({result["runId"]}, until=ended({result["runId"]}))
    [noted] = run_events(events, result["runId"], "product.noted")
    [hooked] = run_events(events, result["runId"], "product.hooked")
    assert not run_events(events, result["runId"], "product.other")
    for detail in (noted, hooked):
        assert detail["event"] == event and detail["media"] is None
    assert noted["message"] == "new photo"
    [completed] = run_events(events, result["runId"], "workflow.completed")
    assert completed["event"] == event and completed["mediaIds"] == [] and completed["outputs"] == []


def test_an_event_workflow_with_a_node_that_needs_media_is_refused_when_saved(runtime: Runtime) -> None:
    reply = runtime.client.post("/v1/workflows", {
        "name": "event resize", "status": "active",
        "nodes": [{"id": "ev", "kind": "event", "config": {"eventName": "x"}},
                  {"id": "small", "kind": "resize", "config": {"width": 10}},
                  {"id": "store", "kind": "storage", "config": {}}],
        "edges": [{"source": "ev", "target": "small"}, {"source": "small", "target": "store"}]})
    assert reply.status == 422, reply.content[:300]
    problem = reply.json()
    named = {error.get("nodeId") or error.get("path") for error in problem["errors"]}
    assert "small" in str(named) and "store" in str(named), problem
    assert any("event" in error["message"] and "media" in error["message"] for error in problem["errors"])


# -- 2. upload triggers -----------------------------------------------------------------------------------


def upload(runtime: Runtime, filename: str, data: bytes, **fields: Any) -> dict[str, Any]:
    """POST /v1/uploads, then the file to the target it answers (S3 presigned POST on AWS, the signed local
    URL embedded); on AWS the S3 event then goes through the template's trigger rule to the trigger function."""
    reply = runtime.client.post("/v1/uploads", {"filename": filename, **fields})
    assert reply.status == 201, reply.content[:300]
    target: dict[str, Any] = reply.json()
    stored = runtime.client.upload(target, filename, data)
    assert stored.status in (201, 204), stored.content[:300]
    runtime.trigger_uploads()
    return target


def upload_workflow(name: str, **filters: Any) -> dict[str, Any]:
    return chain(("store", "storage", {"prefix": f"{name}/"}), name=name, trigger={"filters": filters})


def runs_of(runtime: Runtime, workflow_id: str, expected: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The workflow's runs once ``expected`` of them exist and ended (and no more appeared)."""
    deadline = time.monotonic() + timeout
    while True:
        run_ids = runtime.run_ids_of(workflow_id)
        if len(run_ids) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return runtime.wait_runs(run_ids)


def test_a_direct_run_fires_no_upload_trigger(runtime: Runtime, photo: bytes) -> None:
    tag = uuid.uuid4().hex[:8]
    runtime.trigger_uploads()  # AWS: deliver what earlier tests left on the queue, so only this run counts
    catch_all = save(runtime, upload_workflow(f"any-{tag}"))
    direct = save(runtime, upload_workflow(f"direct-{tag}"), status="draft")
    run = runtime.client.wait_run(run_file(runtime, direct, "photo.jpg", photo), 120)
    assert run["status"] == "completed", run
    assert runtime.trigger_uploads() == []  # AWS: the trigger rule matched nothing the run stored
    time.sleep(1.0)  # embedded: nothing is started asynchronously either
    assert runtime.run_ids_of(catch_all) == []
    assert runtime.run_ids_of(direct) == [run["runId"]]
    assert runtime.client.patch(f"/v1/workflows/{catch_all}", {"status": "paused"}).status == 200


def test_an_api_upload_fires_the_matching_workflows_once_with_its_metadata(runtime: Runtime, photo: bytes) -> None:
    tag = uuid.uuid4().hex[:8]
    red = save(runtime, upload_workflow(f"red-{tag}", metadata={"team": f"red-{tag}"}))
    blue = save(runtime, upload_workflow(f"blue-{tag}", metadata={"team": f"blue-{tag}"}))
    incoming = save(runtime, upload_workflow(f"in-{tag}", metadata={"team": f"red-{tag}"}, prefixes=["incoming/"]))
    paused = save(runtime, upload_workflow(f"paused-{tag}", metadata={"team": f"red-{tag}"}), status="paused")
    runtime.trigger_uploads()  # AWS: deliver what earlier tests left on the queue
    target = upload(runtime, "photo.jpg", photo, metadata={"team": f"red-{tag}"}, prefix="incoming/")
    assert target["key"].startswith("tenant-a/uploads/incoming/")
    assert target["fields"]["x-amz-meta-team"] == f"red-{tag}"
    assert runtime.trigger_uploads() == []  # a repeated delivery starts nothing new
    [red_run] = runs_of(runtime, red, 1)
    [incoming_run] = runs_of(runtime, incoming, 1)
    assert red_run["status"] == incoming_run["status"] == "completed", (red_run, incoming_run)
    assert [o["filename"] for o in red_run["outputs"]] == ["photo.jpg"]
    assert runtime.run_ids_of(blue) == [] and runtime.run_ids_of(paused) == []
    upload(runtime, "other.jpg", photo, metadata={"team": "nobody"})
    time.sleep(1.0)
    assert len(runtime.run_ids_of(red)) == 1


def test_the_watched_folder_serves_every_tenant(served: Runtime, photo: bytes) -> None:
    assert served.data_dir is not None
    tag = uuid.uuid4().hex[:8]
    mine = save(served, upload_workflow(f"watched-{tag}", prefixes=[f"drop-{tag}/"]))
    drop = served.data_dir / "uploads" / "tenant-a" / f"drop-{tag}" / "photo.jpg"
    drop.parent.mkdir(parents=True)
    drop.write_bytes(photo)
    [run] = runs_of(served, mine, 1, timeout=60)
    assert run["status"] == "completed" and [o["filename"] for o in run["outputs"]] == ["photo.jpg"]


UPLOADS = (("image", "incoming/"), ("video", ""), ("audio", ""), ("document", ""))


def example_definitions(tag: str) -> dict[str, dict[str, Any]]:
    """Every example workflow in its canonical shape, its upload trigger also asking for metadata suite=tag."""
    from mediaflow.validation import validate

    definitions = {}
    for path in sorted(EXAMPLES.glob("*.json")):
        report = validate(path.read_bytes())
        assert report.valid and report.definition is not None, (path, report.errors)
        canonical = report.definition.canonical()
        canonical["trigger"].setdefault("filters", {})["metadata"] = {"suite": tag}
        definitions[path.stem] = canonical
    return definitions


def sample_files(folder: Path) -> dict[str, tuple[str, bytes]]:
    from mediaflow import samples

    made = {"image": samples.photo(folder / "shot.jpg", 480, 320),
            "video": samples.video(folder / "clip.mp4", 1.0, size="320x180"),
            "audio": samples.tone(folder / "tone.wav", 1.0),
            "document": samples.pdf(folder / "notes.pdf")}
    return {kind: (path.name, path.read_bytes()) for kind, path in made.items()}


def runs_through_uploads(runtime: Runtime, tag: str, files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
    """Save the examples, upload one file of each media type with metadata; the runs by example name:
    (status, output filenames) each, in a stable order."""
    ids = {name: save(runtime, definition) for name, definition in example_definitions(tag).items()}
    for kind, prefix in UPLOADS:
        filename, data = files[kind]
        upload(runtime, filename, data, metadata={"suite": tag}, prefix=prefix)
    by_name: dict[str, Any] = {}
    for name, workflow_id in ids.items():
        time.sleep(0.5)  # the last upload's runs have been started by now (embedded: on receipt)
        runs = runtime.wait_runs(runtime.run_ids_of(workflow_id), timeout=300)
        by_name[name] = sorted((run["status"], sorted(o["filename"] for o in run["outputs"])) for run in runs)
        assert runtime.client.patch(f"/v1/workflows/{workflow_id}", {"status": "paused"}).status == 200
    return by_name


@pytest.mark.slow
def test_the_examples_through_uploads_with_metadata_give_the_same_runs_on_both_runtimes(
        served: Runtime, aws_api: Api, tmp_path: Path) -> None:
    files = sample_files(tmp_path)
    tag = uuid.uuid4().hex[:8]
    embedded = runs_through_uploads(served, tag, files)
    aws = runs_through_uploads(aws_runtime(aws_api), tag, files)
    assert embedded == aws
    assert sum(len(runs) for runs in embedded.values()) >= 8, embedded
    assert embedded["image-web-optimise"] == [("completed", ["shot-1600.webp", "shot.jpg"])], embedded
    assert all(status == "completed" for status, _ in embedded["video-poster-preview"]), embedded
    assert embedded["avatar-background-remove"] == []  # its prefix (avatars/) matched no upload


# -- 3. pending runs and jobs -----------------------------------------------------------------------------


def wait_status(runtime: Runtime, run_id: str, wanted: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = runtime.client.get(f"/v1/runs/{run_id}").json()
        if run["status"] == wanted or run["status"] in ("completed", "failed", "cancelled") \
                or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """8 s of 640x360 video: its VP9 encode keeps a worker busy for seconds."""
    from mediaflow import samples

    return samples.video(tmp_path_factory.mktemp("clip") / "long.mp4", 8.0, size="640x360").read_bytes()


def busy_workers(served: Runtime, clip: bytes, name: str) -> list[str]:
    """Both worker processes of the server (MEDIAFLOW_WORKERS=2) busy with a VP9 encode each."""
    slow = save(served, chain(("vp9", "transcode", {"outputFormat": "webm", "crf": 20}), name=name),
                status="draft")
    blockers = [run_file(served, slow, f"long-{index}.mp4", clip) for index in range(2)]
    for run_id in blockers:
        assert wait_status(served, run_id, "running")["status"] == "running"
    return blockers


def test_a_job_waiting_for_a_worker_is_pending_and_cancels_leaving_no_outputs(
        served: Runtime, photo: bytes, long_clip: bytes) -> None:
    blockers = busy_workers(served, long_clip, "busy")
    reply = served.client.request("POST", "/v1/jobs", data={"jobType": "convert", "formats": '["webp"]'},
                                  files=[("files", ("queued.jpg", photo, "image/jpeg"))])
    assert reply.status == 202, reply.content[:300]
    job_id = reply.json()["jobId"]
    time.sleep(0.5)
    job = served.client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "pending", job
    [queued] = job["results"]
    assert served.client.get(f"/v1/runs/{queued['runId']}").json()["status"] == "pending"
    cancelled = served.client.delete(f"/v1/jobs/{job_id}")
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled", cancelled.content[:300]
    assert all(run["status"] == "completed" for run in served.wait_runs(blockers, 300))
    run = served.client.wait_run(queued["runId"], 60)
    assert run["status"] == "cancelled" and run["outputs"] == [] and run["steps"] == [], run
    assert served.client.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"


def test_a_pending_run_cancels_and_writes_nothing(served: Runtime, photo: bytes, long_clip: bytes) -> None:
    quick = save(served, chain(("webp", "convert", {"outputFormat": "webp"}), ("store", "storage", {}),
                               name="quick"), status="draft")
    blockers = busy_workers(served, long_clip, "busy-2")
    queued = run_file(served, quick, "queued.jpg", photo)
    assert served.client.get(f"/v1/runs/{queued}").json()["status"] == "pending"
    cancelled = served.client.post(f"/v1/runs/{queued}/cancel")
    assert cancelled.status in (200, 202) and cancelled.json()["status"] == "cancelled", cancelled.content[:300]
    served.wait_runs(blockers, 300)
    run = served.client.wait_run(queued, 60)
    assert run["status"] == "cancelled" and run["outputs"] == [] and run["steps"] == [], run


# -- 4. batch progress ------------------------------------------------------------------------------------


def test_batch_progress_moves_while_it_runs_and_item_steps_and_errors_name_their_item(
        runtime: Runtime, tmp_path: Path) -> None:
    from mediaflow import samples

    workflow_id = save(runtime, chain(("webp", "convert", {"outputFormat": "webp"}),
                                      ("store", "storage", {"prefix": "batch/"}), name="batch",
                                      settings={"maxConcurrency": 1, "executionType": "standard"}), status="draft")
    files = [("files", (f"photo-{index}.jpg", samples.photo(tmp_path / f"p{index}.jpg", 1600, 1200, seed=index)
                        .read_bytes(), "image/jpeg")) for index in range(5)]
    files.insert(2, ("files", ("broken.jpg", NOT_AN_IMAGE, "image/jpeg")))
    reply = runtime.client.request("POST", f"/v1/workflows/{workflow_id}/runs", files=files)
    assert reply.status in (201, 202), reply.content[:300]
    run_id = reply.json()["runId"]
    seen: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        got = runtime.client.get(f"/v1/runs/{run_id}")
        assert got.status == 200, got.content[:500]
        run = got.json()
        seen.append((run["status"], run["progress"]["completed"], run["progress"]["failed"]))
        if run["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.02)
    assert run["status"] == "failed" and run["progress"]["total"] == 6, run
    assert (run["progress"]["completed"], run["progress"]["failed"]) == (5, 1), run["progress"]
    moving = [(done, failed) for status, done, failed in seen if status not in ("completed", "failed")]
    assert any(0 < done + failed < 6 for done, failed in moving), seen  # counts moved before the end
    assert moving == sorted(moving)  # and only ever up
    for step in run["steps"]:
        assert f"/{step['item']}/" in step["sourceKey"], step
    [failed_step] = [step for step in run["steps"] if step["status"] == "failed"]
    assert failed_step["item"] == 2 and failed_step["sourceKey"].endswith("/2/broken.jpg")
    [failure] = run["error"]["failures"]
    assert failure["item"] == 2 and failure["sourceKey"].endswith("/2/broken.jpg") and failure["nodeIds"]
