"""`extract_audio`: the audio track of a video as its own file."""

from typing import Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    output_format: Literal["m4a", "mp3", "opus", "wav", "flac"] = "m4a"
    track: int = Field(default=0, ge=0, le=32, description="Index among the audio streams")
    bitrate_kbps: int | None = Field(default=None, ge=8, le=512)
