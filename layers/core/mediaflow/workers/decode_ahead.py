"""The first JPEGs of a `mediaflow run`, decoded ahead of their Tasks on the core the command's start leaves idle.

`mediaflow run` calls :func:`decode_ahead` (the vips runtime's ``ahead`` in the catalog) first thing, before it
loads its settings and models, and this module imports neither, nor libvips. From the workflow file's
`resize` it guesses the scale each of the first inputs will decode at (the covering DCT scale, as
``jpeg_scaled`` picks it), maps one shared anonymous buffer for them and forks a process that decodes into it
through libjpeg-turbo while the command loads. The zygote registers the planned decodes (the returned call)
and forks the workers at once, without waiting for them: the workers inherit the buffer and one pipe per
decode, on which the decoding process signals that the pixels are in (or closes it, when it could not decode
the file). A Task that decodes the same file (device, inode, size and modification time, as the stored
input's hard link is) at the same scale takes those pixels (:func:`take`), waiting for a decode still under
way; any other decodes as before. A decode's pixels depend on the file and the scale alone, so the guess
decides only what is decoded ahead, never what a Task gets: a wrong one costs the idle core's time. The
buffer lives as long as the run's processes (about 18 MB for each 24 MP photo).

The zygote does not wait for the decodes: the decoding process shares the cores with the command and the
zygote as they load, and waiting for its second decode started the workers 20-30 ms after the command's first
Tasks in half the runs. The inputs decoded ahead run last (their Tasks are the shortest), so by the time a Task
takes their pixels they are long in.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import select
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaflow.file_stat import identity
from mediaflow.workers.turbojpeg import MAX_DECODED_PIXELS, covering_eighths, scaled_size, turbojpeg

_SEQUENTIAL_FRAMES = (0xC0, 0xC1)  # SOF0, SOF1: Huffman-coded, one scan per component (not progressive)
_FRAME_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_FITS = {"inside": False, "contain": False, "outside": True, "cover": True}  # uniform fits -> covers the box
WAIT_SECONDS = 0.5
"""How long a Task waits for its input's decode ahead, still under way, before it decodes the input itself."""
_DECODED = b"\x01"


@dataclass(frozen=True)
class _Slot:
    """One input decoded ahead: which file, at which scale, where in the buffer."""

    path: str
    identity: tuple[int, int, int, int]
    stored: tuple[int, int]
    eighths: int
    size: tuple[int, int]
    bands: int
    offset: int

    @property
    def length(self) -> int:
        return self.size[0] * self.size[1] * self.bands


_BUFFER: list[mmap.mmap] = []
# The decodes planned ahead, by file identity: the slot and the pipe its decoding process signals on.
_AHEAD: dict[tuple[int, int, int, int], tuple[_Slot, int]] = {}


def decode_ahead(paths: Sequence[Path], document: dict[str, Any]) -> Callable[[], None]:
    """Start decoding ``paths`` (the first inputs of the run of workflow ``document``) in a process of their
    own; the call that waits for it and keeps what it decoded. Nothing starts where the workflow has no
    shrinking `resize`, no input is a baseline JPEG or libjpeg-turbo is not installed."""
    box = _resize_box(document)
    if box is None or _BUFFER or turbojpeg() is None:
        return _nothing
    slots: list[_Slot] = []
    offset = 0
    for path in paths:
        slot = _plan(path, box, offset)
        if slot is not None:
            slots.append(slot)
            offset += -(-slot.length // mmap.PAGESIZE) * mmap.PAGESIZE
    if not slots:
        return _nothing
    buffer = mmap.mmap(-1, offset)  # shared and anonymous: the decoding process writes, the workers read
    signals = [os.pipe() for _ in slots]
    pid = os.fork()
    if pid == 0:  # exits at once: the decoding process is then nobody's child, and no zombie is left to reap
        for waiting, _ in signals:
            os.close(waiting)
        if os.fork() == 0:
            _decode_slots(buffer, slots, [end for _, end in signals])
        os._exit(0)
    for _, signal_end in signals:
        os.close(signal_end)
    os.waitpid(pid, 0)
    _BUFFER.append(buffer)

    def register() -> None:
        for slot, (waiting, _) in zip(slots, signals, strict=True):
            _AHEAD[slot.identity] = (slot, waiting)

    return register


def take(path: Path, stored: tuple[int, int], eighths: int) -> tuple[memoryview, int] | None:
    """The pixels decoded ahead of ``path`` at the scale ``eighths``/8 and their bands; None when there are
    none."""
    if not _AHEAD:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    key = identity(status)
    planned = _AHEAD.get(key)
    if planned is None or planned[0].stored != stored or planned[0].eighths != eighths:
        return None
    del _AHEAD[key]
    slot, waiting = planned
    if not _decoded(waiting):
        return None
    return memoryview(_BUFFER[0])[slot.offset:slot.offset + slot.length], slot.bands


def _decoded(waiting: int) -> bool:
    """Whether the decoding process signals on ``waiting`` that the pixels are in, waiting up to
    ``WAIT_SECONDS`` for a decode under way. The signal, a byte through the kernel, also orders the reads of
    the pixels after the decoding process wrote them. One Task reads it: the pipe is closed after."""
    try:
        if not select.select([waiting], [], [], WAIT_SECONDS)[0]:
            return False
        return os.read(waiting, 1) == _DECODED
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(waiting)


def _nothing() -> None:
    return None


def _resize_box(document: dict[str, Any]) -> tuple[int | None, int | None, bool, bool] | None:
    """Width, height, cover and enlarge of the workflow's first `resize` as written (a guess: the validated
    config decides in the Task); None when there is none whose scale can be guessed."""
    nodes = document.get("nodes") if isinstance(document, dict) else None
    for node in nodes if isinstance(nodes, list) else ():
        if not isinstance(node, dict) or node.get("kind") != "resize":
            continue
        config = node.get("config")
        if not isinstance(config, dict):
            config = {}
        width, height = config.get("width"), config.get("height")
        fit = config.get("fit", "inside")
        enlarge = not config.get("withoutEnlargement", config.get("without_enlargement", True))
        sides = [side for side in (width, height) if side is not None]
        if fit not in _FITS or not sides or not all(isinstance(side, int) and side > 0 for side in sides):
            return None
        return width, height, _FITS[fit], enlarge
    return None


def _plan(path: Path, box: tuple[int | None, int | None, bool, bool], offset: int) -> _Slot | None:
    """Where ``path`` goes in the buffer, if it is a baseline JPEG that the box shrinks on load
    (``covering_eighths``)."""
    from mediaflow.workers.geometry import fit_scale

    try:
        status = path.stat()
        frame = _jpeg_frame(path)
    except OSError:
        return None
    if frame is None:
        return None
    stored, components = frame
    target = fit_scale(box[0], box[1], *stored, cover=box[2], enlarge=box[3])
    eighths = covering_eighths(stored, target)
    size = scaled_size(stored, eighths)
    if eighths == 8 or components not in (1, 3) or max(stored) < 8 or size[0] * size[1] > MAX_DECODED_PIXELS:
        return None
    return _Slot(str(path), identity(status), stored, eighths, size, components, offset)


def _jpeg_frame(path: Path) -> tuple[tuple[int, int], int] | None:
    """Size and component count from a JPEG's frame header; None unless it is a sequential Huffman one."""
    with path.open("rb") as handle:
        if handle.read(2) != b"\xff\xd8":
            return None
        while True:
            if handle.read(1) != b"\xff":
                return None
            marker = handle.read(1)
            while marker == b"\xff":  # fill bytes before a marker
                marker = handle.read(1)
            if not marker or marker[0] in (0xD9, 0xDA):  # the end, or the first scan before any frame
                return None
            code = marker[0]
            if code == 0x01 or 0xD0 <= code <= 0xD7:  # markers without a length
                continue
            length = int.from_bytes(handle.read(2), "big")
            if length < 2:
                return None
            if code in _FRAME_MARKERS:
                header = handle.read(6)
                if code not in _SEQUENTIAL_FRAMES or len(header) < 6:
                    return None
                height, width = int.from_bytes(header[1:3], "big"), int.from_bytes(header[3:5], "big")
                return ((width, height), header[5]) if width and height else None
            handle.seek(length - 2, os.SEEK_CUR)


def _decode_slots(buffer: mmap.mmap, slots: list[_Slot], signals: list[int]) -> None:
    """In the decoding process: decode each slot, signal on its pipe once its pixels are in (a slot that could
    not be decoded has its pipe closed without a signal), exit. Its work is a few decodes, so it outlives a
    command killed meanwhile by a fraction of a second at most."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the terminal's group; the command decides
        library = turbojpeg()
        target = ctypes.c_char.from_buffer(buffer)
        base = ctypes.addressof(target)
        for index, slot in enumerate(slots):
            # A file changed since it was planned is decoded as it is now, under its old identity: no Task
            # takes it (``take`` compares the identity the Task's file has).
            if library is not None and library.decode_file(Path(slot.path), slot.stored, slot.size,
                                                           into=(base + slot.offset, slot.bands)):
                os.write(signals[index], _DECODED)
            os.close(signals[index])
        del target
    except BaseException:  # whatever is not reported is decoded by its Task
        pass
    finally:
        os._exit(0)
