"""The embedded runtime: compiled ASL on the in-process interpreter, Tasks in a pool of worker processes.

Each worker process builds its own TaskEnvironment once (a FolderBlobStore and a SQLite RunStore on the
same data dir as the parent) and runs ``execute_task`` for the Tasks the interpreter hands it. The run
record and the ``workflow.completed`` / ``workflow.failed`` event follow the execution's outcome.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from mediaflow.adapters.embedded import blob_root, database_path
from mediaflow.adapters.embedded.blobstore import FolderBlobStore
from mediaflow.adapters.embedded.outbox import OutboxBus
from mediaflow.adapters.embedded.sqlite import SQLiteDatabase, SQLiteRunStore, now_iso
from mediaflow.errors import InternalError, NotFound
from mediaflow.ports import BlobStore, EventBus, RunStore
from mediaflow.runs import (
    RUN_STATUS_BY_EXECUTION,
    Ended,
    RunIdentity,
    describe_error,
    find_failures,
    finish,
    output_refs,
)
from mediaflow.runtime.asl import AslInterpreter, ExecutionResult, Invoker, Sleep
from mediaflow.runtime.tasks import TaskEnvironment, execute_task
from mediaflow.settings import Settings

logger = logging.getLogger(__name__)

# -- worker processes ----------------------------------------------------------------------------------

_WORKER: dict[str, TaskEnvironment] = {}


def _init_worker(settings: Settings, blobs_root: str, bucket: str, db_path: str) -> None:
    """Process-pool initializer: build this process's TaskEnvironment once."""
    workdir = Path(settings.data_dir) / "tmp" / f"worker-{os.getpid()}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    db = SQLiteDatabase(Path(db_path))
    _WORKER["env"] = TaskEnvironment(
        blobs=FolderBlobStore(Path(blobs_root), bucket), workdir=workdir,
        runs=SQLiteRunStore(db), bus=OutboxBus(db), settings=settings,
    )


def _run_in_worker(payload: dict[str, Any]) -> dict[str, Any]:
    env = _WORKER["env"]
    # A fresh scratch folder per task, removed whatever happens.
    with tempfile.TemporaryDirectory(dir=env.workdir, prefix="task-") as scratch:
        return execute_task(payload, dataclasses.replace(env, workdir=Path(scratch)))


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class ProcessPoolInvoker:
    """An ASL invoker that runs ``execute_task`` in worker processes. The pool starts on first use."""

    def __init__(self, settings: Settings, blobs_root: Path, bucket: str, db_path: Path,
                 workers: int | None = None) -> None:
        self.settings = settings
        self.blobs_root = blobs_root
        self.bucket = bucket
        self.db_path = db_path
        self.workers = workers or settings.workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context(_start_method()),
                    initializer=_init_worker,
                    initargs=(self.settings, str(self.blobs_root), self.bucket, str(self.db_path)),
                )
            return self._pool

    def __call__(self, resource: str, payload: dict[str, Any]) -> dict[str, Any]:
        pool = self._get_pool()
        try:
            return pool.submit(_run_in_worker, payload).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            node = next(iter(payload.get("ops") or [{}])).get("nodeId")
            raise InternalError("a worker process exited while running the task", node_id=node) from None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# -- runs ----------------------------------------------------------------------------------------------


class RunHandle:
    """A run started with ``start_async``."""

    def __init__(self, run_id: str, future: Future[ExecutionResult], cancel_event: threading.Event) -> None:
        self.run_id = run_id
        self._future = future
        self._cancel = cancel_event

    def cancel(self) -> None:
        """Ask the run to stop; it ends ABORTED (run status cancelled) at the next state boundary."""
        self._cancel.set()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> ExecutionResult:
        return self._future.result(timeout)


class EmbeddedRuntime:
    """Runs compiled state machines on this machine and keeps the run records and events."""

    def __init__(
        self,
        settings: Settings,
        blobs: BlobStore,
        runs: RunStore,
        bus: EventBus,
        *,
        invoker: Invoker | None = None,
        sleep: Sleep | None = None,
        max_concurrent_runs: int = 16,
    ) -> None:
        self.settings = settings
        self.blobs = blobs
        self.runs = runs
        self.bus = bus
        self.sleep = sleep
        self._own_invoker: ProcessPoolInvoker | None = None
        self._outbox: OutboxBus | None = None
        if invoker is None:
            db_path = runs.db.path if isinstance(runs, SQLiteRunStore) else database_path(settings.data_dir)
            self._own_invoker = ProcessPoolInvoker(
                settings,
                blobs.root if isinstance(blobs, FolderBlobStore) else blob_root(settings.data_dir),
                blobs.bucket,
                db_path,
            )
            self._outbox = OutboxBus(runs.db if isinstance(runs, SQLiteRunStore) else SQLiteDatabase(db_path))
            invoker = self._draining(self._own_invoker)
        self.invoker: Invoker = invoker
        self._runs_pool = ThreadPoolExecutor(max_workers=max_concurrent_runs,
                                             thread_name_prefix="mediaflow-run")
        self._active: dict[str, RunHandle] = {}
        self._lock = threading.Lock()

    # -- public ----------------------------------------------------------------------------------------

    def start(self, asl: dict[str, Any], input: dict[str, Any], run_id: str) -> ExecutionResult:
        """Run to the end in this thread."""
        self._ensure_run(input, run_id)
        return self._execute(asl, input, run_id, threading.Event())

    def start_async(self, asl: dict[str, Any], input: dict[str, Any], run_id: str) -> RunHandle:
        """Record the run as pending and run it on a background thread."""
        self._ensure_run(input, run_id)
        cancel_event = threading.Event()
        future = self._runs_pool.submit(self._execute, asl, input, run_id, cancel_event)
        handle = RunHandle(run_id, future, cancel_event)
        with self._lock:
            self._active[run_id] = handle
        future.add_done_callback(lambda _: self._forget(run_id))
        return handle

    def cancel(self, run_id: str) -> bool:
        """Cancel a run started with ``start_async``; False when it is not running here."""
        with self._lock:
            handle = self._active.get(run_id)
        if handle is None:
            return False
        handle.cancel()
        return True

    def close(self) -> None:
        with self._lock:
            handles = list(self._active.values())
        for handle in handles:
            handle.cancel()
        self._runs_pool.shutdown(wait=True)
        if self._own_invoker is not None:
            self._own_invoker.close()

    def __enter__(self) -> EmbeddedRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------------

    def _draining(self, invoker: Invoker) -> Invoker:
        """Events that worker processes published (webhook/notify/publish nodes) reach this bus after each task."""
        def invoke(resource: str, payload: dict[str, Any]) -> dict[str, Any]:
            try:
                return invoker(resource, payload)
            finally:
                if self._outbox is not None:
                    self._outbox.drain(self.bus)

        return invoke

    def _forget(self, run_id: str) -> None:
        with self._lock:
            self._active.pop(run_id, None)

    def _identity(self, input: dict[str, Any]) -> tuple[str, str, int]:
        run = input.get("run")
        if not isinstance(run, dict):
            run = {}
        return (str(run.get("tenant") or self.settings.tenant), str(run.get("workflowId") or "adhoc"),
                int(run.get("version") or 1))

    def _ensure_run(self, input: dict[str, Any], run_id: str) -> None:
        tenant, workflow_id, version = self._identity(input)
        try:
            self.runs.get_run(tenant, run_id)
        except NotFound:
            self.runs.create_run({"tenant": tenant, "runId": run_id, "workflowId": workflow_id,
                                  "version": version, "status": "pending", "input": input})

    def _execute(self, asl: dict[str, Any], input: dict[str, Any], run_id: str,
                 cancel_event: threading.Event) -> ExecutionResult:
        tenant, workflow_id, version = self._identity(input)
        started_at = now_iso()  # the run stays pending until a worker starts its first task (runs.begin_task)
        counts = {"tasksSucceeded": 0, "tasksFailed": 0}
        counts_lock = threading.Lock()

        def on_event(event: dict[str, Any]) -> None:
            if event["type"] not in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
                return
            with counts_lock:
                counts["tasksSucceeded" if event["type"] == "TaskSucceeded" else "tasksFailed"] += 1
                progress = dict(counts)
            try:
                self.runs.update_run(tenant, run_id, progress=progress)
            except Exception:  # progress is best effort; the final update carries the outcome
                logger.exception("could not record progress of run %s", run_id)

        try:
            interpreter = AslInterpreter(asl, self.invoker, sleep=self.sleep, on_event=on_event,
                                         state_machine_name=f"mediaflow-{workflow_id}")
            result = interpreter.execute(input, name=run_id, cancel=cancel_event)
        except Exception as exc:  # an invalid document: the run fails rather than staying "running"
            result = ExecutionResult(status="FAILED", error="States.Runtime", cause=str(exc), name=run_id)
        self._finish(result, input, tenant, workflow_id, version, run_id, started_at, dict(counts))
        return result

    def _finish(self, result: ExecutionResult, input: dict[str, Any], tenant: str, workflow_id: str,
                version: int, run_id: str, started_at: str, progress: dict[str, int]) -> None:
        identity = RunIdentity(tenant, run_id, workflow_id, version, started_at)
        finish(identity, Ended(result.status, result.output, result.error, result.cause), execution_input=input,
               runs=self.runs, bus=self.bus, progress=progress)


__all__ = ["RUN_STATUS_BY_EXECUTION", "EmbeddedRuntime", "ProcessPoolInvoker", "RunHandle", "describe_error",
           "find_failures", "output_refs"]
