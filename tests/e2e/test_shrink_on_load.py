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
    ("jpeg", {"Q": 92}, 375, {"shrink": 2}),   # factor 3.2: libjpeg-turbo 3/8 (libvips' loader 1/2), a reduce
    ("jpeg", {"Q": 92}, 240, {"shrink": 4}),   # factor 5
    ("jpeg", {"Q": 92}, 600, {"shrink": 2}),   # factor 2: the DCT-scaled decode is the output size
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


# --------------------------------------------------------------------------------------------------
# libjpeg-turbo's TurboJPEG library (mediaflow.workers.jpeg_scaled): the same pixels as libvips' loader, faster

from mediaflow.workers import jpeg_scaled  # noqa: E402

needs_turbojpeg = pytest.mark.skipif(not jpeg_scaled.loaded(), reason="libturbojpeg is not installed (make setup)")


def _run_output(env: TaskEnvironment, data: bytes, name: str, width: int, fmt: str = "png",
                strip: dict[str, Any] | None = None) -> bytes:
    media = upload(env, data, name)
    ops: list[tuple[str, str, dict[str, Any]]] = [("r", "resize", {"width": width})]
    if strip is not None:
        ops.append(("s", "strip_metadata", strip))
    result = image_worker.run_chain(payload(media, *ops, ("c", "convert", {"outputFormat": fmt})), env)
    return env.blobs.read(result.media.key)  # type: ignore[attr-defined,no-any-return]


def _run_png(env: TaskEnvironment, data: bytes, name: str, width: int) -> Any:
    return pyvips.Image.new_from_buffer(_run_output(env, data, name, width), "")


@needs_turbojpeg
@pytest.mark.parametrize(("target", "decoded_size", "libvips_shrink"), [
    ((420, 280), (450, 300), None),  # 3/8: 1/4 would give 300 x 200; libvips' loader has no 3/8
    ((460, 300), (600, 400), 2),     # 1/2: 3/8 gives 450 x 300
    ((300, 200), (300, 200), 4),     # 1/4: the decode is the output size
    ((150, 100), (150, 100), 8),
])
def test_jpeg_decodes_at_the_smallest_eighth_that_covers_the_target(
        tmp_path: Path, target: tuple[int, int], decoded_size: tuple[int, int], libvips_shrink: int | None) -> None:
    """1200 x 800 px: the smallest of 1/8, 1/4, 3/8 and 1/2 that covers the target, with the header's
    metadata; at the scales libvips' loader offers, its pixels."""
    source = _photo(1200, 800).icc_export(output_profile="srgb").copy()
    source.set_type(pyvips.GValue.gint_type, "orientation", 3)
    path = tmp_path / "photo.jpg"
    path.write_bytes(bytes(source.jpegsave_buffer(Q=90)))
    header = pyvips.Image.new_from_file(str(path), access="sequential")

    decoded = jpeg_scaled.decode(path, header, target)

    assert decoded is not None and (decoded.width, decoded.height, decoded.bands) == (*decoded_size, 3)
    assert decoded.interpretation == "srgb"
    assert decoded.get("orientation") == 3
    assert decoded.get("icc-profile-data") == header.get("icc-profile-data")
    assert decoded.get("exif-data") == header.get("exif-data")
    if libvips_shrink is not None:
        libvips = pyvips.Image.new_from_file(str(path), shrink=libvips_shrink)
        assert (libvips.width, libvips.height) == decoded_size
        assert (decoded - libvips).abs().max() == 0
    else:  # the DCT's own downscale: close to a Lanczos3 reduce of the full decode
        full = pyvips.Image.new_from_file(str(path))
        reference = full.resize(decoded.width / full.width, vscale=decoded.height / full.height, kernel="lanczos3")
        assert _ssim(reference, decoded) >= SSIM_FLOOR


def test_a_decode_at_three_eighths_crops_to_whole_pixels_like_the_others(tmp_path: Path) -> None:
    """1201 x 801 at 3/8: libjpeg decodes 451 x 301 (sides rounded up), the last column and row only partly
    covered by the source; they go, as libvips' loader drops them at its own scales."""
    if not jpeg_scaled.loaded():
        pytest.skip("libturbojpeg is not installed (make setup)")
    path = tmp_path / "odd.jpg"
    path.write_bytes(bytes(_photo(1201, 801).jpegsave_buffer(Q=90)))
    decoded = jpeg_scaled.decode(path, pyvips.Image.new_from_file(str(path), access="sequential"), (430, 290))
    assert decoded is not None and (decoded.width, decoded.height) == (450, 300)


_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="someone"/></rdf:RDF></x:xmpmeta>')


@needs_turbojpeg
@pytest.mark.parametrize(("size", "width", "fmt", "strip"), [
    ((1600, 1000), 500, "png", None), ((1600, 1000), 500, "jpeg", None), ((1203, 799), 150, "webp", None),
    ((1200, 800), 400, "jpeg", None), ((1200, 800), 400, "jpeg", {}),
    ((1200, 800), 500, "jpeg", {"keepOrientation": True}), ((1203, 799), 150, "webp", {"keepIcc": True})])
def test_turbojpeg_and_libvips_loader_give_the_same_bytes(
        env: TaskEnvironment, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], width: int, fmt: str,
        strip: dict[str, Any] | None) -> None:
    """Same task where the library is installed and where it is not, at the scales both decoders offer (1/8,
    1/4, 1/2): the same output bytes, rotation and metadata included, so there the decoder is a matter of speed
    only. A chain that strips metadata has the EXIF
    and XMP left off its decode (``metadata=False``) and still writes what libvips' loader path writes, a
    kept orientation included."""
    source = _photo(*size).copy()
    source.set_type(pyvips.GValue.gint_type, "orientation", 6)
    source.set_type(pyvips.GValue.blob_type, "xmp-data", _XMP)
    data = bytes(source.jpegsave_buffer(Q=90))
    assert pyvips.Image.new_from_buffer(data, "").get_typeof("exif-data") != 0
    decodes: list[tuple[bool, bool]] = []
    real = jpeg_scaled.decode

    def counted(*args: Any, **options: Any) -> Any:
        image = real(*args, **options)
        decodes.append((image is not None, options.get("metadata", True)))
        return image

    monkeypatch.setattr(jpeg_scaled, "decode", counted)
    ours = _run_output(env, data, "a.jpg", width, fmt, strip)
    monkeypatch.setattr(jpeg_scaled, "loaded", lambda: False)
    theirs = _run_output(env, data, "b.jpg", width, fmt, strip)
    # libjpeg-turbo decoded the first, libvips' loader the second; metadata left off only where it is stripped
    assert decodes == [(True, strip is None), (False, strip is None)]
    assert ours == theirs
    written = pyvips.Image.new_from_buffer(ours, "")
    assert (written.get_typeof("xmp-data") != 0) == (strip is None)


@needs_turbojpeg
def test_greyscale_jpeg_stays_grey(env: TaskEnvironment, tmp_path: Path) -> None:
    data = bytes(_photo(1200, 800).colourspace("b-w").jpegsave_buffer(Q=90))
    path = tmp_path / "grey.jpg"
    path.write_bytes(data)
    decoded = jpeg_scaled.decode(path, pyvips.Image.new_from_file(str(path)), (300, 200))
    assert decoded is not None and (decoded.width, decoded.bands, decoded.interpretation) == (300, 1, "b-w")
    made = _run_png(env, data, "grey.jpg", 300)
    assert made.width == 300 and made.bands == 1


@needs_turbojpeg
@pytest.mark.parametrize("case", ["cmyk", "truncated", "no-shrink", "progressive"])
def test_libvips_keeps_the_files_the_eighths_path_does_not_take(
        env: TaskEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """CMYK, a file libjpeg-turbo complains about, a target no eighth covers, a progressive file: libvips'
    loader decides, with the same outcome (output or named error) as without the library."""
    photo = _photo(1200, 800)
    width = 1100 if case == "no-shrink" else 300
    data = bytes((photo.colourspace("cmyk") if case == "cmyk" else photo).jpegsave_buffer(
        Q=90, interlace=case == "progressive"))
    if case == "truncated":
        data = data[: len(data) * 2 // 3]
    path = tmp_path / "source.jpg"
    path.write_bytes(data)
    target = (width, round(800 * width / 1200))
    assert jpeg_scaled.decode(path, pyvips.Image.new_from_file(str(path)), target) is None

    def outcome(name: str) -> Any:
        try:
            made = _run_png(env, data, name, width)
        except Exception as error:
            return type(error).__name__, str(error).split(":")[0]
        return made.width, made.height, made.bands

    ours = outcome("a.jpg")
    monkeypatch.setattr(jpeg_scaled, "loaded", lambda: False)
    assert ours == outcome("b.jpg")
    if case == "truncated":
        assert ours[0] == "MediaDecodeError"
