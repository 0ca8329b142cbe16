"""`extract_audio`: the audio track of a video as its own file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    output_format: Literal["m4a", "mp3", "opus", "wav", "flac"] = "m4a"
    track: int = Field(default=0, ge=0, le=32, description="Index among the audio streams")
    bitrate_kbps: int | None = Field(default=None, ge=8, le=512)


# --------------------------------------------------------------------------------------------------
# Executor (ffmpeg worker)

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.video_state import VideoState


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """The chosen audio track; copied unchanged when its codec fits the container and no bitrate is asked."""
    from mediaflow.nodes.audio import encode_audio

    return encode_audio(state, ctx.node_id, fmt=config.output_format, track=config.track,
                        bitrate_kbps=config.bitrate_kbps, allow_copy=True)
