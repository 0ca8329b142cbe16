"""`thumbnail`: a small preview. Images shrink on load (libvips); videos grab a frame (ffmpeg)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig

if TYPE_CHECKING:
    from mediaflow.runtime.tasks import OpContext
    from mediaflow.workers.image import ImagePipelineState


class Config(NodeConfig):
    width: int = Field(default=256, ge=8, le=4096)
    height: int | None = Field(default=None, ge=8, le=4096)
    crop: Literal["none", "centre", "attention", "entropy"] = "none"
    output_format: Literal["jpeg", "png", "webp", "avif"] = "webp"
    source: Literal["image", "video"] = Field(default="image", description="video: grab a frame first")
    at_seconds: float | None = Field(default=None, ge=0, description="Video only: time of the frame")


def runtime_for(config: Any) -> str:
    return "ffmpeg" if config.source == "video" else "vips"


def scaled_size(config: Config, width: int, height: int) -> tuple[int, int]:
    """Never enlarges; with a crop and a height the image first covers the box, else fits inside it."""
    from mediaflow.nodes.resize import fit_scale

    cover = config.crop != "none" and config.height is not None
    return fit_scale(config.width, config.height, width, height, cover=cover, enlarge=False)


def load_size(config: Config, width: int, height: int) -> tuple[int, int] | None:
    size = scaled_size(config, width, height)
    return size if size != (width, height) else None


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Scale (and crop) the image and make the output a metadata-free ``outputFormat`` file."""
    from mediaflow.workers.image import crop_to, resample

    image = resample(state.image, *scaled_size(config, state.image.width, state.image.height))
    if config.crop != "none" and config.height is not None:
        image = crop_to(image, config.width, config.height, config.crop)
    state.image = image
    state.encode.format = config.output_format
    state.encode.strip = True
    return {"width": int(image.width), "height": int(image.height), "format": config.output_format}
