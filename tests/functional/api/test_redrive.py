"""Redrive from the failed Task: a 3-Task workflow whose last Task fails once is redriven to completion
without running the first two Tasks again, on both runtimes. Embedded (real HTTP): the storage destination is
blocked by an object where a folder must be. AWS (moto): the node function of the last Task fails (a fault
the test injects). `{"from": "start"}` keeps the whole re-run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.api.conftest import Api, assert_problem

pytestmark = pytest.mark.functional

THREE_TASKS = {
    "name": "three tasks", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "small", "kind": "resize", "config": {"width": 64}},
        {"id": "look", "kind": "inspect"},
        {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}},
        {"id": "keep", "kind": "storage", "config": {"prefix": "kept/"}}],
    "edges": [{"source": "upload", "target": "small"}, {"source": "small", "target": "look"},
              {"source": "look", "target": "webp"}, {"source": "webp", "target": "keep"}],
}


def _completed_steps(run: dict[str, Any], node: str) -> int:
    return sum(1 for step in run["steps"] if step["nodeId"] == node and step["status"] == "completed")


def _failed_run(api: Api, photo: bytes, tenant_prefix: str) -> tuple[Any, dict[str, Any]]:
    client = api.client("http")
    workflow = client.post("/v1/workflows", {**THREE_TASKS, "name": tenant_prefix}).json()
    blocker = f"tenant-a/outputs/{tenant_prefix}"
    definition = {**THREE_TASKS, "name": tenant_prefix}
    definition["nodes"] = [*THREE_TASKS["nodes"][:-1],
                           {"id": "keep", "kind": "storage", "config": {"prefix": f"{tenant_prefix}/"}}]
    client.put(f"/v1/workflows/{workflow['id']}", definition)
    api.service.adapters.blobs.put_bytes(blocker, b"not a folder", "text/plain")  # the injected fault
    started = client.request("POST", f"/v1/workflows/{workflow['id']}/runs", files={"file": ("p.jpg", photo)})
    assert started.status == 202, started.content
    failed = client.wait_run(started.json()["runId"], timeout=120)
    assert failed["status"] == "failed", failed
    assert {s["nodeId"] for s in failed["steps"] if s["status"] == "failed"} & {"webp", "keep"}
    api.service.adapters.blobs.delete(blocker)  # the fault is gone
    return client, failed


def test_retry_redrives_from_the_failed_task(api: Api, photo: bytes) -> None:
    client, failed = _failed_run(api, photo, "redrive")
    run_id = failed["runId"]
    durable = api.service.runtime.durable
    checkpoints_before = durable.checkpoint_count(run_id)
    assert checkpoints_before == 2  # small and look completed

    reply = client.post(f"/v1/runs/{run_id}/retry")
    assert reply.status == 202 and reply.json()["runId"] == run_id and reply.json()["redriven"] is True
    done = client.wait_run(run_id, timeout=120)
    assert done["status"] == "completed", done
    assert done.get("retryOf") is None and done["error"] is None
    # The first two Tasks ran once: their step records and outputs are the ones from the first attempt.
    assert _completed_steps(done, "small") == _completed_steps(failed, "small") == 1
    assert _completed_steps(done, "look") == _completed_steps(failed, "look") == 1
    assert _completed_steps(done, "keep") == 1
    assert durable.checkpoint_count(run_id) == 3
    [output] = [o for o in done["outputs"] if "/outputs/redrive/" in o["key"]]
    assert client.download(output["url"]).content[:4] == b"RIFF"
    assert_problem(client.post(f"/v1/runs/{run_id}/retry"), 409)  # completed: nothing to redrive


def test_retry_from_start_runs_the_whole_workflow_as_a_new_run(api: Api, photo: bytes) -> None:
    client, failed = _failed_run(api, photo, "fromstart")
    reply = client.post(f"/v1/runs/{failed['runId']}/retry", {"from": "start"})
    assert reply.status == 202 and reply.json()["runId"] != failed["runId"]
    again = client.wait_run(reply.json()["runId"], timeout=120)
    assert again["status"] == "completed" and again["retryOf"] == failed["runId"]
    assert _completed_steps(again, "small") == 1  # ran again, in the new run
    assert_problem(client.post(f"/v1/runs/{failed['runId']}/retry", {"from": "middle"}), 422)


def test_retry_redrives_from_the_failed_task_on_aws(aws_api: Api, photo: bytes) -> None:
    client = aws_api.client("aws")
    deployment = aws_api.deployment
    workflow = client.post("/v1/workflows", {**THREE_TASKS, "name": "redrive-aws"}).json()
    deployment.faults["keep"] = 50  # every attempt of the last Task fails, retries included
    started = client.request("POST", f"/v1/workflows/{workflow['id']}/runs", files={"file": ("p.jpg", photo)})
    assert started.status == 202, started.content
    run_id = started.json()["runId"]
    failed = client.wait_run(run_id, timeout=120)
    assert failed["status"] == "failed", failed
    deployment.faults["keep"] = 0  # the fault is gone
    calls_before = len(deployment.calls)

    reply = client.post(f"/v1/runs/{run_id}/retry")
    assert reply.status == 202 and reply.json()["runId"] == run_id and reply.json()["redriven"] is True
    done = client.wait_run(run_id, timeout=120)
    assert done["status"] == "completed", done
    assert _completed_steps(done, "small") == _completed_steps(failed, "small") == 1
    assert _completed_steps(done, "look") == _completed_steps(failed, "look") == 1
    assert _completed_steps(done, "keep") == 1
    redriven = [payload for _, payload in deployment.calls[calls_before:]]
    assert {op["nodeId"] for payload in redriven for op in payload.get("ops", [])} >= {"webp", "keep"}
    assert any("/outputs/kept/" in o["key"] for o in done["outputs"])

