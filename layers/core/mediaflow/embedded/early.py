"""Workers forked from a zygote that `mediaflow run` starts before its own heavy imports.

A command's start is mostly imports: about 100 ms that the command and its workers share (pydantic, the
settings, media and task models), about 20 ms that only the command needs (the validator, the compiler, the
state machine interpreter) and, for a folder of JPEGs, about 35 ms that only the workers need (the libvips
worker and the node modules it runs). Forked from the command once it has imported everything, the workers
wait for all of it on one core while the other idles. So the command forks a zygote as soon as the shared
part is imported: the zygote loads what every worker loads while the command goes on, and when the command
knows its runtimes (``WorkerPool.prestart``) loads theirs and forks the workers, while the command records
its first runs. The workers are the zygote's children; the command's pool holds each by its pipe and a pidfd.

Lifetimes are those of any worker: a worker leads its own process group, dies with the zygote (parent-death
signal) and watches the command's pid; the zygote dies with the command (parent-death signal) and reaps its
workers. Where the zygote cannot help (no fork or pidfd, a command already running threads, a zygote that
failed), the pool forks or spawns its workers as before.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mediaflow.embedded.channel import Channel, channel_pair
from mediaflow.procs import (
    WORKER_PRELOAD,
    die_with_parent,
    keep_loaded_objects,
    keep_on_core,
    load_modules,
    native_threads,
)


class AdoptedProcess:
    """A worker the zygote forked: not this process's child, so it is watched through a pidfd (readable once
    the process has exited) rather than waited for."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._pidfd: int | None = os.pidfd_open(pid)
        self._lock = threading.Lock()

    def is_alive(self) -> bool:
        return not self.join(0)

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the process to end; True once it has (its pidfd then closed).
        Threads may wait at once (a stop's drain and the pool's close both kill a worker): each looks at the
        pidfd under a lock, in slices of at most 50 ms, so none closes it while another waits on it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._pidfd is None:
                    return True
                wait = _JOIN_SLICE if deadline is None else max(0.0, min(_JOIN_SLICE, deadline - time.monotonic()))
                if select.select([self._pidfd], [], [], wait)[0]:
                    os.close(self._pidfd)
                    self._pidfd = None
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False


_JOIN_SLICE = 0.05


class Zygote:
    """The command's side of the zygote: its control pipe and one pipe per worker it may fork."""

    def __init__(self, pid: int, control: Channel, pipes: list[Channel]) -> None:
        self.pid = pid
        self.control = control
        self.pipes = pipes

    def spawn(self, count: int, init_args: tuple[Any, ...], modules: tuple[str, ...]) -> bool:
        """Ask for ``count`` workers with ``modules`` loaded; False when the zygote is gone."""
        try:
            self.control.send(("spawn", min(count, len(self.pipes)), init_args, modules))
        except OSError:
            self.close()
            return False
        return True

    def workers(self) -> list[tuple[AdoptedProcess, Channel]]:
        """The workers asked for (blocks until they are forked); none when the zygote failed."""
        try:
            pids: list[int] = self.control.recv()
        except (EOFError, OSError):
            pids = []
        adopted: list[tuple[AdoptedProcess, Channel]] = []
        for pid, pipe in zip(pids, self.pipes, strict=False):
            try:
                adopted.append((AdoptedProcess(pid), pipe))
            except OSError:  # already gone: its pipe says so to nobody
                pipe.close()
        for pipe in self.pipes[len(pids):]:
            pipe.close()
        self.control.close()
        return adopted

    def close(self) -> None:
        """Not needed after all: the zygote exits (it sees the control pipe close)."""
        for connection in (self.control, *self.pipes):
            connection.close()


_STARTED: list[Zygote] = []
_AHEAD: set[str] = set()


def note_ahead(paths: Iterable[Path]) -> None:
    """Record the inputs this command handed to its runtimes' work ahead (``cli._start_ahead``)."""
    _AHEAD.update(str(path) for path in paths)


def started_ahead() -> frozenset[str]:
    """The inputs (as given, folders expanded) handed to the runtimes' work ahead: their Tasks are the
    shortest where that work was done (an input it skips, say a PNG, keeps the length it has), so the command
    starts them last (``LocalService.run_files``)."""
    return frozenset(_AHEAD)


def can_start() -> bool:
    """Whether this process may fork a zygote: a single thread (a lock another thread held would stay locked
    in the child), none started yet, and pidfds to watch processes it did not fork."""
    if _STARTED or not hasattr(os, "fork") or not hasattr(os, "pidfd_open") or threading.active_count() != 1:
        return False
    if native_threads() != 1:
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def start(capacity: int, prepare: Callable[[], None] | None = None, *, one_core_each: bool = False) -> None:
    """Fork the zygote, able to fork up to ``capacity`` workers; a no-op unless ``can_start``. ``prepare`` runs
    in the zygote while the command goes on: it loads what the workers will probably ask for (a guess: what it
    misses loads when the pool asks) and may wait for work started ahead for them. ``one_core_each``: workers
    that fill the cores are each kept on one (``procs.keep_on_core``)."""
    if capacity < 1 or not can_start():
        return
    ends = [channel_pair() for _ in range(capacity)]
    control, zygote_control = channel_pair()
    owner = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    keep_loaded_objects()
    pid = os.fork()
    if pid == 0:
        control.close()
        for ours, _ in ends:
            ours.close()
        _zygote_main(zygote_control, [theirs for _, theirs in ends], owner, prepare, one_core_each)
    zygote_control.close()
    for _, theirs in ends:
        theirs.close()
    _STARTED.append(Zygote(pid, control, [ours for ours, _ in ends]))


def take() -> Zygote | None:
    """The zygote this process started, once (the first pool to start workers takes it)."""
    return _STARTED.pop() if _STARTED else None


def _zygote_main(control: Channel, pipes: list[Channel], owner_pid: int,
                 prepare: Callable[[], None] | None, one_core_each: bool) -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the terminal's group; the command decides
        die_with_parent()
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS thread pool in a process that forks
        if prepare is not None:  # first: it may start work (an ffprobe) that runs while the modules load
            with contextlib.suppress(Exception):
                prepare()
        load_modules(WORKER_PRELOAD)
        request = control.recv()
        _, count, init_args, modules = request
        load_modules(modules)
        pids: list[int] = []
        if native_threads() == 1:  # a library that started a thread would make forking unsafe
            from mediaflow.embedded.workerpool import _worker_main  # loaded with WORKER_PRELOAD

            keep_loaded_objects()
            for index in range(count):
                child = os.fork()
                if child == 0:
                    if one_core_each:  # first: the threads the worker starts stay where it is kept
                        keep_on_core(index, count)
                    control.close()
                    for other in pipes[:index] + pipes[index + 1:]:
                        other.close()
                    _worker_main(pipes[index], owner_pid, init_args)
                pids.append(child)
        for pipe in pipes:
            pipe.close()
        control.send(pids)
        control.close()
        with contextlib.suppress(ChildProcessError):
            while True:
                os.wait()
    except BaseException:  # the command falls back to its own workers when this one gives none
        pass
    finally:
        os._exit(0)
