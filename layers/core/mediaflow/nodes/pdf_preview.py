"""`pdf_preview`: render PDF pages to PNG/WebP/JPEG with pypdfium2 (no JavaScript, no forms)."""

from typing import Literal

from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    pages: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=50,
                             description="1-based page numbers")
    dpi: int = Field(default=96, ge=24, le=600)
    width: int | None = Field(default=None, ge=16, le=8192, description="Scale pages to this width")
    output_format: Literal["png", "webp", "jpeg"] = "png"
