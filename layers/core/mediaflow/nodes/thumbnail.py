"""`thumbnail`: a small preview. Images shrink on load (libvips); videos grab a frame (ffmpeg)."""

from typing import Any, Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    width: int = Field(default=256, ge=8, le=4096)
    height: int | None = Field(default=None, ge=8, le=4096)
    crop: Literal["none", "centre", "attention", "entropy"] = "none"
    output_format: Literal["jpeg", "png", "webp", "avif"] = "webp"
    source: Literal["image", "video"] = Field(default="image", description="video: grab a frame first")
    at_seconds: float | None = Field(default=None, ge=0, description="Video only: time of the frame")


def runtime_for(config: Any) -> str:
    return "ffmpeg" if config.source == "video" else "vips"
