"""Shared pieces of the per-kind config models.

Every node kind lives in its own module under ``mediaflow.nodes`` and defines a ``Config`` model
(subclass of :class:`NodeConfig`). Toolchains (pyvips, ffmpeg, rembg) are imported lazily inside the
executors so that the validator and the compiler stay light and free of I/O at import time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

IMAGE_FORMATS = ("jpeg", "png", "webp", "avif", "gif", "tiff")
VIDEO_FORMATS = ("mp4", "webm", "mov", "mkv", "hls")
AUDIO_FORMATS = ("mp3", "m4a", "aac", "opus", "ogg", "wav", "flac")

ImageFormat = Literal["jpeg", "png", "webp", "avif", "gif", "tiff"]
VideoFormat = Literal["mp4", "webm", "mov", "mkv", "hls"]
AudioFormat = Literal["mp3", "m4a", "aac", "opus", "ogg", "wav", "flac"]

FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff", "mpeg4": "mp4"}


class NodeConfig(BaseModel):
    """Base of every kind's config: camelCase in JSON, snake_case in Python, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        frozen=True,
        str_strip_whitespace=True,
    )


def normalise_format(value: object) -> object:
    """Lower-case a format name and map common spellings (jpg, tif, ...) to the canonical one."""
    if isinstance(value, str):
        lowered = value.strip().lower().lstrip(".")
        return FORMAT_ALIASES.get(lowered, lowered)
    return value
