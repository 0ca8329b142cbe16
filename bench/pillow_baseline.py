"""The baseline of p1: a plain Pillow thumbnail script.

For each input: ``Image.open``, ``thumbnail((1600, 1600))``, save a WebP (quality 80) and a JPEG
(quality 82). ``--draft`` adds ``draft("RGB", (1600, 1600))`` before the thumbnail (JPEG DCT scaling),
which the benchmark reports as a separate figure. Prints JSON: the seconds of each image, the loop's
wall and CPU seconds and its start and end (epoch seconds) so that parallel copies can be combined.

    .venv/bin/python bench/pillow_baseline.py IMAGE [IMAGE ...] --out DIR [--draft]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from PIL import Image

SIZE = (1600, 1600)


def convert(source: Path, out_dir: Path, index: int, *, draft: bool) -> tuple[int, int]:
    with Image.open(source) as image:
        if draft:
            image.draft("RGB", SIZE)
        image.thumbnail(SIZE)
        image.save(out_dir / f"{index:04d}-{source.stem}.webp", quality=80)
        image.save(out_dir / f"{index:04d}-{source.stem}.jpg", quality=82)
        return image.size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--draft", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seconds: list[float] = []
    sizes: list[tuple[int, int]] = []
    started_at, cpu_started, loop_started = time.time(), time.process_time(), time.perf_counter()
    for index, source in enumerate(args.inputs):
        started = time.perf_counter()
        sizes.append(convert(source, args.out, index, draft=args.draft))
        seconds.append(time.perf_counter() - started)
    wall = time.perf_counter() - loop_started
    sys.stdout.write(json.dumps({
        "seconds": seconds, "wall": wall, "cpu": time.process_time() - cpu_started,
        "start": started_at, "end": started_at + wall, "sizes": sizes,
    }) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
