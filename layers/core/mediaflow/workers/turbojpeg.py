"""libjpeg-turbo's TurboJPEG library through ctypes: a JPEG's header and its decode at a DCT scale.

Loaded in well under a millisecond and importing nothing of mediaflow or libvips, so the decode ahead of a
`mediaflow run` (``workers/decode_ahead.py``) can use it before the command has loaded anything, and every
process that decodes JPEGs (``workers/jpeg_scaled.py``) does, a one-file run included.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import mmap
import threading
import weakref
from pathlib import Path
from typing import Any

# TurboJPEG's colourspace (TJCS_*) -> its pixel format (TJPF_RGB, TJPF_GRAY), bands, libvips interpretation.
COLOURSPACES = {1: (0, 3, "srgb"), 0: (0, 3, "srgb"), 2: (6, 1, "b-w")}
_STOP_ON_WARNING = 1 << 13  # TJFLAG_STOPONWARNING: a file libjpeg-turbo warns about is left to libvips' loader
_LIBRARY_NAMES = ("libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib", "libturbojpeg.dylib")
# A decode is one buffer (libvips streams its own decode in strips): above this many decoded pixels
# libvips' loader keeps the peak memory (bench p4) flat.
MAX_DECODED_PIXELS = 30_000_000
# The scales a downscale decodes at, in eighths (libjpeg's M/8 scaling), smallest first: 1/8, 1/4 and 1/2 have
# SIMD inverse DCTs and are the ones libvips' loader offers too (``shrink`` 8, 4, 2); 3/8 runs libjpeg's plain C
# 3x3 IDCT, about as fast as the SIMD 1/2 over the whole decode, and leaves a smaller image to reduce.
EIGHTHS = (1, 2, 3, 4)
LIBVIPS_EIGHTHS = (1, 2, 4)


def covering_eighths(stored: tuple[int, int], target: tuple[int, int], scales: tuple[int, ...] = EIGHTHS) -> int:
    """The smallest of ``scales`` (as M of M/8; by default 1/8, 1/4, 3/8 and 1/2) whose decode still covers
    ``target`` with whole pixels; 8 (no scaling) when none does."""
    for eighths in scales:
        if stored[0] * eighths // 8 >= target[0] and stored[1] * eighths // 8 >= target[1]:
            return eighths
    return 8


def covering_shrink(stored: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest of 8, 4 and 2 whose shrunk decode still covers ``target``; 1 when none does: libvips'
    loader's ``shrink``, which gives each side divided by the shrink, rounded down (libjpeg decodes it rounded
    up, and libvips keeps the whole pixels of that decode)."""
    return 8 // covering_eighths(stored, target, LIBVIPS_EIGHTHS)


def scaled_size(stored: tuple[int, int], eighths: int) -> tuple[int, int]:
    """The size libjpeg decodes ``stored`` at ``eighths``/8: each side scaled and rounded up."""
    return -(-stored[0] * eighths // 8), -(-stored[1] * eighths // 8)


class TurboJPEG:
    """The TurboJPEG calls this module makes: a header read and a decode into a buffer, one decompressor
    handle per thread (a handle is not shared between threads)."""

    def __init__(self, library: ctypes.CDLL, libc: ctypes.CDLL) -> None:
        pointer, integer, size = ctypes.c_void_p, ctypes.c_int, ctypes.c_ulong
        libc.malloc.restype = pointer
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.restype = None
        libc.free.argtypes = [pointer]
        out = ctypes.POINTER(ctypes.c_int)
        library.tjInitDecompress.restype = pointer
        library.tjInitDecompress.argtypes = []
        library.tjDecompressHeader3.restype = integer
        library.tjDecompressHeader3.argtypes = [pointer, pointer, size, out, out, out, out]
        library.tjDecompress2.restype = integer
        library.tjDecompress2.argtypes = [pointer, pointer, size, pointer, integer, integer, integer, integer,
                                          integer]
        self._library = library
        self._libc = libc
        self._local = threading.local()

    def _handle(self) -> int | None:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = self._local.handle = self._library.tjInitDecompress()
        return handle

    def decode_file(self, path: Path, stored: tuple[int, int], size: tuple[int, int], *,
                    into: tuple[int, int] | None = None) -> tuple[Any, int] | None:
        """The JPEG at ``path``, whose frame is ``stored`` pixels, decoded at the DCT scale that gives ``size``:
        its pixels and bands. The pixels go to a buffer of their own or, with ``into`` (an address and the
        bands its room was made for), there, and None stands for them. None when libjpeg-turbo does not read
        the file as libvips did (another size, a colourspace other than YCbCr, RGB or grey, an error or a
        warning): libvips' loader then decides what is wrong with it, and says so by name."""
        try:
            # Mapped, not read: the file's pages are shared with the page cache instead of copied onto the heap
            # (a private mapping, which ctypes can point into; nothing writes to it).
            with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) as data:
                source = ctypes.c_char.from_buffer(data)
                try:
                    return self._decode(ctypes.addressof(source), len(data), stored, size, into)
                finally:
                    del source  # the mapping cannot close while its buffer is exported
        except (ValueError, OSError):
            return None

    def _decode(self, data: int, length: int, stored: tuple[int, int], size: tuple[int, int],
                into: tuple[int, int] | None) -> tuple[Any, int] | None:
        header = self._header(data, length)
        wanted = COLOURSPACES.get(header[2]) if header is not None else None
        if header is None or wanted is None or header[:2] != stored or (into is not None and into[1] != wanted[1]):
            return None
        pixel_format, bands = wanted[0], wanted[1]
        if into is not None:
            return (None, bands) if self._decode_into(data, length, into[0], size, pixel_format) else None
        pixels = self._buffer(size[0] * size[1] * bands)
        return (pixels, bands) if self._decode_into(data, length, ctypes.addressof(pixels), size, pixel_format) \
            else None

    def _header(self, data: int, length: int) -> tuple[int, int, int] | None:
        """Width, height and colourspace (TJCS_*) of the JPEG at address ``data``; None when it is not one."""
        handle = self._handle()
        width, height, subsampling, colourspace = (ctypes.c_int() for _ in range(4))
        if not handle or self._library.tjDecompressHeader3(
                handle, data, length, ctypes.byref(width), ctypes.byref(height), ctypes.byref(subsampling),
                ctypes.byref(colourspace)) != 0:
            return None
        return width.value, height.value, colourspace.value

    def _decode_into(self, data: int, length: int, target: int, size: tuple[int, int], pixel_format: int) -> bool:
        """Decode into the ``size[0] * size[1] * bands`` bytes at address ``target``; False when libjpeg-turbo
        reports an error or a warning."""
        handle = self._handle()
        return bool(handle) and self._library.tjDecompress2(handle, data, length, target, size[0], 0, size[1],
                                                            pixel_format, _STOP_ON_WARNING) == 0

    def _buffer(self, length: int) -> Any:
        """``length`` bytes from the C heap, freed with the returned array (a libvips image made from it keeps
        it): memory the allocator hands out again from one decode to the next, neither cleared first nor
        faulted in anew as a fresh mapping would be (about 15 ms an image at 3000 x 2000)."""
        address = self._libc.malloc(length)
        if not address:
            raise MemoryError(f"no {length} bytes for a JPEG decode")
        pixels = (ctypes.c_char * length).from_address(address)
        weakref.finalize(pixels, self._libc.free, address)
        return pixels


@functools.cache
def turbojpeg() -> TurboJPEG | None:
    """libjpeg-turbo's TurboJPEG library, loaded once per process; None where it is not installed."""
    for name in _LIBRARY_NAMES:
        with contextlib.suppress(OSError, AttributeError):
            return TurboJPEG(ctypes.CDLL(name), ctypes.CDLL(None))
    return None
