"""What a node module is: its config model and the executor its runtime's worker calls.

Every node kind lives in its own module under ``mediaflow.nodes`` and defines a ``Config`` model
(subclass of :class:`NodeConfig`) and one executor, named by its runtime (the Protocols below; the worker
finds the module through the catalog). Toolchains (pyvips, ffmpeg, rembg) are imported lazily inside the
executors so that the validator and the compiler stay light and free of I/O at import time.

A node module imports contracts only: this module, :mod:`mediaflow.execution.contract`, the op state of
its runtime (:mod:`mediaflow.workers.image_state`, :mod:`mediaflow.workers.video_state`) and
:mod:`mediaflow.filenames`; never a worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from mediaflow.declared import Declared, to_camel
from mediaflow.declared import Field as Field  # re-exported: a kind's module declares its config with these
from mediaflow.declared import field_validator as field_validator
from mediaflow.declared import model_validator as model_validator

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef
    from mediaflow.workers.image_state import ImagePipelineState
    from mediaflow.workers.video_state import VideoState

IMAGE_FORMATS = ("jpeg", "png", "webp", "avif", "gif", "tiff")
VIDEO_FORMATS = ("mp4", "webm", "mov", "mkv", "hls")
AUDIO_FORMATS = ("mp3", "m4a", "aac", "opus", "ogg", "wav", "flac")

ImageFormat = Literal["jpeg", "png", "webp", "avif", "gif", "tiff"]
VideoFormat = Literal["mp4", "webm", "mov", "mkv", "hls"]
AudioFormat = Literal["mp3", "m4a", "aac", "opus", "ogg", "wav", "flac"]

FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff", "mpeg4": "mp4"}


class NodeConfig(Declared):
    """Base of every kind's config: camelCase in JSON, snake_case in Python, unknown keys refused. Declared
    (:mod:`mediaflow.declared`): a kind's module imports without pydantic, which validates on first use."""

    @classmethod
    def pydantic_config(cls) -> dict[str, Any]:
        return {"extra": "forbid", "populate_by_name": True, "alias_generator": to_camel, "frozen": True,
                "str_strip_whitespace": True}


def normalise_format(value: object) -> object:
    """Lower-case a format name and map common spellings (jpg, tif, ...) to the canonical one."""
    if isinstance(value, str):
        lowered = value.strip().lower().lstrip(".")
        return FORMAT_ALIASES.get(lowered, lowered)
    return value


# --------------------------------------------------------------------------------------------------
# Executor contracts: the functions a node module defines for its runtime's worker

@runtime_checkable
class ImageOp(Protocol):
    """A ``vips`` kind: edits ``state.image`` (lazily) and/or ``state.encode``; returns its recorded output."""

    def apply(self, state: ImagePipelineState, config: Any, ctx: OpContext) -> dict[str, Any] | None: ...


@runtime_checkable
class ShrinkOnLoad(ImageOp, Protocol):
    """A ``vips`` kind with ``NodeSpec.geometry``: given the displayed source size, the size it scales the
    image to before any crop or padding (``None``: it does not shrink), so the decode can shrink on load."""

    def load_size(self, config: Any, width: int, height: int) -> tuple[int, int] | None: ...


@runtime_checkable
class StripsMetadata(ImageOp, Protocol):
    """A ``vips`` kind that may make the encode drop the source's EXIF, XMP and IPTC: given its config, whether
    it does. The worker then leaves those blocks off the decoded pixels instead of carrying them to an encode
    that removes them."""

    def strips_metadata(self, config: Any) -> bool: ...


@runtime_checkable
class VideoOp(Protocol):
    """An ``ffmpeg`` kind: reads through ``state.open()`` and hands its output to ``state.produce()``."""

    def run_video(self, state: VideoState, config: Any, ctx: OpContext) -> dict[str, Any] | None: ...


@runtime_checkable
class LightOp(Protocol):
    """A ``light`` task kind: works on the reference (and the store through ``env``); returns the new
    reference and its recorded output."""

    def execute(self, media: MediaRef, config: Any, ctx: OpContext,
                env: TaskEnvironment) -> tuple[MediaRef, dict[str, Any]]: ...


@runtime_checkable
class Annotation(Protocol):
    """A kind with ``NodeSpec.annotation`` (``rename``, ``transform``): edits the reference only; every worker
    runs it, in chain order, on its output reference."""

    def apply(self, media: MediaRef, config: Any, ctx: OpContext) -> MediaRef: ...


@runtime_checkable
class RoutedByConfig(Protocol):
    """A kind with ``NodeSpec.also_runs_on``: the runtime a configured node runs on."""

    def runtime_for(self, config: Any) -> str: ...


@runtime_checkable
class Reports(Protocol):
    """``inspect``: its report of media the image worker does not decode (output, extra object to store)."""

    def finish(self, report: dict[str, Any], config: Any, ctx: OpContext,
               media: MediaRef) -> tuple[dict[str, Any], tuple[str, bytes, str] | None]: ...
