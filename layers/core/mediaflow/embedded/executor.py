"""The embedded runtime: compiled ASL on the in-process interpreter, Tasks in a pool of worker processes.

Each worker process builds its own TaskEnvironment once (a FolderBlobStore and a SQLite RunStore on the
same data dir as the parent) and runs ``execute_task`` for the Tasks the interpreter hands it. The run
record and the ``workflow.completed`` / ``workflow.failed`` event follow the execution's outcome.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mediaflow.adapters.embedded import blob_root, database_path
from mediaflow.adapters.embedded.blobstore import FolderBlobStore
from mediaflow.adapters.embedded.durable import DurableStore
from mediaflow.adapters.embedded.outbox import OutboxBus
from mediaflow.adapters.embedded.sqlite import SQLiteDatabase, SQLiteRunStore
from mediaflow.clock import now_iso
from mediaflow.embedded.workerpool import PoolDraining, WorkerLost, WorkerPool, checkpoint_key, task_node
from mediaflow.errors import Conflict, InternalError, NotFound
from mediaflow.execution.asl import AslInterpreter, ExecutionResult, Invoker, Sleep
from mediaflow.filenames import run_prefix
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
from mediaflow.settings import Settings

logger = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed", "cancelled"})
PROGRESS_SECONDS = 0.25
"""The least time between two writes of a running run's Task counts (its end writes the last ones)."""


# -- worker processes ----------------------------------------------------------------------------------


class ProcessPoolInvoker:
    """An ASL invoker that runs ``execute_task`` in worker processes (see embedded/workerpool.py); the pool
    starts on first use. It measures a Task's timeout itself, from when a worker takes the task."""

    measures_timeout = True

    def __init__(self, settings: Settings, blobs_root: Path, bucket: str, db_path: Path,
                 workers: int | None = None) -> None:
        self.settings = settings
        self.blobs_root = blobs_root
        self.bucket = bucket
        self.db_path = db_path
        self.workers = workers or settings.workers
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def pool(self) -> WorkerPool:
        with self._lock:
            if self._pool is None:
                if self._closed:
                    raise PoolDraining("the runtime is stopping and takes no more tasks")
                self._pool = WorkerPool(self.workers, (self.settings, str(self.blobs_root), self.bucket,
                                                       str(self.db_path)))
            return self._pool

    def prestart(self, count: int, modules: tuple[str, ...] = ()) -> None:
        self.pool.prestart(count, modules)

    def interrupted(self, run_id: str) -> bool:
        """Whether a Task of ``run_id`` lost its worker mid-way (``WorkerPool.interrupted``)."""
        with self._lock:
            pool = self._pool
        return pool is None or pool.interrupted(run_id)

    def __call__(self, resource: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
        try:
            return self.pool.run(payload, timeout)
        except WorkerLost as lost:
            node = task_node(payload)
            raise InternalError(f"{lost.message} (each time it was tried)", node_id=node) from None

    def drain(self, grace_seconds: float) -> int:
        with self._lock:
            pool, self._closed = self._pool, True
        return pool.drain(grace_seconds) if pool is not None else 0

    def close(self) -> None:
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.close()


class CheckpointingInvoker:
    """Answers a Task of a run from its checkpoint when it already completed, else runs it and records the
    result; events that worker processes published reach the bus after each task."""

    measures_timeout = True

    def __init__(self, invoker: ProcessPoolInvoker, durable: DurableStore | None, outbox: OutboxBus | None,
                 bus: EventBus) -> None:
        self.invoker = invoker
        self.durable = durable
        self.outbox = outbox
        self.bus = bus

    def __call__(self, resource: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
        run = payload.get("run") if isinstance(payload, dict) else None
        run_id = run.get("runId") if isinstance(run, dict) else None
        key = checkpoint_key(payload) if run_id and self.durable else None
        if key is not None and self.durable is not None:
            done, result = self.durable.checkpoint(str(run_id), key)
            if done:
                return result
        try:
            result = self.invoker(resource, payload, timeout)
        finally:
            if self.outbox is not None:
                self.outbox.drain(self.bus)
        return result  # the worker saved the checkpoint, in one transaction with the Task's step records


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
        self.durable: DurableStore | None = DurableStore(runs.db) if isinstance(runs, SQLiteRunStore) else None
        if invoker is None:
            db_path = runs.db.path if isinstance(runs, SQLiteRunStore) else database_path(settings.data_dir)
            self._own_invoker = ProcessPoolInvoker(
                settings,
                blobs.root if isinstance(blobs, FolderBlobStore) else blob_root(settings.data_dir),
                blobs.bucket,
                db_path,
            )
            self._outbox = OutboxBus(runs.db if isinstance(runs, SQLiteRunStore) else SQLiteDatabase(db_path))
            invoker = CheckpointingInvoker(self._own_invoker, self.durable, self._outbox, bus)
        self.invoker: Invoker = invoker
        self._runs_pool = ThreadPoolExecutor(max_workers=max_concurrent_runs,
                                             thread_name_prefix="mediaflow-run")
        self._active: dict[str, RunHandle] = {}
        self._leased: set[str] = set()
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._fresh: set[str] = set()  # runs created by this runtime whose Tasks all run on its own pool
        self._suspending = threading.Event()
        self._stopped = threading.Event()  # ends the lease renewals
        self._heartbeat: threading.Thread | None = None

    # -- public ----------------------------------------------------------------------------------------

    def prestart_workers(self, count: int, runtimes: set[str] | frozenset[str] = frozenset(),
                         kinds: set[str] | frozenset[str] = frozenset()) -> None:
        """Start up to ``count`` worker processes now (tasks are known to be coming), with the workers of
        ``runtimes`` and the node modules of ``kinds`` loaded before they fork."""
        if self._own_invoker is not None and count > 0:
            from mediaflow.catalog import worker_modules

            self._own_invoker.prestart(count, worker_modules(runtimes, kinds))
        # Made here, on one thread: runs starting on several threads at once would each try to create them,
        # and wait on one another's write lock.
        if self.durable is not None:
            self.durable.ready()
        if self._outbox is not None:
            self._outbox.ready()

    def start(self, asl: dict[str, Any], input: dict[str, Any], run_id: str) -> ExecutionResult:
        """Run to the end in this thread."""
        record = self._ensure_run(asl, input, run_id)
        cancel_event = threading.Event()
        with self._lock:
            self._leased.add(run_id)
            self._cancels[run_id] = cancel_event
        try:
            return self._execute(asl, input, run_id, cancel_event, record)
        finally:
            self._forget(run_id)

    def start_async(self, asl: dict[str, Any], input: dict[str, Any], run_id: str) -> RunHandle:
        """Record the run as pending and run it on a background thread."""
        return self._submit(asl, input, run_id, self._ensure_run(asl, input, run_id))

    def _submit(self, asl: dict[str, Any], input: dict[str, Any], run_id: str,
                record: dict[str, Any] | None = None) -> RunHandle:
        cancel_event = threading.Event()
        with self._lock:
            self._leased.add(run_id)
        future = self._runs_pool.submit(self._execute, asl, input, run_id, cancel_event, record)
        handle = RunHandle(run_id, future, cancel_event)
        with self._lock:
            self._active[run_id] = handle
            self._cancels[run_id] = cancel_event
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
        self._stopped.set()
        if self._own_invoker is not None:
            self._own_invoker.close()

    # -- durability: drain, recover, redrive ----------------------------------------------------------

    def drain(self, grace_seconds: float = 30.0) -> list[str]:
        """Stop taking work; Tasks already running get ``grace_seconds`` to finish (their results are
        checkpointed); the runs in flight stop at the next state and stay resumable (the next process to start
        on this data dir resumes them). Returns the ids of the runs left to resume."""
        self._suspending.set()
        with self._lock:
            cancels = list(self._cancels.values())
            suspended = sorted(self._leased)
        for cancel_event in cancels:
            cancel_event.set()
        if self._own_invoker is not None:
            left = self._own_invoker.drain(grace_seconds)
            if left:
                logger.warning("%d task(s) still running after %.0f s were stopped; they run again on resume",
                               left, grace_seconds)
        self._runs_pool.shutdown(wait=True)
        self._stopped.set()
        return suspended

    def recover(self, *, max_resumes: int = 3) -> dict[str, list[str]]:
        """Take over the runs whose process stopped (lease expired or owner gone) and resume them from their
        checkpoints; a run that already failed to finish ``max_resumes`` times ends failed with
        RuntimeInterrupted. Returns ``{"resumed": [...], "interrupted": [...]}``."""
        outcome: dict[str, list[str]] = {"resumed": [], "interrupted": []}
        if self.durable is None:
            return outcome
        for execution in self.durable.orphans():
            if not self.durable.take(execution.run_id, execution.owner):
                continue  # another process took it first
            try:
                status = self.runs.get_run(execution.tenant, execution.run_id)["status"]
            except NotFound:
                self.durable.finish(execution.run_id)
                continue
            if status in TERMINAL:
                self.durable.finish(execution.run_id)
                continue
            if execution.resumes + 1 > max_resumes:
                self.interrupt(execution.tenant, execution.run_id,
                               f"the run was interrupted {execution.resumes + 1} times without finishing")
                outcome["interrupted"].append(execution.run_id)
                continue
            logger.info("resuming run %s from its checkpoints", execution.run_id)
            self._submit(execution.asl, execution.input, execution.run_id)
            outcome["resumed"].append(execution.run_id)
        for tenant, run_id in self.durable.stranded(older_than_seconds=self.durable.lease_seconds):
            self.interrupt(tenant, run_id, "the run's process stopped before it recorded the run's execution")
            outcome["interrupted"].append(run_id)
        self._start_heartbeat()
        return outcome

    def interrupt(self, tenant: str, run_id: str, message: str) -> None:
        """End a run that cannot be resumed safely: failed, RuntimeInterrupted (retry accepts it)."""
        record = self.runs.get_run(tenant, run_id)
        input = record.get("input") or {}
        _, workflow_id, version = self._identity(input)
        result = ExecutionResult(status="FAILED", error="RuntimeInterrupted", cause=message, name=run_id)
        self._finish(result, input, tenant, workflow_id, version, run_id,
                     str(record.get("startedAt") or now_iso()), dict(record.get("progress") or {}))
        if self.durable is not None:
            self.durable.finish(run_id)

    def redrive(self, tenant: str, run_id: str) -> RunHandle:
        """Run a failed or cancelled run again under the same id from its failed Task: every Task that
        completed before is answered from its checkpoint (its outputs and step records are kept)."""
        execution = self.durable.reopen(run_id) if self.durable is not None else None
        if execution is None:
            raise NotFound(f"run {run_id!r} has no recorded execution to redrive", field="runId")
        self.runs.update_run(tenant, run_id, status="pending", error=None, endedAt=None)
        return self._submit(execution.asl, execution.input, run_id)

    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._heartbeat is not None or self.durable is None:
                return
            self._heartbeat = threading.Thread(target=self._renew_leases, name="mediaflow-leases", daemon=True)
            self._heartbeat.start()

    def _renew_leases(self) -> None:
        assert self.durable is not None
        interval = max(1.0, self.durable.lease_seconds / 3)
        while not self._stopped.wait(interval):
            with self._lock:
                run_ids = sorted(self._leased)
            try:
                self.durable.renew(run_ids)
            except Exception:  # a busy database delays one renewal; the lease outlasts several intervals
                logger.exception("could not renew run leases")

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
            self._leased.discard(run_id)
            self._cancels.pop(run_id, None)
            self._fresh.discard(run_id)  # a run left to resume (drained) is not fresh when it comes back

    def _identity(self, input: dict[str, Any]) -> tuple[str, str, int]:
        run = input.get("run")
        if not isinstance(run, dict):
            run = {}
        return (str(run.get("tenant") or self.settings.tenant), str(run.get("workflowId") or "adhoc"),
                int(run.get("version") or 1))

    def _ensure_run(self, asl: dict[str, Any], input: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Record the run (kept when it exists: a resumed or redriven one) and its execution; returns the
        run's record."""
        if self._suspending.is_set():
            raise PoolDraining("the runtime is stopping and starts no more runs")
        tenant, workflow_id, version = self._identity(input)
        # The run and its execution in one transaction (they share the database): no run without the execution
        # that resumes it, and one write a run instead of two.
        if self.durable is not None:
            self.durable.ready()  # its tables made before the transaction (making them would commit it)
        together = self.durable.db.write() if self.durable is not None else contextlib.nullcontext()
        with together:
            try:  # created straight away: a new run is the common case, and the insert tells an existing one
                record = self.runs.create_run({"tenant": tenant, "runId": run_id, "workflowId": workflow_id,
                                               "version": version, "status": "pending", "input": input})
            except Conflict:
                record = self.runs.get_run(tenant, run_id)
            else:
                if self._own_invoker is not None:
                    with self._lock:
                        self._fresh.add(run_id)
            if self.durable is not None:
                self.durable.record_execution(tenant, run_id, asl, input)
        if self.durable is not None:
            self._start_heartbeat()
        return record

    def _execute(self, asl: dict[str, Any], input: dict[str, Any], run_id: str,
                 cancel_event: threading.Event, record: dict[str, Any] | None = None) -> ExecutionResult:
        tenant, workflow_id, version = self._identity(input)
        # Kept on resume; the run stays pending until a worker starts its first task (runs.begin_task).
        # ``record``: the run's record as the caller has just written or read it.
        if record is None:
            record = self.runs.get_run(tenant, run_id)
        started_at = str(record.get("startedAt") or now_iso())
        counts = {"tasksSucceeded": 0, "tasksFailed": 0}
        counts_lock = threading.Lock()
        last_written = [time.monotonic()]

        def on_event(event: dict[str, Any]) -> None:
            if event["type"] not in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
                return
            with counts_lock:
                counts["tasksSucceeded" if event["type"] == "TaskSucceeded" else "tasksFailed"] += 1
                progress = dict(counts)
                # The run's end writes the final counts; between, a write at most every PROGRESS_SECONDS (a
                # one-Task run of a small file ends before its first, and writes its record twice, not three
                # times).
                now = time.monotonic()
                if now - last_written[0] < PROGRESS_SECONDS:
                    return
                last_written[0] = now
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
        # Stopped by a drain (aborted at a state boundary, or a Task refused or killed by the stopping pool):
        # left to resume, never recorded as failed.
        if self._suspending.is_set() and result.status != "SUCCEEDED":
            if self.durable is not None:  # drained: left running, resumed by the next process to start
                self.durable.release(run_id)
            return result
        self._finish(result, input, tenant, workflow_id, version, run_id, started_at, dict(counts))
        if self.durable is not None:
            self.durable.finish(run_id)
        return result

    def _may_hold_unfinished_writes(self, run_id: str) -> bool:
        """Whether a writer may have stopped mid-write in the run's folder. Not for a run this runtime created
        whose Tasks all kept their worker to the end (the common case: its folder is not listed as it ends); any
        other (resumed, redriven, interrupted, or run on another invoker) may."""
        with self._lock:
            fresh = run_id in self._fresh
            self._fresh.discard(run_id)
        return not fresh or self._own_invoker is None or self._own_invoker.interrupted(run_id)

    def _finish(self, result: ExecutionResult, input: dict[str, Any], tenant: str, workflow_id: str,
                version: int, run_id: str, started_at: str, progress: dict[str, int]) -> None:
        # Before the run is seen ended: a worker killed mid-write (a lost worker whose Task ran again, a timeout,
        # an earlier attempt of a resumed run) left its output's temporary file in the run's folder.
        if self._may_hold_unfinished_writes(run_id):
            removed = self.blobs.sweep_unfinished(run_prefix(tenant, run_id))
            if removed:
                logger.info("run %s: removed %d file(s) that an interrupted write left", run_id, removed)
        identity = RunIdentity(tenant, run_id, workflow_id, version, started_at)
        finish(identity, Ended(result.status, result.output, result.error, result.cause), execution_input=input,
               runs=self.runs, bus=self.bus, progress=progress)


__all__ = ["RUN_STATUS_BY_EXECUTION", "CheckpointingInvoker", "EmbeddedRuntime", "ProcessPoolInvoker", "RunHandle",
           "describe_error", "find_failures", "output_refs"]
