"""`trim`: keep a time range of a video or audio file (stream copy when cut points allow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import Field, NodeConfig, model_validator


class Config(NodeConfig):
    start_seconds: float = Field(default=0.0, ge=0)
    end_seconds: float | None = Field(default=None, gt=0)
    duration_seconds: float | None = Field(default=None, gt=0)
    stream_copy: bool = Field(default=False, description="Cut without re-encoding (keyframe accuracy)")

    @model_validator(mode="after")
    def _range(self) -> Config:
        if self.end_seconds is not None and self.duration_seconds is not None:
            raise ValueError("set endSeconds or durationSeconds, not both")
        if self.end_seconds is not None and self.end_seconds <= self.start_seconds:
            raise ValueError("endSeconds must be after startSeconds")
        return self


# --------------------------------------------------------------------------------------------------
# Executor (ffmpeg worker)

CONTAINERS = {"mp4": "mp4", "m4a": "m4a", "mov": "mov", "3gp": "mp4", "webm": "webm", "mkv": "mkv", "avi": "mp4",
              "mp3": "mp3", "aac": "aac", "wav": "wav", "flac": "flac", "ogg": "ogg", "opus": "opus"}
"""Input format -> the format a trim at the end of a chain writes."""
MUXERS = {"mp4": "mp4", "m4a": "ipod", "mov": "mov", "webm": "webm", "mkv": "matroska", "mp3": "mp3",
          "aac": "adts", "wav": "wav", "flac": "flac", "ogg": "ogg", "opus": "ogg"}

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.video_state import VideoState


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Narrow the window; the next op applies it. At the end of a chain, write the range out."""
    length = config.duration_seconds
    if config.end_seconds is not None:
        length = config.end_seconds - config.start_seconds
    start, duration = state.narrow(config.start_seconds, length, stream_copy=config.stream_copy,
                                   node_id=ctx.node_id)
    if state.following:
        return {"startSeconds": round(start, 3), "durationSeconds": round(duration, 3), "fused": True}
    return write_range(state, ctx.node_id)


def write_range(state: VideoState, node_id: str) -> dict[str, Any]:
    """Write the pending window in the input's own container (re-encoded, or stream copy when asked)."""
    import ffmpeg

    from mediaflow.nodes import audio, transcode

    info = state.media_info(node_id)
    fmt = CONTAINERS[state.sniffed.format]
    start, duration = state.span()
    if not state.window.stream_copy:
        if info.video is not None and fmt in transcode.VIDEO_CODECS:
            output = transcode.encode(state, transcode.Config.trusted({"output_format": fmt}), node_id)
        else:
            if fmt in transcode.VIDEO_CODECS:  # audio-only mp4/webm/mkv: keep the audio in an audio container
                fmt = "opus" if fmt == "webm" else "m4a"
            output = audio.encode_audio(state, node_id, fmt=fmt)
        return {**output, "streamCopy": False}
    if fmt in ("m4a", "mp4") and info.video is None:
        fmt = "m4a"
    source = state.open()
    streams = []
    if info.video is not None:
        streams.append(source["v:0"])
    streams += [source[f"a:{index}"] for index in range(len(info.audio))]
    options = {**state.output_options(), "c": "copy", "avoid_negative_ts": "make_zero", "f": MUXERS[fmt]}
    if fmt in ("mp4", "mov", "m4a"):
        options["movflags"] = "+faststart"
    target = state.scratch(f".{fmt}")
    state.run(ffmpeg.output(*streams, str(target), **options), node_id, "ffmpeg trim (stream copy)")
    produced = state.produce(target, fmt, node_id)
    return {"format": fmt, "startSeconds": round(start, 3), "durationSeconds": round(duration, 3),
            "durationMs": produced.duration_ms, "streamCopy": True}
