"""p7: the ffmpeg and rembg runtimes (poster frame at 100 s, 720p transcode speed, warm rembg per MP)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from mediaflow import samples
from run import WORK, Figure, Profile, engine, log, median, ms

MEDIA = WORK / "media"


def ffmpeg() -> str:
    binary = shutil.which("ffmpeg")
    if binary is None:
        raise SystemExit("p7 needs ffmpeg (make setup installs it)")
    return binary


def long_1080p(seconds: int, fps: int) -> Path:
    """A 1080p H.264 file long enough to seek to 100 s (low frame rate keeps it cheap to make)."""
    path = MEDIA / f"video-1080p-{seconds}s-{fps}fps.mp4"
    if not path.exists():
        MEDIA.mkdir(parents=True, exist_ok=True)
        log(f"p7 making {path.name}")
        subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"testsrc2=size=1920x1080:rate={fps}:duration={seconds}", "-c:v", "libx264",
                        "-preset", "ultrafast", "-g", str(fps * 2), "-pix_fmt", "yuv420p", str(path)],
                       check=True, timeout=600)
    return path


def clip_720p(seconds: int) -> Path:
    path = MEDIA / f"video-720p-{seconds}s.mp4"
    if not path.exists():
        samples.video(path, float(seconds), size="1280x720")
    return path


def output_seek_seconds(source: Path, at: float) -> float:
    """The naive way: decode from the start and keep the frame at ``at`` (-ss after -i)."""
    started = time.perf_counter()
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-ss", str(at),
                    "-frames:v", "1", str(WORK / "output-seek.jpg")], check=True, timeout=600)
    return time.perf_counter() - started


def timed_runs(bench: Any, workflow: str, source: Path, count: int) -> list[float]:
    """Seconds per run of ``workflow`` on ``source``, the upload stored once beforehand (as on AWS, where
    the object is in S3 before the run starts): what is timed is the run, not copying the file in."""
    compiled = bench.compiled(workflow)
    media = bench.service.ingest(source)
    bench.service.run_one(compiled, source, None, media=media)  # warm the worker (and its model session)
    seconds = []
    for _ in range(count):
        result = bench.service.run_one(compiled, source, None, media=media)
        if result.status != "completed":
            raise SystemExit(f"p7 run of {workflow} ended {result.status}: {result.error}")
        seconds.append(result.seconds)
    return seconds


def figure_p7(profile: Profile, media: Any) -> list[Figure]:
    quick = profile.name == "quick"
    reps = 3 if quick else 5
    figures: list[Figure] = []
    source = long_1080p(104 if quick else 120, 5 if quick else 10)
    with engine("p7-ffmpeg", 1) as bench:
        poster = timed_runs(bench, "poster-100s.json", source, reps)
        naive = [output_seek_seconds(source, 100.0) for _ in range(1 if quick else 2)]
        figures.append(Figure(
            "p7_poster_frame_s", median(poster), 0.5, "<=", "s",
            "seconds for a run that takes a poster frame at 100 s of a stored 1080p video (input seek)",
            {"source": source.name, "samples_ms": [ms(v) for v in poster],
             "output_seek_ms": [ms(v) for v in naive],
             "vs_output_seek": round(median(naive) / median(poster), 1)}))
        clip = clip_720p(6 if quick else 12)
        frames = (6 if quick else 12) * 25
        runs = timed_runs(bench, "transcode-720p.json", clip, 1 if quick else 3)
        figures.append(Figure(
            "p7_transcode_fps_720p", frames / median(runs), None, "", "fps",
            "frames per second transcoding a 720p clip to 720p H.264/AAC MP4 (1 encoder thread, the default)",
            {"source": clip.name, "frames": frames, "samples_ms": [ms(v) for v in runs]}))
    subject = samples.subject_on_flat_background(MEDIA / "subject-1000.png", 1000)
    with engine("p7-rembg", 1) as bench:
        warm = timed_runs(bench, "cutout.json", subject, reps)
        megapixels = 1000 * 1000 / 1_000_000
        figures.append(Figure(
            "p7_rembg_warm_s_per_mp", median(warm) / megapixels, 0.6, "<=", "s/MP",
            "seconds per megapixel for background_remove (u2netp, CPU) once the worker's session is warm",
            {"image": "1000x1000 PNG", "samples_ms": [ms(v) for v in warm]}))
    return figures
