"""Shrink-on-load: a downscale decodes JPEG/WebP at a reduced scale, then one Lanczos3 reduce.

The quality bound (bench/README.md, "folder"): against a reference made from the full-resolution decode with a
Lanczos3 reduce, the output's luminance SSIM is at least 0.97, and it is within 0.01 of what the
full-decode path (``thumbnail`` without DCT scaling) gives. Outputs are PNG so the encoder adds no loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.workers import image as image_worker

from tests.e2e.image_support import make_env, payload, upload

pyvips = pytest.importorskip("pyvips")
np = pytest.importorskip("numpy")
metrics = pytest.importorskip("skimage.metrics")

pytestmark = pytest.mark.e2e

SSIM_FLOOR = 0.97
SSIM_VS_FULL_DECODE = 0.01


@pytest.fixture
def env(tmp_path: Path) -> TaskEnvironment:
    return make_env(tmp_path)


def _photo(width: int, height: int) -> Any:
    """Detail at every scale: gradients, a hard-edged disc, fine stripes and sensor-like noise."""
    xy = pyvips.Image.xyz(width, height)
    gx, gy = xy[0] / width, xy[1] / height
    base = (gx * 180 + 40).bandjoin([gy * 150 + 60, (gx + gy) * 60 + 80])
    disc = ((xy[0] - width * 0.55) ** 2 + (xy[1] - height * 0.45) ** 2) < (min(width, height) * 0.25) ** 2
    stripes = ((xy[0] / 7).floor() % 2) * 40
    noise = pyvips.Image.gaussnoise(width, height, sigma=10, seed=3)
    return (disc.ifthenelse([230, 200, 60], base) + stripes + noise).cast("uchar").copy(interpretation="srgb")


def _luminance(image: Any) -> Any:
    grey = image.colourspace("b-w")[0]
    return np.ndarray(buffer=grey.write_to_memory(), dtype=np.uint8, shape=(grey.height, grey.width))


def _ssim(a: Any, b: Any) -> float:
    return float(metrics.structural_similarity(_luminance(a), _luminance(b), data_range=255))


@pytest.mark.parametrize(("fmt", "save", "width", "expect"), [
    ("jpeg", {"Q": 92}, 375, {"shrink": 2}),   # factor 3.2: DCT scale 1/2, then a 1.6x reduce
    ("jpeg", {"Q": 92}, 240, {"shrink": 4}),   # factor 5
    ("jpeg", {"Q": 92}, 600, {}),              # factor 2: the exact factor is never taken, full decode
    ("webp", {"Q": 92}, 375, {"scale": 1 / 3.2}),
])
def test_downscale_decodes_small_and_stays_close_to_the_full_decode(
        env: TaskEnvironment, tmp_path: Path, fmt: str, save: dict[str, Any], width: int,
        expect: dict[str, Any]) -> None:
    source = _photo(1200, 800)
    data = bytes(source.jpegsave_buffer(**save) if fmt == "jpeg" else source.webpsave_buffer(**save))
    assert image_worker.load_shrink(fmt, (1200, 800), (width, round(800 * width / 1200))) == expect

    media = upload(env, data, f"photo.{'jpg' if fmt == 'jpeg' else 'webp'}")
    result = image_worker.run_chain(payload(media, ("r", "resize", {"width": width}),
                                            ("c", "convert", {"outputFormat": "png"})), env)
    made = pyvips.Image.new_from_buffer(env.blobs.read(result.media.key), "")  # type: ignore[attr-defined]
    assert made.width == width

    full = pyvips.Image.new_from_buffer(data, "")
    reference = full.resize(made.width / full.width, vscale=made.height / full.height, kernel="lanczos3")
    path = tmp_path / f"source.{fmt}"
    path.write_bytes(data)
    full_decode = pyvips.Image.thumbnail(str(path), made.width, height=made.height, size="force")
    assert full_decode.width == made.width

    ours, theirs = _ssim(reference, made), _ssim(reference, full_decode)
    assert ours >= SSIM_FLOOR, (ours, theirs)
    assert ours >= theirs - SSIM_VS_FULL_DECODE, (ours, theirs)


def test_rotated_jpeg_shrinks_on_load_and_turns(env: TaskEnvironment) -> None:
    """EXIF orientation 6: the target is in display orientation, the shrink on the stored one."""
    source = _photo(1200, 800).copy()
    source.set_type(pyvips.GValue.gint_type, "orientation", 6)
    media = upload(env, bytes(source.jpegsave_buffer(Q=90)), "turned.jpg")
    result = image_worker.run_chain(payload(media, ("r", "resize", {"width": 200}),
                                            ("c", "convert", {"outputFormat": "png"})), env)
    made = pyvips.Image.new_from_buffer(env.blobs.read(result.media.key), "")  # type: ignore[attr-defined]
    assert (made.width, made.height) == (200, 300)
    expected = _photo(1200, 800).rot90().resize(200 / 800, kernel="lanczos3")
    assert _ssim(expected, made) >= SSIM_FLOOR
