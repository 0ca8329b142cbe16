"""The floor of bench/folder.py: bare pyvips, the fewest calls for the job, one process per core.

    python bench/peers/vips_folder.py IN_DIR OUT_DIR jpeg|webp QUALITY EFFORT PROCESSES

Each process takes every PROCESSES-th file: ``thumbnail`` (shrink-on-load) then one save (JPEG with
optimised Huffman tables, as sharp and mediaflow write them). Prints JSON: wall
seconds and the CPU seconds of the workers.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _work(files: list[str], out_dir: str, fmt: str, quality: int, effort: int) -> float:
    import pyvips

    pyvips.cache_set_max(0)
    cpu = time.process_time()
    for name in files:
        image = pyvips.Image.thumbnail(name, 1600, height=1600)
        stem = Path(out_dir) / Path(name).stem
        if fmt == "webp":
            image.webpsave(f"{stem}.webp", Q=quality, effort=effort)
        else:
            image.jpegsave(f"{stem}.jpg", Q=quality, optimize_coding=True)
    return time.process_time() - cpu


def main() -> int:
    in_dir, out_dir, fmt, quality, effort, processes = sys.argv[1:7]
    started = time.perf_counter()
    files = [str(p) for p in sorted(Path(in_dir).glob("*.jpg"))]
    count = int(processes)
    with ProcessPoolExecutor(count) as pool:
        cpu = sum(pool.map(_work, [files[i::count] for i in range(count)], [out_dir] * count, [fmt] * count,
                           [int(quality)] * count, [int(effort)] * count))
    settings = {"Q": int(quality), "effort": int(effort)} if fmt == "webp" else {"Q": int(quality),
                                                                                "optimize_coding": True}
    sys.stdout.write(json.dumps({"wall": time.perf_counter() - started, "files": len(files), "cpu": cpu,
                                 "settings": settings}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
