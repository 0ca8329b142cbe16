"""`image_to_pdf`: wrap an image in a PDF, losslessly where the codec allows (img2pdf)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    page_size: Literal["image", "a4", "letter"] = "image"
    dpi: int = Field(default=300, ge=36, le=1200)
    title: str | None = Field(default=None, max_length=200)


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Make the final encode a one-page PDF: a JPEG chain embeds its JPEG as is, anything else goes in as
    lossless PNG data. No creation date and no random ids are written, so the bytes are reproducible."""
    from mediaflow.workers.image_state import PdfPlan

    state.encode.pdf = PdfPlan(page_size=config.page_size, dpi=config.dpi, title=config.title)
    return {"pageSize": config.page_size, "dpi": config.dpi,
            "embedded": "jpeg" if state.encode.format == "jpeg" else "png"}
