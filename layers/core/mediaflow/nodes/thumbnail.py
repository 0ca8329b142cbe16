"""`thumbnail`: a small preview. Images shrink on load (libvips); videos grab a representative frame (ffmpeg).

With ``source: auto`` (the default) one node serves both: the compiler puts a Choice on ``$.media.mediaType``
in front of it, and a video first goes through an ffmpeg Task that grabs a representative frame as a lossless
PNG (at most 4096 px wide), which the node's own libvips Task then scales, crops and encodes like any image
(see ``frame_config``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState
    from mediaflow.workers.video_state import VideoState


FRAME_MAX_WIDTH = 4096  # the widest box a thumbnail asks for: the frame never needs more


class Config(NodeConfig):
    width: int = Field(default=256, ge=8, le=4096)
    height: int | None = Field(default=None, ge=8, le=4096)
    crop: Literal["none", "centre", "attention", "entropy"] = "none"
    output_format: Literal["jpeg", "png", "webp", "avif"] = "webp"
    source: Literal["auto", "image", "video"] = Field(
        default="auto", description="auto: images are scaled, videos give a representative frame, scaled; "
                                    "image or video: only that kind of media")
    at_seconds: float | None = Field(default=None, ge=0, description="Video only: time of the frame "
                                                                      "(default: a representative one)")


def runtime_for(config: Any) -> str:
    return "ffmpeg" if config.source == "video" else "vips"


def frame_config(config: NodeConfig) -> dict[str, Any]:
    """The config of the ffmpeg op that turns a video into the frame this node then encodes (``auto``)."""
    assert isinstance(config, Config)
    frame = config.model_copy(update={"source": "video", "output_format": "png", "width": FRAME_MAX_WIDTH,
                                      "height": None, "crop": "none"})
    return frame.model_dump(mode="json", by_alias=True, exclude_none=True)


def scaled_size(config: Config, width: int, height: int) -> tuple[int, int]:
    """Never enlarges; with a crop and a height the image first covers the box, else fits inside it."""
    from mediaflow.workers.geometry import fit_scale

    cover = config.crop != "none" and config.height is not None
    return fit_scale(config.width, config.height, width, height, cover=cover, enlarge=False)


def load_size(config: Config, width: int, height: int) -> tuple[int, int] | None:
    size = scaled_size(config, width, height)
    return size if size != (width, height) else None


def strips_metadata(config: Config) -> bool:
    return True


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Scale (and crop) the image and make the output a metadata-free ``outputFormat`` file."""
    from mediaflow.workers.image_state import crop_to, resample

    image = resample(state.image, *scaled_size(config, state.image.width, state.image.height))
    if config.crop != "none" and config.height is not None:
        image = crop_to(image, config.width, config.height, config.crop)
    state.image = image
    state.encode.format = config.output_format
    state.encode.strip = True
    return {"width": int(image.width), "height": int(image.height), "format": config.output_format}


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """On a video (the ffmpeg worker): one frame scaled to fit (or cover and crop) the box; without
    ``atSeconds``, the most representative frame (ffmpeg's thumbnail filter) near 10 % of the duration."""
    from mediaflow.nodes import poster_frame

    crop = config.crop != "none" and config.height is not None
    return poster_frame.grab(state, ctx.node_id, at_seconds=config.at_seconds, at_percent=None,
                             best_frame=config.at_seconds is None,
                             fmt=config.output_format, width=config.width, height=config.height, crop=crop)
