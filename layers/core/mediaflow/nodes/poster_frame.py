"""`poster_frame`: one still frame of a video (input seek: fast on long videos)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig, model_validator


class Config(NodeConfig):
    at_seconds: float | None = Field(default=None, ge=0)
    at_percent: float | None = Field(default=None, ge=0, le=100)
    best_frame: bool = Field(default=False, description="Pick the most representative frame near the time")
    output_format: Literal["jpeg", "png", "webp"] = "jpeg"
    width: int | None = Field(default=None, ge=8, le=7680)

    @model_validator(mode="after")
    def _one_time(self) -> Config:
        if self.at_seconds is not None and self.at_percent is not None:
            raise ValueError("set atSeconds or atPercent, not both")
        return self


# --------------------------------------------------------------------------------------------------
# Executor (ffmpeg worker)

DEFAULT_PERCENT = 10.0
BEST_FRAME_WINDOW = 100
"""Frames the ``thumbnail`` filter compares when ``bestFrame`` is set (about 4 s at 25 fps)."""

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.video_state import VideoState


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    return grab(state, ctx.node_id, at_seconds=config.at_seconds, at_percent=config.at_percent,
                best_frame=config.best_frame, fmt=config.output_format, width=config.width, height=None, crop=False)


def frame_time(duration: float, fps: float | None, at_seconds: float | None, at_percent: float | None) -> float:
    """The time of the frame inside a window of ``duration`` seconds (kept one frame before the end)."""
    if at_seconds is not None:
        wanted = at_seconds
    else:
        wanted = duration * (DEFAULT_PERCENT if at_percent is None else at_percent) / 100.0
    last = max(0.0, duration - max(1.0 / (fps or 25.0), 0.05))
    return min(max(0.0, wanted), last)


def image_encoder_options(fmt: str) -> dict[str, Any]:
    """Encoder options for a still image (``avif`` is first written as PNG, see :func:`grab`)."""
    if fmt == "jpeg":
        return {"c:v": "mjpeg", "q:v": "2", "pix_fmt": "yuvj420p"}
    if fmt == "webp":
        return {"c:v": "libwebp", "quality": "82", "pix_fmt": "yuv420p", "compression_level": "4"}
    return {"c:v": "png", "pix_fmt": "rgb24"}


def grab(state: VideoState, node_id: str, *, at_seconds: float | None, at_percent: float | None, best_frame: bool,
         fmt: str, width: int | None, height: int | None, crop: bool) -> dict[str, Any]:
    """One frame, found by input seek (``-ss`` before ``-i``: the demuxer jumps to the keyframe, so a
    frame late in a long video costs about as much as the first). ``crop`` covers the box and centre-crops."""
    import ffmpeg

    from mediaflow.errors import ToolchainError
    from mediaflow.workers.ffmpeg_tools import even, fit_even

    info = state.require_video(node_id)
    source_width, source_height = state.display_size(node_id)
    fps = info.video.fps if info.video else None
    _, duration = state.span()
    at = frame_time(duration, fps, at_seconds, at_percent)
    window = min(BEST_FRAME_WINDOW, max(2, round((fps or 25.0) * 4))) if best_frame else 1
    length = (window + 1) / (fps or 25.0) if best_frame else None
    if best_frame:
        at = max(0.0, min(at, duration - (length or 0.0)))
    source = state.open(offset=at, length=length)
    video = source["v:0"]
    if best_frame:
        video = video.filter("thumbnail", n=str(window))
    if crop and width and height:
        scale = max(width / source_width, height / source_height, 0.0)
        scale = min(scale, 1.0)
        cover_width, cover_height = even(source_width * scale), even(source_height * scale)
        out_width, out_height = min(width, cover_width), min(height, cover_height)
        if (cover_width, cover_height) != (source_width, source_height):
            video = video.filter("scale", cover_width, cover_height, flags="lanczos")
        if (out_width, out_height) != (cover_width, cover_height):
            video = video.filter("crop", out_width, out_height)
    else:
        out_width, out_height = fit_even(source_width, source_height, width, height)
        if (out_width, out_height) != (source_width, source_height):
            video = video.filter("scale", out_width, out_height, flags="lanczos")
    video = video.filter("setsar", "1")
    written = "png" if fmt == "avif" else fmt
    target = state.scratch(f".{written}")
    options = {**state.output_options(audio=False), **image_encoder_options(written), "frames:v": "1",
               "f": "image2", "update": "1"}
    state.run(ffmpeg.output(video, str(target), **options), node_id, "ffmpeg frame grab")
    if fmt == "avif" and target.exists() and target.stat().st_size:
        try:
            import pyvips
        except ImportError as error:  # pragma: no cover - the image toolchain is part of the build
            raise ToolchainError("AVIF output needs libvips (pyvips)", node_id=node_id) from error
        png = target
        target = state.scratch(".avif")
        pyvips.Image.new_from_file(str(png), access="sequential").heifsave(
            str(target), compression="av1", Q=60, effort=2, bitdepth=8, keep=0)
    state.produce(target, fmt, node_id, width=out_width, height=out_height)
    return {"format": fmt, "atSeconds": round(at, 3), "bestFrame": best_frame, "width": out_width,
            "height": out_height}
