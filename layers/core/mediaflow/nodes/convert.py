"""`convert`: re-encode to another format. Image formats run on libvips; video formats run on ffmpeg."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import IMAGE_FORMATS, Field, NodeConfig, field_validator, normalise_format

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState
    from mediaflow.workers.video_state import VideoState


class Config(NodeConfig):
    output_format: Literal["jpeg", "png", "webp", "avif", "gif", "tiff",
                           "mp4", "webm", "mov", "mkv", "hls"] = (
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


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Choose the output format and its encoder settings (pixels are untouched)."""
    plan = state.encode
    plan.format = config.output_format  # type: ignore[assignment]  # image formats only on this runtime
    plan.quality = config.compression_level
    plan.lossless = config.lossless
    plan.effort = config.effort
    plan.palette = False
    return {"format": plan.format, "quality": plan.quality, "lossless": plan.lossless}


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """To a video format (on the ffmpeg worker): a ``transcode`` with the format's default codecs."""
    from mediaflow.nodes import transcode

    plan = transcode.Config.trusted({"output_format": config.output_format})
    crf = transcode.crf_for_quality(config.compression_level, config.lossless)
    return transcode.encode(state, plan, ctx.node_id, crf_override=crf)
