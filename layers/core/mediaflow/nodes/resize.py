"""`resize`: scale with libvips (fit inside/cover/contain/fill; gravity incl. smart crop)."""

from typing import Literal

from pydantic import Field, model_validator

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    width: int | None = Field(default=None, ge=1, le=16384)
    height: int | None = Field(default=None, ge=1, le=16384)
    fit: Literal["inside", "outside", "cover", "contain", "fill"] = "inside"
    gravity: Literal["centre", "north", "south", "east", "west", "northeast", "northwest", "southeast",
                     "southwest", "attention", "entropy"] = "centre"
    without_enlargement: bool = True
    background: str = Field(default="#00000000", pattern=r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
                            description="Padding colour for `contain`")

    @model_validator(mode="after")
    def _needs_a_size(self) -> "Config":
        if self.width is None and self.height is None:
            raise ValueError("set width, height or both")
        return self
