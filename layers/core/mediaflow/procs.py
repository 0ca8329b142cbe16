"""Process lifetimes: children that die with their parent, and liveness checks by pid."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``signum`` to this process when the thread that forked it exits (a no-op elsewhere).
    Used as ``preexec_fn`` of tool processes and in worker processes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        # The process's own symbols include libc's prctl (find_library would run ``ldconfig -p`` each time).
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except OSError:
        return


def keep_on_core(slot: int, processes: int) -> int | None:
    """Keep this process, and the threads it starts from now on, on one CPU: the ``slot``-th of those it may
    run on, when ``processes`` such processes (the pool's workers) fill them all; returns that CPU, or None
    where it is left free (fewer processes than CPUs, or no affinity calls here). Call it before the process
    starts a thread: a thread started earlier keeps the CPUs it had.

    A full pool has more runnable threads than cores whenever its command's threads wake (each file's records,
    the hand-over of the next Task), and the scheduler then moves workers from core to core, each move leaving
    the worker's caches behind; kept on a core, a worker is only preempted in place. With fewer workers than
    cores each stays free, so a lone worker's libvips threads can use a core the pool leaves idle."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if not cpus or processes < len(cpus):
        return None
    cpu = cpus[slot % len(cpus)]
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return None
    return cpu


def native_threads() -> int:
    """Threads of this process as the kernel counts them (a library's own threads included); -1 unknown."""
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir())
    except OSError:
        return -1


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def watch_parent(owner_pid: int, *, interval: float = 0.25) -> threading.Thread:
    """A daemon thread that kills this process's whole process group as soon as ``owner_pid`` is gone or this
    process is re-parented, so neither it nor any tool it started outlives the owner."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent or not pid_alive(owner_pid):
                try:
                    os.killpg(os.getpgid(0), signal.SIGKILL)
                finally:
                    os._exit(137)
            time.sleep(interval)

    thread = threading.Thread(target=watch, name="mediaflow-parent-watch", daemon=True)
    thread.start()
    return thread


_COLLECTION_PAUSED: list[bool] = []


def pause_collection() -> None:
    """Hold the cyclic garbage collector off while a process starts: loading modules allocates hundreds of
    thousands of objects that live as long as the process, and the collector would walk them again and again
    as they come (about a tenth of a ``mediaflow run`` start). ``resume_collection`` ends the pause; a
    process forked meanwhile inherits it and resumes in its turn (workers do, first thing)."""
    if gc.isenabled():
        gc.disable()
        _COLLECTION_PAUSED.append(True)


def keep_loaded_objects() -> None:
    """Before a fork while collection is paused: what is loaded so far moves to the collector's permanent
    generation, so no collection in this process or its children walks those objects again (a walk writes to
    every object's header and would copy the pages a forked child shares with its parent). The few cycles the
    imports leave behind are kept with them (under 2,000 objects for a `mediaflow run` start)."""
    if _COLLECTION_PAUSED:
        gc.freeze()


def resume_collection() -> None:
    """End a ``pause_collection`` (a no-op without one): the objects loaded so far are kept for good
    (``keep_loaded_objects``), then collection resumes for what the process allocates from now on."""
    if _COLLECTION_PAUSED:
        keep_loaded_objects()
        _COLLECTION_PAUSED.clear()
        gc.enable()


# What every worker imports whatever its runtime, loaded before workers fork so that a worker starts as a bare
# fork (the CLI module that multiprocessing runs again in each child imports nothing heavy); a runtime's own
# worker module comes with the runtime (a video run never loads libvips). A module that cannot be imported here
# (a Lambda image without libvips) is skipped and imported by the task needing it.
WORKER_PRELOAD = ("mediaflow.embedded.workerpool", "mediaflow.adapters.embedded.sqlite",
                  "mediaflow.adapters.embedded.durable", "mediaflow.adapters.embedded.outbox",
                  "mediaflow.adapters.embedded.vision", "mediaflow.runs", "mediaflow.workers.geometry")


def load_modules(names: Iterable[str]) -> None:
    """Import ``names`` now, ahead of the work that needs them; one not installed here is skipped (the task
    that needs it imports it, or takes its path without it)."""
    import importlib

    for name in names:
        if name not in sys.modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)


def start_fork_server() -> None:
    """Start the fork server now (it loads ``WORKER_PRELOAD`` and the libvips worker, which most tasks run on,
    while the caller goes on); a no-op once it runs or where there is none. The first worker then forks from a
    server that has imported everything."""
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from mediaflow.catalog import RUNTIMES

    # (an import that fails is skipped)
    forkserver.set_forkserver_preload([*WORKER_PRELOAD, RUNTIMES["vips"].worker_module])
    forkserver.ensure_running()
