"""A file on disk as `mediaflow run` tells it apart without reading it.

Light on purpose (only ``os``): the work a run starts ahead of its imports (``workers/decode_ahead.py``,
``workers/ffmpeg_tools.probe_ahead``) keys what it did by the same identity the run gives the file
(``file_etag``), so a Task takes that work only for the very file it runs on.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def identity(status: os.stat_result) -> tuple[int, int, int, int]:
    """Device, inode, size and modification time in nanoseconds (as make and rsync tell a changed file): a
    file rewritten, replaced or touched gets another identity, a hard link to it the same."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def file_etag(path: Path) -> str:
    """The etag of a file ``mediaflow run`` reads in place: a digest of its ``identity``, not of its bytes.
    Hashing every input before its first Task was a serial cost of the whole folder (about 2.5 ms of CPU per
    4 MB photo); a file rewritten, replaced or touched gets a new etag, so a new run, while a file left alone
    keeps its run id across re-runs and crashes. The store holds a hard link to the same bytes, so the etag
    names the object it holds."""
    import hashlib

    marks = ":".join(str(part) for part in identity(path.stat()))
    return "f" + hashlib.sha1(marks.encode(), usedforsecurity=False).hexdigest()
