"""`adjust`: brightness, saturation, contrast, hue, grayscale, sharpen, invert."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    brightness: float = Field(default=1.0, ge=0.0, le=4.0, description="Multiplier, 1 = unchanged")
    saturation: float = Field(default=1.0, ge=0.0, le=4.0, description="Multiplier, 1 = unchanged")
    contrast: float = Field(default=1.0, ge=0.0, le=4.0, description="Multiplier, 1 = unchanged")
    hue: float = Field(default=0.0, ge=-360.0, le=360.0, description="Rotation in degrees")
    grayscale: bool = False
    sharpen: float = Field(default=0.0, ge=0.0, le=10.0, description="Sigma of the sharpen mask; 0 = off")
    invert: bool = False


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Adjust the colour bands in this order: brightness and contrast (one linear step around mid grey),
    saturation and hue (in LCh), grayscale, sharpen, invert. Alpha is left alone."""
    from mediaflow.workers.image_state import join_alpha, split_alpha, to_uchar

    colour, alpha = split_alpha(state.image)
    interpretation = "b-w" if colour.bands < 3 else "srgb"
    applied: list[str] = []
    if config.brightness != 1.0 or config.contrast != 1.0:
        gain = config.brightness * config.contrast
        colour = to_uchar(colour.linear([gain], [128.0 * (1.0 - config.contrast)]))
        applied.append("brightness/contrast")
    if (config.saturation != 1.0 or config.hue % 360.0 != 0.0) and colour.bands >= 3 and not config.grayscale:
        lch = colour.colourspace("lch")
        lch = lch.linear([1.0, config.saturation, 1.0], [0.0, 0.0, config.hue % 360.0])
        colour = to_uchar(lch.colourspace("srgb"))
        applied.append("saturation/hue")
    if config.grayscale and colour.bands >= 3:
        colour = to_uchar(colour.colourspace("b-w"))
        interpretation = "b-w"
        applied.append("grayscale")
    if config.sharpen > 0.0:
        colour = to_uchar(colour.sharpen(sigma=config.sharpen))
        applied.append("sharpen")
    if config.invert:
        colour = colour.invert()
        applied.append("invert")
    state.image = join_alpha(colour.copy(interpretation=interpretation), alpha)
    return {"applied": applied}
