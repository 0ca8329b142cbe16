"""`image_to_pdf`: wrap an image in a PDF, losslessly where the codec allows (img2pdf)."""

from typing import Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    page_size: Literal["image", "a4", "letter"] = "image"
    dpi: int = Field(default=300, ge=36, le=1200)
    title: str | None = Field(default=None, max_length=200)
