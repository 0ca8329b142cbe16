"""What only the embedded adapters do: atomic folder writes, SQLite (WAL, several processes, immutable rows),
the in-process event bus. The contract both adapter sets share is tests/functional/test_port_contracts.py."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from mediaflow.adapters.embedded import (
    Event,
    FolderBlobStore,
    InProcessEventBus,
    InvalidKeyError,
    SQLiteDatabase,
    SQLiteIdempotency,
    SQLiteKeyStore,
    SQLiteRunStore,
    SQLiteWorkflowStore,
    open_embedded,
)
from mediaflow.errors import Conflict, NotFound

pytestmark = pytest.mark.functional


@pytest.fixture
def blobs(tmp_path: Path) -> FolderBlobStore:
    return FolderBlobStore(tmp_path / "blobs", bucket="local", fsync=False)


@pytest.fixture
def db(tmp_path: Path) -> SQLiteDatabase:
    return SQLiteDatabase.in_dir(tmp_path)


# -- blob store ------------------------------------------------------------------------------------------


def test_put_head_and_read_back(blobs: FolderBlobStore, tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    ref = blobs.put_bytes("t1/uploads/cat.png", data, "image/png")
    assert (ref.bucket, ref.key, ref.size, ref.content_type) == ("local", "t1/uploads/cat.png", len(data),
                                                                 "image/png")
    assert ref.etag == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    assert ref.media_type == "image"
    assert ref.filename == "cat.png"
    assert blobs.head("t1/uploads/cat.png") == ref
    assert blobs.read_range("t1/uploads/cat.png", 0, 8) == data[:8]
    assert blobs.read_range("t1/uploads/cat.png", len(data) - 2, 100) == data[-2:]
    out = blobs.download("t1/uploads/cat.png", tmp_path / "dl" / "x.png")
    assert out.read_bytes() == data
    assert blobs.exists("t1/uploads/cat.png")
    assert blobs.url("t1/uploads/cat.png").startswith("file:///")


def test_writing_the_same_bytes_again_is_a_no_op(blobs: FolderBlobStore, tmp_path: Path) -> None:
    first = blobs.put_bytes("t1/runs/r1/n1/out.jpg", b"pixels", "image/jpeg", overwrite=False)
    second = blobs.put_bytes("t1/runs/r1/n1/out.jpg", b"pixels", "image/jpeg", overwrite=False)
    assert second == first
    with pytest.raises(Conflict):
        blobs.put_bytes("t1/runs/r1/n1/out.jpg", b"other pixels", "image/jpeg", overwrite=False)
    assert sorted(blobs.list("t1/runs/r1/")) == ["t1/runs/r1/n1/out.jpg"]


def test_a_moved_file_is_stored_without_writing_its_bytes_again(blobs: FolderBlobStore, tmp_path: Path) -> None:
    scratch = tmp_path / "work" / "task-1"
    scratch.mkdir(parents=True)
    output = scratch / "output.jpg"
    data = b"\xff\xd8\xff" + bytes(range(256)) * 40
    output.write_bytes(data)
    written = output.stat().st_ino
    ref = blobs.put_file("t1/runs/r1/n1/output.jpg", output, "image/jpeg", move=True)
    assert not output.exists()  # taken, not copied
    stored = blobs.local_path("t1/runs/r1/n1/output.jpg")
    assert stored.stat().st_ino == written
    assert stored.read_bytes() == data
    assert ref.etag == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    assert (ref.size, ref.content_type) == (len(data), "image/jpeg")
    assert blobs.head("t1/runs/r1/n1/output.jpg") == ref
    assert not [p.name for p in stored.parent.iterdir() if p.name.startswith(".mf-tmp-")]


def test_a_moved_file_follows_the_create_only_rules(blobs: FolderBlobStore, tmp_path: Path) -> None:
    def scratch_file(data: bytes) -> Path:
        path = tmp_path / f"scratch-{len(data)}-{data[:1].hex()}"
        path.write_bytes(data)
        return path

    first = blobs.put_file("t1/runs/r1/n1/out.jpg", scratch_file(b"pixels"), "image/jpeg", overwrite=False,
                           move=True)
    again = blobs.put_file("t1/runs/r1/n1/out.jpg", scratch_file(b"pixels"), "image/jpeg", overwrite=False,
                           move=True)
    assert again == first
    with pytest.raises(Conflict):
        blobs.put_file("t1/runs/r1/n1/out.jpg", scratch_file(b"other pixels"), "image/jpeg", overwrite=False,
                       move=True)
    assert blobs.local_path("t1/runs/r1/n1/out.jpg").read_bytes() == b"pixels"
    assert sorted(blobs.list("t1/runs/r1/")) == ["t1/runs/r1/n1/out.jpg"]


def test_a_stored_object_is_never_moved_away(blobs: FolderBlobStore) -> None:
    """Tasks read their inputs in place in the store: handing one back with ``move`` copies it."""
    blobs.put_bytes("t1/uploads/in.jpg", b"original", "image/jpeg")
    stored_input = blobs.local_path("t1/uploads/in.jpg")
    ref = blobs.put_file("t1/runs/r1/n1/in.jpg", stored_input, "image/jpeg", move=True)
    assert blobs.local_path("t1/uploads/in.jpg").read_bytes() == b"original"
    assert blobs.head("t1/uploads/in.jpg").size == len(b"original")
    assert blobs.local_path(ref.key).read_bytes() == b"original"
    assert blobs.local_path(ref.key).stat().st_ino != stored_input.stat().st_ino


def test_a_move_across_file_systems_copies(blobs: FolderBlobStore, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    source = tmp_path / "elsewhere.bin"
    source.write_bytes(b"bytes on another disk")

    def cross_device(self: Path, target: Path) -> Path:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(Path, "rename", cross_device)
    ref = blobs.put_file("t1/runs/r1/n1/out.bin", source, "application/octet-stream", move=True)
    assert blobs.local_path(ref.key).read_bytes() == b"bytes on another disk"
    assert ref.size == len(b"bytes on another disk")


def test_a_linked_symbolic_link_stores_the_file_it_names(blobs: FolderBlobStore, tmp_path: Path) -> None:
    """`mediaflow run` links its inputs in; a relative symbolic link among them must bring the file it names,
    not itself (which names nothing from inside the store). A symbolic link an earlier version stored under a
    key is replaced by the file when the input is linked in again."""

    (tmp_path / "photos").mkdir()
    photo = tmp_path / "photos" / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 the photo's bytes")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "again.jpg").symlink_to("../photos/photo.jpg")
    ref = blobs.put_link("t1/inputs/r1/again.jpg", tmp_path / "links" / "again.jpg", "image/jpeg",
                         overwrite=False, etag="f1")
    stored = blobs.local_path(ref.key)
    assert not stored.is_symlink() and stored.samefile(photo)
    assert blobs.head(ref.key).size == photo.stat().st_size

    broken = blobs.local_path("t1/inputs/r2/again.jpg")
    broken.parent.mkdir(parents=True)
    broken.symlink_to("../photos/photo.jpg")  # what link(2) of the symbolic link itself left
    assert not blobs.exists("t1/inputs/r2/again.jpg")
    blobs.put_link("t1/inputs/r2/again.jpg", tmp_path / "links" / "again.jpg", "image/jpeg", overwrite=False,
                   etag="f1")
    assert not broken.is_symlink() and broken.samefile(photo)


def test_concurrent_create_only_writes_have_one_winner(blobs: FolderBlobStore) -> None:
    def attempt(n: int) -> bool:
        try:
            blobs.put_bytes("t1/race.bin", bytes([n]) * 1000, "application/octet-stream", overwrite=False)
        except Conflict:
            return False
        return True

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(32)))
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    assert blobs.read_range("t1/race.bin", 0, 2000) == bytes([winner]) * 1000


def test_readers_never_see_a_partial_object(blobs: FolderBlobStore) -> None:
    size = 256 * 1024
    blobs.put_bytes("t1/big.bin", b"a" * size, "application/octet-stream")
    stop = threading.Event()
    torn: list[bytes] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            blobs.put_bytes("t1/big.bin", (b"a" if n % 2 else b"b") * size, "application/octet-stream")
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(200):
            content = blobs.local_path("t1/big.bin").read_bytes()
            if len(content) != size or len(set(content)) != 1:
                torn.append(content[:10])
    finally:
        stop.set()
        thread.join()
    assert torn == []
    assert not [p for p in (blobs.root / "t1").iterdir() if p.name.startswith(".mf-tmp-")]


def test_the_sweep_takes_what_dead_writers_left_and_keeps_the_rest(blobs: FolderBlobStore) -> None:
    import os
    import subprocess
    import sys
    import time

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    blobs.put_bytes("t1/runs/r1/small/a.jpg", b"stored", "image/jpeg")
    folder, meta = blobs.root / "t1" / "runs" / "r1" / "small", blobs.root / ".mf-meta" / "t1" / "runs" / "r1"
    meta.mkdir(parents=True, exist_ok=True)
    dead = [folder / f".mf-tmp-{gone.pid}-a1", meta / f".mf-tmp-{gone.pid}-b2", folder / ".mf-tmp-0c3d"]
    live = [folder / f".mf-tmp-{os.getpid()}-e4", folder / ".mf-tmp-5f6a"]  # this process; a recent unnamed one
    for path in dead + live:
        path.write_bytes(b"half")
    hours_ago = time.time() - 2 * 3600
    os.utime(dead[2], (hours_ago, hours_ago))
    other_run = blobs.root / "t1" / "runs" / "r2" / f".mf-tmp-{gone.pid}-x"
    other_run.parent.mkdir(parents=True)
    other_run.write_bytes(b"not this run's")

    assert blobs.sweep_unfinished("t1/runs/r1") == 3
    assert [p for p in dead if p.exists()] == []
    assert all(p.exists() for p in live) and other_run.exists()
    assert blobs.local_path("t1/runs/r1/small/a.jpg").read_bytes() == b"stored"
    assert blobs.head("t1/runs/r1/small/a.jpg").size == 6
    assert blobs.sweep_unfinished("t1/runs/r9") == 0  # a run that wrote nothing


def test_a_write_names_its_temporary_after_its_writer(blobs: FolderBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    seen: list[str] = []
    real_replace = Path.replace

    def replace(self: Path, target: Any) -> Path:
        seen.append(self.name)
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    blobs.put_bytes("t1/x.bin", b"x", "application/octet-stream")
    assert seen and all(name.startswith(f".mf-tmp-{os.getpid()}-") for name in seen), seen


@pytest.mark.parametrize("key", [
    "", "/etc/passwd", "../escape", "t1/../../escape", "t1/./x", "t1//x", "t1\\x", "t1/x\x00", "C:/x",
    "t1/.mf-meta/x", "t1/x/", "a" * 1100,
])
def test_unsafe_keys_are_refused(blobs: FolderBlobStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        blobs.put_bytes(key, b"x", "text/plain")


def test_head_of_a_file_placed_by_hand(blobs: FolderBlobStore) -> None:
    path = blobs.root / "t1" / "uploads" / "manual.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"jpeg-bytes")
    ref = blobs.head("t1/uploads/manual.jpg")
    assert (ref.content_type, ref.size) == ("image/jpeg", 10)
    assert ref.etag == hashlib.sha1(b"jpeg-bytes", usedforsecurity=False).hexdigest()


# -- SQLite: workflows -------------------------------------------------------------------------------------


def test_database_runs_in_wal_mode(db: SQLiteDatabase) -> None:
    assert db.journal_mode() == "wal"
    assert db.connection().execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def _open_fresh_databases(folder: str, worker: int, rounds: int, barrier: Any, errors: Any) -> None:
    for round_ in range(rounds):
        barrier.wait()
        try:
            runs = SQLiteRunStore(SQLiteDatabase(Path(folder) / f"fresh-{round_}.sqlite3"))
            runs.create_run({"tenant": "t1", "runId": f"r{worker}", "workflowId": "wf"})
        except sqlite3.OperationalError as error:
            errors.put(f"round {round_}: {error}")


def test_processes_opening_a_fresh_database_together_all_get_in(tmp_path: Path) -> None:
    # Switching a new file to WAL answers SQLITE_BUSY at once (no busy handler) to a process doing the same
    # at that moment; that once failed a batch run at random.
    context = multiprocessing.get_context("spawn")
    rounds, workers = 20, 4
    barrier, errors = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_open_fresh_databases, args=(str(tmp_path), w, rounds, barrier, errors))
                 for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * workers
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
    for round_ in range(rounds):
        db = SQLiteDatabase(tmp_path / f"fresh-{round_}.sqlite3")
        assert db.journal_mode() == "wal"
        assert len(SQLiteRunStore(db).list_runs("t1")) == workers


def test_stored_workflow_versions_are_immutable(db: SQLiteDatabase) -> None:
    store = SQLiteWorkflowStore(db)
    store.put("t1", {"id": "wf", "name": "Thumbs", "definition": {"nodes": []}}, expected_version=0)
    with pytest.raises(sqlite3.IntegrityError):
        db.connection().execute("UPDATE workflow_versions SET body = '{}'")


# -- SQLite: runs ------------------------------------------------------------------------------------------


def test_run_updates_merge_and_recorded_steps_are_immutable(db: SQLiteDatabase) -> None:
    runs = SQLiteRunStore(db)
    runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "wf"})
    runs.update_run("t1", "r1", status="running", started_at="2024-01-01T00:00:00.000Z")
    runs.update_run("t1", "r1", progress={"tasksSucceeded": 1})
    done = runs.update_run("t1", "r1", status="completed", endedAt="2024-01-01T00:00:01.000Z")
    assert done["progress"] == {"tasksSucceeded": 1}
    assert (done["startedAt"], done["endedAt"]) == ("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:01.000Z")
    runs.record_step("t1", "r1", {"nodeId": "n0", "status": "completed"})
    with pytest.raises(sqlite3.IntegrityError):
        db.connection().execute("UPDATE steps SET body = '{}'")


def _record_steps(db_path: str, worker: int) -> None:
    runs = SQLiteRunStore(SQLiteDatabase(Path(db_path), busy_timeout_ms=60_000))
    for n in range(25):
        runs.record_step("t1", "r1", {"nodeId": f"w{worker}-{n}", "status": "completed"})
        runs.update_run("t1", "r1", progress={"worker": worker, "n": n})


def test_several_processes_write_to_one_database(db: SQLiteDatabase) -> None:
    runs = SQLiteRunStore(db)
    runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "wf"})
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_record_steps, args=(str(db.path), worker)) for worker in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    steps = runs.steps("t1", "r1")
    assert len(steps) == 100
    for worker in range(4):
        mine = [s["nodeId"] for s in steps if s["nodeId"].startswith(f"w{worker}-")]
        assert mine == [f"w{worker}-{n}" for n in range(25)]


@contextmanager
def _lock_held_elsewhere(db: SQLiteDatabase, seconds: float) -> Iterator[SQLiteRunStore]:
    """A run store on ``db`` with run r1, while another connection holds the write lock for ``seconds``."""
    runs = SQLiteRunStore(db)
    runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "wf"})
    held = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(db.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        yield runs
    finally:
        holder.join()


def test_a_writer_takes_the_lock_soon_after_another_writer_lets_go(db: SQLiteDatabase) -> None:
    # SQLite's own busy handler sleeps 1, 2, 5, 10 ms... between tries: a worker meeting a lock held for a
    # fraction of a millisecond idled a millisecond or more. The wait now polls in tenths of a millisecond.
    with _lock_held_elsewhere(db, 0.05) as runs:
        started = time.monotonic()
        runs.update_run("t1", "r1", progress={"n": 1})
        waited = time.monotonic() - started
    assert 0.03 < waited < 2.0  # waited for the holder (50 ms), not for the 30 s busy timeout
    assert runs.get_run("t1", "r1")["progress"] == {"n": 1}
    assert db.connection().execute("PRAGMA busy_timeout").fetchone()[0] == db.busy_timeout_ms


def test_a_writer_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "busy.sqlite3", busy_timeout_ms=100)
    with _lock_held_elsewhere(db, 3.0) as runs:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            runs.update_run("t1", "r1", progress={"n": 1})
        gave_up = time.monotonic() - started
    assert 0.05 < gave_up < 2.0  # after its own 0.1 s, long before the holder lets go
    assert runs.get_run("t1", "r1")["progress"] is None  # nothing half written
    assert db.connection().execute("PRAGMA busy_timeout").fetchone()[0] == 100


def test_writes_return_the_row_they_wrote(db: SQLiteDatabase) -> None:
    runs = SQLiteRunStore(db)
    created = runs.create_run({"tenant": "t1", "runId": "r1", "workflowId": "wf", "input": {"a": 1}})
    assert created == runs.get_run("t1", "r1")
    assert runs.update_run_if("t1", "r1", {"running"}, status="completed") is None  # still pending
    running = runs.update_run_if("t1", "r1", {"pending"}, status="running")
    assert running == runs.get_run("t1", "r1") and running["status"] == "running"
    finished = runs.finish_run("t1", "r1", status="completed", output={"k": "v"})
    assert finished == runs.get_run("t1", "r1") and finished["output"] == {"k": "v"}
    assert runs.finish_run("t1", "r1", status="failed") is None  # finished once
    with pytest.raises(NotFound):
        runs.finish_run("t1", "missing", status="failed")


# -- SQLite: API keys and idempotency ---------------------------------------------------------------------


def test_api_keys_are_stored_hashed(db: SQLiteDatabase) -> None:
    api_key, _ = SQLiteKeyStore(db).create_key("t1", ["workflows:read"], name="ci")
    stored = db.connection().execute("SELECT key_hash FROM api_keys").fetchone()[0]
    assert stored == hashlib.sha256(api_key.encode()).hexdigest()
    assert api_key.encode() not in db.path.read_bytes()


def test_expired_idempotency_records_are_purged(db: SQLiteDatabase) -> None:
    now = [1000.0]
    idem = SQLiteIdempotency(db, clock=lambda: now[0])
    idem.claim("t1:upload:etag1", ttl_seconds=60)
    idem.complete("t1:upload:etag1", {"runId": "r1"}, ttl_seconds=60)
    now[0] += 10_000
    assert idem.purge_expired() == 1


# -- event bus ---------------------------------------------------------------------------------------------


def test_bus_delivers_by_detail_type_and_records_events() -> None:
    bus = InProcessEventBus()
    seen: list[Event] = []
    failed_only: list[Event] = []
    unsubscribe = bus.subscribe(seen.append)
    bus.subscribe(failed_only.append, detail_types=["workflow.failed"])

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    bus.publish("workflow.completed", {"runId": "r1"})
    bus.publish("workflow.failed", {"runId": "r2"})
    unsubscribe()
    bus.publish("workflow.completed", {"runId": "r3"})
    assert [e.detail["runId"] for e in seen] == ["r1", "r2"]
    assert [e.detail["runId"] for e in failed_only] == ["r2"]
    assert [e.detail["runId"] for e in bus.published("workflow.completed")] == ["r1", "r3"]
    entry: dict[str, Any] = bus.events[0].to_eventbridge()
    assert (entry["source"], entry["detail-type"]) == ("mediaflow", "workflow.completed")


def test_open_embedded_shares_one_data_dir(tmp_path: Path) -> None:
    adapters = open_embedded(tmp_path)
    assert not list(tmp_path.iterdir())
    adapters.blobs.put_bytes("t1/x.txt", b"x", "text/plain")
    adapters.runs.create_run({"tenant": "t1", "runId": "r", "workflowId": "w"})
    assert (tmp_path / "blobs" / "t1" / "x.txt").is_file()
    assert adapters.db.path.parent == tmp_path
