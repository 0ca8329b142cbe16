"""The engine-free floor of bench/folder.py: the calls a mediaflow worker makes for this job, and nothing else.

    python bench/peers/floor_folder.py IN_DIR OUT_DIR jpeg|webp QUALITY EFFORT PROCESSES

One process per core, forked at once; each imports pyvips and loads libjpeg-turbo's TurboJPEG library
(through ctypes, as ``workers/jpeg_scaled.py`` does), then takes the next file from a
shared pipe (as mediaflow hands the next file to whichever worker is free) until none is left: it decodes
at the smallest DCT scale of 1/8, 1/4, 3/8 and 1/2 whose decode covers the target (as ``workers/jpeg_scaled.py``
does), makes one Lanczos3 reduce to the longest side of 1600 px and saves with the settings the folder workflows give
mediaflow's encoder, no metadata. No run records, no store, no engine: the wall of this script is how fast
a Python program built on these calls can do the job at best, start-up included, so `mediaflow run`'s wall
over it is the engine's whole cost. Prints JSON: wall seconds and the settings used.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import sys
import time
from pathlib import Path

LONGEST_SIDE = 1600


def _turbojpeg() -> tuple[ctypes.CDLL, ctypes.CDLL, int]:
    turbo, libc = ctypes.CDLL("libturbojpeg.so.0"), ctypes.CDLL(None)
    pointer, integer, out = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)
    turbo.tjInitDecompress.restype = pointer
    turbo.tjDecompressHeader3.argtypes = [pointer, pointer, ctypes.c_ulong, out, out, out, out]
    turbo.tjDecompress2.argtypes = [pointer, pointer, ctypes.c_ulong, pointer, integer, integer, integer, integer,
                                    integer]
    libc.malloc.restype = pointer
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [pointer]
    return turbo, libc, turbo.tjInitDecompress()


def _work(files: list[str], queue: int, out_dir: str, fmt: str, quality: int, effort: int) -> None:
    import weakref

    import pyvips

    turbo, libc, handle = _turbojpeg()
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)  # as mediaflow's workers: one libvips thread each, one worker per core
    # Every index is in the pipe before any process reads, so each 4-byte read takes one whole index.
    while index := os.read(queue, 4):
        name = files[int.from_bytes(index, "big")]
        with Path(name).open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY) as data:
            source = ctypes.c_char.from_buffer(data)
            sides = [ctypes.c_int() for _ in range(4)]
            turbo.tjDecompressHeader3(handle, ctypes.addressof(source), len(data), *map(ctypes.byref, sides))
            width, height = sides[0].value, sides[1].value
            scale = min(LONGEST_SIDE / width, LONGEST_SIDE / height)
            target = (round(width * scale), round(height * scale))
            eighths = next((m for m in (1, 2, 3, 4) if width * m // 8 >= target[0] and height * m // 8 >= target[1]),
                           8)
            decoded = (-(-width * eighths // 8), -(-height * eighths // 8))
            address = libc.malloc(decoded[0] * decoded[1] * 3)
            pixels = (ctypes.c_char * (decoded[0] * decoded[1] * 3)).from_address(address)
            weakref.finalize(pixels, libc.free, address)
            if turbo.tjDecompress2(handle, ctypes.addressof(source), len(data), address, decoded[0], 0, decoded[1],
                                   0, 0) != 0:
                raise RuntimeError(f"libjpeg-turbo could not decode {name}")
            del source
        image = pyvips.Image.new_from_memory(pixels, decoded[0], decoded[1], 3, "uchar")
        image = image.crop(0, 0, width * eighths // 8, height * eighths // 8)
        image = image.resize(target[0] / image.width, vscale=target[1] / image.height, kernel="lanczos3")
        stem = Path(out_dir) / Path(name).stem
        if fmt == "webp":
            image.webpsave(f"{stem}.webp", Q=quality, effort=effort, keep="none")
        else:
            image.jpegsave(f"{stem}.jpg", Q=quality, optimize_coding=True, keep="none")
        # A worker's Task lets its decode go before the next Task decodes; held here until the next malloc,
        # the allocator maps 18 MB afresh for each image (about 2,000 more page faults an image, 3 % of the wall).
        del image, pixels


def main() -> int:
    in_dir, out_dir, fmt, quality, effort, processes = sys.argv[1:7]
    started = time.perf_counter()
    files = sorted(str(p) for p in Path(in_dir).glob("*.jpg"))
    queue, feed = os.pipe()  # the indices of a folder of up to 16k files fit in the pipe's buffer
    os.write(feed, b"".join(index.to_bytes(4, "big") for index in range(len(files))))
    os.close(feed)
    children = []
    for _ in range(int(processes)):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _work(files, queue, out_dir, fmt, int(quality), int(effort))
            except BaseException as error:  # the parent reports a failed share by its exit status
                sys.stderr.write(f"{error!r}\n")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    failed = sum(1 for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0)
    settings = ({"Q": int(quality), "effort": int(effort), "metadata": "none"} if fmt == "webp"
                else {"Q": int(quality), "optimize_coding": True, "metadata": "none"})
    sys.stdout.write(json.dumps({"wall": time.perf_counter() - started, "files": len(files),
                                 "settings": settings}) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
