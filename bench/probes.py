"""Functions the benchmark submits to the embedded runtime's own worker processes.

They run in the same processes that execute the workflow Tasks (same imports, same libvips settings),
so a "bare" measurement and a workflow measurement share one warm worker.
"""

from __future__ import annotations

import os
import time
from typing import Any


def _configure() -> None:
    """Apply the worker's libvips settings (the worker does the same before every Task)."""
    from mediaflow.embedded.workerpool import _WORKER
    from mediaflow.workers.image import configure_vips

    env = _WORKER.get("env")
    if env is not None:
        configure_vips(env.settings)


def worker_info(hold_seconds: float = 0.0) -> dict[str, Any]:
    """This worker's pid and libvips thread count; ``hold_seconds`` keeps it busy so others get probed."""
    import pyvips

    _configure()
    if hold_seconds:
        time.sleep(hold_seconds)
    return {"pid": os.getpid(), "vips_concurrency": int(pyvips.concurrency_get())}


def bare_resize_webp(source: str, target: str, width: int, height: int, quality: int) -> float:
    """The decoder and libvips calls a resize-inside + strip + WebP Task needs, and nothing else; seconds
    taken. The decode is the engine's: a JPEG at the DCT scale covering the size (through libjpeg-turbo's
    library where it is loaded in this worker, as in the Tasks), else ``thumbnail``."""
    from pathlib import Path

    import pyvips
    from mediaflow.workers import jpeg_scaled

    _configure()
    started = time.perf_counter()
    header = pyvips.Image.new_from_file(source, access="sequential", fail_on="error")
    image = jpeg_scaled.decode(Path(source), header, (width, height)) if source.endswith(".jpg") else None
    if image is not None:
        image = image.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
    else:
        image = pyvips.Image.thumbnail(source, width, height=height, size="force", fail_on="error")
    image.webpsave(target, Q=quality, effort=3, lossless=False, keep=int(pyvips.enums.ForeignKeep.NONE))
    return time.perf_counter() - started


def bare_one_decode_two_encodes(source: str, target_stem: str, width: int, height: int, shrink: int = 1) -> float:
    """p1's work done once: decode + resize once, then the WebP q80 and the JPEG q82; seconds taken.

    ``shrink`` > 1 decodes the JPEG at 1/shrink scale first (libjpeg DCT scaling, like Pillow's draft).
    """
    import pyvips

    _configure()
    started = time.perf_counter()
    if shrink > 1:
        loaded = pyvips.Image.new_from_file(source, access="sequential", shrink=shrink, fail_on="error")
        image = loaded.resize(width / loaded.width, vscale=height / loaded.height, kernel="lanczos3")
    else:
        image = pyvips.Image.thumbnail(source, width, height=height, size="force", fail_on="error")
    image = image.copy_memory()
    image.webpsave(f"{target_stem}.webp", Q=80, effort=3, keep=int(pyvips.enums.ForeignKeep.NONE))
    image.jpegsave(f"{target_stem}.jpg", Q=82, optimize_coding=True, keep=int(pyvips.enums.ForeignKeep.NONE))
    return time.perf_counter() - started
