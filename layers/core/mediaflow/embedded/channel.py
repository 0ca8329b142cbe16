"""A duplex channel of pickled messages over two pipes: how ``mediaflow run``, the zygote it forks and the
zygote's workers talk to each other (``embedded.early``).

It answers the calls of ``multiprocessing.connection.Connection`` that the worker pool makes (``send``,
``recv``, ``poll``, ``close``) without importing ``multiprocessing``: that import (its context, reduction and
connection modules, about 15-25 ms) would otherwise sit on the start of the command and of every worker the
zygote forks, before either does any work. Workers the pool starts itself (no zygote) keep multiprocessing's
own pipes; both kinds satisfy ``MessagePipe``.
"""

from __future__ import annotations

import os
import pickle
import select
from typing import Any, Protocol

_HEADER_BYTES = 8


class MessagePipe(Protocol):
    """What the worker pool needs of a connection to a worker."""

    def send(self, obj: Any) -> None: ...

    def recv(self) -> Any: ...

    def poll(self, timeout: float | None = 0.0) -> bool: ...

    def close(self) -> None: ...


class Channel:
    """One end: it reads the other end's messages from one pipe and writes its own to the other. Messages are
    a length header and a pickle; each direction has one writer, so they never interleave."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd

    def send(self, obj: Any) -> None:
        """Write one message; BrokenPipeError (an OSError) once the other end is closed."""
        self._check_open()
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(len(data).to_bytes(_HEADER_BYTES, "big") + data)
        while view:
            view = view[os.write(self._write_fd, view):]

    def recv(self) -> Any:
        """The next message, waiting for it; EOFError once the other end is closed and everything is read."""
        size = int.from_bytes(self._read_exactly(_HEADER_BYTES), "big")
        return pickle.loads(self._read_exactly(size))

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Whether ``recv`` would return (or raise EOFError) now, waiting up to ``timeout`` seconds (None:
        until it would)."""
        self._check_open()
        readable, _, _ = select.select([self._read_fd], [], [], timeout)
        return bool(readable)

    def close(self) -> None:
        descriptors, self._read_fd, self._write_fd = (self._read_fd, self._write_fd), -1, -1
        for fd in descriptors:
            if fd >= 0:
                os.close(fd)

    @property
    def closed(self) -> bool:
        return self._read_fd < 0

    def _read_exactly(self, size: int) -> bytes:
        self._check_open()
        data = bytearray()
        while len(data) < size:
            chunk = os.read(self._read_fd, size - len(data))
            if not chunk:
                raise EOFError("the other end of the channel is closed")
            data += chunk
        return bytes(data)

    def _check_open(self) -> None:
        if self._read_fd < 0:
            raise OSError("the channel is closed")


def channel_pair() -> tuple[Channel, Channel]:
    """Two connected ends (for two processes, one kept by each after a fork). The pipes are not inherited by
    programs the processes run (ffmpeg sees none of them)."""
    to_second_read, to_second_write = os.pipe()
    to_first_read, to_first_write = os.pipe()
    return Channel(to_first_read, to_second_write), Channel(to_second_read, to_first_write)
