"""A model of two workers against one: the engine-free floor with an engine's costs burnt into it.

    python bench/scaling_model.py [ROUNDS] [S,KW,KC ...]

Runs ``peers/floor_folder.py`` (JPEG, the folder benchmark's 24 photos) with one process and with two,
interleaved, for each cost triple: S ms of CPU burnt before the first image (a start over the floor's: the
interpreter's and the imports the floor does not make), KW ms after each image in the process that made it
(the workers' per-Task cost), and KC ms for each finished image in a third process (the command's per-file
cost, on whichever core is free). Prints each triple's median walls and one against two. The model burns
CPU only: it leaves out what the engine costs beyond it (thread hand-overs that preempt a worker, the cache
refilled after each), so mediaflow reads under the model at its own measured costs. Not a figure of
bench/run.py: it bounds a target, it does not track the code.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import folder  # noqa: E402
from media import MediaCache  # noqa: E402

DEFAULT_COSTS = ("0,0,0", "70,4.5,3.3", "70,0,0", "0,4.5,3.3", "35,2.25,1.65", "0,2.25,1.65")

# The child: floor_folder.py's main with the costs burnt in (COSTS="S,KW,KC", in ms).
_MODELLED_FLOOR = r'''
import os, sys, time
sys.path.insert(0, sys.argv.pop(1))
import floor_folder

def burn(ms):
    end = time.process_time() + ms / 1000
    while time.process_time() < end:
        pass

start, per_task, per_file = (float(x) for x in os.environ["COSTS"].split(","))
finished = None
plain_work = floor_folder._work

def work(*args):
    import pyvips
    save = pyvips.Image.jpegsave
    def save_and_burn(self, *a, **k):
        result = save(self, *a, **k)
        burn(per_task)
        if finished is not None:
            os.write(finished, b"x")
        return result
    pyvips.Image.jpegsave = save_and_burn
    plain_work(*args)

floor_folder._work = work
burn(start)
if per_file > 0:
    notices, finished = os.pipe()
    command = os.fork()
    if command == 0:
        os.close(finished)
        while os.read(notices, 1):
            burn(per_file)
        os._exit(0)
    os.close(notices)
code = floor_folder.main()
if finished is not None:
    os.close(finished)
    os.waitpid(command, 0)
sys.exit(code)
'''


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    costs = sys.argv[2:] or list(DEFAULT_COSTS)
    work = BENCH / "work" / "scaling-model"
    photos = folder.folder_of_photos(MediaCache(BENCH / "work" / "media"), 24, work / "photos")
    walls: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for cost in costs:
            for processes in (1, 2):
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                started = time.perf_counter()
                subprocess.run([sys.executable, "-c", _MODELLED_FLOOR, str(BENCH / "peers"), str(photos), str(out),
                                "jpeg", str(folder.SETTINGS["jpeg"]["quality"]), "0", str(processes)],
                               env={**os.environ, "COSTS": cost}, check=True, capture_output=True)
                walls.setdefault((cost, processes), []).append(time.perf_counter() - started)
    for cost in costs:
        one, two = statistics.median(walls[(cost, 1)]), statistics.median(walls[(cost, 2)])
        print(f"S,KW,KC = {cost:14s} one process {one:.3f} s  two {two:.3f} s  one against two {one / two:.3f}x")


if __name__ == "__main__":
    main()
