"""The image worker end to end: generated media in, decoded and checked media out (real libvips)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any

import pytest
from mediaflow.errors import EmptyMedia, MediaDecodeError, MediaTooLarge, UnsupportedMedia
from mediaflow.execution.contract import ChainResult, TaskEnvironment
from mediaflow.execution.tasks import execute_task
from mediaflow.media import MediaRef
from mediaflow.sniff import sniff
from mediaflow.workers import image as image_worker
from mediaflow.workers import jpeg_scaled

from tests.e2e.image_support import (
    FolderBlobs,
    jpeg_bytes,
    jpeg_with_exif,
    make_env,
    payload,
    sample_image,
    sha256,
    upload,
)

pyvips = pytest.importorskip("pyvips")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> TaskEnvironment:
    return make_env(tmp_path)


def _run(env: TaskEnvironment, media: MediaRef, *ops: tuple[str, str, dict[str, Any]], **kw: Any) -> ChainResult:
    return image_worker.run_chain(payload(media, *ops, **kw), env)


def _blobs(env: TaskEnvironment) -> FolderBlobs:
    assert isinstance(env.blobs, FolderBlobs)
    return env.blobs


def _output(env: TaskEnvironment, result: ChainResult) -> bytes:
    return _blobs(env).read(result.media.key)


def _decode(data: bytes) -> Any:
    return pyvips.Image.new_from_buffer(data, "")


def _png(width: int = 640, height: int = 480, *, alpha: bool = False) -> bytes:
    return bytes(sample_image(width, height, alpha=alpha).pngsave_buffer())


# --------------------------------------------------------------------------------------------------
# convert / compress

@pytest.mark.parametrize(("fmt", "content_type", "ext"), [
    ("jpeg", "image/jpeg", "jpg"), ("png", "image/png", "png"), ("webp", "image/webp", "webp"),
    ("avif", "image/avif", "avif"), ("gif", "image/gif", "gif"), ("tiff", "image/tiff", "tiff"),
])
def test_convert_to_each_format(env: TaskEnvironment, fmt: str, content_type: str, ext: str) -> None:
    media = upload(env, jpeg_bytes(320, 240), "photo.jpg")
    result = _run(env, media, ("conv", "convert", {"outputFormat": fmt, "compressionLevel": 70}))
    data = _output(env, result)
    assert sniff(data[:4096]).format == fmt
    decoded = _decode(data)
    assert (decoded.width, decoded.height) == (320, 240)
    out = result.media
    assert out.content_type == content_type
    assert out.media_type == "image"
    assert (out.width, out.height) == (320, 240)
    assert out.filename == f"photo.{ext}"
    assert out.key == f"acme/runs/run-1/conv/photo.{ext}"
    assert out.size == len(data)
    assert out.source_key == media.key
    assert [o.node_id for o in result.outcomes] == ["conv"]


def test_convert_png_with_alpha_to_jpeg_flattens(env: TaskEnvironment) -> None:
    media = upload(env, _png(100, 80, alpha=True), "logo.png")
    result = _run(env, media, ("c", "convert", {"outputFormat": "jpg"}))
    decoded = _decode(_output(env, result))
    assert decoded.bands == 3
    assert not decoded.hasalpha()


def test_convert_png_with_alpha_to_webp_keeps_alpha(env: TaskEnvironment) -> None:
    media = upload(env, _png(100, 80, alpha=True), "logo.png")
    result = _run(env, media, ("c", "convert", {"outputFormat": "webp", "lossless": True}))
    decoded = _decode(_output(env, result))
    assert decoded.hasalpha()
    assert decoded.extract_band(3).avg() == pytest.approx(200, abs=1)


def test_compress_keeps_the_format_and_shrinks(env: TaskEnvironment) -> None:
    original = jpeg_bytes(640, 480, quality=98)
    media = upload(env, original, "big.jpg")
    result = _run(env, media, ("c", "compress", {"compressionLevel": 40}))
    data = _output(env, result)
    assert sniff(data).format == "jpeg"
    assert len(data) < len(original) / 2
    assert result.media.content_type == "image/jpeg"


def test_compress_max_quantises_png(env: TaskEnvironment) -> None:
    media = upload(env, _png(), "pic.png")
    plain = _output(env, _run(env, media, ("c", "convert", {"outputFormat": "png"})))
    result = _run(env, media, ("c2", "compress", {"compressionLevel": 60, "mode": "max"}))
    data = _output(env, result)
    assert sniff(data).format == "png"
    assert len(data) < len(plain)
    assert _decode(data).get("palette-bit-depth") <= 8


# --------------------------------------------------------------------------------------------------
# resize / thumbnail

@pytest.mark.parametrize(("config", "size"), [
    ({"width": 320}, (320, 240)),
    ({"height": 120}, (160, 120)),
    ({"width": 200, "height": 200, "fit": "inside"}, (200, 150)),
    ({"width": 200, "height": 200, "fit": "outside"}, (267, 200)),
    ({"width": 200, "height": 200, "fit": "cover"}, (200, 200)),
    ({"width": 200, "height": 200, "fit": "cover", "gravity": "attention"}, (200, 200)),
    ({"width": 200, "height": 200, "fit": "cover", "gravity": "entropy"}, (200, 200)),
    ({"width": 200, "height": 200, "fit": "cover", "gravity": "northwest"}, (200, 200)),
    ({"width": 200, "height": 200, "fit": "contain"}, (200, 200)),
    ({"width": 200, "height": 100, "fit": "fill"}, (200, 100)),
    ({"width": 1280}, (640, 480)),
    ({"width": 1280, "withoutEnlargement": False}, (1280, 960)),
])
def test_resize_fits(env: TaskEnvironment, config: dict[str, Any], size: tuple[int, int]) -> None:
    media = upload(env, jpeg_bytes(640, 480), "photo.jpg")
    result = _run(env, media, ("r", "resize", config))
    decoded = _decode(_output(env, result))
    assert (decoded.width, decoded.height) == size
    assert (result.media.width, result.media.height) == size
    assert result.outcomes[0].output is not None
    assert (result.outcomes[0].output["width"], result.outcomes[0].output["height"]) == size


def test_resize_contain_pads_with_the_background(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_bytes(640, 320), "wide.jpg")
    result = _run(env, media, ("r", "resize", {"width": 200, "height": 200, "fit": "contain",
                                               "background": "#ff0000"}))
    decoded = _decode(_output(env, result))
    assert (decoded.width, decoded.height) == (200, 200)
    top_left = decoded.getpoint(2, 2)
    assert top_left[0] > 240 and top_left[1] < 20 and top_left[2] < 20


def test_resize_contain_transparent_padding_adds_alpha(env: TaskEnvironment) -> None:
    media = upload(env, _png(640, 320), "wide.png")
    result = _run(env, media, ("r", "resize", {"width": 200, "height": 200, "fit": "contain"}))
    decoded = _decode(_output(env, result))
    assert decoded.hasalpha()
    assert decoded.getpoint(2, 2)[3] == 0
    assert decoded.getpoint(100, 100)[3] == 255


def test_resize_gravity_picks_the_region(env: TaskEnvironment) -> None:
    media = upload(env, _png(400, 100), "strip.png")
    west = _decode(_output(env, _run(env, media, ("r", "resize", {"width": 100, "height": 100, "fit": "cover",
                                                                   "gravity": "west"}))))
    east = _decode(_output(env, _run(env, media, ("r", "resize", {"width": 100, "height": 100, "fit": "cover",
                                                                   "gravity": "east"}))))
    # The test picture's red channel grows from left to right.
    assert west.extract_band(0).avg() < 80 < 180 < east.extract_band(0).avg()


@pytest.mark.parametrize(("config", "size", "fmt"), [
    ({}, (256, 192), "webp"),
    ({"width": 64, "height": 64, "crop": "attention", "outputFormat": "jpeg"}, (64, 64), "jpeg"),
    ({"width": 64, "height": 64, "crop": "centre", "outputFormat": "png"}, (64, 64), "png"),
    ({"width": 100, "height": 40, "crop": "none", "outputFormat": "avif"}, (53, 40), "avif"),
])
def test_thumbnail(env: TaskEnvironment, config: dict[str, Any], size: tuple[int, int], fmt: str) -> None:
    media = upload(env, jpeg_with_exif(640, 480), "photo.jpg")
    result = _run(env, media, ("t", "thumbnail", config))
    data = _output(env, result)
    assert sniff(data).format == fmt
    decoded = _decode(data)
    assert (decoded.width, decoded.height) == size
    assert not any(name.startswith("exif-") for name in decoded.get_fields())


# --------------------------------------------------------------------------------------------------
# adjust / watermark

def test_adjust_grayscale_and_invert(env: TaskEnvironment) -> None:
    media = upload(env, _png(), "pic.png")
    source = _decode(_blobs(env).read(media.key))
    grey = _decode(_output(env, _run(env, media, ("a", "adjust", {"grayscale": True}))))
    assert grey.bands == 1
    inverted = _decode(_output(env, _run(env, media, ("a", "adjust", {"invert": True}))))
    assert inverted.avg() == pytest.approx(255 - source.avg(), abs=0.5)


def test_adjust_brightness_saturation_contrast_hue_sharpen(env: TaskEnvironment) -> None:
    media = upload(env, _png(), "pic.png")
    source = _decode(_blobs(env).read(media.key))
    brighter = _decode(_output(env, _run(env, media, ("a", "adjust", {"brightness": 1.3}))))
    assert brighter.avg() > source.avg() + 10
    flat = _decode(_output(env, _run(env, media, ("a", "adjust", {"contrast": 0.0}))))
    assert flat.deviate() < 1
    desaturated = _decode(_output(env, _run(env, media, ("a", "adjust", {"saturation": 0.0}))))
    channels = [desaturated.extract_band(i) for i in range(3)]
    assert (channels[0] - channels[1]).abs().max() <= 3
    rotated = _decode(_output(env, _run(env, media, ("a", "adjust", {"hue": 120}))))
    assert (rotated - source).abs().avg() > 10
    result = _run(env, media, ("a", "adjust", {"sharpen": 1.5}))
    sharpened = _decode(_output(env, result))
    assert (sharpened.width, sharpened.height) == (source.width, source.height)
    assert result.outcomes[0].output == {"applied": ["sharpen"], "encodeMs": pytest.approx(0, abs=10_000)}


def test_watermark_text(env: TaskEnvironment) -> None:
    media = upload(env, _png(), "pic.png")
    source = _decode(_blobs(env).read(media.key))
    result = _run(env, media, ("w", "watermark", {"text": "(c) ACME", "opacity": 1.0, "color": "#000000",
                                                  "position": "southeast"}))
    marked = _decode(_output(env, result))
    assert (marked.width, marked.height) == (source.width, source.height)
    assert result.outcomes[0].output is not None
    out = result.outcomes[0].output
    region = (marked - source).abs().crop(out["left"], out["top"], out["width"], out["height"])
    assert region.max() > 100
    assert (marked - source).abs().crop(0, 0, 100, 100).max() == 0
    assert out["left"] + out["width"] <= source.width - 16
    assert out["width"] == pytest.approx(source.width * 0.2, abs=source.width * 0.05)


def test_watermark_image_from_storage(env: TaskEnvironment) -> None:
    logo = pyvips.Image.black(200, 100).new_from_image([0, 0, 255, 255]).copy(interpretation="srgb")
    _blobs(env).put_bytes("acme/assets/logo.png", bytes(logo.pngsave_buffer()), "image/png")
    media = upload(env, _png(), "pic.png")
    result = _run(env, media, ("w", "watermark", {"imageKey": "assets/logo.png", "position": "northwest",
                                                  "opacity": 1.0, "scale": 0.25, "margin": 10}))
    out = result.outcomes[0].output
    assert out is not None
    assert (out["left"], out["top"], out["width"], out["height"]) == (10, 10, 160, 80)
    marked = _decode(_output(env, result))
    assert marked.getpoint(50, 50)[:3] == [0, 0, 255]


def test_watermark_refuses_keys_outside_the_tenant(env: TaskEnvironment) -> None:
    from mediaflow.errors import NodeError

    media = upload(env, _png(), "pic.png")
    with pytest.raises(NodeError) as caught:
        _run(env, media, ("w", "watermark", {"imageKey": "../other/logo.png"}))
    assert caught.value.node_id == "w"


# --------------------------------------------------------------------------------------------------
# metadata

def _exif_names(image: Any) -> list[str]:
    return [name for name in image.get_fields() if name.startswith("exif-")]


def test_strip_metadata_removes_gps_exif_xmp_icc(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_with_exif(320, 240, icc="p3"), "gps.jpg")
    source = _decode(_blobs(env).read(media.key))
    assert any("GPS" in name for name in _exif_names(source))
    assert source.get_typeof("icc-profile-data") != 0
    kept = _decode(_output(env, _run(env, media, ("c", "convert", {"outputFormat": "jpeg"}))))
    assert any("GPS" in name for name in _exif_names(kept)), "metadata is kept unless stripped"
    result = _run(env, media, ("s", "strip_metadata", {}))
    data = _output(env, result)
    stripped = _decode(data)
    assert _exif_names(stripped) == []
    for name in ("exif-data", "xmp-data", "iptc-data", "icc-profile-data"):
        assert stripped.get_typeof(name) == 0, name
    assert b"Exif" not in data[:4096]
    assert b"GPS" not in data


def test_strip_metadata_keep_icc(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_with_exif(320, 240, icc="p3"), "gps.jpg")
    stripped = _decode(_output(env, _run(env, media, ("s", "strip_metadata", {"keepIcc": True}))))
    assert stripped.get_typeof("icc-profile-data") != 0
    assert _exif_names(stripped) == []


def test_exif_orientation_is_applied_to_pixels(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_with_exif(640, 480, orientation=6), "rotated.jpg")
    full = _run(env, media, ("c", "convert", {"outputFormat": "png"}))
    assert (full.media.width, full.media.height) == (480, 640)
    shrunk = _run(env, media, ("r", "resize", {"width": 240}))
    assert (shrunk.media.width, shrunk.media.height) == (240, 320)
    decoded = _decode(_output(env, shrunk))
    assert decoded.get_typeof("orientation") == 0 or decoded.get("orientation") == 1


def test_keep_orientation_leaves_pixels_and_tag(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_with_exif(640, 480, orientation=6), "rotated.jpg")
    result = _run(env, media, ("s", "strip_metadata", {"keepOrientation": True}))
    decoded = _decode(_output(env, result))
    assert (decoded.width, decoded.height) == (640, 480)
    assert decoded.get("orientation") == 6
    assert not any("GPS" in name for name in _exif_names(decoded))


def test_icc_profile_is_imported_to_srgb(env: TaskEnvironment) -> None:
    reference = sample_image(320, 240)
    media = upload(env, jpeg_with_exif(320, 240, icc="p3"), "p3.jpg")
    out = _decode(_output(env, _run(env, media, ("c", "convert", {"outputFormat": "png"}))))
    assert (out - reference).abs().avg() < 6
    shrunk = _decode(_output(env, _run(env, media, ("r", "resize", {"width": 160}))))
    assert (shrunk - reference.resize(0.5)).abs().avg() < 8


# --------------------------------------------------------------------------------------------------
# image_to_pdf / inspect / rename inside a chain

@pytest.mark.parametrize(("page_size", "points"), [("image", (76.8, 57.6)), ("a4", (841.9, 595.3)),
                                                   ("letter", (792.0, 612.0))])
def test_image_to_pdf(env: TaskEnvironment, page_size: str, points: tuple[float, float]) -> None:
    """A landscape picture gets a landscape page."""
    pdfium = pytest.importorskip("pypdfium2")
    media = upload(env, jpeg_bytes(320, 240), "scan.jpg")
    result = _run(env, media, ("p", "image_to_pdf", {"pageSize": page_size, "title": "Scan"}))
    data = _output(env, result)
    assert data.startswith(b"%PDF-")
    assert b"CreationDate" not in data and b"ModDate" not in data
    assert result.media.content_type == "application/pdf"
    assert result.media.media_type == "document"
    assert result.media.filename == "scan.pdf"
    document = pdfium.PdfDocument(data)
    assert len(document) == 1
    width, height = document[0].get_size()
    assert (width, height) == pytest.approx(points, abs=1.0)


def test_image_to_pdf_embeds_png_losslessly(env: TaskEnvironment) -> None:
    media = upload(env, _png(64, 48, alpha=True), "logo.png")
    result = _run(env, media, ("p", "image_to_pdf", {}))
    assert result.outcomes[0].output is not None
    assert result.outcomes[0].output["embedded"] == "png"
    assert b"/FlateDecode" in _output(env, result)


def test_inspect_reports_and_stores_json(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_with_exif(640, 480, orientation=6, icc="p3"), "photo.jpg")
    result = _run(env, media, ("i", "inspect", {"includeExif": True}))
    output = result.outcomes[0].output
    assert output is not None
    report = output["report"]
    assert report["format"] == "jpeg"
    assert (report["width"], report["height"]) == (480, 640)
    assert report["bands"] == 3
    assert report["hasAlpha"] is False
    assert report["exifOrientation"] == 6
    assert report["iccProfile"] is True
    assert report["pages"] == 1
    assert report["size"] == media.size
    assert report["exif"]["ifd0-Make"] == "TestCam"
    assert json.loads(_blobs(env).read(output["reportKey"])) == report
    assert output["reportKey"] == "acme/runs/run-1/i/photo.inspect.json"
    assert result.media.key == media.key
    assert (result.media.width, result.media.height) == (480, 640)
    assert result.media.content_type == "image/jpeg"


def test_inspect_other_media_without_decoding(env: TaskEnvironment) -> None:
    media = upload(env, b"%PDF-1.7\n" + b"0" * 100, "file.pdf")
    result = _run(env, media, ("i", "inspect", {"writeReport": False}))
    assert result.outcomes[0].output == {"report": {"format": "pdf", "mediaType": "document",
                                                    "contentType": "application/pdf", "size": 109}}
    assert result.media.media_type == "document"


def test_rename_and_transform_in_a_chain(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_bytes(320, 240), "Holiday.JPG")
    media = media.model_copy(update={"metadata": {"camera": "x"}})
    result = _run(env, media,
                  ("r", "resize", {"width": 100}),
                  ("n", "rename", {"pattern": "{original}-{nodeId}-{timestamp}.{ext}"}),
                  ("c", "convert", {"outputFormat": "webp"}),
                  ("t", "transform", {"set": {"origin": "{original}", "fmt": "{format}"}, "remove": ["camera"]}))
    assert result.media.filename == "Holiday-n-20240506T070809Z.webp"
    assert result.media.key == "acme/runs/run-1/t/Holiday-n-20240506T070809Z.webp"
    # {original} is the name as it reaches the op, so after a rename it is the new stem.
    assert result.media.metadata == {"origin": "Holiday-n-20240506T070809Z", "fmt": "webp"}
    assert [o.node_id for o in result.outcomes] == ["r", "n", "c", "t"]
    assert all(o.ended >= o.started for o in result.outcomes)


def test_execute_task_returns_state(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_bytes(320, 240), "photo.jpg")
    state = execute_task(payload(media, ("c", "convert", {"outputFormat": "png"})).model_dump(by_alias=True), env)
    assert state["contentType"] == "image/png"
    assert state["key"] == "acme/runs/run-1/c/photo.png"
    assert state["width"] == 320


# --------------------------------------------------------------------------------------------------
# other inputs

def test_bmp_input_is_decoded_with_pillow(env: TaskEnvironment) -> None:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (120, 80), (10, 200, 30)).save(buffer, "BMP")
    media = upload(env, buffer.getvalue(), "old.bmp")
    result = _run(env, media, ("r", "resize", {"width": 60}))
    assert result.media.content_type == "image/png"
    decoded = _decode(_output(env, result))
    assert (decoded.width, decoded.height) == (60, 40)
    assert decoded.getpoint(30, 20) == pytest.approx([10, 200, 30], abs=2)


def test_heic_input_is_decoded_with_pillow_heif(env: TaskEnvironment) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image as PILImage

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    try:
        PILImage.new("RGB", (128, 96), (200, 20, 20)).save(buffer, "HEIF", quality=90)
    except Exception as error:  # pragma: no cover - encoder missing from this build
        pytest.skip(f"no HEIC encoder: {error}")
    media = upload(env, buffer.getvalue(), "phone.heic")
    result = _run(env, media, ("c", "convert", {"outputFormat": "webp"}))
    decoded = _decode(_output(env, result))
    assert (decoded.width, decoded.height) == (128, 96)
    assert decoded.getpoint(64, 48)[0] > 150


def test_animated_gif_to_png_takes_the_first_frame(env: TaskEnvironment) -> None:
    frames = sample_image(64, 48).bandjoin_const([255])
    animation = pyvips.Image.arrayjoin([frames, frames.invert()], across=1).copy()
    animation.set_type(pyvips.GValue.gint_type, "page-height", 48)
    media = upload(env, bytes(animation.gifsave_buffer()), "anim.gif")
    result = _run(env, media, ("i", "inspect", {"writeReport": False}), ("c", "convert", {"outputFormat": "png"}))
    output = result.outcomes[0].output
    assert output is not None
    assert output["report"]["pages"] == 2
    assert (result.media.width, result.media.height) == (64, 48)


def test_pixel_budget_from_settings(tmp_path: Path) -> None:
    env = make_env(tmp_path, max_pixels=10_000)
    media = upload(env, jpeg_bytes(320, 240), "photo.jpg")
    with pytest.raises(MediaTooLarge) as caught:
        _run(env, media, ("r", "resize", {"width": 10}))
    assert caught.value.node_id == "r"


@pytest.mark.parametrize(("data", "error"), [
    (b"%PDF-1.7\n%%EOF", UnsupportedMedia),
    (b"ID3\x04\x00" + b"\x00" * 64, UnsupportedMedia),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', UnsupportedMedia),
    (b"", EmptyMedia),
])
def test_non_images_are_refused_with_the_node_id(env: TaskEnvironment, data: bytes,
                                                   error: type[Exception]) -> None:
    media = upload(env, data, "looks-like.jpg")
    with pytest.raises(error) as caught:
        _run(env, media, ("first", "resize", {"width": 10}), ("second", "convert", {"outputFormat": "png"}))
    assert getattr(caught.value, "node_id", None) == "first"


def test_invalid_config_names_the_node(env: TaskEnvironment) -> None:
    from mediaflow.errors import InvalidDefinition

    media = upload(env, jpeg_bytes(32, 32), "photo.jpg")
    with pytest.raises(InvalidDefinition) as caught:
        _run(env, media, ("bad", "resize", {"fit": "inside"}))
    assert caught.value.node_id == "bad"


def test_scratch_folder_is_removed(env: TaskEnvironment) -> None:
    media = upload(env, jpeg_bytes(64, 64), "photo.jpg")
    _run(env, media, ("c", "convert", {"outputFormat": "png"}))
    with pytest.raises(MediaDecodeError):
        _run(env, upload(env, jpeg_bytes(64, 64)[:300], "broken.jpg"), ("c", "convert", {"outputFormat": "png"}))
    assert list(env.workdir.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# fusion and determinism

FIVE_OPS: list[tuple[str, str, dict[str, Any]]] = [
    ("resize", "resize", {"width": 320}),
    ("adjust", "adjust", {"brightness": 1.05, "saturation": 1.2, "sharpen": 0.8}),
    ("watermark", "watermark", {"text": "(c) ACME", "opacity": 0.6}),
    ("strip", "strip_metadata", {}),
    ("convert", "convert", {"outputFormat": "png"}),
]


def test_fused_chain_decodes_once_and_matches_the_ops_run_one_by_one(env: TaskEnvironment,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    media = upload(env, jpeg_with_exif(1280, 960), "photo.jpg")
    calls: dict[str, int] = {"decode": 0, "shrunk_load": 0}
    real_decode = image_worker.decode
    real_load = pyvips.Image.new_from_file

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        calls["decode"] += 1
        return real_decode(*args, **kwargs)

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        calls["shrunk_load"] += "shrink" in kwargs
        return real_load(*args, **kwargs)

    def counting_eighths(*args: Any, **kwargs: Any) -> Any:  # libjpeg-turbo's M/8 decode, where loaded
        image = real_eighths(*args, **kwargs)
        calls["shrunk_load"] += image is not None
        return image

    real_eighths = jpeg_scaled.decode
    monkeypatch.setattr(image_worker, "decode", counting_decode)
    monkeypatch.setattr(pyvips.Image, "new_from_file", staticmethod(counting_load))
    monkeypatch.setattr(jpeg_scaled, "decode", counting_eighths)
    fused = _run(env, media, *FIVE_OPS)
    assert calls == {"decode": 1, "shrunk_load": 1}, "one decode, shrunk on load"
    assert [o.node_id for o in fused.outcomes] == [op[0] for op in FIVE_OPS]

    current = media
    for op in FIVE_OPS:
        current = _run(env, current, op).media
    assert calls["decode"] == 1 + len(FIVE_OPS)
    fused_image = _decode(_output(env, fused))
    stepwise_image = _decode(_blobs(env).read(current.key))
    assert (fused_image.width, fused_image.height) == (stepwise_image.width, stepwise_image.height) == (320, 240)
    assert fused_image.bands == stepwise_image.bands
    assert (fused_image - stepwise_image).abs().max() == 0
    assert fused.media.content_type == current.content_type == "image/png"


@pytest.mark.parametrize("ops", [
    [("c", "convert", {"outputFormat": "jpeg", "compressionLevel": 80})],
    [("c", "convert", {"outputFormat": "webp"})],
    [("c", "convert", {"outputFormat": "avif"})],
    [("c", "convert", {"outputFormat": "gif"})],
    [("c", "convert", {"outputFormat": "tiff"})],
    [("p", "image_to_pdf", {"pageSize": "a4", "title": "t"})],
    FIVE_OPS,
    [("t", "thumbnail", {"width": 96, "height": 96, "crop": "attention"}), ("i", "inspect", {})],
], ids=["jpeg", "webp", "avif", "gif", "tiff", "pdf", "five-ops", "thumbnail"])
def test_outputs_are_byte_identical_across_runs(tmp_path: Path, ops: list[tuple[str, str, dict[str, Any]]]) -> None:
    outputs = []
    for attempt in range(2):
        env = make_env(tmp_path / str(attempt))
        media = upload(env, jpeg_with_exif(480, 360, icc="p3"), "photo.jpg")
        result = _run(env, media, *ops)
        outputs.append((_output(env, result), result.media.key, result.media.size))
    assert outputs[0] == outputs[1]


# --------------------------------------------------------------------------------------------------
# hostile inputs, each in a fresh process so that peak memory can be measured

def _truncated_jpeg() -> bytes:
    data = bytes(sample_image(3000, 2000).jpegsave_buffer(Q=95))
    return data[: len(data) // 3]


def _png_claiming_50000_square() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
            + chunk(b"IEND", b""))


def _svg() -> bytes:
    return (b'<svg xmlns="http://www.w3.org/2000/svg" width="50000" height="50000">'
            b'<image href="file:///etc/passwd"/></svg>')


HOSTILE = {
    "truncated.jpg": (_truncated_jpeg, "MediaDecodeError"),
    "huge.png": (_png_claiming_50000_square, "MediaTooLarge"),
    "vector.png": (_svg, "UnsupportedMedia"),
    "empty.jpg": (lambda: b"", "EmptyMedia"),
}

_PROBE = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from tests.e2e.image_support import make_env, payload, upload
    from mediaflow.workers import image as worker

    tmp = Path(sys.argv[2])
    env = make_env(tmp)
    worker.configure_vips(env.settings)
    media = upload(env, Path(sys.argv[3]).read_bytes(), sys.argv[4])
    task = payload(media, ("first", "resize", {"width": 800}), ("second", "convert", {"outputFormat": "webp"}))
    def hwm_kb():  # this address space's own peak; ru_maxrss keeps the parent's peak across exec
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = hwm_kb()
    started = time.perf_counter()
    code, node = None, None
    try:
        worker.run_chain(task, env)
    except Exception as error:
        code, node = getattr(error, "code", type(error).__name__), getattr(error, "node_id", None)
    seconds = time.perf_counter() - started
    growth_mb = (hwm_kb() - before) / 1024
    print(json.dumps({"code": code, "node": node, "seconds": seconds, "growthMb": growth_mb,
                      "stored": env.blobs.read(media.key).hex()}))
""")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_fails_fast_and_small(tmp_path: Path, name: str) -> None:
    make, expected = HOSTILE[name]
    data = make()
    source = tmp_path / "input.bin"
    source.write_bytes(data)
    probe = subprocess.run([sys.executable, "-c", _PROBE, str(ROOT), str(tmp_path / "run"), str(source), name],
                           capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["code"] == expected, probe.stderr
    assert report["node"] == "first"
    assert report["seconds"] < 2.0
    assert report["growthMb"] < 200
    assert sha256(bytes.fromhex(report["stored"])) == sha256(data), "the original must stay untouched"


# --------------------------------------------------------------------------------------------------
# budgets on a 100 MP picture (slow: the picture is generated first)

_BUDGET_PROBE = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from tests.e2e.image_support import make_env, payload
    from mediaflow.workers import image as worker

    env = make_env(Path(sys.argv[2]))
    media = env.blobs.put_file("acme/uploads/huge.jpg", Path(sys.argv[3]), "image/jpeg")
    result = worker.run_chain(payload(media, *[tuple(op) for op in json.loads(sys.argv[4])]), env)
    hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"peakMb": hwm_kb / 1024,
                      "size": [result.media.width, result.media.height]}))
""")


@pytest.mark.slow
@pytest.mark.parametrize(("ops", "size"), [
    ([["r", "resize", {"width": 1600}], ["c", "convert", {"outputFormat": "webp"}]], [1600, 1600]),
    ([["s", "strip_metadata", {}], ["c", "compress", {"compressionLevel": 70}]], [10000, 10000]),
], ids=["downscale-webp", "full-size-jpeg"])
def test_100_megapixel_peak_rss_under_300_mb(tmp_path: Path, ops: list[Any], size: list[int]) -> None:
    xyz = pyvips.Image.xyz(10_000, 10_000)
    picture = (xyz[0] / 40).bandjoin([xyz[1] / 40, (xyz[0] + xyz[1]) / 80]).cast("uchar")
    source = tmp_path / "huge.jpg"
    picture.copy(interpretation="srgb").jpegsave(str(source), Q=80)
    probe = subprocess.run([sys.executable, "-c", _BUDGET_PROBE, str(ROOT), str(tmp_path / "run"), str(source),
                            json.dumps(ops)], capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["size"] == size
    assert report["peakMb"] <= 300, report


# --------------------------------------------------------------------------------------------------
# the output is written once

def test_the_encoded_output_is_stored_without_a_second_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the embedded store the file libvips wrote in the Task's scratch folder becomes the stored object (a
    rename, not a copy): its inode is the one the encoder created, and the input read in place is untouched."""
    from dataclasses import replace

    from mediaflow.adapters.embedded.blobstore import FolderBlobStore

    env = replace(make_env(tmp_path), blobs=FolderBlobStore(tmp_path / "store", bucket="local"))
    source = jpeg_bytes(1200, 900)
    media = upload(env, source, "photo.jpg")
    encoded: list[int] = []
    real_encode = image_worker.encode

    def encode_and_note(image: Any, plan: Any, path: Path) -> None:
        real_encode(image, plan, path)
        encoded.append(path.stat().st_ino)

    monkeypatch.setattr(image_worker, "encode", encode_and_note)
    result = _run(env, media, ("small", "resize", {"width": 400}), ("webp", "convert", {"outputFormat": "webp"}))
    stored = env.blobs.local_path(result.media.key)
    assert stored is not None and stored.stat().st_ino == encoded[0]
    assert _decode(stored.read_bytes()).width == 400
    assert result.media.size == stored.stat().st_size
    assert env.blobs.local_path(media.key).read_bytes() == source
