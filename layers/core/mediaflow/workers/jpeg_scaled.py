"""JPEG decode at a DCT scale, through libjpeg-turbo's TurboJPEG library where it is installed.

A downscale decodes a JPEG straight to the smallest of the scales 1/8, 1/4 and 1/2 that still covers the
target (``covering_shrink``), then makes one Lanczos3 reduce: a 6000 px photo bound for 1600 px decodes at
3000 px, as sharp does. Only these three of libjpeg-turbo's M/8 scales are used: their inverse DCTs are the
SIMD ones (a 3/8 decode, 2250 px, runs libjpeg's plain C 3x3 IDCT and came out no faster over the decode,
the reduce and the encode), and they are the ones libvips' JPEG loader offers (``shrink``), so both decoders
give the same pixels.

That makes the decoder a matter of speed only. Where libjpeg-turbo's TurboJPEG library
(``libturbojpeg.so.0``: Debian's ``libturbojpeg0``, Amazon Linux's ``turbojpeg``) is installed, it decodes
the whole image in one call, about 7-10 % less CPU per image than libvips' loader streaming it in strips;
elsewhere libvips' loader decodes, and the output bytes are the same (tests/e2e/test_shrink_on_load.py and,
through `mediaflow run`, tests/e2e/test_cli_imports.py compare them). It is reached through ``ctypes``, whose
load takes well under a millisecond, so every process that decodes JPEGs uses it, a one-file run included (a
Python binding such as simplejpeg brings numpy, 50-100 ms of each start). Only baseline (single-scan) YCbCr,
RGB and greyscale files take this path (a progressive file's cost grows with its scan count, which libvips'
loader keeps judging as before); anything else, and any file libjpeg-turbo warns about, goes to libvips' own
loader, which stays the judge of broken and hostile files (its named errors, its ``fail_on``). The header
image's metadata (ICC profile, EXIF, XMP, orientation, resolution) is carried over to the decoded pixels.
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

import pyvips

from mediaflow.workers.image_state import int_field

# Geometry and bookkeeping fields the new image sets itself; every other header field is metadata to keep.
_OWN_FIELDS = frozenset({"width", "height", "bands", "format", "coding", "interpretation", "xoffset", "yoffset",
                         "xres", "yres", "filename", "vips-loader", "jpeg-multiscan", "n-pages"})
# TurboJPEG's colourspace (TJCS_*) -> its pixel format (TJPF_RGB, TJPF_GRAY), bands, libvips interpretation.
_COLOURSPACES = {1: (0, 3, "srgb"), 0: (0, 3, "srgb"), 2: (6, 1, "b-w")}
_STOP_ON_WARNING = 1 << 13  # TJFLAG_STOPONWARNING: a file libjpeg-turbo warns about is left to libvips' loader
_LIBRARY_NAMES = ("libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib", "libturbojpeg.dylib")
# The decode is one buffer (libvips streams its own decode in strips): above this many decoded pixels
# libvips' loader keeps the peak memory (bench p4) flat.
MAX_DECODED_PIXELS = 30_000_000
SHRINKS = (8, 4, 2)


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

    def header(self, data: int, length: int) -> tuple[int, int, int] | None:
        """Width, height and colourspace (TJCS_*) of the JPEG at address ``data``; None when it is not one."""
        handle = self._handle()
        width, height, subsampling, colourspace = (ctypes.c_int() for _ in range(4))
        if not handle or self._library.tjDecompressHeader3(
                handle, data, length, ctypes.byref(width), ctypes.byref(height), ctypes.byref(subsampling),
                ctypes.byref(colourspace)) != 0:
            return None
        return width.value, height.value, colourspace.value

    def decode(self, data: int, length: int, size: tuple[int, int], pixel_format: int, bands: int) -> Any | None:
        """The pixels at the DCT scale that gives ``size`` (rows of ``size[0] * bands`` bytes); None when
        libjpeg-turbo reports an error or a warning."""
        handle = self._handle()
        pixels = self._buffer(size[0] * size[1] * bands)
        if not handle or self._library.tjDecompress2(handle, data, length, ctypes.addressof(pixels), size[0], 0,
                                                      size[1], pixel_format, _STOP_ON_WARNING) != 0:
            return None
        return pixels

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


def loaded() -> bool:
    """Whether this process decodes JPEGs through libjpeg-turbo's own library (installed here)."""
    return turbojpeg() is not None


def covering_shrink(stored: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest of 8, 4 and 2 whose shrunk decode still covers ``target``; 1 when none does. libvips'
    loader gives each side divided by the shrink, rounded down (libjpeg decodes it rounded up, and libvips
    keeps the whole pixels of that decode)."""
    for shrink in SHRINKS:
        if stored[0] // shrink >= target[0] and stored[1] // shrink >= target[1]:
            return shrink
    return 1


def decode(path: Path, header_image: Any, target: tuple[int, int]) -> Any | None:
    """The pixels of ``path`` at the ``covering_shrink`` scale for ``target``, as a libvips image with the
    header's metadata: the pixels libvips' loader gives with that ``shrink``. None when the library is not
    installed, this path does not apply or libjpeg-turbo refuses the file (libvips' loader then decodes)."""
    library = turbojpeg() if loaded() else None
    if library is None or int_field(header_image, "jpeg-multiscan", 0) != 0:
        return None
    stored = (header_image.width, header_image.height)
    shrink = covering_shrink(stored, target)
    scaled = (-(-stored[0] // shrink), -(-stored[1] // shrink))  # what libjpeg decodes: sides rounded up
    # Under 8 px a side a smaller M/8 scale can round to the same size, and the library would take that one.
    if shrink == 1 or max(stored) < 8 or scaled[0] * scaled[1] > MAX_DECODED_PIXELS:
        return None
    decoded = _decode_file(library, path, stored, scaled)
    if decoded is None:
        return None
    pixels, bands, interpretation = decoded
    image = pyvips.Image.new_from_memory(pixels, scaled[0], scaled[1], bands, "uchar")
    whole = (stored[0] // shrink, stored[1] // shrink)
    if whole != scaled:  # libvips' loader keeps the whole pixels only: the same top-left crop
        image = image.crop(0, 0, *whole)
    image = image.copy(interpretation=interpretation, xres=header_image.xres, yres=header_image.yres)
    for field in header_image.get_fields():
        if field not in _OWN_FIELDS:
            image.set_type(header_image.get_typeof(field), field, header_image.get(field))
    return image


def _decode_file(library: TurboJPEG, path: Path, stored: tuple[int, int],
                 scaled: tuple[int, int]) -> tuple[Any, int, str] | None:
    """The decoded pixels, bands and interpretation, or None (not a file libjpeg-turbo reads as libvips did)."""
    try:
        # Mapped, not read: the file's pages are shared with the page cache instead of copied onto the heap
        # (a private mapping, which ctypes can point into; nothing writes to it).
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) as data:
            source = ctypes.c_char.from_buffer(data)
            try:
                address = ctypes.addressof(source)
                header = library.header(address, len(data))
                wanted = _COLOURSPACES.get(header[2]) if header is not None else None
                if header is None or wanted is None or header[:2] != stored:
                    return None
                pixels = library.decode(address, len(data), scaled, wanted[0], wanted[1])
            finally:
                del source  # the mapping cannot close while its buffer is exported
    except (ValueError, OSError):
        return None  # libvips decides what is wrong with it, and says so by name
    return None if pixels is None else (pixels, wanted[1], wanted[2])
