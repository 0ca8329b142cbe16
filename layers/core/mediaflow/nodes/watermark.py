"""`watermark`: overlay an image (blob key) or a text at a position with an opacity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig, model_validator

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    text: str | None = Field(default=None, max_length=200)
    image_key: str | None = Field(default=None, max_length=1024, description="Key of a watermark image "
                                  "in the tenant's storage")
    position: Literal["center", "north", "south", "east", "west", "northeast", "northwest", "southeast",
                      "southwest"] = "southeast"
    opacity: float = Field(default=0.5, ge=0.0, le=1.0)
    scale: float = Field(default=0.2, gt=0.0, le=1.0, description="Watermark width as a share of the image")
    margin: int = Field(default=16, ge=0, le=1000)
    color: str = Field(default="#ffffff", pattern=r"^#[0-9a-fA-F]{6}$")
    font: str = Field(default="sans bold", max_length=64, pattern=r"^[A-Za-z0-9 \-]+$")

    @model_validator(mode="after")
    def _one_source(self) -> Config:
        if (self.text is None) == (self.image_key is None):
            raise ValueError("set exactly one of text or imageKey")
        return self


_BASE_DPI = 72


def _text_overlay(config: Config, width: int) -> Any:
    """White-on-transparent text rendered (not scaled) at the size that makes it ``width`` wide."""
    import pyvips

    from mediaflow.workers.image_state import parse_colour

    assert config.text is not None
    font = f"{config.font} 32"
    probe = pyvips.Image.text(config.text, font=font, dpi=_BASE_DPI)
    dpi = max(1, min(4800, round(_BASE_DPI * width / max(1, probe.width))))
    mask = pyvips.Image.text(config.text, font=font, dpi=dpi)
    red, green, blue, _ = parse_colour(config.color)
    colour = mask.new_from_image([red, green, blue]).copy(interpretation="srgb")
    return colour.bandjoin(mask).cast("uchar")


def _fit_overlay(overlay: Any, max_w: int, max_h: int) -> Any:
    from mediaflow.workers.image_state import resample

    if overlay.width <= max_w and overlay.height <= max_h:
        return overlay
    scale = min(max_w / overlay.width, max_h / overlay.height)
    return resample(overlay, max(1, round(overlay.width * scale)), max(1, round(overlay.height * scale)))


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    from mediaflow.workers.image_state import gravity_offset, join_alpha, split_alpha, to_uchar

    base = state.image
    target_w = max(1, round(base.width * config.scale))
    if config.text is not None:
        overlay = _text_overlay(config, target_w)
        source = "text"
    else:
        assert config.image_key is not None
        overlay = state.load_overlay(config.image_key, target_w, ctx.node_id)
        if overlay.bands < 3:
            overlay = overlay.colourspace("srgb")
        if not overlay.hasalpha():
            overlay = overlay.bandjoin_const([255])
        source = "image"
    margin = min(config.margin, base.width // 4, base.height // 4)
    overlay = _fit_overlay(overlay, max(1, base.width - 2 * margin), max(1, base.height - 2 * margin))
    if config.opacity < 1.0:
        colour, alpha = split_alpha(overlay)
        assert alpha is not None
        overlay = join_alpha(colour, to_uchar(alpha.linear([config.opacity], [0.0])))
    gravity = "centre" if config.position == "center" else config.position
    left, top = gravity_offset(gravity, base.width - overlay.width - 2 * margin,
                               base.height - overlay.height - 2 * margin)
    had_alpha = bool(base.hasalpha())
    canvas = base if base.bands - int(had_alpha) >= 3 else base.colourspace("srgb")
    combined = canvas.composite2(overlay, "over", x=left + margin, y=top + margin)
    if not had_alpha:
        combined = combined.extract_band(0, n=3)
    state.image = to_uchar(combined).copy(interpretation="srgb")
    return {"source": source, "left": left + margin, "top": top + margin, "width": int(overlay.width),
            "height": int(overlay.height)}
