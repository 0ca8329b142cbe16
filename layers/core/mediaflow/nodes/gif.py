"""`gif`: an animated GIF (palettegen/paletteuse) or animated WebP preview of a video."""

from typing import Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    output_format: Literal["gif", "webp"] = "gif"
    fps: float = Field(default=10.0, gt=0, le=50)
    width: int = Field(default=480, ge=16, le=1920)
    start_seconds: float = Field(default=0.0, ge=0)
    duration_seconds: float = Field(default=3.0, gt=0, le=60)
    loop: int = Field(default=0, ge=0, le=65535, description="0 = forever")
