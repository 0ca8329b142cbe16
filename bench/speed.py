"""Whole-process figures of ``mediaflow run``: start-up, and a video transcode against plain ffmpeg.

- ``start``: one 24 MP JPEG -> 1600 px JPEG through ``mediaflow run`` (a fresh data dir, as a user's first
  command) against a bare Python process that imports pyvips and makes the same thumbnail; both whole
  processes, interleaved, medians. The difference is what mediaflow adds before and after the pixels
  (imports, the data dir, validation, the worker process, the run records).
- ``video``: a 20 s 1080p H.264 clip -> 720p H.264/AAC through ``mediaflow run`` against the same ffmpeg
  command run by hand. The ffmpeg side's command is the one mediaflow ran, captured once through a
  logging wrapper (``MEDIAFLOW_FFMPEG_PATH``), so the encoder settings are the same by construction;
  the ffprobe mediaflow runs first counts on its side.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work"
WORKFLOWS = BENCH / "workflows"
BARE_THUMBNAIL = ("import sys, pyvips; pyvips.cache_set_max(0); "
                  "pyvips.Image.thumbnail(sys.argv[1], 1600, height=1600).jpegsave(sys.argv[2], Q=75)")


def mediaflow_command(workflow: Path, source: Path, out: Path) -> list[str]:
    return [str(Path(sys.executable).parent / "mediaflow"), "run", str(workflow), str(source), "--out", str(out),
            "--json"]


def _whole(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv[:3])}... failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall


def measure_start(media: Any, *, rounds: int, log: Any) -> dict[str, Any]:
    source = media.photo(6000, 4000, seed=1, quality=75)
    scratch = WORK / "start"
    walls: dict[str, list[float]] = {"import_pyvips": [], "bare_thumbnail": [], "mediaflow_run": []}
    for index in range(rounds):
        order = list(walls) if index % 2 == 0 else list(reversed(walls))
        for side in order:
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(scratch / "data")}
            if side == "import_pyvips":
                argv = [sys.executable, "-c", "import pyvips"]
            elif side == "bare_thumbnail":
                argv = [sys.executable, "-c", BARE_THUMBNAIL, str(source), str(scratch / "bare.jpg")]
            else:
                argv = mediaflow_command(WORKFLOWS / "folder-jpeg.json", source, scratch / "out")
            walls[side].append(_whole(argv, env))
        log(f"start round {index + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items()))
    shutil.rmtree(scratch, ignore_errors=True)
    medians = {side: round(statistics.median(values), 3) for side, values in walls.items()}
    return {"source": f"{source.name} ({source.stat().st_size / 1e6:.1f} MB)", "rounds": rounds,
            "median_wall_s": medians, "min_wall_s": {k: round(min(v), 3) for k, v in walls.items()},
            "samples_s": {k: [round(x, 3) for x in v] for k, v in walls.items()},
            "overhead_s": round(medians["mediaflow_run"] - medians["bare_thumbnail"], 3),
            "overhead_from_minimums_s": round(min(walls["mediaflow_run"]) - min(walls["bare_thumbnail"]), 3)}


def clip_1080p(seconds: int = 20) -> Path:
    """A 1080p30 H.264 + AAC clip with detail in every frame (testsrc2 and a noise layer), made once."""
    path = WORK / "media" / f"video-1080p30-{seconds}s-detail.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial.mp4")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                        "-vf", "noise=alls=6:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M",
                        "-maxrate", "8M", "-bufsize", "16M",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", str(partial)],
                       check=True, timeout=900)
        partial.replace(path)
    return path


def _captured_ffmpeg(workflow: Path, source: Path, scratch: Path) -> list[str]:
    """The ffmpeg command line(s) mediaflow runs for ``workflow`` on ``source``, through a logging wrapper."""
    log_file = scratch / "ffmpeg-argv.jsonl"
    wrapper = scratch / "ffmpeg-logging"
    real = shutil.which("ffmpeg") or "ffmpeg"
    wrapper.write_text("#!" + sys.executable + "\nimport json, os, sys\n"
                       f"open({str(log_file)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                       f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n")
    wrapper.chmod(0o755)
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(scratch / "capture-data"), "MEDIAFLOW_FFMPEG_PATH": str(wrapper)}
    _whole(mediaflow_command(workflow, source, scratch / "capture-out"), env)
    commands = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    encodes = [argv for argv in commands if "-i" in argv and any("/tmp/worker-" in arg for arg in argv)]
    if len(encodes) != 1:
        raise RuntimeError(f"expected one ffmpeg encode, mediaflow ran {len(encodes)}: {commands}")
    return encodes[0]


def measure_video(*, rounds: int, log: Any) -> dict[str, Any]:
    source = clip_1080p(20)
    workflow = WORKFLOWS / "video-720p.json"
    scratch = WORK / "video-pair"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    argv = _captured_ffmpeg(workflow, source, scratch)
    source_at = argv.index("-i") + 1
    output_at = next(index for index, arg in enumerate(argv) if "/tmp/worker-" in arg and index != source_at)
    out_plain = scratch / f"plain{Path(argv[output_at]).suffix}"
    plain = list(argv)
    plain[source_at], plain[output_at] = str(source), str(out_plain)
    plain = ["ffmpeg", *plain]
    walls: dict[str, list[float]] = {"mediaflow_run": [], "ffmpeg": []}
    for index in range(rounds):
        order = list(walls) if index % 2 == 0 else list(reversed(walls))
        for side in order:
            if side == "ffmpeg":
                walls[side].append(_whole(plain))
            else:
                data, out = scratch / "data", scratch / "out"
                for path in (data, out):
                    shutil.rmtree(path, ignore_errors=True)
                env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(data)}
                walls[side].append(_whole(mediaflow_command(workflow, source, out), env))
        log(f"video round {index + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items()))
    made = sorted(p for p in (scratch / "out").rglob("*.mp4"))
    medians = {side: round(statistics.median(values), 3) for side, values in walls.items()}
    return {"source": f"{source.name} (1920x1080 30 fps H.264 + AAC, {source.stat().st_size / 1e6:.1f} MB)",
            "workflow": workflow.name, "rounds": rounds, "median_wall_s": medians,
            "samples_s": {k: [round(x, 3) for x in v] for k, v in walls.items()},
            "ffmpeg_command": shlex.join(plain),
            "threads": plain[plain.index("-threads") + 1] if "-threads" in plain else "ffmpeg default",
            "output_bytes": {"mediaflow": made[0].stat().st_size if made else None,
                             "ffmpeg": out_plain.stat().st_size if out_plain.exists() else None}}
