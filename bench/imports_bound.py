"""How much of the folder benchmark taking the imports off `mediaflow run` could give, at most (ADR 0010).

    python bench/imports_bound.py [jpeg|webp] [ROUNDS]

Runs, interleaved, on the folder benchmark's 24 photos (bench/folder.py):

- ``mediaflow``: ``mediaflow run`` as a whole process, as the folder group runs it;
- ``mediaflow-imported``: the same command's ``main()`` in a child forked from this process, which has already
  imported every module a run imports (pydantic, the models, the validator, the compiler, the embedded
  runtime, the node modules): no interpreter start and no import, so more than ADR 0010's light path could
  ever take off (it keeps the interpreter and the light modules);
- ``sharp-all`` and ``floor``, as in the folder group.

Each side's wall and the CPU of its whole process tree (its processes are reaped by a subreaper) are printed
as JSON with medians. Not a figure of bench/run.py: it bounds a design choice, it does not track the code.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import folder  # noqa: E402
from media import MediaCache  # noqa: E402

RUN_MODULES = ("mediaflow.cli", "mediaflow.embedded.cli", "mediaflow.embedded.app", "mediaflow.embedded.executor",
               "mediaflow.embedded.workerpool", "mediaflow.embedded.early", "mediaflow.embedded.serve",
               "mediaflow.compiler", "mediaflow.validation", "mediaflow.settings", "mediaflow.workers.decode_ahead",
               "mediaflow.adapters.embedded", "mediaflow.adapters.embedded.durable",
               "mediaflow.adapters.embedded.outbox", "argparse")
_PR_SET_CHILD_SUBREAPER = 36


def _tree_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh(out: Path, *others: Path) -> None:
    """``out`` made empty, ``others`` (a data dir) removed: each measured run starts from nothing."""
    for path in (out, *others):
        shutil.rmtree(path, ignore_errors=True)
    out.mkdir(parents=True)


@contextmanager
def photos_with_a_run_imported(prefix: str) -> Iterator[tuple[Path, Path]]:
    """This process with every module a run imports loaded, and a scratch folder (``bench/work``, beside the
    media cache: the photos are hard links to it) holding the folder benchmark's 24 photos: ``(scratch, photos)``."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # as `mediaflow run` sets it
    for name in RUN_MODULES:
        importlib.import_module(name)
    (BENCH / "work").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=BENCH / "work") as scratch:
        work = Path(scratch)
        yield work, folder.folder_of_photos(MediaCache(BENCH / "work" / "media"), 24, work / "photos")


def imported_run(fmt: str, photos: Path, out: Path, data: Path) -> tuple[float, float]:
    """Wall and tree CPU of ``mediaflow run`` forked from this process, its imports done."""
    fresh(out, data)
    os.environ["MEDIAFLOW_DATA_DIR"] = str(data)
    before = _tree_cpu()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # reaps the run's processes (its workers are not its children), then exits
        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        command = os.fork()
        if command == 0:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            sys.argv = ["mediaflow", "run", str(folder.WORKFLOWS / f"folder-{fmt}.json"), str(photos),
                        "--out", str(out), "--json"]
            try:
                from mediaflow.cli import main

                main()
            finally:
                os._exit(0)
        while True:
            try:
                os.wait()
            except ChildProcessError:
                os._exit(0)
    os.waitpid(pid, 0)
    return time.perf_counter() - started, _tree_cpu() - before


def whole_process(tool: str, fmt: str, photos: Path, out: Path, data: Path) -> tuple[float, float]:
    """Wall and tree CPU of ``tool`` as the folder group runs it (``folder.run_tree``)."""
    fresh(out, data)
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(data)}
    done = folder.run_tree(folder.command(tool, fmt, photos, out, data), env)
    if done["returncode"] != 0:
        raise SystemExit(f"{tool} failed ({done['returncode']}): {done['stderr'][-2000:]}")
    return float(done["wall"]), float(done["cpu"])


def main() -> None:
    fmt = sys.argv[1] if len(sys.argv) > 1 else "jpeg"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    folder.ensure_sharp(lambda message: print(message, file=sys.stderr))
    samples: dict[str, list[tuple[float, float]]] = {}
    with photos_with_a_run_imported("imports-bound-") as (work, photos):
        for _ in range(rounds):
            for tool in ("mediaflow-imported", "mediaflow", "sharp-all", "floor"):
                out, data = work / f"out-{tool}", work / f"data-{tool}"
                measured = (imported_run(fmt, photos, out, data) if tool == "mediaflow-imported"
                            else whole_process(tool, fmt, photos, out, data))
                if len(folder.outputs_of(out, fmt)) != 24:
                    raise SystemExit(f"{tool} wrote {len(folder.outputs_of(out, fmt))} outputs, not 24")
                samples.setdefault(tool, []).append(measured)
    report: dict[str, Any] = {"format": fmt, "rounds": rounds, "cpus": os.cpu_count()}
    for tool, values in samples.items():
        report[tool] = {"wall_median_s": round(statistics.median(wall for wall, _ in values), 3),
                        "cpu_median_s": round(statistics.median(cpu for _, cpu in values), 3),
                        "walls_s": sorted(round(wall, 3) for wall, _ in values)}
    sharp = report["sharp-all"]["wall_median_s"]
    for tool in ("mediaflow", "mediaflow-imported"):
        report[tool]["vs_sharp_all"] = round(sharp / report[tool]["wall_median_s"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
