"""libvips' own loader for each format the sniffer names.

``pyvips.Image.new_from_file`` asks libvips to find the loader, which opens the file once per loader it tries
(ten opens and reads for a JPEG) before the one that decodes; the sniffer has already named the format from
the file's first bytes, so a Task opens it with that format's loader at once. The loader still judges the
file: one that is not what its first bytes say fails there, with libvips' own message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyvips

# The formats whose first bytes libvips' own test reads as the sniffer does. Not AVIF: libvips' finder takes
# still AVIF files only (its brands), its loader opens image sequences too, which the rest of the path sends
# to Pillow when the finder refuses them.
LOADERS = {"jpeg": "jpegload", "png": "pngload", "webp": "webpload", "gif": "gifload", "tiff": "tiffload"}


def load(path: Path, sniffed_format: str, **options: Any) -> Any:
    """The libvips image of the file at ``path``, opened by the loader of ``sniffed_format`` (libvips finds
    one for any other format)."""
    loader = LOADERS.get(sniffed_format)
    if loader is None:
        return pyvips.Image.new_from_file(str(path), **options)
    return pyvips.Operation.call(loader, str(path), **options)
