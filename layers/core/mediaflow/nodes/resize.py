"""`resize`: scale with libvips (fit inside/cover/contain/fill; gravity incl. smart crop)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig, model_validator

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    width: int | None = Field(default=None, ge=1, le=16384)
    height: int | None = Field(default=None, ge=1, le=16384)
    fit: Literal["inside", "outside", "cover", "contain", "fill"] = "inside"
    gravity: Literal["centre", "north", "south", "east", "west", "northeast", "northwest", "southeast",
                     "southwest", "attention", "entropy"] = Field(
        default="centre", description="Where `cover` crops; `attention`/`entropy` pick the region (on an "
                                      "animated image once, on the first frame, for every frame)")
    without_enlargement: bool = True
    background: str = Field(default="#00000000", pattern=r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
                            description="Padding colour for `contain`")

    @model_validator(mode="after")
    def _needs_a_size(self) -> Config:
        if self.width is None and self.height is None:
            raise ValueError("set width, height or both")
        return self


def scaled_size(config: Config, width: int, height: int) -> tuple[int, int]:
    """The size the image is scaled to before any crop (cover) or padding (contain)."""
    from mediaflow.workers.geometry import fit_scale

    enlarge = not config.without_enlargement
    if config.fit == "fill":
        sx = config.width / width if config.width else None
        sy = config.height / height if config.height else None
        sx = sx if sx is not None else sy
        sy = sy if sy is not None else sx
        assert sx is not None and sy is not None
        if not enlarge:
            sx, sy = min(sx, 1.0), min(sy, 1.0)
        out_w = config.width if config.width and sx == config.width / width else round(width * sx)
        out_h = config.height if config.height and sy == config.height / height else round(height * sy)
        return max(1, out_w), max(1, out_h)
    cover = config.fit in ("outside", "cover")
    return fit_scale(config.width, config.height, width, height, cover=cover, enlarge=enlarge)


def load_size(config: Config, width: int, height: int) -> tuple[int, int] | None:
    size = scaled_size(config, width, height)
    if size[0] <= width and size[1] <= height and size != (width, height):
        return size
    return None


def pad_to(image: Any, width: int, height: int, gravity: str, background: str) -> Any:
    """Place ``image`` on a ``width`` x ``height`` canvas of ``background`` (alpha added when translucent)."""
    from mediaflow.workers.image_state import gravity_offset, parse_colour

    if (image.width, image.height) == (width, height):
        return image
    red, green, blue, alpha = parse_colour(background)
    if image.bands < 3 and (red, green, blue) != (red, red, red):
        image = image.colourspace("srgb")
    colour = [red, green, blue] if image.bands - int(image.hasalpha()) >= 3 else [red]
    if alpha < 255 and not image.hasalpha():
        image = image.bandjoin_const([255])
    fill = [*colour, alpha] if image.hasalpha() else colour
    placement = "centre" if gravity in ("attention", "entropy") else gravity
    left, top = gravity_offset(placement, width - image.width, height - image.height)
    return image.embed(left, top, width, height, extend="background", background=fill)


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    from mediaflow.workers.image_state import crop_to, resample

    image = state.image
    scaled_w, scaled_h = scaled_size(config, image.width, image.height)
    image = resample(image, scaled_w, scaled_h)
    if config.width and config.height:
        if config.fit == "cover":
            image = crop_to(image, config.width, config.height, config.gravity)
        elif config.fit == "contain":
            image = pad_to(image, config.width, config.height, config.gravity, config.background)
    state.image = image
    return {"width": int(image.width), "height": int(image.height)}
