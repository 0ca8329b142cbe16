"""`strip_metadata`: drop EXIF, XMP, IPTC, GPS and ICC (pixels converted to sRGB first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    keep_icc: bool = Field(default=False, description="Keep the ICC profile (everything else goes)")
    keep_orientation: bool = Field(default=False, description="Orientation is applied to pixels when false")


def strips_metadata(config: Config) -> bool:
    """Always: a kept orientation is written afresh from the orientation field, not from the EXIF block."""
    return True


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Save with no metadata (pixels are sRGB already). ``keepOrientation`` is honoured at decode time:
    the worker then leaves the pixels unrotated and writes a minimal EXIF block with the orientation."""
    plan = state.encode
    plan.strip = True
    plan.keep_icc = plan.keep_icc or config.keep_icc
    plan.keep_orientation = plan.keep_orientation or config.keep_orientation
    kept = [name for name, on in (("icc", plan.keep_icc), ("orientation", plan.keep_orientation)) if on]
    return {"kept": kept}
