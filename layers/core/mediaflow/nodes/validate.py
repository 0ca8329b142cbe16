"""`validate`: fail the path with `ValidationFailed` unless the media meets every rule.

Rules are checked against the MediaRef. Width, height and duration are read from the media only when a
rule needs them and the reference does not carry them (image headers through a ranged read, video and
audio through ffprobe on a downloaded copy).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.errors import ValidationFailed
from mediaflow.nodes.base import Field, NodeConfig, model_validator

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef

HEADER_BYTES = 256 * 1024
"""Leading bytes read to find an image's dimensions without downloading it."""


class Config(NodeConfig):
    media_types: list[str] = Field(default_factory=list, description="Allowed media types; empty = any")
    content_types: list[str] = Field(default_factory=list, description="Allowed MIME types; empty = any")
    max_size_bytes: int | None = Field(default=None, ge=1)
    min_width: int | None = Field(default=None, ge=1)
    min_height: int | None = Field(default=None, ge=1)
    max_width: int | None = Field(default=None, ge=1)
    max_height: int | None = Field(default=None, ge=1)
    max_duration_ms: int | None = Field(default=None, ge=1)
    required_metadata: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _ranges(self) -> Config:
        for low, high in (("min_width", "max_width"), ("min_height", "max_height")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} is larger than {high}")
        return self


def _base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def content_type_allowed(content_type: str, allowed: list[str]) -> bool:
    """``image/png`` matches ``image/png``, ``image/*`` and ``*/*`` (parameters and case ignored)."""
    actual = _base_type(content_type)
    major = actual.split("/", 1)[0]
    for pattern in allowed:
        wanted = _base_type(pattern)
        if wanted in (actual, "*/*", "*") or wanted == f"{major}/*":
            return True
    return False


def needs_dimensions(config: Config) -> bool:
    limits = (config.min_width, config.max_width, config.min_height, config.max_height)
    return any(limit is not None for limit in limits)


def check(media: MediaRef, config: Config, node_id: str | None = None) -> list[str]:
    """Check every rule in a fixed order; return the names of the rules that were checked.

    Raises :class:`ValidationFailed` (``field`` = the rule's camelCase name) at the first rule that does
    not hold, or whose value is unknown for this media.
    """
    checked: list[str] = []

    def fail(rule: str, message: str) -> ValidationFailed:
        return ValidationFailed(f"{rule}: {message}", node_id=node_id, field=rule)

    if config.media_types:
        allowed = [m.lower() for m in config.media_types]
        if media.media_type not in allowed:
            raise fail("mediaTypes", f"media type {media.media_type!r} is not one of {allowed}")
        checked.append("mediaTypes")
    if config.content_types:
        if not content_type_allowed(media.content_type, config.content_types):
            raise fail("contentTypes",
                       f"content type {media.content_type!r} is not one of {config.content_types}")
        checked.append("contentTypes")
    if config.max_size_bytes is not None:
        if media.size > config.max_size_bytes:
            raise fail("maxSizeBytes", f"size {media.size} bytes exceeds {config.max_size_bytes}")
        checked.append("maxSizeBytes")
    for rule, attr, limit, is_min in (
        ("minWidth", "width", config.min_width, True),
        ("maxWidth", "width", config.max_width, False),
        ("minHeight", "height", config.min_height, True),
        ("maxHeight", "height", config.max_height, False),
        ("maxDurationMs", "duration_ms", config.max_duration_ms, False),
    ):
        if limit is None:
            continue
        value = getattr(media, attr)
        label = "durationMs" if attr == "duration_ms" else attr
        if value is None:
            raise fail(rule, f"{label} of this media is unknown")
        if (is_min and value < limit) or (not is_min and value > limit):
            relation = "below the minimum" if is_min else "above the maximum"
            raise fail(rule, f"{label} {value} is {relation} {limit}")
        checked.append(rule)
    if config.required_metadata:
        present = {key.lower() for key, value in media.metadata.items() if value != ""}
        missing = [key for key in config.required_metadata if key.lower() not in present]
        if missing:
            raise fail("requiredMetadata", f"missing metadata keys {missing}")
        checked.append("requiredMetadata")
    return checked


def _image_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image

    # Image.open reads the header only; pixels are never decoded here.
    with contextlib.suppress(Exception), Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        return int(width), int(height)
    return None


def _ffprobe(path: Path) -> dict[str, int]:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return {}
    try:
        completed = subprocess.run(
            [ffprobe, "-v", "error", "-protocol_whitelist", "file", "-show_entries",
             "format=duration:stream=width,height", "-of", "json", str(path)],
            capture_output=True, timeout=60, check=False,
        )
        probed = json.loads(completed.stdout or b"{}")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return {}
    found: dict[str, int] = {}
    for stream in probed.get("streams", []):
        if stream.get("width") and stream.get("height"):
            found.update(width=int(stream["width"]), height=int(stream["height"]))
            break
    with contextlib.suppress(TypeError, ValueError, KeyError):
        found["duration_ms"] = round(float(probed["format"]["duration"]) * 1000)
    return found


def probe(media: MediaRef, env: TaskEnvironment, want_duration: bool) -> MediaRef:
    """``media`` with width/height (and duration when asked) filled in from the stored object."""
    found: dict[str, Any] = {}
    if media.media_type == "image" and not want_duration:
        with contextlib.suppress(Exception):
            size = _image_size(env.blobs.read_range(media.key, 0, HEADER_BYTES))
            if size:
                found.update(width=size[0], height=size[1])
    if not found:
        env.workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=env.workdir) as scratch:
            local = env.blobs.download(media.key, Path(scratch) / "media")
            if media.media_type == "image":
                size = _image_size(local.read_bytes())
                if size:
                    found.update(width=size[0], height=size[1])
            else:
                found.update(_ffprobe(local))
    updates = {key: value for key, value in found.items() if getattr(media, key) is None}
    return media.model_copy(update=updates) if updates else media


def execute(
    media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
) -> tuple[MediaRef, dict[str, Any]]:
    """Check the rules; the media passes through unchanged (dimensions learnt on the way are kept)."""
    want_dims = needs_dimensions(config) and (media.width is None or media.height is None)
    want_duration = config.max_duration_ms is not None and media.duration_ms is None
    if (want_dims or want_duration) and media.media_type in ("image", "video", "audio"):
        media = probe(media, env, want_duration)
    checked = check(media, config, ctx.node_id)
    return media, {"passed": checked}
