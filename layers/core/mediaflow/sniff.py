"""Media type from magic bytes, never from the file name.

Uploads are untrusted: the extension and the declared content type say nothing about which decoder
will parse the bytes. Every worker sniffs the head of the file first and picks (or refuses) a decoder
from the result. Formats that are recognised but dangerous or undecodable for a node (SVG, XML,
ffconcat lists) are reported as what they are so that the caller can refuse them by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mediaflow.errors import EmptyMedia

if TYPE_CHECKING:  # the models module loads pydantic; sniffing happens before (an ffprobe started ahead)
    from mediaflow.media import MediaType

HEAD_BYTES = 4096
"""How many leading bytes :func:`sniff_file` reads; enough for every signature below."""

RASTER_FORMATS = frozenset({"jpeg", "png", "webp", "avif", "heic", "gif", "tiff", "bmp"})
"""Image formats the image worker decodes (SVG is an image too, but is never rendered)."""

EXTENSIONS: dict[str, str] = {
    "jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif", "heic": "heic", "gif": "gif",
    "tiff": "tiff", "bmp": "bmp", "svg": "svg", "jxl": "jxl", "xml": "xml", "pdf": "pdf", "mp4": "mp4",
    "m4a": "m4a", "mov": "mov", "3gp": "3gp", "webm": "webm", "mkv": "mkv", "avi": "avi", "mp3": "mp3",
    "aac": "aac", "wav": "wav", "flac": "flac", "ogg": "ogg", "opus": "opus", "hls": "m3u8",
    "ffconcat": "ffconcat", "json": "json", "unknown": "bin",
}
"""Canonical file extension (without the dot) of each sniffed or produced format."""

CONTENT_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif",
    "heic": "image/heic", "gif": "image/gif", "tiff": "image/tiff", "bmp": "image/bmp",
    "svg": "image/svg+xml", "jxl": "image/jxl", "xml": "application/xml", "pdf": "application/pdf",
    "mp4": "video/mp4", "m4a": "audio/mp4", "mov": "video/quicktime", "3gp": "video/3gpp",
    "webm": "video/webm", "mkv": "video/x-matroska", "avi": "video/x-msvideo", "mp3": "audio/mpeg",
    "aac": "audio/aac", "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "opus": "audio/ogg",
    "hls": "application/vnd.apple.mpegurl", "ffconcat": "text/plain", "json": "application/json",
    "unknown": "application/octet-stream",
}

MEDIA_TYPES: dict[str, MediaType] = {
    "jpeg": "image", "png": "image", "webp": "image", "avif": "image", "heic": "image", "gif": "image",
    "tiff": "image", "bmp": "image", "svg": "image", "jxl": "image", "pdf": "document", "mp4": "video",
    "m4a": "audio", "mov": "video", "3gp": "video", "webm": "video", "mkv": "video", "avi": "video",
    "mp3": "audio", "aac": "audio", "wav": "audio", "flac": "audio", "ogg": "audio", "opus": "audio",
    "hls": "video",
}


MEDIA_EXTENSIONS: frozenset[str] = frozenset(
    {EXTENSIONS[fmt] for fmt in MEDIA_TYPES} | {"jpeg", "jpe", "jfif", "tif", "heif", "hif", "m4v", "oga"})
"""Extensions (lower case, without the dot) of the media formats above, with their usual other spellings."""


def holds_media(path: Path | str) -> bool:
    """Whether the file at ``path`` is media or claims to be: a media extension (``MEDIA_EXTENSIONS``) or
    leading bytes of a media format. False for the files beside the photos on a camera's card or in an
    export (XMP sidecars, a camera's catalog files, an iPhone's AAE edits, notes), and for empty ones. A
    file named as media whose bytes are not (a broken or mislabelled upload) holds media here: its run says
    what is wrong with it. An unreadable file raises ``OSError``."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in MEDIA_EXTENSIONS:
        return True
    try:
        return sniff_file(path).media_type != "other"
    except EmptyMedia:
        return False


@dataclass(frozen=True)
class Sniffed:
    media_type: MediaType
    content_type: str
    format: str

    @property
    def is_raster_image(self) -> bool:
        """True for the bitmap formats the image worker may decode (never SVG)."""
        return self.format in RASTER_FORMATS

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.format, "bin")


def _result(fmt: str) -> Sniffed:
    return Sniffed(MEDIA_TYPES.get(fmt, "other"), CONTENT_TYPES.get(fmt, CONTENT_TYPES["unknown"]), fmt)


UNKNOWN = _result("unknown")

_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"miaf"})
_AUDIO_MP4_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_BMP_DIB_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_TEXT_PREFIX = re.compile(rb"^(?:\xef\xbb\xbf)?\s*")
_XML_NOISE = re.compile(rb"^\s*(?:<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\s)*", re.DOTALL | re.IGNORECASE)


def _ftyp(head: bytes) -> Sniffed | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    end = min(len(head), box_size if 16 <= box_size <= 4096 else 64)
    compatible = {head[i:i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS:
        return _result("avif")
    if major in _HEIF_BRANDS:
        return _result("heic")
    if major in _GENERIC_HEIF_BRANDS:
        if brands & _AVIF_BRANDS:
            return _result("avif")
        return _result("heic")
    if major == b"qt  ":
        return _result("mov")
    if major in _AUDIO_MP4_BRANDS:
        return _result("m4a")
    if major.startswith(b"3g"):
        return _result("3gp")
    return _result("mp4")


def _is_mpeg_audio_frame(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0x03
    layer = (head[1] >> 1) & 0x03
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0x03
    return version != 0x01 and layer != 0x00 and bitrate not in (0x00, 0x0F) and sample_rate != 0x03


def _is_adts(head: bytes) -> bool:
    return len(head) >= 7 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0


def _text_kind(head: bytes) -> Sniffed | None:
    text = _TEXT_PREFIX.sub(b"", head, count=1)
    if text.startswith(b"#EXTM3U"):
        return _result("hls")
    if text.startswith(b"ffconcat version"):
        return _result("ffconcat")
    if text[:1] == b"<":
        body = _XML_NOISE.sub(b"", text, count=1)
        if body[:4].lower() == b"<svg":
            return _result("svg")
        if b"<svg" in text.lower():
            return _result("svg")
        if text[:5].lower() == b"<?xml":
            return _result("xml")
    return None


def sniff(head: bytes) -> Sniffed:
    """Identify media from its first bytes. Raises :class:`EmptyMedia` for empty input."""
    if not head:
        raise EmptyMedia("the file is empty")
    if head.startswith(b"\xff\xd8\xff"):
        return _result("jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _result("png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _result("gif")
    if head.startswith(b"RIFF") and len(head) >= 12:
        riff = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}.get(head[8:12])
        if riff:
            return _result(riff)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _result("tiff")
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return _result("bmp")
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return _result("jxl")
    if b"%PDF-" in head[:1024]:
        return _result("pdf")
    ftyp = _ftyp(head)
    if ftyp is not None:
        return ftyp
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _result("webm" if b"webm" in head[:64] else "mkv")
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return _result("mp3")
    if _is_adts(head):
        return _result("aac")
    if head.startswith(b"fLaC"):
        return _result("flac")
    if head.startswith(b"OggS"):
        return _result("opus" if b"OpusHead" in head[:128] else "ogg")
    text = _text_kind(head)
    return text if text is not None else UNKNOWN


def sniff_file(path: Path | str) -> Sniffed:
    """Sniff a local file from its first :data:`HEAD_BYTES` bytes."""
    with Path(path).open("rb") as handle:
        return sniff(handle.read(HEAD_BYTES))


def format_of_content_type(content_type: str) -> str:
    """The format name for a content type ("image/jpeg" -> "jpeg"); "unknown" when not listed."""
    wanted = content_type.split(";", 1)[0].strip().lower()
    for fmt, known in CONTENT_TYPES.items():
        if known == wanted and fmt not in ("opus", "ffconcat"):
            return fmt
    return "unknown"
