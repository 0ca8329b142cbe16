"""What an ffmpeg op works on: the chain state (current input, its probe, the pending time window) and
the outputs it produces.

Node modules of the ``ffmpeg`` runtime import this module (and :mod:`mediaflow.execution.contract`), not
the worker: :mod:`mediaflow.workers.video` drives the chain, the ops read and produce through the state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from mediaflow.errors import MediaDecodeError, UnsupportedMedia
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.filenames import original_stem
from mediaflow.media import MediaRef, MediaType
from mediaflow.settings import Settings
from mediaflow.sniff import Sniffed, sniff_file
from mediaflow.workers.ffmpeg_tools import MediaInfo, demuxer_for, input_options, read_info, run_tool, seconds_arg

IMAGE_OUTPUTS = frozenset({"jpeg", "png", "webp", "gif", "avif"})


@dataclass
class Window:
    """The part of the current input the next op reads (set by ``trim``)."""

    start: float = 0.0
    duration: float | None = None
    stream_copy: bool = False
    node_ids: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.node_ids)


@dataclass
class Sidecar:
    """A file written next to the main output (HLS segment, WebVTT)."""

    filename: str
    """The sidecar's name; ``{stem}`` becomes the main output's final name without its extension."""
    content_type: str
    media_type: MediaType
    path: Path | None = None
    render: Callable[[str], bytes] | None = None
    """Builds the bytes from the main output's final filename (a VTT names the sprite it points into)."""


@dataclass
class Produced:
    path: Path
    format: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    sidecars: list[Sidecar] = field(default_factory=list)


@dataclass
class VideoState:
    """The chain as the ops see it: the current input, its probe, the pending window, the last output."""

    env: TaskEnvironment
    workdir: Path
    media: MediaRef
    path: Path
    sniffed: Sniffed
    info: MediaInfo | None
    first_node_id: str
    window: Window = field(default_factory=Window)
    produced: Produced | None = None
    following: list[str] = field(default_factory=list)
    """Kinds of the media ops still to run after the current one."""
    _counter: int = 0
    _unprobed: tuple[Path, Sniffed, str] | None = None
    """An output whose op knew its size and duration: probed only when a later op asks about it."""

    @property
    def settings(self) -> Settings:
        return self.env.settings

    @property
    def ffmpeg_path(self) -> str:
        return self.settings.ffmpeg_path

    @property
    def stem(self) -> str:
        return original_stem(self.media)

    @property
    def demuxer(self) -> str:
        return demuxer_for(self.sniffed, self.first_node_id)

    def current_info(self) -> MediaInfo | None:
        """The probe of the current input (None for an image); an output not probed yet is probed now."""
        if self._unprobed is not None:
            path, sniffed, node_id = self._unprobed
            self._unprobed = None
            self.info = read_info(path, demuxer_for(sniffed, node_id), settings=self.settings, node_id=node_id)
        return self.info

    def media_info(self, node_id: str) -> MediaInfo:
        """The probe of the current input; :class:`UnsupportedMedia` when it is an image (a grabbed frame)."""
        info = self.current_info()
        if info is None:
            raise UnsupportedMedia(f"the input of this op is a {self.sniffed.format} image, not audio or video",
                                   node_id=node_id)
        return info

    def require_video(self, node_id: str) -> MediaInfo:
        info = self.media_info(node_id)
        if info.video is None:
            raise UnsupportedMedia("the media has no video stream", node_id=node_id)
        return info

    def require_audio(self, node_id: str, track: int = 0) -> MediaInfo:
        info = self.media_info(node_id)
        if not info.audio:
            raise UnsupportedMedia("the media has no audio stream", node_id=node_id)
        if track >= len(info.audio):
            raise UnsupportedMedia(f"audio track {track} does not exist (the media has {len(info.audio)})",
                                   node_id=node_id, field="config.track")
        return info

    def display_size(self, node_id: str) -> tuple[int, int]:
        size = self.require_video(node_id).display_size
        if size is None:
            raise MediaDecodeError("the video stream has no frame size", node_id=node_id)
        return size

    # -- time ------------------------------------------------------------------------------------

    def total_seconds(self) -> float:
        info = self.current_info()
        if info is None or info.duration is None:
            return self.settings.max_video_seconds
        return info.duration

    def span(self) -> tuple[float, float]:
        """``(start, duration)`` of the pending window in the current input."""
        total = self.total_seconds()
        start = min(self.window.start, total)
        remaining = max(0.0, total - start)
        duration = remaining if self.window.duration is None else min(self.window.duration, remaining)
        return start, duration

    def narrow(self, start: float, duration: float | None, *, stream_copy: bool, node_id: str) -> tuple[float, float]:
        """Compose a trim into the window (times relative to the window); returns the new span."""
        current_start, current_duration = self.span()
        if start >= current_duration:
            raise MediaDecodeError(f"the trim starts at {start:g} s, after the end of the media "
                                   f"({current_duration:.3f} s)", node_id=node_id, field="config.startSeconds")
        length = current_duration - start if duration is None else min(duration, current_duration - start)
        self.window = Window(start=current_start + start, duration=length,
                             stream_copy=self.window.stream_copy or stream_copy,
                             node_ids=[*self.window.node_ids, node_id])
        return self.span()

    def open(self, *, offset: float = 0.0, length: float | None = None) -> Any:
        """An ffmpeg-python input for the current file, seeked (input seek) to the window + ``offset``."""
        start, duration = self.span()
        offset = min(max(0.0, offset), duration)
        remaining = max(0.0, duration - offset)
        wanted = remaining if length is None else min(length, remaining)
        options: dict[str, Any] = dict(input_options(self.demuxer))
        if start + offset > 0:
            options["ss"] = seconds_arg(start + offset)
        info = self.current_info()
        if self.window.active or length is not None or info is None or info.duration is None:
            options["t"] = seconds_arg(max(wanted, 0.001))
        return ffmpeg.input(str(self.path), **options)

    # -- running ---------------------------------------------------------------------------------

    def scratch(self, suffix: str, folder: bool = False) -> Path:
        self._counter += 1
        path = self.workdir / f"out{self._counter}{suffix}"
        if folder:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def output_options(self, *, video: bool = True, audio: bool = True) -> dict[str, Any]:
        """Deterministic muxing/encoding options every output gets."""
        options: dict[str, Any] = {"fflags": "+bitexact", "map_metadata": "-1", "map_chapters": "-1",
                                   "threads": str(self.settings.ffmpeg_thread_count)}
        if video:
            options["flags:v"] = "+bitexact"
        if audio:
            options["flags:a"] = "+bitexact"
        return options

    def run(self, stream: Any, node_id: str, what: str, *, loglevel: str = "error") -> str:
        """Run one ffmpeg command built with ffmpeg-python; returns its stderr."""
        argv = self.command(stream, loglevel=loglevel)
        _, stderr = run_tool(argv, timeout=self.settings.ffmpeg_timeout_seconds, node_id=node_id, what=what)
        return stderr

    def command(self, stream: Any, *, loglevel: str = "error") -> list[str]:
        stream = stream.global_args("-hide_banner", "-nostdin", "-nostats", "-xerror", "-loglevel", loglevel)
        argv: list[str] = stream.compile(cmd=self.ffmpeg_path, overwrite_output=True)
        return argv

    def produce(self, path: Path, fmt: str, node_id: str, *, width: int | None = None, height: int | None = None,
                duration_ms: int | None = None, sidecars: Sequence[Sidecar] = ()) -> Produced:
        """Make ``path`` the op's output and the next op's input; probes audio/video outputs, unless the op gave
        their size and duration (then a later op that asks about the output has it probed)."""
        if not path.exists() or path.stat().st_size == 0:
            start, duration = self.span()
            raise MediaDecodeError(f"ffmpeg wrote nothing: no decodable frame between {start:.3f} s and "
                                   f"{start + duration:.3f} s", node_id=node_id)
        sniffed = sniff_file(path)
        info: MediaInfo | None = None
        unprobed: tuple[Path, Sniffed, str] | None = None
        if fmt not in IMAGE_OUTPUTS and fmt != "hls" and None not in (width, height, duration_ms):
            unprobed = (path, sniffed, node_id)
        elif fmt not in IMAGE_OUTPUTS and fmt != "hls":
            info = read_info(path, demuxer_for(sniffed, node_id), settings=self.settings, node_id=node_id)
            size = info.display_size
            if size is not None and width is None:
                width, height = size
            if duration_ms is None:
                duration_ms = info.duration_ms
        produced = Produced(path=path, format=fmt, width=width, height=height, duration_ms=duration_ms,
                            sidecars=list(sidecars))
        self.produced = produced
        self.path, self.sniffed, self.info, self._unprobed = path, sniffed, info, unprobed
        self.window = Window()
        return produced
