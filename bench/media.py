"""Benchmark media, generated with libvips on the spot and kept under bench/work/media/.

The images follow ``mediaflow.samples.photo`` (gradients, a disc, sensor-like noise, EXIF with GPS) but
are built faster: the smooth part is computed at 1/8 scale and enlarged, and the noise is a 509 x 509
tile of Gaussian noise repeated over the frame. JPEG files at 90 % quality come out at about
0.4 bytes per pixel, close to what cameras write. A file is made once and reused while its name
(which spells every parameter) and ``GENERATOR_VERSION`` stay the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GENERATOR_VERSION = 1
_NOISE_TILE = 509


def photo(path: Path, width: int, height: int, *, seed: int = 1, quality: int = 90, alpha: bool = False) -> Path:
    """A photo-like image (JPEG, or PNG when ``path`` ends in .png) with EXIF fields."""
    import pyvips

    factor = 8
    small_w, small_h = -(-width // factor), -(-height // factor)
    xy = pyvips.Image.xyz(small_w, small_h)
    gx, gy = xy[0] / small_w, xy[1] / small_h
    shade = seed % 7 * 5
    base = (gx * 180 + 40).bandjoin([gy * 150 + 60, ((gx + gy) / 2) * 120 + 80 + shade])
    cx, cy = small_w * (0.5 + seed % 5 * 0.05), small_h * 0.45
    radius = min(small_w, small_h) * 0.25
    distance = ((xy[0] - cx) ** 2 + (xy[1] - cy) ** 2) ** 0.5
    smooth: Any = (distance < radius).ifthenelse([230, 200, 60], base).cast("uchar").copy_memory()
    smooth = smooth.resize(factor, kernel="linear").crop(0, 0, width, height)
    tile = _NOISE_TILE
    noise = pyvips.Image.gaussnoise(tile, tile, sigma=12, mean=0, seed=seed).bandjoin([
        pyvips.Image.gaussnoise(tile, tile, sigma=12, mean=0, seed=seed + 101),
        pyvips.Image.gaussnoise(tile, tile, sigma=12, mean=0, seed=seed + 202),
    ]).cast("char").copy_memory()
    noise = noise.replicate(width // tile + 1, height // tile + 1).crop(0, 0, width, height)
    image = (smooth.cast("short") + noise).cast("uchar").copy(interpretation="srgb")
    if alpha:
        ramp = (pyvips.Image.xyz(width, height)[0] * (255 / max(1, width - 1))).cast("uchar")
        image = image.bandjoin(ramp)
    image = image.copy()
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Make", "mediaflow bench")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Software", "mediaflow")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", "N")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitude", "48/1 51/1 2981/100")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    if path.suffix == ".png":
        image.pngsave(str(partial) + ".png", compression=3)
        Path(str(partial) + ".png").replace(path)
    else:
        image.jpegsave(str(partial) + ".jpg", Q=quality)
        Path(str(partial) + ".jpg").replace(path)
    return path


class MediaCache:
    """Generated images under one folder, made on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generated: list[str] = []

    def photo(self, width: int, height: int, *, seed: int = 1, fmt: str = "jpg", alpha: bool = False,
              quality: int = 90) -> Path:
        variant = f"{'-alpha' if alpha else ''}{'' if quality == 90 else f'-q{quality}'}"
        name = f"photo-v{GENERATOR_VERSION}-{width}x{height}-s{seed}{variant}.{fmt}"
        path = self.root / name
        if not path.is_file():
            photo(path, width, height, seed=seed, alpha=alpha, quality=quality)
            self.generated.append(name)
        return path
