"""When each process of a folder `mediaflow run` reaches each step: the decode ahead, the zygote, the workers and
the command, on one clock.

    python bench/timeline.py [jpeg|webp] [ROUNDS]

Runs the folder benchmark's `mediaflow run` (24 photos, bench/folder.py) ROUNDS times (default 4) with hooks that
write a timestamp (``time.monotonic``, the same clock in every process) at each step. The hooks are installed as
each module is first imported (an import finder), so the command imports nothing earlier than it would and its
start is timed as it is. Prints, for each run: when the decode ahead began and finished each decode, when the
zygote forked and had loaded the workers' modules, when each worker was up and took its first Task, when the
command sent its first Tasks, each worker's idle time between two Tasks, and the last Task's end against the
exit. Not a figure of bench/run.py: it tells where a start's time goes, it does not track the code.
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import folder  # noqa: E402
from media import MediaCache  # noqa: E402

# The child: hooks first, then `mediaflow run` as the console script runs it. LOG names the file every process
# appends its marks to (one short write each, so lines of processes never interleave).
_HOOKED_RUN = r'''
import importlib.abc, importlib.machinery, os, sys, threading, time

LOG = os.environ["MEDIAFLOW_TIMELINE"]
STARTED = time.monotonic()
WRITE = os.write  # the decode ahead's hook wraps os.write; the marks use the real one


def mark(what):
    line = f"{(time.monotonic() - STARTED) * 1000:.1f} {os.getpid()} {what}\n".encode()
    descriptor = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        WRITE(descriptor, line)
    finally:
        os.close(descriptor)


def around(owner, name, label):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        mark(f"{label}>")
        try:
            return original(*args, **kwargs)
        finally:
            mark(f"{label}<")
    setattr(owner, name, timed)


def on_decode_ahead(module):
    decode_slots = module._decode_slots

    def decoding(buffer, slots, signals):
        mark("ahead begins")

        def signalled(descriptor, data):  # the decoding process writes only its signals
            done = WRITE(descriptor, data)
            mark("ahead decoded one")
            return done
        os.write = signalled
        decode_slots(buffer, slots, signals)
    module._decode_slots = decoding


def on_early(module):
    around(module, "_zygote_main", "zygote")
    load = module.load_modules

    def loading(names):
        load(names)
        mark("zygote loaded")
    module.load_modules = loading


def on_workerpool(module):
    around(module, "_worker_main", "worker")
    around(module, "_run_in_worker", "task")
    send = module.WorkerPool.run
    sent = []

    def run(self, payload, timeout=None):
        if len(sent) < 4:
            sent.append(1)
            mark("command sends a task")
        return send(self, payload, timeout)
    module.WorkerPool.run = run


HOOKS = {"mediaflow.workers.decode_ahead": on_decode_ahead, "mediaflow.embedded.early": on_early,
         "mediaflow.embedded.workerpool": on_workerpool}


class Hooks(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in HOOKS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            HOOKS[name](module)
        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Hooks())
exit_now = os._exit
command = os.getpid()


def leaving(code):
    if os.getpid() == command:
        mark("command exits")
    exit_now(code)


os._exit = leaving
mark("command starts")
sys.argv = ["mediaflow", *sys.argv[1:]]
from mediaflow.cli import main
main()
'''


def one_run(fmt: str, photos: Path, work: Path) -> list[tuple[float, int, str]]:
    """The marks of one run: (milliseconds, pid, what), in time order."""
    log, out, data = work / "timeline.log", work / "out", work / "data"
    for path in (out, data):
        subprocess.run(["rm", "-rf", str(path)], check=True)
    log.unlink(missing_ok=True)
    out.mkdir(parents=True)
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(data), "MEDIAFLOW_TIMELINE": str(log)}
    done = subprocess.run([sys.executable, "-c", _HOOKED_RUN, "run", str(folder.WORKFLOWS / f"folder-{fmt}.json"),
                           str(photos), "--out", str(out), "--json"], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mediaflow run failed ({done.returncode}): {done.stderr[-2000:]}")
    marks = []
    for line in log.read_text().splitlines():
        at, pid, what = line.split(" ", 2)
        marks.append((float(at), int(pid), what))
    return sorted(marks)


def summary(marks: list[tuple[float, int, str]]) -> dict[str, object]:
    """The steps of one run and each worker's idle time between two of its Tasks."""
    def first(what: str) -> float | None:
        return next((at for at, _, said in marks if said == what), None)

    by_worker: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for at, pid, what in marks:
        if what in ("task>", "task<"):
            by_worker[pid].append((at, what))
    idle = {pid: round(sum(later[0] - earlier[0] for earlier, later in itertools.pairwise(steps)
                           if earlier[1] == "task<" and later[1] == "task>"), 1)
            for pid, steps in by_worker.items()}
    decoded = [at for at, _, what in marks if what == "ahead decoded one"]
    return {
        "decode ahead begins": first("ahead begins"), "decodes ahead done": decoded,
        "zygote forks": first("zygote>"), "zygote loaded": [at for at, _, what in marks if what == "zygote loaded"],
        "workers up": [at for at, _, what in marks if what == "worker>"],
        "command sends its first tasks": [at for at, _, what in marks if what == "command sends a task"][:2],
        "first tasks start": sorted(steps[0][0] for steps in by_worker.values()),
        "idle between tasks, ms by worker": sorted(idle.values()),
        "last task ends": max((steps[-1][0] for steps in by_worker.values()), default=None),
        "each worker's last task ends": sorted(steps[-1][0] for steps in by_worker.values()),
        "tasks by worker": sorted(sum(1 for _, what in steps if what == "task<") for steps in by_worker.values()),
        "command exits": first("command exits"),
    }


def main() -> None:
    fmt = sys.argv[1] if len(sys.argv) > 1 else "jpeg"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    (BENCH / "work").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="timeline-", dir=BENCH / "work") as scratch:
        work = Path(scratch)  # beside the media cache: the photos are hard links to it
        photos = folder.folder_of_photos(MediaCache(BENCH / "work" / "media"), 24, work / "photos")
        starts: list[float] = []
        for round_ in range(1, rounds + 1):
            steps = summary(one_run(fmt, photos, work))
            print(f"run {round_} (ms from the command's start)")
            for name, value in steps.items():
                print(f"  {name}: {value}")
            if steps["first tasks start"]:
                starts.append(min(steps["first tasks start"]))  # type: ignore[arg-type]
        if starts:
            print(f"first Task starts, median of {len(starts)}: {statistics.median(starts):.1f} ms")


if __name__ == "__main__":
    main()
