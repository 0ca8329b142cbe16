"""Many small files through ``mediaflow run``: the job where the engine's cost per file is the whole cost.

    python bench/small_files.py [--files 500] [--rounds 4] [--dir DIR] [--against CORE]

Makes FILES photo-like JPEGs of 96 x 64 (``mediaflow.samples``) in a folder under DIR (by default on /dev/shm,
a tmpfs, which leaves the disk's fsyncs out; bench/work where there is none), then runs ``mediaflow run`` of
``examples/convertly-convert-compress.json`` (convert, compress to WebP, the storage node) on it, each run on a
fresh data dir and ``--out`` beside the photos, interleaved: with one worker and with two and, with
``--against``, the same two with CORE (a copy of ``layers/core``, e.g. from ``git archive``) first on the path,
an A/B of two versions of the code on the same minutes. Prints each side's median wall, whole-tree CPU (user +
sys of every process), files a second and two workers against one as JSON. ``bench/run.py --only small`` records
the same (without ``--against``) as figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import folder  # noqa: E402

WORKFLOW = BENCH.parent / "examples" / "convertly-convert-compress.json"
SIZE = (96, 64)


def make_photos(where: Path, count: int) -> Path:
    from mediaflow import samples

    photos = where / f"small-{count}"
    if len(list(photos.glob("*.jpg"))) != count:
        shutil.rmtree(photos, ignore_errors=True)
        photos.mkdir(parents=True)
        for index in range(count):
            samples.photo(photos / f"p{index:05d}.jpg", *SIZE, seed=index, quality=85)
    return photos


def run(photos: Path, scratch: Path, workers: int, core: str | None) -> tuple[float, float]:
    out, data = scratch / "out", scratch / "data"
    for path in (out, data):
        shutil.rmtree(path, ignore_errors=True)
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(data), "MEDIAFLOW_WORKERS": str(workers)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if core:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [core, env.get("PYTHONPATH", "")]))
    mediaflow = str(Path(sys.executable).parent / "mediaflow")
    done = folder.run_tree([mediaflow, "run", str(WORKFLOW), str(photos), "--out", str(out), "--json"], env)
    if done["returncode"] != 0:
        raise SystemExit(f"mediaflow failed ({done['returncode']}): {done['stderr'][-2000:]}")
    return float(done["wall"]), float(done["cpu"])


def default_dir() -> Path:
    """A tmpfs where there is one (the engine's cost without the disk's), else bench/work."""
    shm = Path("/dev/shm")
    return shm / "mediaflow-bench" if shm.is_dir() and os.access(shm, os.W_OK) else BENCH / "work"


def measure(files: int, rounds: int, where: Path, against: str | None = None) -> dict[str, Any]:
    """Each side's median wall and whole-tree CPU, files a second and two workers against one."""
    photos = make_photos(where, files)
    scratch = where / "small-files-scratch"
    sides = [(f"{label}{workers}w", workers, core) for label, core in
             [("", None), *([("against-", against)] if against else [])] for workers in (1, 2)]
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in sides}
    for _ in range(rounds):
        for name, workers, core in sides:
            samples[name].append(run(photos, scratch, workers, core))
    shutil.rmtree(scratch, ignore_errors=True)
    report: dict[str, Any] = {"files": files, "rounds": rounds, "dir": str(where), "size": list(SIZE),
                              "workflow": WORKFLOW.name}
    for name, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        report[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "files_per_s": round(files / wall),
                        "cpu_ms_per_file": round(cpu / files * 1000, 2), "walls": [round(w, 3) for w, _ in runs]}
    for prefix in ("", "against-"):
        if f"{prefix}1w" in report:
            report[f"{prefix}2w_vs_1w"] = round(report[f"{prefix}1w"]["wall_s"] / report[f"{prefix}2w"]["wall_s"], 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=default_dir())
    parser.add_argument("--against", help="another copy of layers/core, run beside this one")
    options = parser.parse_args()
    print(json.dumps(measure(options.files, options.rounds, options.dir, options.against), indent=2))


if __name__ == "__main__":
    main()
