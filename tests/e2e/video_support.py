"""Helpers for the video worker tests: media made with ffmpeg's lavfi sources, ffprobe readers."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from mediaflow.execution.contract import TaskEnvironment, TaskPayload
from mediaflow.media import MediaRef

from tests.e2e.image_support import FolderBlobs, make_env

__all__ = ["ConnectionRecorder", "FolderBlobs", "MediaFactory", "count_frames", "ffprobe", "make_env", "payload",
           "upload_file"]

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")


def _ffmpeg(*args: str, timeout: float = 60) -> None:
    assert FFMPEG is not None
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True,
                   timeout=timeout)


class MediaFactory:
    """Small generated clips (320x240, a few seconds), made once per test session and cached by name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _cached(self, name: str) -> tuple[Path, bool]:
        path = self.folder / name
        return path, path.exists()

    def clip(self, seconds: float = 4.0, size: str = "320x240", rate: int = 25) -> Path:
        """H.264/AAC MP4 (testsrc2 + a 440 Hz sine), faststart."""
        path, done = self._cached(f"clip-{seconds:g}-{size}-{rate}.mp4")
        if not done:
            _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-b:a", "96k", "-shortest", "-movflags", "+faststart", str(path))
        return path

    def silent(self) -> Path:
        """Video without any audio stream."""
        path, done = self._cached("silent.mp4")
        if not done:
            _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
        return path

    def two_tracks(self) -> Path:
        """Video with two audio tracks: 440 Hz stereo AAC, then 880 Hz mono MP3 (in MKV)."""
        path, done = self._cached("two-tracks.mkv")
        if not done:
            _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
                    "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100:duration=3",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a:0", "aac", "-ac:a:0", "2", "-c:a:1", "libmp3lame", "-ac:a:1", "1",
                    str(path))
        return path

    def rotated(self) -> Path:
        """A phone-style clip: coded 320x240, display matrix of a quarter turn (shown as 240x320)."""
        path, done = self._cached("rotated.mp4")
        if not done:
            _ffmpeg("-i", str(self.clip(2.0)), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path))
        return path

    def vfr(self) -> Path:
        """Variable frame rate: 10 fps for 1 s, then 30 fps for 1 s (setpts from a 30 fps source)."""
        path, done = self._cached("vfr.mkv")
        if not done:
            expr = "if(lt(N,10),N*3,30+(N-10))/30/TB"
            _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2",
                    "-vf", f"select='not(lt(n,30))+not(mod(n,3))',setpts='{expr}'", "-fps_mode", "vfr",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
        return path

    def tone(self, seconds: float = 4.0, fmt: str = "wav") -> Path:
        path, done = self._cached(f"tone-{seconds:g}.{fmt}")
        if not done:
            _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}",
                    "-af", "volume=0.2", str(path))
        return path

    def ten_hours(self) -> Path:
        """A 2 s clip shifted by 10 hours: its header (an empty edit of 36000 s) says 10 h."""
        path, done = self._cached("ten-hours.mp4")
        if not done:
            _ffmpeg("-itsoffset", "36000", "-i", str(self.clip(2.0)), "-c", "copy", str(path))
        return path

    def huge_frame(self) -> Path:
        """A one-frame video of 4096 x 2304 (over a small pixel budget)."""
        path, done = self._cached("huge.mp4")
        if not done:
            _ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=4096x2304:rate=1:duration=1", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
        return path

    def long_1080p(self, seconds: int = 120) -> Path:
        """1080p, 25 fps, a keyframe every 2 s (for seek timings)."""
        path, done = self._cached(f"long-1080p-{seconds}.mp4")
        if not done:
            _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", str(path), timeout=600)
        return path


def upload_file(env: TaskEnvironment, path: Path, filename: str | None = None, tenant: str = "acme",
                metadata: dict[str, str] | None = None) -> MediaRef:
    name = filename or path.name
    ref = env.blobs.put_file(f"{tenant}/uploads/{name}", path, "application/octet-stream")
    return ref.model_copy(update={"filename": name, "metadata": metadata or {}})


def payload(media: MediaRef, *ops: tuple[str, str, dict[str, Any]], run_id: str = "run-1",
            tenant: str = "acme") -> TaskPayload:
    return TaskPayload.model_validate({
        "runtime": "ffmpeg",
        "run": {"runId": run_id, "tenant": tenant, "workflowId": "wf-1", "startedAt": "2024-05-06T07:08:09Z"},
        "media": media.to_state(),
        "ops": [{"nodeId": node_id, "kind": kind, "config": config} for node_id, kind, config in ops],
    })


def ffprobe(path: Path | bytes, tmp: Path | None = None) -> dict[str, Any]:
    """ffprobe's JSON for a file (or bytes written to ``tmp``)."""
    assert FFPROBE is not None
    if isinstance(path, bytes):
        assert tmp is not None
        tmp.write_bytes(path)
        path = tmp
    result = subprocess.run([FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                             str(path)], capture_output=True, check=True, timeout=30)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def count_frames(path: Path) -> int:
    assert FFPROBE is not None
    result = subprocess.run([FFPROBE, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                             "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, check=True,
                            timeout=30)
    return int(result.stdout.decode().strip().split(",")[0])


class ConnectionRecorder:
    """A listening socket on 127.0.0.1 that records every connection made to it."""

    def __init__(self) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.port: int = self.server.getsockname()[1]
        self.connections: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, address = self.server.accept()
            except OSError:
                continue
            self.connections.append(address)
            client.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.server.close()
