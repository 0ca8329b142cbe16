"""`transcode`: video to mp4 (H.264/AAC), webm (VP9/Opus), AV1 or HLS, with resolution presets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig, field_validator, normalise_format


class Config(NodeConfig):
    output_format: Literal["mp4", "webm", "mov", "mkv", "hls"] = "mp4"
    video_codec: Literal["auto", "h264", "vp9", "av1", "copy"] = "auto"
    audio_codec: Literal["auto", "aac", "opus", "copy", "none"] = "auto"
    preset: Literal["source", "2160p", "1080p", "720p", "480p", "360p", "240p"] = "source"
    crf: int | None = Field(default=None, ge=0, le=63)
    max_bitrate_kbps: int | None = Field(default=None, ge=50, le=100_000)
    fps: float | None = Field(default=None, gt=0, le=120)
    audio_tracks: Literal["first", "all"] = Field(
        default="first", description="Keep the first audio track, or every one (each encoded with audioCodec)")
    fast_start: bool = True
    hls_segment_seconds: int = Field(default=6, ge=1, le=60)

    @field_validator("output_format", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return normalise_format(value)


# --------------------------------------------------------------------------------------------------
# Executor (ffmpeg worker). ffmpeg is imported by the worker; nothing here runs at import time.

PRESET_LINES = {"2160p": 2160, "1080p": 1080, "720p": 720, "480p": 480, "360p": 360, "240p": 240}
"""Preset -> lines of the shorter side (so portrait video gets the same quality as landscape)."""

VIDEO_CODECS: dict[str, tuple[str, ...]] = {
    "mp4": ("h264", "vp9", "av1"), "mov": ("h264",), "mkv": ("h264", "vp9", "av1"), "webm": ("vp9", "av1"),
    "hls": ("h264",),
}
AUDIO_CODECS: dict[str, tuple[str, ...]] = {
    "mp4": ("aac", "opus"), "mov": ("aac",), "mkv": ("aac", "opus"), "webm": ("opus",), "hls": ("aac",),
}
DEFAULT_CRF = {"h264": 23, "vp9": 33, "av1": 34}
CRF_RANGE = {"h264": (0, 51), "vp9": (0, 63), "av1": (0, 63)}
AV1_ENCODERS = ("libaom-av1", "libsvtav1")
X264_PRESET = "veryfast"
AUDIO_BITRATE_KBPS = {"aac": 128, "opus": 96}

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.video_state import VideoState


def crf_for_quality(level: int | None, lossless: bool = False) -> int | None:
    """``convert``'s compressionLevel (1-100, higher keeps more) as an H.264-scale CRF (None: default)."""
    if lossless:
        return 0
    if level is None:
        return None
    return round(40 - (level - 1) * 22 / 99)


def target_size(width: int, height: int, preset: str) -> tuple[int, int]:
    """The output size for a preset: the shorter side at most the preset's lines, aspect kept, even sides."""
    from mediaflow.workers.ffmpeg_tools import even

    lines = PRESET_LINES.get(preset)
    short = min(width, height)
    if lines is None or short <= lines:
        return even(width), even(height)
    scale = lines / short
    return even(width * scale), even(height * scale)


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    return encode(state, config, ctx.node_id)


def _codec_choice(config: Config, node_id: str, has_audio: bool) -> tuple[str, str]:
    from mediaflow.errors import InvalidDefinition

    fmt = config.output_format
    video = config.video_codec if config.video_codec != "auto" else VIDEO_CODECS[fmt][0]
    if video != "copy" and video not in VIDEO_CODECS[fmt]:
        raise InvalidDefinition(f"{fmt} cannot hold {video} video (it takes {', '.join(VIDEO_CODECS[fmt])})",
                                node_id=node_id, field="config.videoCodec")
    audio = config.audio_codec if config.audio_codec != "auto" else AUDIO_CODECS[fmt][0]
    if audio not in ("copy", "none") and audio not in AUDIO_CODECS[fmt]:
        raise InvalidDefinition(f"{fmt} cannot hold {audio} audio (it takes {', '.join(AUDIO_CODECS[fmt])})",
                                node_id=node_id, field="config.audioCodec")
    if config.audio_tracks == "all" and fmt == "hls" and audio != "none":
        raise InvalidDefinition("hls output carries one audio track; use audioTracks first or another format",
                                node_id=node_id, field="config.audioTracks")
    if video == "copy" and (config.preset != "source" or config.fps or config.crf is not None):
        raise InvalidDefinition("videoCodec copy cannot scale, change fps or crf", node_id=node_id,
                                field="config.videoCodec")
    return video, audio if has_audio else "none"


def video_codec_options(state: VideoState, codec: str, config: Config, node_id: str,
                        crf_override: int | None = None) -> dict[str, Any]:
    from mediaflow.workers.ffmpeg_tools import pick_encoder

    low, high = CRF_RANGE[codec]
    crf = config.crf if config.crf is not None else crf_override
    if crf is not None and crf_override is not None and config.crf is None and codec != "h264":
        crf = round(crf * high / 51)  # an H.264-scale quality on the 0-63 scale
    crf = DEFAULT_CRF[codec] if crf is None else max(low, min(high, crf))
    maxrate = config.max_bitrate_kbps
    if codec == "h264":
        options: dict[str, Any] = {"c:v": "libx264", "preset:v": X264_PRESET, "crf": str(crf), "pix_fmt": "yuv420p"}
        if crf:
            options["profile:v"] = "high"
        if maxrate:
            options.update({"maxrate": f"{maxrate}k", "bufsize": f"{maxrate * 2}k"})
        return options
    if codec == "vp9":
        options = {"c:v": "libvpx-vp9", "crf": str(crf), "b:v": f"{maxrate}k" if maxrate else "0",
                   "deadline": "good", "cpu-used": "4", "row-mt": "1", "pix_fmt": "yuv420p"}
        if crf == 0 and not maxrate:
            options["lossless"] = "1"
        return options
    encoder = pick_encoder(state.ffmpeg_path, AV1_ENCODERS, "AV1", node_id)
    if encoder == "libaom-av1":
        options = {"c:v": encoder, "crf": str(crf), "b:v": f"{maxrate}k" if maxrate else "0", "cpu-used": "8",
                   "row-mt": "1", "usage": "realtime", "pix_fmt": "yuv420p"}
    else:
        options = {"c:v": encoder, "crf": str(crf), "preset:v": "10", "pix_fmt": "yuv420p"}
        if maxrate:
            options["svtav1-params"] = f"mbr={maxrate}"
    return options


def audio_codec_options(codec: str) -> dict[str, Any]:
    if codec == "aac":
        return {"c:a": "aac", "b:a": f"{AUDIO_BITRATE_KBPS['aac']}k"}
    return {"c:a": "libopus", "b:a": f"{AUDIO_BITRATE_KBPS['opus']}k"}


def encode(state: VideoState, config: Config, node_id: str, *, crf_override: int | None = None) -> dict[str, Any]:
    """One ffmpeg run: the pending trim window, fps, scale, the codecs and the container."""
    import ffmpeg

    from mediaflow.workers.ffmpeg_tools import mp4_duration_ms
    from mediaflow.workers.video_state import Sidecar

    info = state.require_video(node_id)
    width, height = state.display_size(node_id)
    video_codec, audio_codec = _codec_choice(config, node_id, bool(info.audio))
    start, duration = state.span()
    source = state.open()
    video = source["v:0"]
    out_width, out_height = width, height
    options = state.output_options(audio=audio_codec != "none")
    if video_codec == "copy":
        options["c:v"] = "copy"
    else:
        out_width, out_height = target_size(width, height, config.preset)
        if config.fps:
            video = video.filter("fps", fps=f"{config.fps:g}")
        if (out_width, out_height) != (width, height):
            video = video.filter("scale", out_width, out_height, flags="bicubic")
        video = video.filter("setsar", "1")
        options.update(video_codec_options(state, video_codec, config, node_id, crf_override))
    streams = [video]
    tracks = 0
    if audio_codec != "none":
        tracks = len(info.audio) if config.audio_tracks == "all" else 1
        streams.extend(source[f"a:{index}"] for index in range(tracks))
        options.update({"c:a": "copy"} if audio_codec == "copy" else audio_codec_options(audio_codec))
    fmt = config.output_format
    sidecars: list[Sidecar] = []
    if fmt == "hls":
        folder = state.scratch("-hls", folder=True)
        target = folder / f"{state.stem}.m3u8"
        segment = config.hls_segment_seconds
        options.update({"f": "hls", "hls_time": str(segment), "hls_playlist_type": "vod",
                        "hls_list_size": "0", "hls_flags": "independent_segments",
                        "hls_segment_filename": str(folder / f"{state.stem}-%05d.ts")})
        if video_codec != "copy":
            options["force_key_frames"] = f"expr:gte(t,n_forced*{segment})"
    else:
        target = state.scratch(f".{fmt}")
        muxer = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm"}[fmt]
        options["f"] = muxer
        if fmt in ("mp4", "mov") and config.fast_start:
            options["movflags"] = "+faststart"
    state.run(ffmpeg.output(*streams, str(target), **options), node_id, f"ffmpeg transcode to {fmt}")
    if fmt == "hls":
        segments = sorted(path for path in target.parent.glob("*.ts"))
        sidecars = [Sidecar(filename=path.name, content_type="video/mp2t", media_type="video", path=path)
                    for path in segments]
        produced = state.produce(target, fmt, node_id, width=out_width, height=out_height,
                                 duration_ms=round(duration * 1000), sidecars=sidecars)
    elif video_codec != "copy" and fmt in ("mp4", "mov"):
        # Its size is the scale it was given; its duration the one its movie header declares: no ffprobe start
        # for an output this op just wrote (a later op that asks about it has it probed).
        produced = state.produce(target, fmt, node_id, width=out_width, height=out_height,
                                 duration_ms=mp4_duration_ms(target))
    else:
        produced = state.produce(target, fmt, node_id)
    return {"format": fmt, "videoCodec": video_codec, "audioCodec": audio_codec, "audioTracks": tracks,
            "width": produced.width, "height": produced.height, "durationMs": produced.duration_ms,
            "startSeconds": round(start, 3),
            **({"segments": len(sidecars)} if fmt == "hls" else {})}
