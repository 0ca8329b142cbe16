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
    ``convert("RGB")`` would get wrong are mapped here: CIELab through libvips' Lab -> sRGB, 12/16/32-bit
    integer and float greys scaled to 8 bits by their real range."""
    import numpy as np

    mode = picture.mode
    if mode == "LAB":
        lab = pyvips.Image.new_from_memory(picture.tobytes(), picture.width, picture.height, 3, "uchar")
        lab = lab.cast("float").linear([100 / 255, 1, 1], [0, -128, -128]).copy(interpretation="lab")
        return lab.colourspace("srgb").cast("uchar")
    if mode.startswith(("I;16", "I")) or mode == "F":
        values = np.asarray(picture, dtype=np.float64)
        if mode == "F":
            top = 1.0 if values.size and float(np.nanmax(values)) <= 1.0 else 255.0
        else:
            top = float(2 ** (bits or (16 if mode.startswith("I;16") else 32)) - 1)
        grey = np.clip(np.nan_to_num(values) * (255.0 / top), 0, 255).round().astype(np.uint8)
        return pyvips.Image.new_from_memory(grey.tobytes(), picture.width, picture.height, 1, "uchar").copy(
            interpretation="b-w")
    has_alpha = "A" in picture.getbands() or "transparency" in picture.info
    picture = picture.convert("RGBA" if has_alpha else "RGB")
    return pyvips.Image.new_from_memory(picture.tobytes(), picture.width, picture.height,
                                        len(picture.getbands()), "uchar").copy(interpretation="srgb")


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
