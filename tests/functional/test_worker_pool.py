"""The embedded runtime's worker processes: a Task's timeout counts its execution, not its time in the queue,
and a Task that timed out can never publish an output afterwards (its worker is gone before the timeout is
reported)."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediaflow.embedded.app import LocalService

pytestmark = pytest.mark.functional


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LocalService]:
    from mediaflow.settings import Settings

    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as local:
        yield local


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mediaflow import samples

    return samples.photo(tmp_path_factory.mktemp("media") / "photo.jpg", 3000, 2000)


def _compiled(timeout: int) -> dict[str, Any]:
    from mediaflow.compiler import compile_workflow
    from mediaflow.validation import validate

    report = validate({"name": "t", "nodes": [
        {"id": "upload", "kind": "upload"}, {"id": "small", "kind": "resize", "config": {"width": 1200}},
        {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}}],
        "edges": [{"source": "upload", "target": "small"}, {"source": "small", "target": "webp"}]})
    assert report.definition is not None
    asl = copy.deepcopy(compile_workflow(report.definition, report.configs).asl)
    for state in asl["States"].values():
        if state["Type"] == "Task":
            state["TimeoutSeconds"] = timeout
    return asl


def test_time_waiting_for_a_worker_does_not_count_against_the_timeout(service: LocalService, photo: Path) -> None:
    timeout = 4
    asl = _compiled(timeout)
    handles = []
    for n in range(24):  # one worker: the last ones wait far longer than the timeout before they start
        media = service.ingest(photo, prefix=f"q{n}")
        run = {"runId": f"run-queue-{n}", "tenant": service.tenant, "workflowId": "t", "version": 1}
        handles.append(service.runtime.start_async(asl, {"run": run, "media": media.to_state()}, run["runId"]))
    results = [handle.result(timeout=900) for handle in handles]
    assert [r.status for r in results] == ["SUCCEEDED"] * len(results), [(r.error, r.cause) for r in results]
    waited = []
    for handle in handles:
        record = service.adapters.runs.get_run(service.tenant, handle.run_id)
        steps = service.adapters.runs.steps(service.tenant, handle.run_id)
        first = min(step["startedAt"] for step in steps)
        waited.append(_seconds(first) - _seconds(record["createdAt"]))
    if max(waited) <= timeout:
        pytest.skip(f"this machine never queued a Task past {timeout} s (max {max(waited):.1f} s)")
    assert max(waited) > timeout  # queued longer than the timeout, and still not timed out


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_timed_out_task_is_killed_before_it_can_publish(service: LocalService, photo: Path) -> None:
    from mediaflow.embedded.workerpool import WorkerPool
    from mediaflow.execution.asl import StatesError
    from mediaflow.procs import pid_alive

    media = service.ingest(photo, prefix="timeout")
    payload = {"runtime": "vips", "run": {"runId": "run-timeout", "tenant": service.tenant},
               "media": media.to_state(), "ops": [
                   {"nodeId": "small", "kind": "resize", "config": {"width": 2900}},
                   {"nodeId": "webp", "kind": "convert", "config": {"outputFormat": "webp"}}]}
    settings = service.settings
    pool = WorkerPool(1, (settings, str(service.adapters.blobs.root), service.adapters.blobs.bucket,
                          str(service.adapters.db.path)))
    try:
        assert pool.run(payload, timeout=300)["key"]  # the same Task, given time, writes its output
        outputs = service.data_dir / "blobs" / service.tenant / "runs" / "run-timeout"
        written = {p: p.stat().st_mtime for p in outputs.rglob("*") if p.is_file()}
        assert written
        with pytest.raises(StatesError) as timed_out:
            pool.run({**payload, "run": {"runId": "run-timeout-2", "tenant": service.tenant}}, timeout=0.05)
        assert timed_out.value.error == "States.Timeout"
        victims = [int(p.name.removeprefix("worker-")) for p in (service.data_dir / "tmp").glob("worker-*")]
        time.sleep(3)  # long enough for the Task to have finished, had it lived on
        assert not list((service.data_dir / "blobs" / service.tenant / "runs" / "run-timeout-2").rglob("*.webp"))
        assert victims and not any(pid_alive(pid) for pid in victims)  # the worker was killed, not left running
    finally:
        pool.close()


_FORK_SCRIPT = """
import json, os, sys, threading, time
from pathlib import Path
from mediaflow.embedded.workerpool import WorkerPool
from mediaflow.settings import Settings

data = Path(sys.argv[1])
if sys.argv[2] == "busy":  # another thread runs: forking now could copy a lock it holds
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
settings = Settings(data_dir=data, workers=2)
pool = WorkerPool(2, (settings, str(data / "blobs"), "local", str(data / "mediaflow.sqlite3")))
pool.prestart(2)
deadline = time.monotonic() + 60
while len(pool.worker_pids()) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
answers = [pool.submit(os.getppid).result(timeout=60) for _ in range(2)]
print(json.dumps({"me": os.getpid(), "parents": answers, "workers": pool.worker_pids()}))
pool.close()
"""


@pytest.mark.parametrize("threads", ["alone", "busy"])
def test_a_single_threaded_command_forks_its_workers_itself(tmp_path: Path, threads: str) -> None:
    """``mediaflow run`` (one thread) forks its workers straight from its own process; a process with other
    threads running (``serve``, the tests' own runner) starts them from the fork server instead."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, str(tmp_path / "data"), threads],
                          capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["workers"]) == 2
    if threads == "alone":
        assert report["parents"] == [report["me"]] * 2
    else:
        assert report["me"] not in report["parents"]


def test_a_worker_claiming_its_scratch_is_never_taken_for_an_abandoned_one(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers start at once: while one claims its scratch folder, the other sweeps the folders of workers
    that are gone. The sweep must see the claimer's folder as owned at every step of the claim; when it could
    lock an owner file the claimer had made but not locked yet, it removed a live worker's folder, and every
    Task of that worker failed on its missing scratch."""
    import fcntl
    import os

    from mediaflow.embedded import workerpool

    folder = tmp_path / f"worker-{os.getpid()}"
    swept: list[bool] = []
    flock = fcntl.flock

    def sweep_first(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_EX:  # the claimer's own lock, about to be taken: the other worker sweeps now
            swept.append(workerpool._abandoned(folder))
        flock(fd, operation)

    monkeypatch.setattr(workerpool.fcntl, "flock", sweep_first)
    assert workerpool._claim_scratch(tmp_path) == folder
    assert swept == [False], "a folder being claimed was taken for an abandoned one"
    monkeypatch.setattr(workerpool.fcntl, "flock", flock)
    assert not workerpool._abandoned(folder), "a claimed folder's owner file is locked"
    assert [path.name for path in folder.iterdir()] == [".owner"]


def _pool(tmp_path: Path, size: int) -> Any:
    from mediaflow.embedded.workerpool import WorkerPool
    from mediaflow.settings import Settings

    data = tmp_path / "data"
    settings = Settings(data_dir=data, workers=size)
    return WorkerPool(size, (settings, str(data / "blobs"), "local", str(data / "mediaflow.sqlite3")))


def _until(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_tasks_waiting_for_a_busy_worker_go_to_it_in_arrival_order(tmp_path: Path) -> None:
    """With every worker busy, Tasks wait their turn: the worker that frees up takes the first that came,
    sent to it by the thread that freed it; none is lost or run twice."""
    pool = _pool(tmp_path, 1)
    try:
        busy = pool.submit(time.sleep, 1.0)
        _until(lambda: len(pool.pids()) == 1)
        queued = []
        for _ in range(3):
            queued.append(pool.submit(time.monotonic))
            _until(lambda n=len(queued): len(pool._waiters) == n)
        assert busy.result(timeout=60) is None
        started = [future.result(timeout=60) for future in queued]
        assert started == sorted(started), "the first to wait runs first"
        assert len(set(started)) == 3
    finally:
        pool.close()


def test_a_drain_leaves_the_running_task_its_grace_and_turns_the_waiting_ones_away(tmp_path: Path) -> None:
    from mediaflow.embedded.workerpool import PoolDraining

    pool = _pool(tmp_path, 1)
    busy = pool.submit(time.sleep, 1.0)
    _until(lambda: len(pool.pids()) == 1)
    waiting = [pool.submit(time.monotonic) for _ in range(2)]
    _until(lambda: len(pool._waiters) == 2)
    assert pool.drain(grace_seconds=60) == 0  # the running Task finished within its grace
    assert busy.result(timeout=60) is None
    for future in waiting:
        with pytest.raises(PoolDraining):
            future.result(timeout=60)
    assert not pool._waiters
