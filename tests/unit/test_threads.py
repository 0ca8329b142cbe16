"""mediaflow.threads.ReusedThreads: the threads a Task's call waits on."""

from __future__ import annotations

import threading
import time

from mediaflow.threads import ReusedThreads


def _run_and_wait(threads: ReusedThreads, job: object) -> None:
    done = threading.Event()

    def wrapped() -> None:
        try:
            job()  # type: ignore[operator]
        finally:
            done.set()

    threads.run(wrapped)
    assert done.wait(10)


def _until_idle(threads: ReusedThreads, count: int = 1) -> None:
    """Wait until ``count`` threads are back waiting for a job (a job's own end comes just before)."""
    deadline = time.monotonic() + 10
    while threads._idle < count and time.monotonic() < deadline:
        time.sleep(0.001)


def _waiting(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}-")]


def test_a_job_after_another_ended_runs_on_the_same_thread_with_its_thread_locals() -> None:
    threads, local, seen = ReusedThreads("reuse"), threading.local(), []

    def job() -> None:
        local.opened = getattr(local, "opened", 0) + 1
        seen.append((threading.get_ident(), local.opened))

    for _ in range(3):
        _run_and_wait(threads, job)
        _until_idle(threads)
    assert len({ident for ident, _ in seen}) == 1
    assert [opened for _, opened in seen] == [1, 2, 3]


def test_jobs_never_wait_for_each_other() -> None:
    threads, release, started = ReusedThreads("parallel"), threading.Event(), threading.Semaphore(0)

    def blocking() -> None:
        started.release()
        release.wait(10)

    for _ in range(5):
        threads.run(blocking)
    assert all(started.acquire(timeout=5) for _ in range(5)), "every job started while the others block"
    release.set()


def test_a_failing_job_leaves_its_thread_for_the_next() -> None:
    threads, idents = ReusedThreads("failing"), []

    def failing() -> None:
        idents.append(threading.get_ident())
        raise RuntimeError("boom")

    _run_and_wait(threads, failing)
    _until_idle(threads)
    _run_and_wait(threads, lambda: idents.append(threading.get_ident()))
    assert len(idents) == 2 and idents[0] == idents[1]


def test_no_more_than_keep_threads_stay_waiting() -> None:
    threads, release = ReusedThreads("capped", keep=1), threading.Event()
    ended = threading.Semaphore(0)

    def blocking() -> None:
        release.wait(10)
        ended.release()

    for _ in range(3):
        threads.run(blocking)
    assert len(_waiting("capped")) == 3
    release.set()
    assert all(ended.acquire(timeout=5) for _ in range(3))
    deadline = time.monotonic() + 5
    while len(_waiting("capped")) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_waiting("capped")) == 1
