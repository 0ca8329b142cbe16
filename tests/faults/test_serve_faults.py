"""`mediaflow serve` killed with SIGKILL or SIGTERM mid-work, a worker killed mid-task, the upload watcher
stopped while it held a claim: after a restart every run ends, every output exists once, no process is left."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from tests.faults.conftest import (
    SLOW_FIRST_TASK,
    TERMINAL,
    THREE_TASKS,
    Api,
    Servers,
    assert_exactly_once,
    cli_env,
    descendants,
    mediaflow,
    wait_for,
    wait_gone,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _start_many(api: Api, workflow_id: str, photo: bytes, count: int) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda n: api.start_run(workflow_id, photo, f"p{n}.jpg"), range(count)))


def test_kill_9_of_serve_with_50_runs_in_flight(servers: Servers, photo: bytes) -> None:
    server, api = servers.start()
    workflow_id = servers.workflow(api)
    run_ids = _start_many(api, workflow_id, photo, 50)
    wait_for(lambda: any(api.run(r)["status"] == "completed" for r in run_ids[:10]), 180, "a first run to end")
    before = {r: api.run(r)["status"] for r in run_ids}
    in_flight = [r for r, status in before.items() if status not in TERMINAL]
    assert in_flight, "the kill must land with runs in flight"

    children = server.kill()
    assert children, "the server had started worker processes"
    assert wait_gone(children, timeout=30) == [], "no worker outlives the killed server"

    server, api = servers.start()
    runs = api.wait_terminal(run_ids, timeout=600)
    for run in runs.values():
        assert run["status"] == "completed" or (run["error"] or {}).get("error") == "RuntimeInterrupted", run
    assert sum(run["status"] == "completed" for run in runs.values()) >= len(run_ids) - 3
    assert_exactly_once(servers.data_dir, runs)
    assert server.stop() == 0


def test_sigterm_drains_and_the_next_start_finishes(servers: Servers, photo: bytes) -> None:
    server, api = servers.start(grace_seconds=20)
    workflow_id = servers.workflow(api)
    run_ids = _start_many(api, workflow_id, photo, 12)
    wait_for(lambda: any(api.run(r)["status"] in ("running", "completed") for r in run_ids), 120, "runs to start")
    children = descendants(server.process.pid)
    assert server.stop(timeout=180) == 0, "\n".join(server.lines[-30:])
    assert any("stopping" in line for line in server.lines)
    assert any(f"/v1/runs/{run_ids[0]}" in line and " 200" in line for line in server.lines)  # the access log
    assert wait_gone(children, timeout=30) == []

    server, api = servers.start()
    runs = api.wait_terminal(run_ids, timeout=600)
    assert all(run["status"] == "completed" for run in runs.values()), {r: v["status"] for r, v in runs.items()}
    assert_exactly_once(servers.data_dir, runs)


def test_kill_9_of_one_worker_mid_task_retries_the_task(servers: Servers, big: bytes) -> None:
    server, api = servers.start()
    workflow_id = servers.workflow(api, SLOW_FIRST_TASK)
    run_id = api.start_run(workflow_id, big, "big.jpg")
    tmp = servers.data_dir / "tmp"

    def busy_worker() -> int | None:
        for folder in tmp.glob("worker-*"):
            if any(entry.is_dir() for entry in folder.iterdir()):  # a Task's scratch folder
                return int(folder.name.removeprefix("worker-"))
        return None

    victim = wait_for(busy_worker, 120, "a worker to take a task")
    psutil.Process(victim).send_signal(signal.SIGKILL)
    assert wait_gone([victim], timeout=30) == []

    run = api.wait_terminal([run_id], timeout=300)[run_id]
    assert run["status"] == "completed", run
    assert_exactly_once(servers.data_dir, {run_id: run})
    assert server.stop() == 0


def test_the_upload_claimed_when_the_watcher_died_runs_after_restart(data_dir: Path, photo: bytes) -> None:
    workflow_file = data_dir.parent / "wf.json"
    workflow_file.write_text(__import__("json").dumps({**THREE_TASKS, "trigger": {"onUpload": True}}))
    added = mediaflow("workflows", "add", str(workflow_file), "--activate", "--data-dir", str(data_dir),
                      data_dir=data_dir)
    assert added.returncode == 0, added.stdout + added.stderr
    upload = data_dir / "uploads" / "drop.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(photo)
    # A watcher process claims the file and is killed before it records any run: what a crash leaves.
    claimer = subprocess.Popen([sys.executable, "-c", (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from mediaflow.embedded.app import LocalService, UPLOAD_LEASE_SECONDS\n"
        "from mediaflow.triggers import run_name\n"
        "service = LocalService(data_dir=Path(sys.argv[1]))\n"
        "path = Path(sys.argv[2]); stat = path.stat()\n"
        "marker = run_name('upload', 'local/' + path.name, stat.st_size, stat.st_mtime_ns)\n"
        "assert service.durable.claim(marker, UPLOAD_LEASE_SECONDS)[0]\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"), str(data_dir), str(upload)], env=cli_env(data_dir))
    assert claimer.wait(120) == -signal.SIGKILL

    once = mediaflow("serve", "--once", "--data-dir", str(data_dir), data_dir=data_dir)
    assert once.returncode == 0, once.stdout + once.stderr
    assert "started run" in once.stdout and ": completed" in once.stdout
    again = mediaflow("serve", "--once", "--data-dir", str(data_dir), data_dir=data_dir)
    assert "started run" not in again.stdout  # handled once
    assert len(list((data_dir / "blobs" / "local" / "outputs" / "kept").iterdir())) == 1


def test_no_worker_outlives_a_killed_serve_even_mid_encode(servers: Servers, big: bytes) -> None:
    server, api = servers.start()
    workflow_id = servers.workflow(api, SLOW_FIRST_TASK)
    run_id = api.start_run(workflow_id, big, "big.jpg")
    wait_for(lambda: any(path.is_dir() for path in (servers.data_dir / "tmp").glob("worker-*/*")), 120,
             "a task to start")  # a Task's scratch folder in a worker's
    children = server.kill()
    killed_at = time.time()
    assert wait_gone(children, timeout=30) == []
    time.sleep(2)
    late = [p for p in (servers.data_dir / "blobs").rglob("*")
            if p.is_file() and p.stat().st_mtime > killed_at + 1.0]
    assert late == [], "nothing lands after the server is gone"
    server, api = servers.start()
    assert api.wait_terminal([run_id], timeout=300)[run_id]["status"] == "completed"
