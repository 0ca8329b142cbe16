"""ffmpeg and ffprobe as the video worker uses them: probing, guarded runs, error mapping, codec tables.

Every read of untrusted media goes through the same input options: the demuxer named with ``-f``
(chosen from the sniffed magic bytes, so ffmpeg never guesses a format from the content or the
name), ``-format_whitelist`` with that demuxer only (no nested demuxer such as HLS or concat can
open), and ``-protocol_whitelist file,pipe`` (no network, no ``concat:``/``subfile:`` tricks).
Every ffmpeg process runs in its own process group and is killed when it runs past its limit.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import struct
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.environment import raw_setting
from mediaflow.errors import MediaDecodeError, MediaflowError, ToolchainError, UnsupportedMedia
from mediaflow.file_stat import identity
from mediaflow.procs import die_with_parent
from mediaflow.sniff import Sniffed, sniff_file

if TYPE_CHECKING:  # loaded where a probe runs; `mediaflow run` starts its probes ahead before loading them
    from mediaflow.settings import Settings

PROTOCOLS = "file,pipe"
"""The only protocols ffmpeg/ffprobe may open."""

DEMUXERS: dict[str, str] = {
    "mp4": "mov", "m4a": "mov", "mov": "mov", "3gp": "mov", "webm": "matroska", "mkv": "matroska",
    "avi": "avi", "mp3": "mp3", "aac": "aac", "wav": "wav", "flac": "flac", "ogg": "ogg", "opus": "ogg",
}
"""Sniffed format -> the one ffmpeg demuxer allowed to read it. Anything else is refused."""

PROBE_TIMEOUT_SECONDS = 60.0
STDERR_TAIL = 1200

_DECODE_MARKERS = (
    "invalid data found when processing input", "moov atom not found", "partial file", "packet corrupt",
    "corrupt input packet", "error while decoding", "truncat", "could not find codec parameters",
    "invalid nal", "no frame!", "error splitting the input into nal units", "ebml header parsing failed",
    "end of file", "header missing", "invalid frame size", "failed to read frame size",
)


@dataclass(frozen=True)
class StreamInfo:
    index: int
    type: str
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bit_rate: int | None = None
    duration: float | None = None
    rotation: int = 0
    attached_pic: bool = False
    pix_fmt: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "type": self.type, "codec": self.codec}
        optional = {"width": self.width, "height": self.height, "fps": self.fps, "sampleRate": self.sample_rate,
                    "channels": self.channels, "bitRate": self.bit_rate, "durationSeconds": self.duration,
                    "pixelFormat": self.pix_fmt}
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.type == "video":
            data["rotation"] = self.rotation
        if self.attached_pic:
            data["attachedPicture"] = True
        return data


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe said about one file (header only)."""

    format_name: str
    duration: float | None
    bit_rate: int | None
    size: int
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)

    @property
    def video(self) -> StreamInfo | None:
        """The first real video stream (cover art is not video)."""
        return next((s for s in self.streams if s.type == "video" and not s.attached_pic), None)

    @property
    def audio(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == "audio"]

    @property
    def rotation(self) -> int:
        """Clockwise degrees (0, 90, 180, 270) a player turns the coded picture to show it upright."""
        return self.video.rotation if self.video else 0

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Width and height as shown (coded size with a quarter turn applied)."""
        video = self.video
        if video is None or not video.width or not video.height:
            return None
        if video.rotation in (90, 270):
            return video.height, video.width
        return video.width, video.height

    @property
    def duration_ms(self) -> int | None:
        return None if self.duration is None else round(self.duration * 1000)

    def as_dict(self) -> dict[str, Any]:
        size = self.display_size
        video = self.video
        audio = self.audio
        report: dict[str, Any] = {
            "container": self.format_name, "durationSeconds": self.duration, "durationMs": self.duration_ms,
            "bitRate": self.bit_rate, "size": self.size, "hasVideo": video is not None, "hasAudio": bool(audio),
            "audioTracks": len(audio), "rotation": self.rotation,
            "streams": [stream.as_dict() for stream in self.streams],
        }
        if size is not None:
            report["width"], report["height"] = size
        if video is not None:
            report["videoCodec"] = video.codec
            report["fps"] = video.fps
        if audio:
            report["audioCodec"] = audio[0].codec
            report["sampleRate"] = audio[0].sample_rate
            report["channels"] = audio[0].channels
        return {key: value for key, value in report.items() if value is not None}


# --------------------------------------------------------------------------------------------------
# Running the tools

def input_options(demuxer: str | None) -> dict[str, str]:
    """ffmpeg-python input kwargs that pin the demuxer and the protocols."""
    options = {"protocol_whitelist": PROTOCOLS}
    if demuxer:
        options["f"] = demuxer
        options["format_whitelist"] = demuxer
    return options


def stderr_tail(text: str, limit: int = STDERR_TAIL) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tail = " | ".join(lines[-8:])
    return tail[-limit:]


def run_tool(argv: list[str], *, timeout: float, node_id: str | None, what: str) -> tuple[str, str]:
    """Run ffmpeg/ffprobe; returns ``(stdout, stderr)``. Kills the whole process group past ``timeout`` seconds.

    A failure becomes :class:`MediaDecodeError` when the tool complained about its input, else
    :class:`ToolchainError`; either message ends with the tail of stderr.
    """
    return finish_tool(start_tool(argv, node_id=node_id), timeout=timeout, node_id=node_id, what=what)


def start_tool(argv: list[str], *, node_id: str | None) -> subprocess.Popen[bytes]:
    """Start ffmpeg/ffprobe in a session of its own that dies with this process (``finish_tool`` waits for it)."""
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=die_with_parent)
    except FileNotFoundError as error:
        raise ToolchainError(f"{argv[0]} is not installed (make setup installs ffmpeg)", node_id=node_id) from error


def finish_tool(process: subprocess.Popen[bytes], *, timeout: float, node_id: str | None,
                what: str) -> tuple[str, str]:
    """Wait for a tool ``start_tool`` started, as ``run_tool`` says."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        tail = stderr_tail(stderr.decode(errors="replace"))
        raise ToolchainError(f"{what} ran past its limit of {timeout:g} s and was stopped"
                             + (f"; stderr: {tail}" if tail else ""), node_id=node_id) from expired
    text = stderr.decode(errors="replace")
    if process.returncode != 0:
        raise classify_failure(text, process.returncode, node_id=node_id, what=what)
    return stdout.decode(errors="replace"), text


def classify_failure(stderr: str, returncode: int, *, node_id: str | None, what: str) -> MediaflowError:
    tail = stderr_tail(stderr) or f"exit status {returncode}"
    lowered = stderr.lower()
    if any(marker in lowered for marker in _DECODE_MARKERS):
        return MediaDecodeError(f"{what}: the media is truncated or corrupt: {tail}", node_id=node_id)
    return ToolchainError(f"{what} failed (exit status {returncode}): {tail}", node_id=node_id)


@cache
def encoders(ffmpeg_path: str) -> frozenset[str]:
    """Names of the encoders this ffmpeg build has."""
    try:
        result = subprocess.run([ffmpeg_path, "-hide_banner", "-nostdin", "-encoders"], capture_output=True,
                                timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return frozenset()
    names: set[str] = set()
    listing = False
    for line in result.stdout.decode(errors="replace").splitlines():
        if line.strip().startswith("------"):
            listing = True
            continue
        parts = line.split()
        if listing and len(parts) >= 2:
            names.add(parts[1])
    return frozenset(names)


def pick_encoder(ffmpeg_path: str, candidates: tuple[str, ...], what: str, node_id: str | None) -> str:
    available = encoders(ffmpeg_path)
    for name in candidates:
        if name in available:
            return name
    raise ToolchainError(f"this ffmpeg has no {what} encoder (looked for {', '.join(candidates)})", node_id=node_id)


# --------------------------------------------------------------------------------------------------
# Probing

def demuxer_for(sniffed: Sniffed, node_id: str | None = None) -> str:
    """The demuxer for a sniffed format, or :class:`UnsupportedMedia` naming what the bytes are."""
    demuxer = DEMUXERS.get(sniffed.format)
    if demuxer is not None:
        return demuxer
    if sniffed.format == "hls":
        reason = "an HLS playlist is never opened (it would make ffmpeg fetch its segments)"
    elif sniffed.format == "ffconcat":
        reason = "an ffconcat list is never opened (it names other files to read)"
    elif sniffed.media_type == "image":
        reason = f"{sniffed.format} is an image, not audio or video"
    else:
        reason = f"{sniffed.format} ({sniffed.content_type}) is not audio or video"
    raise UnsupportedMedia(f"{reason}; video and audio nodes take MP4, MOV, WebM, MKV, AVI, MP3, AAC, WAV, "
                           "FLAC or Ogg", node_id=node_id)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _rate(value: Any) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _number(value)
    num, _, den = value.partition("/")
    numerator, denominator = _number(num), _number(den)
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise quarter turns from the display matrix (or the legacy ``rotate`` tag)."""
    degrees: float | None = None
    for side in stream.get("side_data_list") or []:
        if side.get("side_data_type") == "Display Matrix" and "rotation" in side:
            # ffprobe reports the matrix angle counter-clockwise; players turn the picture the other way.
            with contextlib.suppress(TypeError, ValueError):
                degrees = -float(side["rotation"])
    if degrees is None:
        tag = (stream.get("tags") or {}).get("rotate")
        with contextlib.suppress(TypeError, ValueError):
            degrees = float(tag) if tag is not None else None
    if degrees is None:
        return 0
    return round(degrees / 90.0) % 4 * 90


def parse_probe(data: dict[str, Any], size: int) -> MediaInfo:
    fmt = data.get("format") or {}
    streams: list[StreamInfo] = []
    for raw in data.get("streams") or []:
        kind = raw.get("codec_type")
        if kind not in ("video", "audio", "subtitle", "data"):
            continue
        disposition = raw.get("disposition") or {}
        fps = _rate(raw.get("avg_frame_rate")) or _rate(raw.get("r_frame_rate")) if kind == "video" else None
        streams.append(StreamInfo(
            index=int(raw.get("index", len(streams))), type=str(kind), codec=str(raw.get("codec_name") or "unknown"),
            width=_integer(raw.get("width")) or None, height=_integer(raw.get("height")) or None, fps=fps,
            sample_rate=_integer(raw.get("sample_rate")), channels=_integer(raw.get("channels")),
            bit_rate=_integer(raw.get("bit_rate")), duration=_number(raw.get("duration")),
            rotation=_rotation(raw) if kind == "video" else 0,
            attached_pic=bool(disposition.get("attached_pic")), pix_fmt=raw.get("pix_fmt"),
        ))
    duration = _number(fmt.get("duration"))
    if duration is None:
        durations = [s.duration for s in streams if s.duration is not None]
        duration = max(durations) if durations else None
    return MediaInfo(format_name=str(fmt.get("format_name") or "unknown"), duration=duration,
                     bit_rate=_integer(fmt.get("bit_rate")), size=size, streams=tuple(streams))


_ProbeKey = tuple[int, int, int, int, str | None, str]
"""A file's device, inode, size and modification time, the demuxer and the ffprobe binary."""

_PROBED_AHEAD: dict[_ProbeKey, MediaInfo] = {}
"""Probes made before their Tasks asked (``probe_ahead``), by the file's identity, demuxer and ffprobe."""


def _probe_key(path: Path, demuxer: str | None, ffprobe: str) -> _ProbeKey:
    return (*identity(path.stat()), demuxer, ffprobe)


_AHEAD_PROCESSES: list[subprocess.Popen[bytes]] = []
"""The ffprobe processes ``probe_ahead`` started in this process (held, so none is collected while it runs)."""


def probe_ahead(paths: Iterable[Path], document: object = None) -> Callable[[], None]:
    """Start ffprobe on audio/video ``paths`` before any Task asks, and return the call that waits for it
    (a probe depends on the file alone: the workflow ``document`` is not read).

    `mediaflow run` calls this first thing, before it loads its settings and models (this module imports
    neither), so the probes run on the core those imports leave idle. Its zygote, forked afterwards, loads the
    worker modules and then waits, reading each probe's output through the pipes it inherited (the probes are
    the command's children, so the zygote cannot see their exit status: only a whole description of audio or
    video is kept). The workers it forks answer ``read_info`` of the same file (same device, inode, size and
    modification time, as the stored input's hard link is) with the same demuxer and ffprobe binary from
    memory instead of starting ffprobe. The binary is the raw value of the setting (``environment``) and is
    part of each key, so a probe the validated settings would not have made is never used. A file that is not
    audio or video, or that ffprobe cannot read, is left to its Task, which reports it."""
    ffprobe = raw_setting("ffprobe_path") or "ffprobe"  # the setting's default
    started: list[tuple[_ProbeKey, Path, subprocess.Popen[bytes]]] = []
    for path in paths:
        try:
            demuxer = demuxer_for(sniff_file(path))
            key = _probe_key(path, demuxer, ffprobe)
            started.append((key, path, start_tool(_probe_argv(path, demuxer, ffprobe), node_id=None)))
        except (MediaflowError, OSError):
            continue
    _AHEAD_PROCESSES.extend(process for _, _, process in started)

    def wait() -> None:
        from mediaflow.settings import get_settings

        timeout = min(PROBE_TIMEOUT_SECONDS, get_settings().ffmpeg_timeout_seconds)
        for key, path, process in started:
            try:
                stdout, _ = finish_tool(process, timeout=timeout, node_id=None, what="ffprobe")
                _PROBED_AHEAD[key] = _described(stdout, path, None)
            except (MediaflowError, OSError):
                continue

    return wait


def read_info(path: Path, demuxer: str | None, *, settings: Settings, node_id: str | None = None,
              timeout: float = PROBE_TIMEOUT_SECONDS) -> MediaInfo:
    """ffprobe the header of ``path`` with the pinned demuxer; :class:`MediaDecodeError` when it cannot."""
    if _PROBED_AHEAD:
        with contextlib.suppress(OSError):
            ahead = _PROBED_AHEAD.get(_probe_key(path, demuxer, settings.ffprobe_path))
            if ahead is not None:
                return ahead
    try:
        stdout, _ = run_tool(_probe_argv(path, demuxer, settings.ffprobe_path), node_id=node_id, what="ffprobe",
                             timeout=min(timeout, settings.ffmpeg_timeout_seconds))
    except ToolchainError as error:
        if "ran past" in error.message or "not installed" in error.message:
            raise
        raise MediaDecodeError(f"cannot read the media header: {error.message}", node_id=node_id) from error
    return _described(stdout, path, node_id)


def _probe_argv(path: Path, demuxer: str | None, ffprobe: str) -> list[str]:
    argv = [ffprobe, "-hide_banner", "-v", "error", "-protocol_whitelist", PROTOCOLS]
    if demuxer:
        argv += ["-f", demuxer, "-format_whitelist", demuxer]
    return [*argv, "-print_format", "json", "-show_format", "-show_streams", str(path)]


def _described(stdout: str, path: Path, node_id: str | None) -> MediaInfo:
    """The media ffprobe's JSON describes; :class:`MediaDecodeError` when it has no audio or video stream."""
    try:
        data = json.loads(stdout or "{}")
    except ValueError as error:
        raise MediaDecodeError("ffprobe returned no readable description", node_id=node_id) from error
    info = parse_probe(data, path.stat().st_size)
    if info.video is None and not info.audio:
        raise MediaDecodeError("the file has neither a video nor an audio stream", node_id=node_id)
    return info


def probe(path: Path | str, *, settings: Settings | None = None) -> dict[str, Any]:
    """Describe an audio/video file: duration, streams, codecs, bit rate, rotation, displayed width/height.

    The format is sniffed from the magic bytes first; HLS playlists, ffconcat lists, images and
    anything else that is not audio or video raise :class:`UnsupportedMedia` without running ffprobe.
    """
    target = Path(path)
    sniffed = sniff_file(target)
    demuxer = demuxer_for(sniffed)
    if settings is None:
        from mediaflow.settings import get_settings

        settings = get_settings()
    info = read_info(target, demuxer, settings=settings)
    return {"format": sniffed.format, "contentType": sniffed.content_type, "mediaType": sniffed.media_type,
            **info.as_dict()}


MOOV_READ_LIMIT = 64 << 20
"""The largest ``moov`` box ``mp4_duration_ms`` reads (hours of media index well under this)."""


def mp4_duration_ms(path: Path) -> int | None:
    """The duration an MP4/MOV file's movie header (``moov/mvhd``) declares, in milliseconds: what ffprobe
    reports as the container's duration, read in microseconds instead of an ffprobe start. For the outputs the
    worker's own ffmpeg just wrote; None when the file has no whole ``moov`` with a usable ``mvhd``."""
    try:
        with path.open("rb") as handle:
            position, end = 0, path.stat().st_size
            while position + 8 <= end:
                handle.seek(position)
                head = handle.read(16)
                size, kind = struct.unpack_from(">I4s", head)
                header = 8
                if size == 1 and len(head) == 16:
                    size, header = struct.unpack_from(">Q", head, 8)[0], 16
                if size < header or position + size > end:
                    return None
                if kind == b"moov":
                    if size > MOOV_READ_LIMIT:
                        return None
                    handle.seek(position + header)
                    return _mvhd_duration_ms(handle.read(size - header))
                position += size
    except (OSError, struct.error):
        return None
    return None


def _mvhd_duration_ms(moov: bytes) -> int | None:
    position = 0
    while position + 8 <= len(moov):
        size, kind = struct.unpack_from(">I4s", moov, position)
        if size < 8 or position + size > len(moov):
            return None
        if kind == b"mvhd":
            body = moov[position + 8:position + size]
            version = body[0] if body else -1
            if version == 1 and len(body) >= 32:
                timescale, duration = struct.unpack_from(">IQ", body, 20)
            elif version == 0 and len(body) >= 20:
                timescale, duration = struct.unpack_from(">II", body, 12)
            else:
                return None
            unknown = duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
            return None if timescale == 0 or unknown else round(duration * 1000 / timescale)
        position += size
    return None


# --------------------------------------------------------------------------------------------------
# Small shared helpers

def even(value: float) -> int:
    """The nearest even integer >= 2 (yuv420p needs even dimensions)."""
    return max(2, round(value / 2.0) * 2)


def fit_even(width: int, height: int, box_width: int | None, box_height: int | None) -> tuple[int, int]:
    """Scale ``width`` x ``height`` to fit the box (never enlarging), keeping the aspect, even sides."""
    scale = 1.0
    if box_width:
        scale = min(scale, box_width / width)
    if box_height:
        scale = min(scale, box_height / height)
    return even(width * scale), even(height * scale)


def timestamp(seconds: float) -> str:
    """WebVTT time ``HH:MM:SS.mmm``."""
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def seconds_arg(value: float) -> str:
    """A time for the command line: fixed precision, so the same op gives the same argv."""
    return f"{max(0.0, value):.6f}".rstrip("0").rstrip(".") or "0"
