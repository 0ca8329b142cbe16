"""`audio`: re-encode audio (mp3, m4a/AAC, opus, wav, flac) with bitrate, channels, loudness."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig, field_validator, normalise_format


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


# --------------------------------------------------------------------------------------------------
# Executor (ffmpeg worker)

ENCODERS: dict[str, tuple[str, str]] = {
    "mp3": ("libmp3lame", "mp3"), "m4a": ("aac", "ipod"), "aac": ("aac", "adts"), "opus": ("libopus", "ogg"),
    "ogg": ("libvorbis", "ogg"), "wav": ("pcm_s16le", "wav"), "flac": ("flac", "flac"),
}
"""Output format -> (encoder, muxer)."""

BITRATES: dict[str, tuple[int, int, int]] = {
    "mp3": (32, 320, 160), "m4a": (32, 256, 128), "aac": (32, 256, 128), "opus": (16, 192, 96),
    "ogg": (48, 320, 128),
}
"""Lossy format -> (lowest, highest, default) kbps; compressionLevel 1-100 maps linearly onto the range."""

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
LOSSLESS = frozenset({"wav", "flac"})
COPYABLE = {"m4a": "aac", "aac": "aac", "mp3": "mp3", "opus": "opus", "flac": "flac", "ogg": "vorbis"}
"""Output format -> source codec that can be copied into it unchanged."""

LOUDNORM_TRUE_PEAK = -1.5
LOUDNORM_RANGE = 11.0

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.video_state import VideoState


def bitrate_for(fmt: str, bitrate_kbps: int | None, level: int | None) -> int | None:
    """kbps for a lossy format (the explicit bitrate, else the level mapped onto the range, else default)."""
    if fmt in LOSSLESS:
        return None
    low, high, default = BITRATES[fmt]
    if bitrate_kbps is not None:
        return bitrate_kbps
    if level is None:
        return default
    return round(low + (high - low) * (level - 1) / 99)


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    return encode_audio(state, ctx.node_id, fmt=config.output_format, bitrate_kbps=config.bitrate_kbps,
                        compression_level=config.compression_level, channels=config.channels,
                        sample_rate=config.sample_rate,
                        target_lufs=config.target_lufs if config.normalize_loudness else None)


def _measure_loudness(state: VideoState, node_id: str, track: int, target_lufs: float) -> dict[str, str] | None:
    """First loudnorm pass: the input's integrated loudness, range, true peak and threshold."""
    import json

    import ffmpeg

    source = state.open()
    audio = source[f"a:{track}"].filter("loudnorm", I=f"{target_lufs:g}", TP=f"{LOUDNORM_TRUE_PEAK:g}",
                                        LRA=f"{LOUDNORM_RANGE:g}", print_format="json")
    stderr = state.run(ffmpeg.output(audio, "-", f="null"), node_id, "ffmpeg loudness measurement",
                       loglevel="info")
    start = stderr.rfind("{")
    end = stderr.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        measured = json.loads(stderr[start:end + 1])
    except ValueError:
        return None
    wanted = ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")
    if not all(key in measured for key in wanted):
        return None
    values = {key: str(measured[key]) for key in wanted}
    if any(value in ("-inf", "inf", "nan") for value in values.values()):
        return None  # silence: nothing to measure, the single-pass filter is used
    return values


def encode_audio(state: VideoState, node_id: str, *, fmt: str, track: int = 0, bitrate_kbps: int | None = None,
                 compression_level: int | None = None, channels: int | None = None, sample_rate: int | None = None,
                 target_lufs: float | None = None, allow_copy: bool = False) -> dict[str, Any]:
    """Encode one audio stream (the pending trim window applied) into ``fmt``."""
    import ffmpeg

    info = state.require_audio(node_id, track)
    stream_info = info.audio[track]
    encoder, muxer = ENCODERS[fmt]
    copy = (allow_copy and target_lufs is None and bitrate_kbps is None and compression_level is None
            and channels is None and sample_rate is None and COPYABLE.get(fmt) == stream_info.codec)
    measured = None
    if target_lufs is not None:
        measured = _measure_loudness(state, node_id, track, target_lufs)
    start, duration = state.span()
    source = state.open()
    audio = source[f"a:{track}"]
    options = state.output_options(video=False)
    options["f"] = muxer
    kbps: int | None = None
    loudness = "none"
    if copy:
        options["c:a"] = "copy"
    else:
        if target_lufs is not None:
            arguments: dict[str, str] = {"I": f"{target_lufs:g}", "TP": f"{LOUDNORM_TRUE_PEAK:g}",
                                         "LRA": f"{LOUDNORM_RANGE:g}", "print_format": "none"}
            if measured is not None:
                arguments.update({"measured_I": measured["input_i"], "measured_TP": measured["input_tp"],
                                  "measured_LRA": measured["input_lra"],
                                  "measured_thresh": measured["input_thresh"],
                                  "offset": measured["target_offset"], "linear": "true"})
                loudness = "two-pass"
            else:
                loudness = "single-pass"
            audio = audio.filter("loudnorm", **arguments)
            # loudnorm works at 192 kHz; the output returns to the asked or the source rate.
            sample_rate = sample_rate or stream_info.sample_rate or 48000
        options["c:a"] = encoder
        kbps = bitrate_for(fmt, bitrate_kbps, compression_level)
        if fmt == "ogg" and bitrate_kbps is None:
            # Vorbis is made for quality mode: a bitrate may not fit the channels and rate.
            kbps = None
            level = 50 if compression_level is None else compression_level
            options["q:a"] = f"{(level - 1) * 10 / 99:.1f}"
        if kbps is not None:
            options["b:a"] = f"{kbps}k"
        if fmt == "flac" and compression_level is not None:
            options["compression_level"] = str(round((compression_level - 1) * 12 / 99))
        if channels is not None:
            options["ac"] = str(channels)
        if fmt == "opus":
            wanted = sample_rate or 48000
            sample_rate = min(rate for rate in OPUS_RATES if rate >= min(wanted, 48000))
        if sample_rate is not None:
            options["ar"] = str(sample_rate)
    target = state.scratch(f".{fmt}")
    state.run(ffmpeg.output(audio, str(target), **options), node_id, f"ffmpeg audio to {fmt}")
    produced = state.produce(target, fmt, node_id)
    probed = state.current_info()
    after = probed.audio[0] if probed and probed.audio else None
    return {"format": fmt, "codec": after.codec if after else encoder, "bitrateKbps": kbps,
            "channels": after.channels if after else channels, "sampleRate": after.sample_rate if after else None,
            "loudness": loudness, "copied": copy, "durationMs": produced.duration_ms,
            "startSeconds": round(start, 3), "track": track, "seconds": round(duration, 3)}
