"""`convert`: re-encode to another format. Image formats run on libvips; video formats run on ffmpeg."""

from typing import Any, Literal

from pydantic import Field, field_validator

from mediaflow.nodes.base import IMAGE_FORMATS, NodeConfig, normalise_format


class Config(NodeConfig):
    output_format: Literal["jpeg", "png", "webp", "avif", "gif", "tiff", "mp4", "webm", "mov", "mkv", "hls"] = (
        Field(default="webp", description="Target format; image formats use libvips, video formats ffmpeg")
    )
    compression_level: int | None = Field(default=None, ge=1, le=100,
                                          description="Quality 1-100 (higher keeps more detail)")
    lossless: bool = False
    effort: int | None = Field(default=None, ge=0, le=9, description="Encoder effort (webp/avif/png)")

    @field_validator("output_format", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return normalise_format(value)

    def runtime(self) -> str:
        return "vips" if self.output_format in IMAGE_FORMATS else "ffmpeg"


def runtime_for(config: Any) -> str:
    return str(config.runtime())
