"""`audio`: re-encode audio (mp3, m4a/AAC, opus, wav, flac) with bitrate, channels, loudness."""

from typing import Literal

from pydantic import Field, field_validator

from mediaflow.nodes.base import NodeConfig, normalise_format


class Config(NodeConfig):
    output_format: Literal["mp3", "m4a", "aac", "opus", "ogg", "wav", "flac"] = "mp3"
    compression_level: int | None = Field(default=None, ge=1, le=100,
                                          description="Quality 1-100, mapped to a bitrate when bitrate is unset")
    bitrate_kbps: int | None = Field(default=None, ge=8, le=512)
    channels: int | None = Field(default=None, ge=1, le=8)
    sample_rate: Literal[8000, 16000, 22050, 24000, 32000, 44100, 48000] | None = None
    normalize_loudness: bool = False
    target_lufs: float = Field(default=-16.0, ge=-40.0, le=-5.0)

    @field_validator("output_format", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return normalise_format(value)
