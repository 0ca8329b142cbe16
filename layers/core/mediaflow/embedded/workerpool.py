"""Worker processes of the embedded runtime: one task at a time per process, a known pid per task.

- A task's timeout runs from the moment a worker takes it, never while it waits for a free worker; past it
  the worker's process group is killed before the timeout is reported, so a timed-out task can never
  publish anything afterwards.
- A worker that dies mid-task (killed, out of memory) is replaced and the task runs again on a fresh one
  (up to ``retries_on_loss`` times), so one lost process never fails a run.
- Workers never outlive the runtime's process: each leads its own process group, gets SIGKILL when the
  process that forked it exits (PR_SET_PDEATHSIG) and watches the owner's pid, killing its group (tools it
  started die with it: ffmpeg is started with the same parent-death signal).
- ``drain`` stops handing out work, lets running tasks finish up to a grace period, then kills the rest.
- Tasks that find every worker busy wait in arrival order; the thread that frees a worker sends it the first
  waiting task at once (``_offer``), so a worker does not stand idle until a waiting thread wakes.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import logging
import os
import queue
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.errors import InternalError, MediaflowError
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.execution.tasks import execute_task
from mediaflow.procs import (
    die_with_parent,
    keep_loaded_objects,
    native_threads,
    pid_alive,
    resume_collection,
    start_fork_server,
    watch_parent,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from mediaflow.embedded.channel import MessagePipe
    from mediaflow.settings import Settings

logger = logging.getLogger(__name__)

_WORKER: dict[str, TaskEnvironment] = {}
_DURABLE: dict[str, Any] = {}


def checkpoint_key(payload: dict[str, Any]) -> str:
    """The checkpoint of a Task: a digest of its payload (run, media, ops, item)."""
    from mediaflow.adapters.embedded.durable import task_key

    return task_key(payload)


class WorkerLost(MediaflowError):
    """The worker process running a task exited before answering."""

    code = "WorkerLost"


class PoolDraining(MediaflowError):
    """The pool is shutting down and takes no more tasks."""

    code = "RuntimeInterrupted"


def task_node(payload: dict[str, Any]) -> str | None:
    """The node id of a task payload's first op (for messages)."""
    ops = payload.get("ops")
    first = ops[0] if isinstance(ops, list) and ops and isinstance(ops[0], dict) else {}
    node = first.get("nodeId")
    return str(node) if node is not None else None


def _init_worker(settings: Settings, blobs_root: str, bucket: str, db_path: str) -> None:
    """Build this process's TaskEnvironment once."""
    from mediaflow.adapters.embedded.durable import DurableStore
    from mediaflow.adapters.embedded.sqlite import SQLiteDatabase
    from mediaflow.embedded.bootstrap import task_environment

    workdir = _claim_scratch(Path(settings.data_dir) / "tmp")
    db = SQLiteDatabase(Path(db_path))
    _DURABLE["store"] = DurableStore(db)
    _WORKER["env"] = task_environment(settings, workdir, Path(blobs_root), bucket, db)
    # Opened now, while the first Task is still on its way (a worker starts as its command's first Tasks are
    # being sent): the connection and its tables, 2-4 ms the first Task would wait for.
    _DURABLE["store"].ready()


_SCRATCH_OWNER = ".owner"


def _claim_scratch(root: Path) -> Path:
    """This worker's scratch folder under ``root`` (the data dir's tmp/), held for the process's life by a lock
    on its ``.owner`` file, which the kernel releases when the process ends, however it ends. The folders of
    workers that ended without removing theirs (killed with SIGKILL, out of memory) are removed here: one whose
    owner lock can be taken has no owner left."""
    workdir = root / f"worker-{os.getpid()}"
    shutil.rmtree(workdir, ignore_errors=True)  # a process gone before with the same pid
    workdir.mkdir(parents=True, exist_ok=True)
    # Locked under a name of its own, then renamed into place: another worker starting at the same moment
    # must never find an owner file that is not locked yet, take its lock and remove the folder of a live
    # worker (every Task of that worker would then fail on its missing scratch).
    unclaimed = workdir / f"{_SCRATCH_OWNER}-{os.getpid()}"
    owner = os.open(unclaimed, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(owner, fcntl.LOCK_EX)  # never closed: held until this process ends
    unclaimed.rename(workdir / _SCRATCH_OWNER)
    for folder in root.glob("worker-*"):
        if folder != workdir and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
    return workdir


def _abandoned(folder: Path) -> bool:
    """Whether no live worker owns ``folder``. Without an owner file (a worker that has just made its folder,
    or one from before owner files), the pid in the name decides."""
    try:
        owner = os.open(folder / _SCRATCH_OWNER, os.O_RDWR)
    except FileNotFoundError:
        try:
            pid = int(folder.name.removeprefix("worker-"))
        except ValueError:
            return False
        return not pid_alive(pid)
    except OSError:
        return False
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its worker holds it
    finally:
        os.close(owner)
    return True


def _leave() -> None:
    """End this worker: its scratch folder goes with it."""
    env = _WORKER.get("env")
    if env is not None:
        shutil.rmtree(env.workdir, ignore_errors=True)
    os._exit(0)


class _StepBuffer:
    """Holds a task's step records until it ends: a completed task's steps land in one transaction with its
    checkpoint, so a task killed in between leaves neither and its re-run records its steps once."""

    def __init__(self, runs: Any) -> None:
        self.runs = runs
        self.steps: list[tuple[str, str, dict[str, Any]]] = []

    def record_step(self, tenant: str, run_id: str, step: dict[str, Any]) -> None:
        self.steps.append((tenant, run_id, step))

    def __getattr__(self, name: str) -> Any:  # every other RunStore call goes to the store
        return getattr(self.runs, name)


def _run_in_worker(payload: dict[str, Any]) -> Any:
    env = _WORKER["env"]
    durable, runs = _DURABLE.get("store"), env.runs
    buffer = _StepBuffer(runs)
    # The Task's files go to folders of their own under this worker's scratch folder (``scratch_dir``), each
    # removed whatever happens; a worker killed mid-Task leaves them to the sweep of the next worker to start.
    try:
        result = execute_task(payload, dataclasses.replace(env, runs=buffer),  # type: ignore[arg-type]
                              own_runtime=True)
    except BaseException:
        if runs is not None:
            for tenant, step_run, step in buffer.steps:
                runs.record_step(tenant, step_run, step)
        raise
    if runs is None:
        return result
    run = payload.get("run") if isinstance(payload, dict) else None
    run_id = run.get("runId") if isinstance(run, dict) else None
    if durable is None or not run_id:
        for tenant, step_run, step in buffer.steps:
            runs.record_step(tenant, step_run, step)
        return result
    durable.ready()  # creating tables would commit the transaction below early
    with durable.db.write():
        for tenant, step_run, step in buffer.steps:
            runs.record_step(tenant, step_run, step)
        durable.save_checkpoint(str(run_id), checkpoint_key(payload), result)
    return result


def _portable(error: BaseException) -> BaseException:
    """The error itself when it survives pickling, else an InternalError carrying its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return InternalError(f"{type(error).__name__}: {error}", node_id=getattr(error, "node_id", None))


def _worker_main(conn: MessagePipe, owner_pid: int, init_args: tuple[Any, ...]) -> None:
    resume_collection()  # forked from a start that held the collector off (procs.pause_collection)
    os.setpgrp()
    die_with_parent()
    watch_parent(owner_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole terminal group; the owner decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _init_worker(*init_args)
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            _leave()
        if payload is None:
            _leave()
        try:
            if isinstance(payload, tuple):  # ("call", function, args): a probe run in this worker process
                reply: tuple[str, Any] = ("ok", payload[1](*payload[2]))
            else:
                reply = ("ok", _run_in_worker(payload))
        except BaseException as error:
            reply = ("error", _portable(error))
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            _leave()


@dataclasses.dataclass
class _Worker:
    process: Any
    conn: MessagePipe
    _killing: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)
    _killed: bool = False

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def kill(self) -> None:
        """SIGKILL the worker's process group and reap it (returns once nothing of it runs). Once: a stop's
        drain and the pool's close may both kill a worker, from two threads."""
        with self._killing:
            if self._killed:
                return
            for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    target()
            self.process.join(timeout=10)
            self.conn.close()
            self._killed = True


@dataclasses.dataclass
class _Waiter:
    """A Task waiting for a free worker. The thread that frees one sends it this payload straight away (no
    waiting thread has to wake and take the interpreter lock first: a worker otherwise stood idle 1-2 ms
    between two Tasks), then wakes the Task's thread with the worker and the moment the payload went out."""

    payload: Any
    ready: threading.Event = dataclasses.field(default_factory=threading.Event)
    worker: _Worker | None = None
    sent_at: float = 0.0


def _start_methods() -> list[str]:
    # multiprocessing loads here, not with this module: workers the zygote forks, and a command whose workers
    # all come from it, never import it (``embedded.channel``)
    import multiprocessing

    return list(multiprocessing.get_all_start_methods())


def _context(method: str | None = None) -> Any:
    import multiprocessing

    if method is None:
        method = "forkserver" if "forkserver" in _start_methods() else "spawn"
    return multiprocessing.get_context(method)



class WorkerPool:
    """Up to ``size`` worker processes started on demand; ``run`` blocks for a free one, then for the answer."""

    def __init__(self, size: int, init_args: tuple[Any, ...], *, retries_on_loss: int = 2) -> None:
        self.size = max(1, size)
        self.init_args = init_args
        self.retries_on_loss = retries_on_loss
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._waiters: collections.deque[_Waiter] = collections.deque()  # under _lock, first come first served
        self._busy: dict[int, _Worker] = {}
        self._all: set[int] = set()
        self._started = 0
        self._pending = 0  # started ahead of their first tasks and not in the pool yet: waited for, not doubled
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._all_idle = threading.Condition(self._lock)
        self._interrupted: set[str] = set()  # runs one of whose Tasks lost its worker (exited or killed) mid-way

    # -- public --------------------------------------------------------------------------------------

    def run(self, payload: dict[str, Any], timeout: float | None = None) -> Any:
        node = task_node(payload)
        for attempt in range(self.retries_on_loss + 1):
            try:
                return self._run_once(payload, timeout)
            except WorkerLost:
                if self._closing.is_set() or attempt == self.retries_on_loss:
                    raise
                logger.warning("a worker exited while running a task of node %s; running it again", node)
        raise AssertionError("unreachable")

    def interrupted(self, run_id: str) -> bool:
        """Whether a Task of ``run_id`` lost its worker mid-way (it exited, or was killed at a timeout), which
        may have left a half-written file in the run's folder; asked once, as the run ends."""
        with self._lock:
            if run_id in self._interrupted:
                self._interrupted.discard(run_id)
                return True
            return False

    def prestart(self, count: int, modules: tuple[str, ...] = ()) -> None:
        """Start up to ``count`` workers ahead of their first tasks, for a caller that knows tasks are coming
        (a ``mediaflow run`` of N files). A process that runs no other thread yet forks them here and now
        (``_fork_now``, with ``modules`` loaded first); otherwise they boot in the background from the fork
        server. A ``mediaflow run`` whose zygote is up gets them from it (``embedded.early``)."""
        if self._adopt_early(count, modules) or self._fork_now(count, modules):
            return

        def start() -> None:
            for _ in range(count):
                with self._lock:
                    if self._closing.is_set() or self._started >= self.size:
                        return
                    self._started += 1
                try:
                    worker = self._spawn()
                except BaseException:
                    with self._lock:
                        self._started -= 1
                    logger.warning("a worker process could not be started ahead of its first task", exc_info=True)
                    return
                self._take_in(worker)
                if self._closing.is_set():  # closed meanwhile: the close may have missed this one
                    self._stop_idle()

        threading.Thread(target=start, name="mediaflow-pool-start", daemon=True).start()

    def _adopt_early(self, count: int, modules: tuple[str, ...]) -> bool:
        """Have the zygote this command started before its heavy imports fork ``count`` workers with ``modules``
        loaded, and take them into the pool as they come (a thread waits for them, the caller goes on)."""
        from mediaflow.embedded import early

        zygote = early.take()
        if zygote is None:
            return False
        with self._lock:
            count = min(count, self.size - self._started)
            if self._closing.is_set() or count < 1:
                zygote.close()
                return count < 1
            self._started += count
            self._pending += count
        if not zygote.spawn(count, self.init_args, modules):
            with self._lock:
                self._started -= count
                self._pending -= count
            return False

        def adopt() -> None:
            workers = zygote.workers()
            with self._lock:
                self._started -= count - len(workers)
                self._pending -= count
                self._all.update(process.pid for process, _ in workers)
            for process, pipe in workers:
                worker = _Worker(process, pipe)
                self._take_in(worker)
            if self._closing.is_set():
                self._stop_idle()

        threading.Thread(target=adopt, name="mediaflow-pool-adopt", daemon=True).start()
        return True

    def _fork_now(self, count: int, modules: tuple[str, ...] = ()) -> bool:
        """Fork ``count`` workers straight from this process, which has imported what they run: no fork server
        to boot (a second interpreter importing the same modules) and none to tear down. Only safe while this
        is the only thread (a lock another thread held would stay locked in the child), and only from the main
        thread, whose exit the workers' parent-death signal follows."""
        if ("fork" not in _start_methods() or threading.active_count() != 1
                or threading.current_thread() is not threading.main_thread() or native_threads() != 1):
            return False
        from mediaflow.procs import WORKER_PRELOAD, load_modules

        # OpenBLAS (under numpy) starts a thread pool on load, which would make this process multi-threaded
        # and send it to the fork server below; the workers run one task at a time and need no BLAS threads.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        load_modules((*WORKER_PRELOAD, *modules))  # as in the fork server: one not installed is skipped
        if native_threads() != 1:  # a library started a thread anyway: fork from the fork server instead
            return False
        context = _context("fork")
        keep_loaded_objects()
        for _ in range(count):
            with self._lock:
                if self._closing.is_set() or self._started >= self.size:
                    break
                self._started += 1
            worker = self._spawn(context)
            self._take_in(worker)
        return True

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run a picklable module-level ``function(*args)`` in one of the worker processes (benchmarks probe
        the very processes that run the Tasks); the answer comes back as a Future."""
        from concurrent.futures import Future

        future: Future[Any] = Future()

        def call() -> None:
            try:
                future.set_result(self._run_once(("call", function, args), None))
            except BaseException as error:
                future.set_exception(error)

        threading.Thread(target=call, name="mediaflow-worker-call", daemon=True).start()
        return future

    def worker_pids(self) -> list[int]:
        """Every worker process started and not yet gone, busy or idle."""
        with self._lock:
            return sorted(self._all)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._busy.values()]

    def drain(self, grace_seconds: float) -> int:
        """Take no more tasks; wait up to ``grace_seconds`` for running ones; kill the rest. Returns how many
        tasks were still running when the grace period ended."""
        self._closing.set()
        deadline = time.monotonic() + grace_seconds
        with self._all_idle:
            while self._busy and (remaining := deadline - time.monotonic()) > 0:
                self._all_idle.wait(min(remaining, 0.2))
            left = list(self._busy.values())
        for worker in left:
            worker.kill()
        self._stop_idle()
        return len(left)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            busy = list(self._busy.values())
        for worker in busy:
            worker.kill()
        self._stop_idle()

    # -- internals -----------------------------------------------------------------------------------

    def _stop_idle(self) -> None:
        """Ask every idle worker to exit, then wait for them: their exits (the kernel freeing each one's
        memory) overlap instead of following one another."""
        stopping: list[_Worker] = []
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            stopping.append(worker)
        deadline = time.monotonic() + 5
        for worker in stopping:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.kill()
            worker.conn.close()

    def _spawn(self, context: Any = None) -> _Worker:
        if context is None:
            start_fork_server()
        context = context or _context()
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(target=_worker_main, args=(theirs, os.getpid(), self.init_args),
                                        name="mediaflow-worker", daemon=True)
        process.start()
        theirs.close()
        with self._lock:
            self._all.add(int(process.pid))
        return _Worker(process, ours)

    def _acquire(self, payload: Any) -> tuple[_Worker, float | None]:
        """A worker for ``payload``: an idle one or a new one (the caller sends the payload), or the next one
        freed, which has been sent the payload already (with the time it was sent)."""
        waiter: _Waiter | None = None
        while True:
            if self._closing.is_set():
                with self._lock:
                    queued = waiter is None or waiter in self._waiters
                    if waiter is not None and queued:
                        self._waiters.remove(waiter)
                if queued:
                    raise PoolDraining("the runtime is stopping and takes no more tasks")
            if waiter is None:
                worker: _Worker | None = None
                with self._lock:
                    with contextlib.suppress(queue.Empty):
                        worker = self._idle.get_nowait()
                    can_start = worker is None and self._started < self.size and self._pending == 0
                    if can_start:
                        self._started += 1
                    elif worker is None:
                        waiter = _Waiter(payload)
                        self._waiters.append(waiter)
                if worker is not None:
                    if worker.process.is_alive():
                        return worker, None
                    self._discard(worker)
                    continue
                if can_start:
                    try:
                        return self._spawn(), None
                    except BaseException:
                        with self._lock:
                            self._started -= 1
                        raise
            assert waiter is not None
            if waiter.ready.wait(0.2):
                assert waiter.worker is not None
                return waiter.worker, waiter.sent_at
            with self._lock:  # a lost worker freed a place meanwhile: start one rather than wait for a busy one
                if waiter in self._waiters and self._started < self.size and self._pending == 0:
                    self._waiters.remove(waiter)
                    waiter = None

    def _take_in(self, worker: _Worker) -> None:
        """A worker started ahead of its first Task: to a waiting Task, or idle (closing too: the close stops it)."""
        if not self._offer(worker):
            self._idle.put(worker)

    def _offer(self, worker: _Worker) -> bool:
        """A worker free for the next Task: the first waiting Task's payload is sent to it now, or it waits idle.
        False when the pool is closing: the caller stops the worker, or leaves it idle for the close to stop."""
        with self._all_idle:
            closing = self._closing.is_set()
            waiter = self._waiters.popleft() if self._waiters and not closing else None
            if waiter is None:
                self._busy.pop(worker.pid, None)
                self._all_idle.notify_all()
                if closing:
                    return False
                self._idle.put(worker)
                return True
            self._busy[worker.pid] = worker
        try:
            worker.conn.send(waiter.payload)
        except OSError:  # it died idle: the Task waits for the next worker (or starts one in its place)
            with self._lock:
                self._waiters.appendleft(waiter)
                self._busy.pop(worker.pid, None)
            self._discard(worker)
            return True
        waiter.worker, waiter.sent_at = worker, time.monotonic()
        waiter.ready.set()
        return True

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._started -= 1
            self._all.discard(worker.pid)

    def _run_once(self, payload: Any, timeout: float | None) -> Any:
        worker, sent_at = self._acquire(payload)
        with self._lock:
            self._busy[worker.pid] = worker
        healthy = False
        try:
            if sent_at is None:
                try:
                    worker.conn.send(payload)
                except OSError:
                    raise WorkerLost("the worker process exited before taking the task") from None
            started = sent_at or time.monotonic()  # the timeout measures execution, from here
            while True:
                wait = 0.2 if timeout is None else max(0.0, min(0.2, started + timeout - time.monotonic()))
                try:
                    ready = worker.conn.poll(wait)
                except OSError:
                    ready = True
                if ready:
                    try:
                        kind, value = worker.conn.recv()
                    except (EOFError, OSError):
                        raise WorkerLost(f"the worker process {worker.pid} exited while running the task") from None
                    healthy = True
                    if kind == "error":
                        raise value
                    return value
                if not worker.process.is_alive():
                    raise WorkerLost(f"the worker process {worker.pid} exited while running the task")
                if timeout is not None and time.monotonic() - started >= timeout:
                    worker.kill()  # before reporting: nothing of this task can land afterwards
                    from mediaflow.execution.asl import StatesError

                    raise StatesError("States.Timeout",
                                      f"the task did not finish within {timeout:g} seconds of starting")
        finally:
            if not healthy:
                with self._all_idle:
                    self._busy.pop(worker.pid, None)
                    self._all_idle.notify_all()
                    run = payload.get("run") if isinstance(payload, dict) else None
                    if isinstance(run, dict) and run.get("runId"):
                        self._interrupted.add(str(run["runId"]))
                self._discard(worker)
            elif not self._offer(worker):  # the pool is closing (the offer took the worker off the busy ones)
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
                with self._lock:
                    self._started -= 1
