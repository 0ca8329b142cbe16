"""Valid but unusual images, made in the test (after the kinds in Pillow's Tests/images that Pillow opens):
TIFF in CIELab, tiled + planar, old-style JPEG (compression 6), LZMA, 32-bit float, 12-bit, extra samples,
and an AVIF image sequence; plus two broken BMPs (a truncated file, a palette larger than the bit depth
allows). Each maker returns the file's bytes."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 48, 32


def _gradient(channels: int, dtype: type = np.uint8, top: float = 255) -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    planes = [x * top / (WIDTH - 1), y * top / (HEIGHT - 1), (x + y) * top / (WIDTH + HEIGHT - 2)]
    planes += [np.full_like(x, top * 0.75, dtype=float)] * max(0, channels - 3)
    return np.stack(planes[:channels], axis=-1).astype(dtype)


def _tifffile(data: np.ndarray, **options: Any) -> bytes:
    import tifffile

    out = io.BytesIO()
    tifffile.imwrite(out, data, **options)
    return out.getvalue()


def _pillow(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def tiff_lab() -> bytes:
    """8-bit CIELab (photometric 8), as Pillow writes mode LAB."""
    lab = np.stack([_gradient(1)[..., 0], np.full((HEIGHT, WIDTH), 140, np.uint8),
                    np.full((HEIGHT, WIDTH), 100, np.uint8)], axis=-1)
    return _pillow(Image.fromarray(lab, "LAB"), "TIFF")


def tiff_lab_tifffile() -> bytes:
    """CIELab written by tifffile (signed a*/b* as libtiff stores them), uncompressed."""
    return _tifffile(_gradient(3), photometric="cielab")


def tiff_tiled_planar() -> bytes:
    """RGB in 16 x 16 tiles, one plane per channel (PlanarConfiguration 2)."""
    return _tifffile(np.moveaxis(_gradient(3), -1, 0), photometric="rgb", planarconfig="separate", tile=(16, 16))


def tiff_tiled_planar_16bit_rgba() -> bytes:
    return _tifffile(np.moveaxis(_gradient(4, np.uint16, 65535), -1, 0), photometric="rgb",
                     planarconfig="separate", tile=(16, 16), extrasamples=[2])


def tiff_lzma() -> bytes:
    return _pillow(Image.fromarray(_gradient(3)), "TIFF", compression="tiff_lzma")


def tiff_float() -> bytes:
    """One 32-bit float channel (Pillow mode F) in 0..1."""
    return _pillow(Image.fromarray(_gradient(1, np.float32, 1.0)[..., 0], "F"), "TIFF")


def tiff_float_signed() -> bytes:
    """32-bit float data in -pi..pi (as 10ct_32bit_128.tiff): a data file, not 0..1 or 0..255."""
    return _pillow(Image.fromarray(_gradient(1, np.float32, 2 * np.pi)[..., 0] - np.float32(np.pi), "F"), "TIFF")


def tiff_float_rgb() -> bytes:
    return _tifffile(_gradient(3, np.float32, 1.0), photometric="rgb")


def tiff_12bit() -> bytes:
    """Greyscale with 12 bits per sample, packed MSB first (as 12bit.cropped.tif)."""
    values = _gradient(1, np.uint16, 4095)[..., 0]
    packed = bytearray()
    for row in values:
        bits = "".join(f"{int(v):012b}" for v in row)
        bits += "0" * (-len(bits) % 8)
        packed += int(bits, 2).to_bytes(len(bits) // 8, "big")
    return _tiff_by_hand(bytes(packed), bits=(12,), photometric=1)


def tiff_extra_samples() -> bytes:
    """RGB plus two unspecified extra samples (ExtraSamples = 0, 0)."""
    return _tifffile(_gradient(5), photometric="rgb", extrasamples=[0, 0])


def tiff_old_style_jpeg() -> bytes:
    """Compression 6 (old-style JPEG): one strip holding a whole JFIF stream, pointed at by
    JPEGInterchangeFormat, as old scanners wrote them."""
    jpeg = _pillow(Image.fromarray(_gradient(3)), "JPEG", quality=90, subsampling=0)
    return _tiff_by_hand(jpeg, bits=(8, 8, 8), photometric=6, compression=6, jpeg_interchange=True)


def avif_sequence() -> bytes:
    """An animated AVIF (image sequence, brand avis) of three frames, as star.avifs."""
    frames = [Image.fromarray(np.roll(_gradient(3), shift * 8, axis=1)) for shift in range(3)]
    return _pillow(frames[0], "AVIF", save_all=True, append_images=frames[1:], duration=100, quality=80)


def bmp_truncated() -> bytes:
    """A 24-bit BMP cut after half of its pixel rows (as shortfile.bmp)."""
    data = _pillow(Image.fromarray(_gradient(3)), "BMP")
    return data[: 54 + (len(data) - 54) // 2]


def bmp_oversized_palette() -> bytes:
    """An 8-bit BMP whose header claims 1000 palette colours (256 at most; as pal8oversizepal.bmp)."""
    data = bytearray(_pillow(Image.fromarray(_gradient(1)[..., 0], "L").convert("P"), "BMP"))
    struct.pack_into("<I", data, 46, 1000)  # biClrUsed
    return bytes(data)


def _tiff_by_hand(strip: bytes, *, bits: tuple[int, ...], photometric: int, compression: int = 1,
                  jpeg_interchange: bool = False) -> bytes:
    """A little-endian baseline TIFF with one strip (for what the writers will not produce)."""
    samples = len(bits)
    entries: list[tuple[int, int, int, int | bytes]] = []  # tag, type, count, value or payload
    bits_value: int | bytes = bits[0] if samples == 1 else struct.pack(f"<{samples}H", *bits)
    entries += [(256, 3, 1, WIDTH), (257, 3, 1, HEIGHT), (258, 3, samples, bits_value), (259, 3, 1, compression),
                (262, 3, 1, photometric), (273, 4, 1, 0), (277, 3, 1, samples), (278, 3, 1, HEIGHT),
                (279, 4, 1, len(strip)), (284, 3, 1, 1)]
    if jpeg_interchange:
        entries += [(513, 4, 1, 0), (514, 4, 1, len(strip))]
    entries.sort()
    header = 8
    ifd_size = 2 + 12 * len(entries) + 4
    extra_at = header + ifd_size
    extra = b""
    strip_at = extra_at + sum(len(v) for *_, v in entries if isinstance(v, bytes))
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if isinstance(value, bytes):
            ifd += struct.pack("<HHII", tag, kind, count, extra_at + len(extra))
            extra += value
        elif tag in (273, 513):
            ifd += struct.pack("<HHII", tag, kind, count, strip_at)
        elif kind == 3:
            ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", header) + ifd + extra + strip


VALID: dict[str, Callable[[], bytes]] = {
    "lab.tif": tiff_lab, "lab-tifffile.tif": tiff_lab_tifffile, "tiled-planar.tif": tiff_tiled_planar,
    "tiled-planar-16bit-rgba.tif": tiff_tiled_planar_16bit_rgba, "old-style-jpeg.tif": tiff_old_style_jpeg,
    "lzma.tif": tiff_lzma, "float.tif": tiff_float, "float-signed.tif": tiff_float_signed,
    "float-rgb.tif": tiff_float_rgb, "12bit.tif": tiff_12bit,
    "extra-samples.tif": tiff_extra_samples, "star.avifs": avif_sequence,
}
BROKEN: dict[str, Callable[[], bytes]] = {"shortfile.bmp": bmp_truncated, "pal8oversizepal.bmp": bmp_oversized_palette}
