"""`storyboard`: a sprite sheet of evenly spaced frames plus WebVTT cues pointing into it."""

from typing import Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    interval_seconds: float = Field(default=10.0, gt=0, le=3600)
    tile_width: int = Field(default=160, ge=16, le=1920)
    columns: int = Field(default=10, ge=1, le=50)
    max_frames: int = Field(default=100, ge=1, le=2500)
    output_format: Literal["jpeg", "webp", "png"] = "jpeg"
