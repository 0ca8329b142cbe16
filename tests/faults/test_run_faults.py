"""`mediaflow run` killed and run again, SQLite under concurrent writers from several processes, and a full
disk while an output is written (RLIMIT_FSIZE on the process: every file it or its workers write is capped)."""

from __future__ import annotations

import hashlib
import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.conftest import THREE_TASKS, cli_env, descendants, mediaflow, wait_for, wait_gone

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture
def inputs(tmp_path: Path, photo: bytes) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(16):  # distinct bytes per file: a JPEG comment makes each one its own input
        (folder / f"p{n:02d}.jpg").write_bytes(photo[:2] + b"\xff\xfe\x00\x08" + f"{n:06d}".encode() + photo[2:])
    return folder


def _workflow(tmp_path: Path, *, slow: bool = False) -> Path:
    """THREE_TASKS; ``slow``: a lossless WebP at effort 6 (about 0.5 s a file), so that 16 files keep two
    workers busy for seconds and a signal sent after the first outputs lands mid-run."""
    definition = json.loads(json.dumps(THREE_TASKS))
    if slow:
        webp = next(node for node in definition["nodes"] if node["id"] == "webp")
        webp["config"] = {**webp["config"], "lossless": True, "effort": 6}
        next(node for node in definition["nodes"] if node["id"] == "small")["config"]["width"] = 1200
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(definition))
    return path


def _steps(data_dir: Path) -> dict[tuple[str, str], int]:
    """Completed step records per (run, node) in the data dir's database."""
    import sqlite3

    counts: dict[tuple[str, str], int] = {}
    with sqlite3.connect(data_dir / "mediaflow.sqlite3") as conn:
        for run_id, node_id, body in conn.execute("SELECT run_id, node_id, body FROM steps"):
            if json.loads(body).get("status") == "completed":
                counts[(run_id, node_id)] = counts.get((run_id, node_id), 0) + 1
    return counts


def test_mediaflow_run_killed_then_run_again_completes_without_duplicates(tmp_path: Path, data_dir: Path,
                                                                           inputs: Path) -> None:
    workflow, out = _workflow(tmp_path), tmp_path / "out"
    command = [sys.executable, "-m", "mediaflow.cli", "run", str(workflow), str(inputs), "--out", str(out),
               "--json", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env=cli_env(data_dir), cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    kept = out / "kept"
    wait_for(lambda: kept.exists() and len(list(kept.glob("*.webp"))) >= 3, 300, "a few files to finish")
    children = descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert wait_gone(children, timeout=30) == [], "no worker outlives the killed `mediaflow run`"
    done_before = len(list(kept.glob("*.webp")))
    steps_before = _steps(data_dir)

    again = mediaflow("run", str(workflow), str(inputs), "--out", str(out), "--json", "--data-dir", str(data_dir),
                      data_dir=data_dir, timeout=600)
    report = json.loads(again.stdout)
    assert again.returncode == 0, [(r["input"], r["status"], r["error"]) for r in report["results"]
                                   if r["status"] != "completed"]
    assert report["completed"] == 16 and report["failed"] == 0
    assert sum(result["reused"] for result in report["results"]) >= done_before - 1
    files = sorted(p.name for p in kept.iterdir())
    assert len(files) == 16 and not any("-2." in name or "-1." in name for name in files), files
    steps_after = _steps(data_dir)
    assert all(count == 1 for count in steps_after.values()), "no node ran twice for one run"
    assert all(steps_after.get(key) == 1 for key in steps_before)  # nothing done before was redone

    third = mediaflow("run", str(workflow), str(inputs), "--out", str(out), "--json", "--data-dir", str(data_dir),
                      data_dir=data_dir, timeout=600)
    assert third.returncode == 0 and all(r["reused"] for r in json.loads(third.stdout)["results"])
    assert sorted(p.name for p in kept.iterdir()) == files and _steps(data_dir) == steps_after

    forced = mediaflow("run", str(workflow), str(inputs), "--out", str(out), "--json", "--force",
                       "--data-dir", str(data_dir), data_dir=data_dir, timeout=600)
    assert forced.returncode == 0 and not any(r["reused"] for r in json.loads(forced.stdout)["results"])


def test_scratch_of_killed_workers_is_removed_and_a_live_owners_kept(tmp_path: Path, data_dir: Path,
                                                                     inputs: Path) -> None:
    """A worker killed with SIGKILL leaves its scratch folder (a half-written output in it); the next worker to
    start removes it. A folder whose owner still holds its lock (a worker of another process on the same data
    dir) stays, and the run's own workers take their folders with them when they exit."""
    tmp = data_dir / "tmp"
    killed = tmp / "worker-4194000" / "vips-abc"  # as a worker killed mid-Task leaves it: no owner lock held
    killed.mkdir(parents=True)
    (killed / "out.webp").write_bytes(b"RIFF" + bytes(1 << 16))
    (killed.parent / ".owner").touch()
    living = tmp / "worker-4194001"
    living.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); "
        "print('held', flush=True); sys.stdin.read()"), str(living / ".owner")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = mediaflow("run", str(_workflow(tmp_path)), str(inputs), "--out", str(tmp_path / "out"), "--json",
                         "--data-dir", str(data_dir), data_dir=data_dir, timeout=600)
        assert done.returncode == 0 and json.loads(done.stdout)["completed"] == 16
        assert not killed.parent.exists(), "the killed worker's scratch is removed"
        assert living.is_dir(), "a folder whose owner lives is kept"
        assert sorted(p.name for p in tmp.glob("worker-*")) == [living.name], "the run's workers took theirs along"
    finally:
        holder.communicate("", timeout=30)


def test_mediaflow_run_drains_on_sigterm_and_finishes_when_run_again(tmp_path: Path, data_dir: Path,
                                                                      inputs: Path) -> None:
    workflow, out = _workflow(tmp_path, slow=True), tmp_path / "out"
    command = [sys.executable, "-m", "mediaflow.cli", "run", str(workflow), str(inputs), "--out", str(out),
               "--json", "--grace-seconds", "30", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env=cli_env(data_dir), cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    kept = out / "kept"
    wait_for(lambda: kept.exists() and len(list(kept.glob("*.webp"))) >= 2, 300, "a few files to finish")
    children = descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=180)
    # an orderly stop, the rest checkpointed, but not a whole batch: EX_TEMPFAIL, and --json still prints JSON
    assert process.returncode == 75, stdout[-2000:] + stderr[-2000:]
    assert "checkpointed" in stderr
    summary = json.loads(stdout)
    assert summary["stopped"] is True and summary["total"] == 16 and summary["failed"] == 0
    assert summary["completed"] + summary["pending"] == 16 and summary["pending"] > 0
    assert summary["completed"] == sum(1 for r in summary["results"] if r["status"] == "completed")
    assert wait_gone(children, timeout=30) == []
    again = mediaflow("run", str(workflow), str(inputs), "--out", str(out), "--json", "--data-dir", str(data_dir),
                      data_dir=data_dir, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:]
    assert len(list(kept.iterdir())) == 16
    assert all(count == 1 for count in _steps(data_dir).values())


def test_ctrl_c_counts_only_ended_files_as_done(tmp_path: Path, data_dir: Path, inputs: Path) -> None:
    """Ctrl-C (SIGINT) mid-run: the progress bar counts the files that ended, and with the ones left for the next
    command it makes the whole (it counted the checkpointed ones as done: "16/16", then "stopped: 12")."""
    import re

    workflow, out = _workflow(tmp_path, slow=True), tmp_path / "out"
    command = [sys.executable, "-m", "mediaflow.cli", "run", str(workflow), str(inputs), "--out", str(out),
               "--grace-seconds", "0", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env=cli_env(data_dir), cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    kept = out / "kept"
    wait_for(lambda: kept.exists() and len(list(kept.glob("*.webp"))) >= 2, 300, "a few files to finish")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 75, stdout[-2000:] + stderr[-3000:]
    counted = int(re.findall(r"(\d+)/16", stdout)[-1])
    left = int(re.search(r"stopped: (\d+) run", stdout).group(1))  # type: ignore[union-attr]
    assert counted + left == 16 and counted == len(list(kept.glob("*.webp"))), stdout[-2000:]


WRITER = r"""
import sys, time
from pathlib import Path
from mediaflow.adapters.embedded import open_embedded
from mediaflow.adapters.embedded.durable import DurableStore

data_dir, me, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
adapters = open_embedded(data_dir)
durable = DurableStore(adapters.db)
runs = adapters.runs
for n in range(count):
    run_id = f"run-{me}-{n}"
    runs.create_run({"tenant": "t", "runId": run_id, "workflowId": "wf", "status": "pending", "input": {}})
    runs.update_run("t", run_id, status="running")
    runs.record_step("t", run_id, {"nodeId": "a", "kind": "resize", "status": "completed", "startedAt": "x",
                                   "endedAt": "x", "durationMs": 1.0})
    durable.save_checkpoint(run_id, "k", {"n": n})
    assert durable.claim(f"shared-{n}", 60)[0] in (True, False)
    runs.update_run("t", run_id, status="completed")
print("ok")
"""


def test_sqlite_busy_under_concurrent_writers(data_dir: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), str(n), "60"], env=cli_env(data_dir),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(6)]
    outcomes = [writer.communicate(timeout=300) for writer in writers]
    assert [writer.returncode for writer in writers] == [0] * 6, [err[-1500:] for _, err in outcomes]
    from mediaflow.adapters.embedded import open_embedded
    from mediaflow.adapters.embedded.durable import DurableStore

    adapters = open_embedded(data_dir)
    runs = adapters.runs.list_runs("t", limit=1000)
    assert len(runs) == 360 and {run["status"] for run in runs} == {"completed"}
    assert sum(len(adapters.runs.steps("t", run["runId"])) for run in runs) == 360
    durable = DurableStore(adapters.db)
    assert all(durable.checkpoint(run["runId"], "k")[0] for run in runs)
    held = adapters.db.read("SELECT COUNT(*) AS n FROM leases")[0]["n"]
    assert held == 60  # one holder per name, however many processes asked


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_while_writing_an_output_fails_the_run_and_keeps_the_original(
        tmp_path: Path, data_dir: Path) -> None:
    from mediaflow import samples

    source = samples.photo(tmp_path / "noise.jpg", 2400, 1600, quality=50)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    workflow = tmp_path / "png.json"
    workflow.write_text(json.dumps({"name": "big png", "nodes": [
        {"id": "upload", "kind": "upload"}, {"id": "png", "kind": "convert", "config": {"outputFormat": "png"}}],
        "edges": [{"source": "upload", "target": "png"}]}))
    out = tmp_path / "out"
    limit = 2 * 1024 * 1024  # the input and the database fit; the PNG of a noisy photo does not
    assert source.stat().st_size < limit // 2
    result = subprocess.run([sys.executable, "-m", "mediaflow.cli", "run", str(workflow), str(source), "--out",
                             str(out), "--json", "--data-dir", str(data_dir)], env=cli_env(data_dir), cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, preexec_fn=lambda: _limit_file_size(limit))
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    [run] = json.loads(result.stdout)["results"]
    assert run["status"] == "failed" and run["error"]["error"] == "StorageFull", run["error"]
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest
    stored = list((data_dir / "blobs" / "local").rglob("noise.jpg"))  # the ingested original
    assert len(stored) == 1 and hashlib.sha256(stored[0].read_bytes()).hexdigest() == digest
    assert not list(out.rglob("*.png"))
    listed = mediaflow("runs", "show", run["runId"], "--json", "--data-dir", str(data_dir), data_dir=data_dir)
    steps = json.loads(listed.stdout)["steps"]
    assert any(s["status"] == "failed" and s.get("error") == "StorageFull" for s in steps), steps


_KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from mediaflow.adapters.embedded.blobstore import FolderBlobStore

def killed(fd):  # SIGKILL between the bytes landing under a temporary name and the rename to the key
    os.kill(os.getpid(), signal.SIGKILL)

os.fsync = killed
FolderBlobStore(Path(sys.argv[1])).put_file("t1/runs/run-k/small/out.jpg", Path(sys.argv[2]), "image/jpeg",
                                            move=True)
"""


def test_a_write_killed_mid_way_leaves_no_object_and_the_sweep_removes_its_file(tmp_path: Path,
                                                                                photo: bytes) -> None:
    from mediaflow.adapters.embedded.blobstore import FolderBlobStore
    from mediaflow.filenames import run_prefix

    root, scratch = tmp_path / "blobs", tmp_path / "scratch.jpg"
    scratch.write_bytes(photo)
    store = FolderBlobStore(root)
    store.put_bytes("t1/runs/run-k/upload/in.jpg", photo, "image/jpeg")
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_MID_WRITE, str(root), str(scratch)])
    assert writer.wait(timeout=60) == -signal.SIGKILL

    folder = root / "t1" / "runs" / "run-k" / "small"
    left = [p.name for p in folder.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".mf-tmp-{writer.pid}-"), left  # never under the key
    assert not store.exists("t1/runs/run-k/small/out.jpg")

    assert store.sweep_unfinished(run_prefix("t1", "run-k")) == 1
    assert list(folder.iterdir()) == []
    assert list(store.list("t1/runs/run-k/")) == ["t1/runs/run-k/upload/in.jpg"]  # a finished write stays


# The command with every process it forks (zygote, workers) dying at the first output a worker makes durable:
# SIGKILL between the output's bytes landing under a temporary name in the run's folder and the rename.
_WORKER_KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path

command, marker, fsync = os.getpid(), Path(sys.argv[1]), os.fsync

def first_output_dies(fd):
    if os.getpid() != command and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    fsync(fd)

os.fsync = first_output_dies
import mediaflow.cli as cli
sys.argv = ["mediaflow", *sys.argv[2:]]
sys.exit(cli.main())
"""


def test_a_worker_killed_mid_write_leaves_no_temporary_file_once_its_run_completes(tmp_path: Path, data_dir: Path,
                                                                                 photo: bytes) -> None:
    """A run whose worker dies mid-write is retried on another worker in the same command; as it ends, its
    folder is swept of the dead writer's temporary file (a run whose Tasks all kept their worker is not listed,
    so this is the case that must still be)."""
    source, marker, out = tmp_path / "in.jpg", tmp_path / "killed-worker", tmp_path / "out"
    source.write_bytes(photo)
    result = subprocess.run([sys.executable, "-c", _WORKER_KILLED_MID_WRITE, str(marker), "run",
                             str(_workflow(tmp_path)), str(source), "--out", str(out), "--json",
                             "--data-dir", str(data_dir)], env=cli_env(data_dir), cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [run] = json.loads(result.stdout)["results"]
    assert run["status"] == "completed", run
    assert marker.exists(), "no worker was killed"  # the kill happened, the Task ran again
    assert not list((data_dir / "blobs").rglob(".mf-tmp-*")), "a dead writer's temporary file was left"
    assert len([p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]) == 1
