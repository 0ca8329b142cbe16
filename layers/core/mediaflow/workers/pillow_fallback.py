"""Pillow where libvips refuses a valid image: the image worker's second decoder.

libvips decodes first. Where it cannot (TIFF in CIELab, 12-bit samples, old-style JPEG compression, tiled
files with one plane per channel, AVIF image sequences), Pillow opens the file instead, restricted to the
plugin of the sniffed format, after the same pixel check, and its pixels become an 8-bit sRGB (or grey)
libvips image so that every op and encode stays the same. Whatever neither decoder reads, and every Pillow
failure (a truncated BMP, an oversized palette), is a named :class:`MediaDecodeError`, never a raw error.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyvips

from mediaflow.errors import MediaDecodeError

# Formats that libvips decodes first and Pillow decodes when libvips refuses.
FALLBACK_FORMATS = frozenset({"tiff", "avif"})
# The only Pillow plugin each sniffed format may open with (a file never reaches another plugin).
PLUGINS: dict[str, list[str]] = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"], "gif": ["GIF"], "tiff": ["TIFF"],
                                "avif": ["AVIF"], "bmp": ["BMP", "DIB"], "heic": ["HEIF"]}
# TIFF tags that mark layouts libvips cannot read although its header opens: it fails on the pixels.
_COMPRESSION, _PLANAR, _TILE_WIDTH, _BITS = 259, 284, 322, 258
_OLD_STYLE_JPEG = 6
# What a broken file makes Pillow raise (truncated data, bad palettes, bad headers, bombs).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, struct.error,
                 zlib.error, MemoryError)


@contextlib.contextmanager
def pixel_limit_lifted() -> Iterator[None]:
    """Let Pillow open what the header check already accepted (its own bomb limit is lower)."""
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


@contextlib.contextmanager
def opened(path: Path, fmt: str) -> Iterator[Any]:
    """The file opened by Pillow with the sniffed format's plugin only (the pixel check ran before)."""
    from PIL import Image

    if fmt == "heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    with pixel_limit_lifted(), Image.open(path, formats=PLUGINS.get(fmt)) as handle:
        yield handle


def vips_refusal(path: Path, fmt: str) -> str | None:
    """Why libvips would fail on this file's pixels although it reads the header, or None. Only TIFF has
    such layouts: old-style JPEG compression, and tiles with one plane per channel."""
    if fmt != "tiff":
        return None
    try:
        with opened(path, fmt) as handle:
            tags = handle.tag_v2
            if tags.get(_COMPRESSION) == _OLD_STYLE_JPEG:
                return "old-style JPEG compression"
            if tags.get(_PLANAR) == 2 and _TILE_WIDTH in tags:
                return "tiles with one plane per channel"
    except DECODE_ERRORS:
        return None  # libvips reads it first and names what is wrong
    return None


def to_vips(picture: Any, bits: int | None = None) -> Any:
    """A loaded Pillow image as an 8-bit sRGB / grey libvips image (alpha kept). Modes that a plain
    ``convert("RGB")`` would get wrong are mapped here: CIELab through libvips' Lab -> sRGB, integer greys
    wider than 8 bits by their bit depth (12-bit: 4095 is white), float greys by their range."""
    width, height = picture.width, picture.height
    mode = picture.mode
    if mode == "LAB":
        lab = pyvips.Image.new_from_memory(picture.tobytes(), width, height, 3, "uchar")
        lab = lab.cast("float").linear([100 / 255, 1, 1], [0, -128, -128]).copy(interpretation="lab")
        return lab.colourspace("srgb").cast("uchar")
    if mode == "F":
        grey = pyvips.Image.new_from_memory(picture.tobytes("raw", "F"), width, height, 1, "float")
        return display_range(grey).cast("uchar").copy(interpretation="b-w")
    if mode.startswith("I"):
        wide = picture if mode == "I" else picture.convert("I")
        grey = pyvips.Image.new_from_memory(wide.tobytes("raw", "I"), width, height, 1, "int")
        scaled = grey.linear(255 / (2 ** bits - 1), 0) if bits and bits > 8 else display_range(grey)
        return scaled.cast("uchar").copy(interpretation="b-w")
    has_alpha = "A" in picture.getbands() or "transparency" in picture.info
    picture = picture.convert("RGBA" if has_alpha else "RGB")
    return pyvips.Image.new_from_memory(picture.tobytes(), width, height, len(picture.getbands()),
                                        "uchar").copy(interpretation="srgb")


def display_range(image: Any) -> Any:
    """Samples whose range is not known (float: 0..1 by the TIFF convention, 0..255, or any range in data
    files such as -pi..pi; 32-bit integers) mapped onto 0..255 by that range, with one pass over the
    decoded pixels, so the picture shows instead of a black or clipped one. 8-bit images and colorimetric
    float (Lab, XYZ, scRGB, which the colourspace conversion handles) are returned as they are."""
    if image.format in ("uchar", "char") or image.interpretation in ("lab", "labs", "xyz", "scrgb"):
        return image
    integer = image.format not in ("float", "double", "complex", "dpcomplex")
    if image.format in ("ushort", "short"):
        return image  # 16-bit has a known range: the colourspace conversion scales it
    image = image.copy_memory()
    low, high = image.min(), image.max()
    if not integer and low >= 0 and high <= 1:
        return image.linear(255, 0)
    if low >= 0 and high <= 255:
        return image
    if high <= low:
        return image.linear(0, 128)
    return image.linear(255 / (high - low), -low * 255 / (high - low))


def bits_per_sample(handle: Any) -> int | None:
    """The TIFF BitsPerSample of the first channel (12 for a 12-bit file that Pillow widens to 16)."""
    tags = getattr(handle, "tag_v2", None)
    value = tags.get(_BITS) if tags is not None else None
    if isinstance(value, tuple):
        value = value[0] if value else None
    return int(value) if isinstance(value, int) else None


def decode_failure(fmt: str, error: BaseException, node_id: str | None, *, header: bool = False,
                   libvips: str | None = None) -> MediaDecodeError:
    """The named error of a file that neither decoder reads (each decoder's reason kept)."""
    what = "header" if header else "image"
    reasons = ([f"libvips: {libvips}"] if libvips else []) + [f"Pillow: {error or type(error).__name__}"]
    return MediaDecodeError(f"cannot read the {fmt} {what}: {'; '.join(reasons)}"[:500], node_id=node_id)
