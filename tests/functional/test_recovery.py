"""What a restart does with what a stopped process left: runs whose execution a dead process held are
resumed from their checkpoints, runs that keep failing to finish and runs that were never recorded end failed
with RuntimeInterrupted, and nothing stays pending or running. Leases die with their owner."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mediaflow.embedded.app import LocalService

pytestmark = pytest.mark.functional


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LocalService]:
    with LocalService(data_dir=tmp_path / "data") as local:
        yield local


def _dead_owner() -> str:
    """A lease owner that was a real process of this host and is gone."""
    from mediaflow.adapters.embedded.durable import HOST

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{HOST}:{process.pid}:gone"


def _leave_behind(service: LocalService, run_id: str, photo: Path, *, resumes: int = 0) -> None:
    """The state a killed `serve` leaves: a running run whose execution is leased to a dead process."""
    from mediaflow.compiler import compile_workflow
    from mediaflow.validation import validate

    report = validate({"name": "r", "nodes": [{"id": "upload", "kind": "upload"},
                                              {"id": "small", "kind": "resize", "config": {"width": 64}}],
                       "edges": [{"source": "upload", "target": "small"}]})
    assert report.definition is not None
    asl = compile_workflow(report.definition, report.configs).asl
    media = service.ingest(photo, prefix=run_id)
    execution_input = {"run": {"runId": run_id, "tenant": service.tenant, "workflowId": "r", "version": 1},
                       "media": media.to_state()}
    service.adapters.runs.create_run({"tenant": service.tenant, "runId": run_id, "workflowId": "r",
                                      "status": "running", "input": execution_input})
    service.durable.record_execution(service.tenant, run_id, asl, execution_input)
    with service.adapters.db.write() as conn:
        conn.execute("UPDATE executions SET owner = ?, resumes = ? WHERE run_id = ?", (_dead_owner(), resumes, run_id))


def test_restart_resumes_orphans_and_ends_what_cannot_resume(service: LocalService, tmp_path: Path) -> None:
    from mediaflow import samples

    photo = samples.photo(tmp_path / "p.jpg", 320, 240)
    _leave_behind(service, "run-orphan", photo)
    _leave_behind(service, "run-crashes-each-time", photo, resumes=3)
    service.adapters.runs.create_run({"tenant": service.tenant, "runId": "run-never-recorded", "workflowId": "r",
                                      "status": "pending", "input": {}})
    with service.adapters.db.write() as conn:  # untouched for a while
        conn.execute("UPDATE runs SET updated_at = '2000-01-01T00:00:00.000Z' WHERE run_id = 'run-never-recorded'")

    outcome = service.runtime.recover()
    assert outcome["resumed"] == ["run-orphan"]
    assert sorted(outcome["interrupted"]) == ["run-crashes-each-time", "run-never-recorded"]
    deadline = time.monotonic() + 120
    while service.adapters.runs.get_run(service.tenant, "run-orphan")["status"] != "completed":
        assert time.monotonic() < deadline, "the resumed run did not finish"
        time.sleep(0.1)
    runs = {run["runId"]: run for run in service.adapters.runs.list_runs(service.tenant, limit=10)}
    assert runs["run-crashes-each-time"]["status"] == "failed"
    assert runs["run-crashes-each-time"]["error"]["error"] == "RuntimeInterrupted"
    assert runs["run-never-recorded"]["error"]["error"] == "RuntimeInterrupted"
    assert all(run["status"] in ("completed", "failed") for run in runs.values())


def test_a_lease_is_taken_again_once_its_owner_is_gone(service: LocalService) -> None:
    durable = service.durable
    assert durable.claim("upload-1", 300) == (True, None)
    with service.adapters.db.write() as conn:
        conn.execute("UPDATE leases SET owner = 'elsewhere:1:x' WHERE name = 'upload-1'")
    assert durable.claim("upload-1", 300) == (False, None)  # a live owner elsewhere, unexpired
    with service.adapters.db.write() as conn:
        conn.execute("UPDATE leases SET owner = ? WHERE name = 'upload-1'", (_dead_owner(),))
    assert durable.claim("upload-1", 300) == (True, None)  # its owner died: taken again
    durable.complete("upload-1", {"runs": ["r1"]})
    assert durable.claim("upload-1", 300) == (False, {"runs": ["r1"]})
    assert durable.claim("upload-2", -1) == (True, None)
    with service.adapters.db.write() as conn:
        conn.execute("UPDATE leases SET owner = 'elsewhere:1:x' WHERE name = 'upload-2'")
    assert durable.claim("upload-2", 300) == (True, None)  # expired: taken again


def _half_write(service: LocalService, run_id: str) -> Path:
    """What a worker killed between writing an output under its temporary name and the rename leaves."""
    from mediaflow.adapters.embedded.durable import HOST

    dead_pid = _dead_owner().removeprefix(f"{HOST}:").split(":")[0]
    folder = service.adapters.blobs.root / service.tenant / "runs" / run_id / "small"
    folder.mkdir(parents=True, exist_ok=True)
    left = folder / f".mf-tmp-{dead_pid}-0a1b2c"
    left.write_bytes(b"\xff\xd8 half an output")
    return folder


def _wait_completed(service: LocalService, run_id: str) -> None:
    deadline = time.monotonic() + 120
    while service.adapters.runs.get_run(service.tenant, run_id)["status"] != "completed":
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.1)


def test_a_resumed_run_leaves_no_half_written_output_of_its_killed_attempt(service: LocalService,
                                                                            tmp_path: Path) -> None:
    from mediaflow import samples

    _leave_behind(service, "run-half", samples.photo(tmp_path / "p.jpg", 320, 240))
    folder = _half_write(service, "run-half")
    assert service.runtime.recover()["resumed"] == ["run-half"]
    _wait_completed(service, "run-half")
    files = [p.name for p in folder.iterdir()]
    assert len(files) == 1 and not files[0].startswith(".mf-"), files  # the output, written once


def test_a_run_started_again_under_its_id_leaves_no_half_written_output(service: LocalService,
                                                                         tmp_path: Path) -> None:
    """`mediaflow run` run again after a kill starts its unfinished runs again by id (no lease to expire)."""
    from mediaflow import samples

    _leave_behind(service, "run-again", samples.photo(tmp_path / "p.jpg", 320, 240))
    folder = _half_write(service, "run-again")
    execution = service.durable.reopen("run-again")
    assert execution is not None
    result = service.runtime.start(execution.asl, execution.input, "run-again")
    assert result.status == "SUCCEEDED"
    files = [p.name for p in folder.iterdir()]
    assert len(files) == 1 and not files[0].startswith(".mf-"), files
