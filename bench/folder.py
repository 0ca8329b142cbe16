"""The folder benchmark: a folder of camera JPEGs -> 1600 px, each tool as a whole process, side by side.

The job most users have ("a folder of photos -> web sizes"), done the way each tool's users do it:

- ``mediaflow``: ``mediaflow run WORKFLOW FOLDER --out DIR`` (its default workers, a fresh data dir);
- ``sharp-serial`` / ``sharp-all``: a node script with sharp (pinned in bench/peers/package.json and
  installed here by ``npm ci``), one file after another, or every file at once with ``Promise.all``;
- ``pillow``: the Python loop (open, thumbnail, save), one process;
- ``vips-bare``: bare pyvips ``thumbnail`` + one save, one process per core, as a Python user writes it;
- ``floor``: the calls a mediaflow worker makes for this job (DCT-scaled JPEG decode, one Lanczos3 reduce, the same
  save) and nothing else, one process per core: `mediaflow run`'s wall over it is the engine's whole cost;
- ``floor-1p``: the same with one process (JPEG only): the floor's own scaling from one process to one per core
  is the most two workers can gain over one on this machine, measured in the same rounds.

JPEG at quality 75 with optimised Huffman tables where the tool's users get them (mediaflow, sharp's
default ``optimiseCoding``, bare pyvips; no mozjpeg tricks; the Pillow loop as written, without) and WebP
at quality 80 with effort/method 4 on every side (sharp's default effort); each side reports the settings
it used. Rounds are interleaved (the order rotates each
round) and medians taken, so a noisy machine slows every side alike. Each side's outputs are then
checked against a reference made from the full-resolution decode with a Lanczos reduce: SSIM on
luminance and file size, so no side buys speed with visible loss.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / "peers"
WORKFLOWS = BENCH / "workflows"
SETTINGS = {"jpeg": {"quality": 75, "effort": 0}, "webp": {"quality": 80, "effort": 4}}
TOOLS = ("mediaflow", "mediaflow-1w", "sharp-all", "sharp-serial", "pillow", "vips-bare", "floor", "floor-1p")
ONE_FORMAT_ONLY = {"mediaflow-1w": "jpeg", "floor-1p": "jpeg"}  # one worker or process: the scaling figures


def ensure_sharp(log: Any) -> str:
    """``npm ci`` in bench/peers when its lockfile changed (stamped); returns sharp's version."""
    lock = (PEERS / "package-lock.json").read_bytes()
    stamp = PEERS / "node_modules" / f".installed-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not stamp.is_file():
        log("installing sharp for the folder benchmark (npm ci in bench/peers)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEERS, check=True, timeout=600)
        stamp.touch()
    version = subprocess.run(["node", "-e", "console.log(require('sharp').versions.sharp)"], cwd=PEERS,
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    return version


def folder_of_photos(media: Any, count: int, target: Path) -> Path:
    """``count`` 24 MP camera-like JPEGs (quality 75, about 4-5 MB each) in a folder of their own."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for seed in range(1, count + 1):
        source = media.photo(6000, 4000, seed=seed, quality=75)
        link = target / source.name
        wanted.add(link.name)
        if not link.exists():
            os.link(source, link)
    for stray in target.iterdir():
        if stray.name not in wanted:
            stray.unlink()
    return target


def command(tool: str, fmt: str, folder: Path, out: Path, data: Path) -> list[str]:
    quality, effort = str(SETTINGS[fmt]["quality"]), str(SETTINGS[fmt]["effort"])
    python = sys.executable
    if tool.startswith("mediaflow"):
        return [str(Path(python).parent / "mediaflow"), "run", str(WORKFLOWS / f"folder-{fmt}.json"), str(folder),
                "--out", str(out), "--json"]
    if tool.startswith("sharp"):
        mode = "all" if tool == "sharp-all" else "serial"
        return ["node", str(PEERS / "sharp_folder.mjs"), str(folder), str(out), fmt, mode, quality, effort]
    if tool == "pillow":
        return [python, str(PEERS / "pillow_folder.py"), str(folder), str(out), fmt, quality, effort or "4"]
    script = "floor_folder.py" if tool.startswith("floor") else "vips_folder.py"
    processes = 1 if tool == "floor-1p" else os.cpu_count() or 1
    return [python, str(PEERS / script), str(folder), str(out), fmt, quality, effort, str(processes)]


def mediaflow_settings(fmt: str) -> dict[str, Any]:
    """What mediaflow's encoder is given for the folder workflow (workers/image.py ``encode``)."""
    workflow = json.loads((WORKFLOWS / f"folder-{fmt}.json").read_text())
    config = next(node["config"] for node in workflow["nodes"] if node["kind"] == "convert")
    metadata = "none" if any(node["kind"] == "strip_metadata" for node in workflow["nodes"]) else "all"
    if fmt == "webp":
        return {"Q": config["compressionLevel"], "effort": config.get("effort", 3), "metadata": metadata}
    return {"Q": config["compressionLevel"], "optimize_coding": True, "metadata": metadata}


# Runs its arguments as a subreaper: the orphans a command leaves (mediaflow's workers are its zygote's children,
# and the command exits without waiting for them) become this process's children, so waiting for every one of
# them puts the CPU of the whole tree in RUSAGE_CHILDREN. The wall ends as subprocess.run's does: when the
# command has exited and every process holding its output pipes has closed them.
_TREE_RUNNER = """
import ctypes, json, os, resource, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
started = time.perf_counter()
done = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1]))
wall = time.perf_counter() - started
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "returncode": done.returncode,
           "stdout": done.stdout, "stderr": done.stderr[-4000:]}, sys.stdout)
"""


def run_tree(argv: list[str], env: dict[str, str], timeout: float = 1800) -> dict[str, Any]:
    """Run ``argv`` as a whole process tree: its wall (as ``subprocess.run`` measures it), the CPU seconds of
    every process it started (user + sys), its return code, its stdout and the end of its stderr."""
    done = subprocess.run([sys.executable, "-c", _TREE_RUNNER, str(timeout), *argv], env=env, capture_output=True,
                          text=True, timeout=timeout + 60, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_once(tool: str, fmt: str, folder: Path, scratch: Path) -> tuple[float, float, Path, dict[str, Any]]:
    out = scratch / f"{tool}-{fmt}"
    data = scratch / f"data-{tool}-{fmt}"
    for path in (out, data):
        shutil.rmtree(path, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(data)}
    if tool == "mediaflow-1w":
        env["MEDIAFLOW_WORKERS"] = "1"
    elif tool == "mediaflow":
        env.pop("MEDIAFLOW_WORKERS", None)
    done = run_tree(command(tool, fmt, folder, out, data), env)
    if done["returncode"] != 0:
        raise RuntimeError(f"{tool} {fmt} failed ({done['returncode']}): {done['stderr'][-2000:]}")
    if tool.startswith("mediaflow"):
        reported: dict[str, Any] = {"settings": mediaflow_settings(fmt)}
    else:
        reported = json.loads(done["stdout"].strip().splitlines()[-1])
    return float(done["wall"]), float(done["cpu"]), out, reported


def outputs_of(out: Path, fmt: str) -> list[Path]:
    suffix = ".jpg" if fmt == "jpeg" else ".webp"
    return sorted(p for p in out.rglob(f"*{suffix}") if p.is_file())


_REFERENCES: dict[tuple[str, int, int], Any] = {}


def quality_check(sources: list[Path], outputs: list[Path]) -> dict[str, Any]:
    """SSIM (luminance) of each output against the full-decode Lanczos reference of its source, and size."""
    import numpy as np
    import pyvips
    from skimage.metrics import structural_similarity

    def luminance(image: Any) -> Any:
        grey = image.colourspace("b-w")[0] if image.bands >= 3 else image[0]
        return np.ndarray(buffer=grey.cast("uchar").write_to_memory(), dtype=np.uint8,
                          shape=(grey.height, grey.width))

    by_stem = {source.stem: source for source in sources}
    scores, sizes = [], []
    for output in outputs:
        stem = next((s for s in by_stem if output.name.startswith(s) or s in output.name), None)
        if stem is None:
            continue
        made = pyvips.Image.new_from_file(str(output))
        key = (stem, made.width, made.height)
        if key not in _REFERENCES:
            full = pyvips.Image.new_from_file(str(by_stem[stem]))
            _REFERENCES[key] = luminance(full.resize(made.width / full.width, vscale=made.height / full.height,
                                                     kernel="lanczos3"))
        scores.append(float(structural_similarity(_REFERENCES[key], luminance(made), data_range=255)))
        sizes.append(output.stat().st_size)
    return {"ssim_min": round(min(scores), 4) if scores else None,
            "ssim_mean": round(statistics.fmean(scores), 4) if scores else None,
            "checked": len(scores), "mean_bytes": int(statistics.fmean(sizes)) if sizes else None}


def measure(media: Any, *, images: int, rounds: int, log: Any) -> dict[str, Any]:
    sharp_version = ensure_sharp(log)
    work = BENCH / "work"
    folder = folder_of_photos(media, images, work / f"folder-{images}")
    sources = sorted(folder.glob("*.jpg"))
    walls: dict[str, list[float]] = {f"{tool}/{fmt}": [] for tool in TOOLS for fmt in SETTINGS
                                     if ONE_FORMAT_ONLY.get(tool, fmt) == fmt}
    cpus: dict[str, list[float]] = {name: [] for name in walls}
    last_out: dict[str, Path] = {}
    encoders: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=work, prefix="folder-") as scratch_name:
        scratch = Path(scratch_name)
        for round_index in range(rounds):
            order = TOOLS[round_index % len(TOOLS):] + TOOLS[:round_index % len(TOOLS)]
            for fmt in SETTINGS:
                for tool in order:
                    if ONE_FORMAT_ONLY.get(tool, fmt) != fmt:
                        continue
                    wall, cpu, out, reported = run_once(tool, fmt, folder, scratch)
                    encoders[f"{tool}/{fmt}"] = reported.get("settings")
                    walls[f"{tool}/{fmt}"].append(wall)
                    cpus[f"{tool}/{fmt}"].append(cpu)
                    count = len(outputs_of(out, fmt))
                    if count != len(sources):
                        raise RuntimeError(f"{tool} {fmt} wrote {count} outputs for {len(sources)} inputs")
                    if round_index == rounds - 1:
                        kept = work / f"folder-out-{tool}-{fmt}"
                        shutil.rmtree(kept, ignore_errors=True)
                        shutil.copytree(out, kept)
                        last_out[f"{tool}/{fmt}"] = kept
                    log(f"folder round {round_index + 1}/{rounds}: {tool} {fmt} {wall:.2f} s (CPU {cpu:.2f} s)")
        checked = {name: quality_check(sources[:4], [p for p in outputs_of(path, name.split("/")[1])
                                                     if any(s.stem in p.name for s in sources[:4])])
                   for name, path in last_out.items()}
        for name, path in last_out.items():
            sizes = [p.stat().st_size for p in outputs_of(path, name.split("/")[1])]
            checked[name]["mean_bytes_all"] = int(statistics.fmean(sizes))
    medians = {name: round(statistics.median(values), 3) for name, values in walls.items()}
    # Each round runs every side back to back, so a ratio within a round leaves out the machine's drift between
    # rounds; their spread says how far one run's figure can move.
    paired = {f"{baseline}/{fmt}": [round(theirs / ours, 3) for theirs, ours in
                                    zip(walls[f"{baseline}/{fmt}"], walls[f"mediaflow/{fmt}"], strict=True)]
              for baseline in ("sharp-all", "floor") for fmt in SETTINGS}
    for one, many in (("mediaflow-1w", "mediaflow"), ("floor-1p", "floor")):  # one worker (process) / one a core
        paired[f"{one}-vs-{many}/jpeg"] = [round(a / b, 3) for a, b in
                                           zip(walls[f"{one}/jpeg"], walls[f"{many}/jpeg"], strict=True)]
    return {"images": images, "rounds": rounds, "input_bytes_mean": int(statistics.fmean(
                p.stat().st_size for p in sources)),
            "settings": {"jpeg": "quality 75, libjpeg with optimised Huffman tables (sharp: mozjpeg off, "
                                 "optimiseCoding on; the Pillow loop as users write it, optimize off)",
                         "webp": "quality 80, effort 4 (Pillow: method 4)"},
            "encoder_settings_reported": encoders,
            "sharp": sharp_version, "cpus": os.cpu_count(), "median_wall_s": medians,
            "samples_s": {name: [round(v, 3) for v in values] for name, values in walls.items()},
            "median_cpu_s": {name: round(statistics.median(values), 3) for name, values in cpus.items()},
            "samples_cpu_s": {name: [round(v, 3) for v in values] for name, values in cpus.items()},
            "ratios_by_round": paired, "quality": checked}


def ratio(result: dict[str, Any], baseline: str, fmt: str, *, of: str = "median_wall_s") -> float:
    """How many times faster mediaflow is than ``baseline`` (>1: mediaflow is faster); with
    ``of="median_cpu_s"``, how many times less CPU its whole process tree spends."""
    medians = result[of]
    return float(medians[f"{baseline}/{fmt}"] / medians[f"mediaflow/{fmt}"])


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    from media import MediaCache

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    found = measure(MediaCache(BENCH / "work" / "media"), images=count, rounds=1,
                    log=lambda m: sys.stderr.write(m + "\n"))
    print(json.dumps(found, indent=2))
