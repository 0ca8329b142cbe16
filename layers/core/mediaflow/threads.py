"""Daemon threads kept for the next job instead of one new thread per job."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable


class ReusedThreads:
    """Runs each job at once on a daemon thread: an idle one when there is one, else a new one. A job never
    waits for another to end, so each may block as long as it must (a Task's call waits for its worker). A
    thread that ends a job waits for the next; up to ``keep`` wait at a time, the others end.

    Reuse spares more than the thread's start: what lives per thread lives on, such as the SQLite
    connection the embedded stores open once per thread (``SQLiteDatabase.connection``)."""

    def __init__(self, name: str, keep: int = 32) -> None:
        self.name = name
        self.keep = keep
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # that thread is as good as taken: the job below is its
                self._jobs.put(job)
                return
            self._started += 1
            name = f"{self.name}-{self._started}"
        threading.Thread(target=self._serve, args=(job,), name=name, daemon=True).start()

    def _serve(self, job: Callable[[], None]) -> None:
        while True:
            with contextlib.suppress(BaseException):  # a job reports its own outcome; a stray error ends no thread
                job()
            del job  # an idle thread holds nothing of its last job (a Task's payload and result)
            with self._lock:
                if self._idle >= self.keep:
                    return
                self._idle += 1
            job = self._jobs.get()
