"""The Pillow side of bench/folder.py: the loop a Python user writes (open, thumbnail, save), one process.

    python bench/peers/pillow_folder.py IN_DIR OUT_DIR jpeg|webp QUALITY METHOD

Prints JSON: wall seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PIL import Image


def main() -> int:
    in_dir, out_dir, fmt, quality, method = sys.argv[1:6]
    started = time.perf_counter()
    files = sorted(Path(in_dir).glob("*.jpg"))
    for source in files:
        with Image.open(source) as image:
            image.thumbnail((1600, 1600))
            if fmt == "webp":
                image.save(Path(out_dir) / f"{source.stem}.webp", quality=int(quality), method=int(method))
            else:
                image.save(Path(out_dir) / f"{source.stem}.jpg", quality=int(quality))
    settings = ({"quality": int(quality), "method": int(method)} if fmt == "webp"
                else {"quality": int(quality), "optimize": False})
    sys.stdout.write(json.dumps({"wall": time.perf_counter() - started, "files": len(files),
                                 "settings": settings}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
