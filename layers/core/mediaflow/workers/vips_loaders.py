"""libvips' own loader for each format the sniffer names.

``pyvips.Image.new_from_file`` asks libvips to find the loader, which opens the file once per loader it tries
(up to ten opens and reads) before the one that decodes; the sniffer has already named the format from the
file's first bytes, so a Task opens it with that format's loader at once where the format has one. The loader
still judges the file: one that is not what its first bytes say fails there, with libvips' own message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyvips

# The formats whose first bytes libvips' own test reads as the sniffer does, with one loader each. Not JPEG:
# the finder gives an UltraHDR photo to ``uhdrload``, which attaches its gain map (``jpegload`` decodes the same
# pixels without it). Not AVIF: the finder takes still AVIF files only (their brands), the loader opens image
# sequences too, which the rest of the path sends to Pillow when the finder refuses them.
LOADERS = {"png": "pngload", "webp": "webpload", "gif": "gifload", "tiff": "tiffload"}


def load(path: Path, sniffed_format: str, **options: Any) -> Any:
    """The libvips image of the file at ``path``, opened by the loader of ``sniffed_format`` (libvips finds
    one for any other format)."""
    loader = LOADERS.get(sniffed_format)
    if loader is None:
        return pyvips.Image.new_from_file(str(path), **options)
    return pyvips.Operation.call(loader, str(path), **options)
