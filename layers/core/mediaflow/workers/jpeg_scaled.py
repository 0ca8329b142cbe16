"""JPEG decode at a DCT scale, through libjpeg-turbo's own binding where it is loaded.

A downscale decodes a JPEG straight to the smallest of the scales 1/8, 1/4 and 1/2 that still covers the
target (``covering_shrink``), then makes one Lanczos3 reduce: a 6000 px photo bound for 1600 px decodes at
3000 px, as sharp does. Only these three of libjpeg-turbo's M/8 scales are used: their inverse DCTs are the
SIMD ones (a 3/8 decode, 2250 px, runs libjpeg's plain C 3x3 IDCT and came out no faster over the decode,
the reduce and the encode), and they are the ones libvips' JPEG loader offers (``shrink``), so both decoders
give the same pixels.

That makes the decoder a matter of speed only. Where ``simplejpeg`` (libjpeg-turbo, statically linked in its
wheel) is loaded, it decodes the whole image in one call, about 5 % less CPU per image than libvips' loader
streaming it in strips; elsewhere libvips' loader decodes, and the output bytes are the same
(tests/e2e/test_shrink_on_load.py and, through `mediaflow run`, tests/e2e/test_cli_imports.py compare them).
Importing the binding brings numpy (40-100 ms), so it is loaded only where many decodes share that cost: by
the zygote of a `mediaflow run` with more than a few inputs, on the core the command leaves idle during its
start, by ``serve``'s fork server and once per vips Lambda container (the runtime's ``preload`` in the
catalog). A one-file run never loads it. Only baseline (single-scan) YCbCr, RGB and greyscale files take this
path (a progressive file's cost grows with its scan count, which libvips' loader keeps judging as before);
anything else, and any file libjpeg-turbo complains about, goes to libvips' own loader, which stays the judge
of broken and hostile files (its named errors, its ``fail_on``). The header image's metadata (ICC profile,
EXIF, XMP, orientation, resolution) is carried over to the decoded pixels.
"""

from __future__ import annotations

import mmap
import sys
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
SHRINKS = (8, 4, 2)


def loaded() -> bool:
    """Whether the libjpeg-turbo binding is loaded in this process (it is never imported here: see above)."""
    return "simplejpeg" in sys.modules


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
    header's metadata: the pixels libvips' loader gives with that ``shrink``. None when the binding is not
    loaded, this path does not apply or libjpeg-turbo refuses the file (libvips' loader then decodes)."""
    if not loaded() or int_field(header_image, "jpeg-multiscan", 0) != 0:
        return None
    stored = (header_image.width, header_image.height)
    shrink = covering_shrink(stored, target)
    scaled = (-(-stored[0] // shrink), -(-stored[1] // shrink))  # what libjpeg decodes: sides rounded up
    # Under 8 px a side a smaller M/8 scale can round to the same size, and the binding would take that one.
    if shrink == 1 or max(stored) < 8 or scaled[0] * scaled[1] > MAX_DECODED_PIXELS:
        return None
    import simplejpeg

    try:
        # Mapped, not read: the file's pages are shared with the page cache instead of copied onto the heap.
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            height, width, colourspace, _ = simplejpeg.decode_jpeg_header(data)
            wanted = _COLOURSPACES.get(colourspace)
            if wanted is None or (width, height) != (header_image.width, header_image.height):
                return None
            # The smallest M/8 scale at least this large is 8/shrink eighths (the IDCT libvips' loader runs).
            pixels = simplejpeg.decode_jpeg(data, colorspace=wanted[0], min_width=scaled[0],
                                            min_height=scaled[1])
    except (ValueError, OSError):
        return None  # libvips decides what is wrong with it, and says so by name
    if pixels.ndim == 2:
        pixels = pixels.reshape(*pixels.shape, 1)
    decoded_height, decoded_width, bands = pixels.shape
    if bands != wanted[1] or (decoded_width, decoded_height) != scaled:
        return None
    image = pyvips.Image.new_from_memory(pixels.data, decoded_width, decoded_height, bands, "uchar")
    whole = (stored[0] // shrink, stored[1] // shrink)
    if whole != scaled:  # libvips' loader keeps the whole pixels only: the same top-left crop
        image = image.crop(0, 0, *whole)
    image = image.copy(interpretation=wanted[2], xres=header_image.xres, yres=header_image.yres)
    for field in header_image.get_fields():
        if field not in _OWN_FIELDS:
            image.set_type(header_image.get_typeof(field), field, header_image.get(field))
    return image
