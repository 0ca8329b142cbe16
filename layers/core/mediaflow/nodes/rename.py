"""`rename`: rewrite the output filename from a pattern; the result is always path-safe."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from pydantic import Field

from mediaflow.nodes.base import NodeConfig

if TYPE_CHECKING:
    from mediaflow.media import MediaRef
    from mediaflow.runtime.tasks import OpContext

TOKENS = ("original", "format", "ext", "timestamp", "nodeId", "runId")
MAX_FILENAME = 200
DEFAULT_STEM = "file"

_TOKEN = re.compile(r"\{(" + "|".join(TOKENS) + r")\}")
_SEPARATORS = re.compile(r"[/\\]+")
_DOTS = re.compile(r"\.{2,}")
_KNOWN_EXTENSIONS = frozenset({
    "jpg", "jpeg", "jpe", "png", "webp", "avif", "heic", "heif", "gif", "tif", "tiff", "bmp", "svg", "jxl",
    "pdf", "mp4", "m4v", "m4a", "mov", "3gp", "webm", "mkv", "avi", "mp3", "aac", "wav", "flac", "ogg",
    "oga", "opus", "m3u8", "json", "txt", "bin", "vtt", "zip",
})


class Config(NodeConfig):
    pattern: str = Field(default="{original}", min_length=1, max_length=200,
                         description="Tokens: {original} {format} {ext} {timestamp} {nodeId} {runId}")


def timestamp_token(started_at: str) -> str:
    """``20240102T030405Z`` from the run's ISO start time; fixed for a run, so outputs stay deterministic."""
    if not started_at:
        return "00000000T000000Z"
    try:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return "00000000T000000Z"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def render(pattern: str, values: dict[str, str]) -> str:
    """Replace the known ``{token}`` spellings; anything else in braces is kept as written."""
    return _TOKEN.sub(lambda match: values.get(match.group(1), ""), pattern)


def clean_component(text: str) -> str:
    """One path-safe name: no separators, no control characters, no ``..``, no leading dot or space."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    text = _SEPARATORS.sub("_", text)
    text = _DOTS.sub(".", text)
    return text.strip().lstrip(". ").rstrip(" ")


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.lower() in _KNOWN_EXTENSIONS:
        return stem, ext
    return name, ""


def render_filename(pattern: str, *, original: str, fmt: str, ext: str, node_id: str, run_id: str,
                    timestamp: str) -> str:
    """Render ``pattern`` into a safe filename that ends with ``.{ext}``.

    ``original`` is the original file's name without its extension; ``timestamp`` is the token value
    (see :func:`timestamp_token`). A media extension written in the pattern that does not match the
    output is replaced; the result is at most 200 characters.
    """
    ext = clean_component(ext).lstrip(".").lower()
    values = {"original": original, "format": fmt, "ext": ext, "timestamp": timestamp, "nodeId": node_id,
              "runId": run_id}
    name = clean_component(render(pattern, values))
    stem, current = _split_extension(name)
    if ext and current.lower() == ext:
        stem = stem.rstrip(". ")
    elif not ext and current:
        ext = current
    stem = stem.rstrip(". ") or DEFAULT_STEM
    suffix = f".{ext}" if ext else ""
    stem = stem[: MAX_FILENAME - len(suffix)].rstrip(". ") or DEFAULT_STEM
    return f"{stem}{suffix}"[:MAX_FILENAME]


def original_stem(media: MediaRef) -> str:
    """The current name of ``media`` without its extension (from the filename, else the key)."""
    name = media.filename or PurePosixPath(media.source_key or media.key).name
    stem, _ = _split_extension(clean_component(name))
    return stem or DEFAULT_STEM


def token_values(media: MediaRef, ctx: OpContext) -> dict[str, str]:
    """Values of every token for ``media`` at the op described by ``ctx``."""
    from mediaflow.sniff import EXTENSIONS, format_of_content_type

    fmt = format_of_content_type(media.content_type)
    if fmt == "unknown":
        _, current = _split_extension(media.filename)
        fmt = current.lower() or "bin"
        ext = fmt
    else:
        ext = EXTENSIONS.get(fmt, fmt)
    return {"original": original_stem(media), "format": fmt, "ext": ext,
            "timestamp": timestamp_token(ctx.run.started_at), "nodeId": ctx.node_id, "runId": ctx.run.run_id}


def apply(media: MediaRef, config: Config, ctx: OpContext) -> MediaRef:
    """The renamed media reference (the stored object is not touched; the next upload uses the name)."""
    values = token_values(media, ctx)
    filename = render_filename(config.pattern, original=values["original"], fmt=values["format"],
                               ext=values["ext"], node_id=ctx.node_id, run_id=ctx.run.run_id,
                               timestamp=values["timestamp"])
    return media.model_copy(update={"filename": filename})
