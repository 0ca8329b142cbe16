"""What bounds two workers against one on the folder benchmark (issue "2 workers >= 1.8x 1 worker").

    python bench/scaling_bound.py [ROUNDS]

Runs, interleaved, on the folder benchmark's 24 photos (JPEG, bench/folder.py), each with one worker and with
two (``MEDIAFLOW_WORKERS``):

- ``whole``: ``mediaflow run`` as a whole process, as the folder group runs it;
- ``imported``: the same command's ``main()`` in a child forked from this process, which has already imported
  every module a run imports (``imports_bound.py``): the start path at its floor, more than ADR 0010 could take;
- each of them again with the decode ahead off (``workers/decode_ahead.py``: the first input of each core
  decoded while the command imports, on the core a one-worker run leaves idle);
- ``floor``: the engine-free floor with one process and with two.

Prints each side's median wall and whole-tree CPU and its two-against-one ratio as JSON. Not a figure of
bench/run.py: it bounds a target, it does not track the code.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import folder  # noqa: E402
import imports_bound  # noqa: E402

# ``mediaflow run`` as a whole process, with the decode ahead left on or turned off by its first argument.
_COMMAND = """
import sys
import mediaflow.cli as cli
if sys.argv[1] == "off":
    cli._start_ahead = lambda targets, arguments, inputs: []
sys.argv = ["mediaflow", *sys.argv[2:]]
sys.exit(cli.main())
"""


def _run_args(photos: Path, out: Path) -> list[str]:
    return ["run", str(folder.WORKFLOWS / "folder-jpeg.json"), str(photos), "--out", str(out), "--json"]


def whole(ahead: bool, photos: Path, out: Path, data: Path) -> tuple[float, float]:
    imports_bound.fresh(out, data)
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(data)}
    done = folder.run_tree([sys.executable, "-c", _COMMAND, "on" if ahead else "off", *_run_args(photos, out)], env)
    if done["returncode"] != 0:
        raise SystemExit(f"mediaflow failed ({done['returncode']}): {done['stderr'][-2000:]}")
    return float(done["wall"]), float(done["cpu"])


def imported(ahead: bool, photos: Path, out: Path, data: Path) -> tuple[float, float]:
    import mediaflow.cli as cli

    start_ahead = cli._start_ahead
    if not ahead:
        cli._start_ahead = lambda targets, arguments, inputs: []
    try:
        return imports_bound.imported_run("jpeg", photos, out, data)
    finally:
        cli._start_ahead = start_ahead


def floor(processes: int, photos: Path, out: Path) -> tuple[float, float]:
    imports_bound.fresh(out)
    settings = folder.SETTINGS["jpeg"]
    done = folder.run_tree([sys.executable, str(folder.PEERS / "floor_folder.py"), str(photos), str(out), "jpeg",
                            str(settings["quality"]), str(settings["effort"]), str(processes)], dict(os.environ))
    if done["returncode"] != 0:
        raise SystemExit(f"floor failed ({done['returncode']}): {done['stderr'][-2000:]}")
    return float(done["wall"]), float(done["cpu"])


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    samples: dict[str, list[tuple[float, float]]] = {}
    with imports_bound.photos_with_a_run_imported("scaling-bound-") as (work, photos):
        out, data = work / "out", work / "data"
        for _ in range(rounds):
            for workers in (1, 2):
                os.environ["MEDIAFLOW_WORKERS"] = str(workers)
                for ahead in (True, False):
                    suffix = "" if ahead else ", no decode ahead"
                    for side, run in (("whole", whole), ("imported", imported)):
                        measured = run(ahead, photos, out, data)
                        if len(folder.outputs_of(out, "jpeg")) != 24:
                            raise SystemExit(f"{side} wrote {len(folder.outputs_of(out, 'jpeg'))} outputs, not 24")
                        samples.setdefault(f"{side}{suffix}|{workers}", []).append(measured)
                samples.setdefault(f"floor|{workers}", []).append(floor(workers, photos, out))
        os.environ.pop("MEDIAFLOW_WORKERS", None)
    report: dict[str, Any] = {"rounds": rounds, "cpus": os.cpu_count(), "photos": 24}
    for key in sorted({key.split("|")[0] for key in samples}):
        sides: dict[str, Any] = {}
        for workers in (1, 2):
            values = samples[f"{key}|{workers}"]
            sides[f"{workers}w"] = {"wall_median_s": round(statistics.median(w for w, _ in values), 3),
                                    "cpu_median_s": round(statistics.median(c for _, c in values), 3),
                                    "walls_s": sorted(round(w, 3) for w, _ in values)}
        sides["two_vs_one"] = round(sides["1w"]["wall_median_s"] / sides["2w"]["wall_median_s"], 3)
        report[key] = sides
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
