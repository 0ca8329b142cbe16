"""`compress`: re-encode at a lower quality, keeping the format."""

from typing import Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    compression_level: int = Field(default=75, ge=1, le=100, description="Quality 1-100")
    mode: Literal["balanced", "max", "lossless"] = "balanced"
    strip_metadata: bool = True
