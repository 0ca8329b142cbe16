"""JPEG decode at a DCT scale, through libjpeg-turbo's TurboJPEG library where it is installed.

A downscale decodes a JPEG straight to the smallest of libjpeg's scales 1/8, 1/4, 3/8 and 1/2 that still covers
the target (``covering_eighths``), then makes one Lanczos3 reduce: a 6000 px photo bound for 1600 px decodes at
3/8, 2250 px, and reduces by 1.41x. libjpeg's 3/8 runs a plain C 3x3 inverse DCT where 1/2 has a SIMD one, so
that decode takes 1-2 ms more, but the reduce and the encode that follow take 4-5 ms less (bench/README.md,
"Shrink-on-load"); its output scores a luminance SSIM against the full-decode reference as high as 1/2's.
The larger M/8 scales (5/8 to 7/8) are left out: their inverse DCTs are plain C too, on many more pixels (a
5/8 decode of that photo took 94 ms against 54 ms at 1/2).

At 1/8, 1/4 and 1/2, the scales libvips' JPEG loader offers too (``shrink`` 8, 4, 2), both decoders give the
same pixels, so a file gives the same bytes where the library is installed and where it is not; at 3/8 the
library's pixels are its own (without it, libvips' loader decodes at 1/2, within the same quality bound).

Where libjpeg-turbo's TurboJPEG library (``libturbojpeg.so.0``: Debian's ``libturbojpeg0``, Amazon Linux's
``turbojpeg``, in the vips Lambda's image) is installed, it decodes the whole image in one call, about 7-10 %
less CPU per image than libvips' loader streaming it in strips (tests/e2e/test_shrink_on_load.py and, through
`mediaflow run`, tests/e2e/test_cli_imports.py compare the two). It is reached through ``ctypes``, whose
load takes well under a millisecond, so every process that decodes JPEGs uses it, a one-file run included (a
Python binding such as simplejpeg brings numpy, 50-100 ms of each start). Only baseline (single-scan) YCbCr,
RGB and greyscale files take this path (a progressive file's cost grows with its scan count, which libvips'
loader keeps judging as before); anything else, and any file libjpeg-turbo warns about, goes to libvips' own
loader, which stays the judge of broken and hostile files (its named errors, its ``fail_on``). The header
image's metadata (ICC profile, EXIF, XMP, orientation, resolution) is carried over to the decoded pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyvips

from mediaflow.workers import decode_ahead
from mediaflow.workers.image_state import int_field, stripped_with_metadata
from mediaflow.workers.turbojpeg import MAX_DECODED_PIXELS, covering_eighths, scaled_size, turbojpeg

# Geometry and bookkeeping fields the new image sets itself; every other header field is metadata to keep.
_OWN_FIELDS = frozenset({"width", "height", "bands", "format", "coding", "interpretation", "xoffset", "yoffset",
                         "xres", "yres", "filename", "vips-loader", "jpeg-multiscan", "n-pages"})
_INTERPRETATIONS = {3: "srgb", 1: "b-w"}


def loaded() -> bool:
    """Whether this process decodes JPEGs through libjpeg-turbo's own library (installed here)."""
    return turbojpeg() is not None


def decode(path: Path, header_image: Any, target: tuple[int, int], *, metadata: bool = True) -> Any | None:
    """The pixels of ``path`` at the ``covering_eighths`` scale for ``target``, as a libvips image with the
    header's metadata (at 1/8, 1/4 and 1/2 the pixels libvips' loader gives with that ``shrink``). None when
    the library is not installed, this path does not apply or libjpeg-turbo refuses the file (libvips' loader
    then decodes).
    A decode made ahead of the Task for the same file at the same scale (``decode_ahead``) is taken as is.
    Without ``metadata`` (the Task's encode drops it) the EXIF, XMP and IPTC fields are not copied: the
    libvips loader's image carries them for free, a copy field by field costs about a millisecond a photo
    here and in the encode that removes them again."""
    library = turbojpeg() if loaded() else None
    if library is None or int_field(header_image, "jpeg-multiscan", 0) != 0:
        return None
    stored = (header_image.width, header_image.height)
    eighths = covering_eighths(stored, target)
    scaled = scaled_size(stored, eighths)
    # Under 8 px a side a smaller M/8 scale can round to the same size, and the library would take that one.
    if eighths == 8 or max(stored) < 8 or scaled[0] * scaled[1] > MAX_DECODED_PIXELS:
        return None
    decoded = decode_ahead.take(path, stored, eighths) or library.decode_file(path, stored, scaled)
    if decoded is None:
        return None
    pixels, bands = decoded
    image = pyvips.Image.new_from_memory(pixels, scaled[0], scaled[1], bands, "uchar")
    whole = (stored[0] * eighths // 8, stored[1] * eighths // 8)
    if whole != scaled:  # libvips' loader keeps the whole pixels only: the same top-left crop at every scale
        image = image.crop(0, 0, *whole)
    image = image.copy(interpretation=_INTERPRETATIONS[bands], xres=header_image.xres, yres=header_image.yres)
    for field in header_image.get_fields():
        if field not in _OWN_FIELDS and (metadata or not stripped_with_metadata(field)):
            image.set_type(header_image.get_typeof(field), field, header_image.get(field))
    return image

