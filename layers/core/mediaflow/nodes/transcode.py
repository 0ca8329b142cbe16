"""`transcode`: video to mp4 (H.264/AAC), webm (VP9/Opus), AV1 or HLS, with resolution presets."""

from typing import Literal

from pydantic import Field, field_validator

from mediaflow.nodes.base import NodeConfig, normalise_format


class Config(NodeConfig):
    output_format: Literal["mp4", "webm", "mov", "mkv", "hls"] = "mp4"
    video_codec: Literal["auto", "h264", "vp9", "av1", "copy"] = "auto"
    audio_codec: Literal["auto", "aac", "opus", "copy", "none"] = "auto"
    preset: Literal["source", "2160p", "1080p", "720p", "480p", "360p", "240p"] = "source"
    crf: int | None = Field(default=None, ge=0, le=63)
    max_bitrate_kbps: int | None = Field(default=None, ge=50, le=100_000)
    fps: float | None = Field(default=None, gt=0, le=120)
    fast_start: bool = True
    hls_segment_seconds: int = Field(default=6, ge=1, le=60)

    @field_validator("output_format", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return normalise_format(value)
