"""Sniffing media from magic bytes (never from a name)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from mediaflow.errors import EmptyMedia
from mediaflow.sniff import (
    EXTENSIONS,
    HEAD_BYTES,
    MEDIA_EXTENSIONS,
    MEDIA_TYPES,
    format_of_content_type,
    holds_media,
    sniff,
    sniff_file,
)

pytestmark = pytest.mark.unit


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free"


def _bmp() -> bytes:
    return b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHH", 40, 2, 2, 1, 24) + b"\x00" * 32


CASES: list[tuple[str, bytes, str, str, str]] = [
    ("jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg", "image", "image/jpeg"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png", "image", "image/png"),
    ("gif87", b"GIF87a\x01\x00\x01\x00", "gif", "image", "image/gif"),
    ("gif89", b"GIF89a\x01\x00\x01\x00", "gif", "image", "image/gif"),
    ("webp", b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp", "image", "image/webp"),
    ("avif", _ftyp(b"avif", b"mif1", b"miaf"), "avif", "image", "image/avif"),
    ("avif-by-compatible", _ftyp(b"mif1", b"avif"), "avif", "image", "image/avif"),
    ("heic", _ftyp(b"heic", b"mif1"), "heic", "image", "image/heic"),
    ("heif-generic", _ftyp(b"mif1", b"heic"), "heic", "image", "image/heic"),
    ("tiff-le", b"II*\x00\x08\x00\x00\x00", "tiff", "image", "image/tiff"),
    ("tiff-be", b"MM\x00*\x00\x00\x00\x08", "tiff", "image", "image/tiff"),
    ("bmp", _bmp(), "bmp", "image", "image/bmp"),
    ("svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "svg", "image", "image/svg+xml"),
    ("svg-xml-decl", b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE svg>\n<svg>', "svg", "image",
     "image/svg+xml"),
    ("xml", b'<?xml version="1.0"?><feed/>', "xml", "other", "application/xml"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "pdf", "document", "application/pdf"),
    ("mp4", _ftyp(b"isom", b"iso2", b"avc1", b"mp41"), "mp4", "video", "video/mp4"),
    ("mov", _ftyp(b"qt  ", b"qt  "), "mov", "video", "video/quicktime"),
    ("m4a", _ftyp(b"M4A ", b"isom"), "m4a", "audio", "audio/mp4"),
    ("webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm", "video", "video/webm"),
    ("mkv", b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "mkv", "video", "video/x-matroska"),
    ("mp3-id3", b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3", "audio", "audio/mpeg"),
    ("mp3-frame", b"\xff\xfb\x90\x64\x00\x00", "mp3", "audio", "audio/mpeg"),
    ("wav", b"RIFF\x24\x08\x00\x00WAVEfmt ", "wav", "audio", "audio/wav"),
    ("flac", b"fLaC\x00\x00\x00\x22", "flac", "audio", "audio/flac"),
    ("ogg", b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", "ogg", "audio", "audio/ogg"),
    ("opus", b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", "opus", "audio", "audio/ogg"),
    ("hls", b"#EXTM3U\n#EXT-X-VERSION:3\n", "hls", "video", "application/vnd.apple.mpegurl"),
    ("ffconcat", b"ffconcat version 1.0\nfile 'a.mp4'\n", "ffconcat", "other", "text/plain"),
    ("unknown", b"hello world, just text", "unknown", "other", "application/octet-stream"),
    ("zeros", b"\x00" * 64, "unknown", "other", "application/octet-stream"),
]


@pytest.mark.parametrize(("name", "head", "fmt", "media_type", "content_type"), CASES,
                         ids=[case[0] for case in CASES])
def test_sniff_magic_bytes(name: str, head: bytes, fmt: str, media_type: str, content_type: str) -> None:
    found = sniff(head)
    assert (found.format, found.media_type, found.content_type) == (fmt, media_type, content_type)


def test_empty_input_is_empty_media() -> None:
    with pytest.raises(EmptyMedia):
        sniff(b"")


def test_raster_flag_refuses_svg() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\n").is_raster_image
    assert not sniff(b"<svg/>").is_raster_image
    assert not sniff(b"%PDF-1.4").is_raster_image


def test_bm_text_is_not_bmp() -> None:
    assert sniff(b"BMW cars are fast and this is text").format == "unknown"


def test_extension_is_ignored(tmp_path: Path) -> None:
    fake = tmp_path / "picture.png"
    fake.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    assert sniff_file(fake).format == "svg"
    real = tmp_path / "document.pdf"
    real.write_bytes(b"\xff\xd8\xff\xdb" + b"\x00" * (HEAD_BYTES * 2))
    assert sniff_file(real).format == "jpeg"


def test_sniff_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyMedia):
        sniff_file(empty)


def test_generated_images_are_recognised() -> None:
    pyvips = pytest.importorskip("pyvips")
    image = pyvips.Image.black(16, 16, bands=3).copy(interpretation="srgb")
    for suffix, fmt in ((".jpg", "jpeg"), (".png", "png"), (".webp", "webp"), (".gif", "gif"), (".tif", "tiff"),
                        (".avif", "avif")):
        assert sniff(bytes(image.write_to_buffer(suffix))[:HEAD_BYTES]).format == fmt, suffix


def test_format_of_content_type() -> None:
    assert format_of_content_type("image/jpeg") == "jpeg"
    assert format_of_content_type("IMAGE/PNG; charset=binary") == "png"
    assert format_of_content_type("application/x-unknown") == "unknown"


@pytest.mark.parametrize(("name", "content", "holds"), [
    ("IMG_0001.XMP", b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>', False),  # a sidecar
    ("IMG_0001.AAE", b'<?xml version="1.0"?><plist version="1.0"><dict/></plist>', False),  # an iPhone's edits
    ("CANONMSC.CTG", b"\x00\x01CTG catalog", False),
    ("notes.txt", b"", False),  # empty and no media by name
    ("IMG_0001.THM", b"\xff\xd8\xff\xe0" + b"\x00" * 64, True),  # a camera's thumbnail is a JPEG
    ("download", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, True),  # no extension: the bytes say
    ("broken.jpg", b"not a jpeg at all", True),  # named as media: its run says what is wrong
    ("empty.PNG", b"", True),
    ("clip.MOV", b"\x00" * 32, True),
])
def test_holds_media_by_its_name_or_its_bytes(tmp_path: Path, name: str, content: bytes, holds: bool) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert holds_media(path) is holds


def test_media_extensions_cover_every_media_format() -> None:
    for fmt, media_type in MEDIA_TYPES.items():
        assert media_type == "other" or EXTENSIONS[fmt] in MEDIA_EXTENSIONS
    assert {"jpeg", "jpg", "tif", "heif", "mov", "mp4", "pdf"} <= MEDIA_EXTENSIONS
    assert not {"xmp", "aae", "thm", "ctg", "json", "txt", "bin"} & MEDIA_EXTENSIONS
