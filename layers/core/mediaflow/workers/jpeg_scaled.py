"""JPEG decode straight to the smallest of libjpeg-turbo's M/8 scales that still covers the target.

libvips' JPEG loader shrinks on load by 2, 4 or 8 only, so a 6000 px photo bound for 1600 px decodes
at 3000 px and the reduce that follows reads 6 MP. libjpeg-turbo's scaled IDCT also offers 3/8, 5/8,
3/4 and 7/8: the same photo decodes at 2250 px (3/8), and both the decode and the Lanczos reduce after
it do less work. Measured on 24 MP camera JPEGs -> 1600 px: about 20 % less CPU per image than
libvips' 1/2 decode, with the same reduce kernel (bench/README.md, "Shrink-on-load").

The decode goes through ``simplejpeg`` (libjpeg-turbo, statically linked in its wheel) wherever it is
installed, so a file decodes the same way in every runtime and whatever else a process did before (the same
output bytes from a one-file run, a folder and a Lambda). Importing it brings numpy (35-40 ms), so it is
loaded before the tasks where that is free or pays: by the zygote of ``mediaflow run``, on the core the
command leaves idle during its start, by ``serve``'s fork server and once per vips Lambda container (the
runtime's ``preload`` in the catalog); elsewhere the first decode imports it. Only
baseline (single-scan) YCbCr, RGB and greyscale files take this path, and only when it saves work (a
progressive file's cost grows with its scan count, which libvips' loader keeps judging as before);
anything else, and any file libjpeg-turbo complains about, goes to libvips' own loader, which stays
the judge of broken and hostile files (its named errors, its ``fail_on``). The header image's
metadata (ICC profile, EXIF, XMP, orientation, resolution) is carried over to the decoded pixels.
"""

from __future__ import annotations

import importlib.util
import mmap
from functools import cache
from pathlib import Path
from typing import Any

import pyvips

from mediaflow.workers.image_state import int_field

# Geometry and bookkeeping fields the new image sets itself; every other header field is metadata to keep.
_OWN_FIELDS = frozenset({"width", "height", "bands", "format", "coding", "interpretation", "xoffset", "yoffset",
                         "xres", "yres", "filename", "vips-loader", "jpeg-multiscan", "n-pages"})
_COLOURSPACES = {"YCbCr": ("RGB", 3, "srgb"), "RGB": ("RGB", 3, "srgb"), "Gray": ("GRAY", 1, "b-w")}
# The decode is one buffer (libvips streams its own decode in strips): above this many decoded pixels
# libvips' loader keeps the peak memory (bench p4) flat.
MAX_DECODED_PIXELS = 30_000_000
EIGHTHS = range(1, 8)


@cache
def available() -> bool:
    """Whether the libjpeg-turbo binding is installed (checked once, without importing it)."""
    return importlib.util.find_spec("simplejpeg") is not None


def covering_eighths(stored: tuple[int, int], target: tuple[int, int]) -> int | None:
    """The smallest M (< 8) whose M/8 decode (libjpeg rounds each side up) covers ``target``, or None."""
    for eighths in EIGHTHS:
        if -(-stored[0] * eighths // 8) >= target[0] and -(-stored[1] * eighths // 8) >= target[1]:
            return eighths
    return None


def decode(path: Path, header_image: Any, target: tuple[int, int]) -> Any | None:
    """The pixels of ``path`` at the smallest M/8 scale covering ``target``, as a libvips image with the
    header's metadata; None when the binding is not installed, this path does not apply or libjpeg-turbo
    refuses the file."""
    if not available() or int_field(header_image, "jpeg-multiscan", 0) != 0:
        return None
    eighths = covering_eighths((header_image.width, header_image.height), target)
    if eighths is None or header_image.width * eighths * header_image.height * eighths > MAX_DECODED_PIXELS * 64:
        return None
    import simplejpeg

    try:
        # Mapped, not read: the file's pages are shared with the page cache instead of copied onto the heap.
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            height, width, colourspace, _ = simplejpeg.decode_jpeg_header(data)
            wanted = _COLOURSPACES.get(colourspace)
            if wanted is None or (width, height) != (header_image.width, header_image.height):
                return None
            pixels = simplejpeg.decode_jpeg(data, colorspace=wanted[0], min_width=target[0],
                                            min_height=target[1])
    except (ValueError, OSError):
        return None  # libvips decides what is wrong with it, and says so by name
    if pixels.ndim == 2:
        pixels = pixels.reshape(*pixels.shape, 1)
    decoded_height, decoded_width, bands = pixels.shape
    if bands != wanted[1] or decoded_width < target[0] or decoded_height < target[1]:
        return None
    image = pyvips.Image.new_from_memory(pixels.data, decoded_width, decoded_height, bands, "uchar")
    image = image.copy(interpretation=wanted[2], xres=header_image.xres, yres=header_image.yres)
    for field in header_image.get_fields():
        if field not in _OWN_FIELDS:
            image.set_type(header_image.get_typeof(field), field, header_image.get(field))
    return image
