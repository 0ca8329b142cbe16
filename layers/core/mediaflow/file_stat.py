"""A file on disk as `mediaflow run` tells it apart without reading it.

Light on purpose (only ``os``): the work a run starts ahead of its imports (``workers/decode_ahead.py``,
``workers/ffmpeg_tools.probe_ahead``) keys what it did by the same identity the run gives the file
(``embedded.app.file_etag``), so a Task takes that work only for the very file it runs on.
"""

from __future__ import annotations

import os


def identity(status: os.stat_result) -> tuple[int, int, int, int]:
    """Device, inode, size and modification time in nanoseconds (as make and rsync tell a changed file): a
    file rewritten, replaced or touched gets another identity, a hard link to it the same."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns
