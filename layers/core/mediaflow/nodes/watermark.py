"""`watermark`: overlay an image (blob key) or a text at a position with an opacity."""

from typing import Literal

from pydantic import Field, model_validator

from mediaflow.nodes.base import NodeConfig


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
    def _one_source(self) -> "Config":
        if (self.text is None) == (self.image_key is None):
            raise ValueError("set exactly one of text or imageKey")
        return self
