"""`compress`: re-encode at a lower quality, keeping the format."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    compression_level: int = Field(default=75, ge=1, le=100, description="Quality 1-100")
    mode: Literal["balanced", "max", "lossless"] = "balanced"
    strip_metadata: bool = True


def strips_metadata(config: Config) -> bool:
    return config.strip_metadata


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Set the quality of the final encode; ``max`` also quantises PNG to a palette, ``lossless`` keeps
    WebP/AVIF lossless. The format stays what the chain chose so far."""
    plan = state.encode
    plan.quality = config.compression_level
    plan.lossless = config.mode == "lossless"
    plan.palette = config.mode == "max" and plan.format == "png"
    if config.mode == "max":
        plan.effort = 9 if plan.format == "png" else 6
    if config.strip_metadata:
        plan.strip = True
    return {"format": plan.format, "quality": plan.quality, "mode": config.mode}
