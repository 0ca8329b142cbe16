"""The image worker's Pillow fallback on its own: the pixel budget still holds before Pillow decodes, Pillow
opens a file only with the plugin of its sniffed format, and the converted pixels keep their meaning
(CIELab colours, 12-bit and float ranges)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from mediaflow.errors import MediaDecodeError, MediaTooLarge
from mediaflow.workers import image as image_worker
from mediaflow.workers import pillow_fallback
from PIL import Image

from tests.e2e.image_support import make_env, payload, upload
from tests.support import odd_images

pytestmark = pytest.mark.e2e


def _png(tmp_path: Path, data: bytes, filename: str, **settings: object) -> np.ndarray:
    env = make_env(tmp_path, **settings)
    media = upload(env, data, filename)
    result = image_worker.run_chain(payload(media, ("c", "convert", {"outputFormat": "png"})), env)
    assert env.blobs is not None
    with Image.open(io.BytesIO(env.blobs.read(result.media.key))) as picture:  # type: ignore[attr-defined]
        return np.asarray(picture.convert("RGB"), dtype=np.float64)


@pytest.mark.parametrize("name", ["lab.tif", "12bit.tif", "old-style-jpeg.tif", "tiled-planar.tif", "star.avifs"])
def test_the_pixel_budget_holds_before_pillow_decodes(tmp_path: Path, name: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object) -> None:
        raise AssertionError("Pillow decoded pixels over the budget")

    monkeypatch.setattr(pillow_fallback, "to_vips", never)
    env = make_env(tmp_path, max_pixels=odd_images.WIDTH * odd_images.HEIGHT - 1)
    media = upload(env, odd_images.VALID[name](), name)
    with pytest.raises(MediaTooLarge) as caught:
        image_worker.run_chain(payload(media, ("c", "convert", {"outputFormat": "png"})), env)
    assert caught.value.node_id == "c"


def test_pillow_opens_a_file_only_with_its_sniffed_format(tmp_path: Path) -> None:
    # A BMP named and sniffed as a TIFF never reaches Pillow's BMP plugin: the TIFF plugin alone refuses it.
    path = tmp_path / "x"
    path.write_bytes(odd_images.bmp_truncated())
    from PIL import UnidentifiedImageError

    with pytest.raises(UnidentifiedImageError), pillow_fallback.opened(path, "tiff"):
        pass
    with pillow_fallback.opened(path, "bmp") as handle:
        assert handle.format == "BMP"


def test_lab_12bit_and_float_keep_their_meaning(tmp_path: Path) -> None:
    lab = _png(tmp_path / "lab", odd_images.tiff_lab(), "lab.tif")
    # L* runs 0..100 left to right with a* = +12, b* = -28: dark on the left, a light violet-blue on the right.
    assert lab[:, :2].mean() < 40 and lab[:, -2:, 2].mean() > 200 and lab[:, -2:, 2].mean() > lab[:, -2:, 1].mean()
    twelve = _png(tmp_path / "12", odd_images.tiff_12bit(), "12bit.tif")
    assert twelve[:, 0].mean() < 5 and twelve[:, -1].mean() > 250  # 4095 is white, not clipped at 255 of 65535
    signed = _png(tmp_path / "f", odd_images.tiff_float_signed(), "float-signed.tif")
    assert signed[:, 0].mean() < 5 and signed[:, -1].mean() > 250  # -pi..pi spans the whole range
    unit = _png(tmp_path / "u", odd_images.tiff_float(), "float.tif")
    assert unit[:, 0].mean() < 5 and unit[:, -1].mean() > 250  # 0..1 is black..white


def test_a_file_neither_decoder_reads_names_both_reasons(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    broken = odd_images.tiff_lab()[:60]  # the header is cut inside the first IFD
    media = upload(env, broken, "cut.tif")
    with pytest.raises(MediaDecodeError) as caught:
        image_worker.run_chain(payload(media, ("c", "convert", {"outputFormat": "png"})), env)
    assert "libvips:" in caught.value.message and "Pillow:" in caught.value.message
    assert caught.value.node_id == "c"


@pytest.mark.parametrize("name", sorted(odd_images.BROKEN))
def test_background_remove_names_a_broken_bmp_too(tmp_path: Path, name: str) -> None:
    from mediaflow.workers import cutout

    env = make_env(tmp_path)
    media = upload(env, odd_images.BROKEN[name](), name)
    with pytest.raises(MediaDecodeError) as caught:
        cutout.run_chain(payload(media, ("cut", "background_remove", {})), env)
    assert caught.value.node_id == "cut" and "could not decode the image" in caught.value.message
