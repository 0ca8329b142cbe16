"""What an image op works on: the pipeline state, the encode plan and the libvips helpers the ops share.

Node modules of the ``vips`` runtime import this module (and :mod:`mediaflow.execution.contract`), not the
worker: :mod:`mediaflow.workers.image` drives the chain, the ops edit the state it hands them.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mediaflow.sniff import CONTENT_TYPES, EXTENSIONS, Sniffed

if TYPE_CHECKING:
    from mediaflow.execution.contract import TaskEnvironment
    from mediaflow.media import MediaRef

OutputFormat = Literal["jpeg", "png", "webp", "avif", "gif", "tiff"]


@dataclass
class PdfPlan:
    page_size: Literal["image", "a4", "letter"] = "image"
    dpi: int = 300
    title: str | None = None


@dataclass
class EncodePlan:
    """How the single encode at the end of the chain writes the image."""

    format: OutputFormat
    quality: int | None = None
    lossless: bool = False
    effort: int | None = None
    palette: bool = False
    strip: bool = False
    keep_icc: bool = False
    keep_orientation: bool = False
    pdf: PdfPlan | None = None

    @property
    def extension(self) -> str:
        return "pdf" if self.pdf else EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES["pdf"] if self.pdf else CONTENT_TYPES[self.format]


@dataclass
class SourceInfo:
    """What the header of the source said (before any op)."""

    sniffed: Sniffed
    path: Path
    size: int
    width: int
    height: int
    bands: int
    has_alpha: bool
    orientation: int
    icc_profile: bool
    pages: int
    header: Any = field(default=None, repr=False, compare=False)
    """The lazy libvips image of the header, when libvips read it."""

    @cached_property
    def exif(self) -> dict[str, str]:
        """The header's EXIF fields as text (read when asked: only ``inspect`` reports them)."""
        return exif_fields(self.header) if self.header is not None else {}

    @property
    def rotated(self) -> bool:
        return self.orientation in (5, 6, 7, 8)

    def display_size(self, autorotate: bool) -> tuple[int, int]:
        if autorotate and self.rotated:
            return self.height, self.width
        return self.width, self.height


@dataclass
class ImagePipelineState:
    """The pipeline as the ops see it: the current lazy image and the encode plan."""

    image: Any  # pyvips.Image (pyvips ships no type information)
    source: SourceInfo
    encode: EncodePlan
    env: TaskEnvironment
    workdir: Path
    media: MediaRef
    tenant: str
    run_id: str
    extra_outputs: list[tuple[str, bytes, str]] = field(default_factory=list)
    # Set while an op runs once per frame of an animation: each overlay is decoded once, not per frame.
    overlays: dict[tuple[str, int], Any] | None = None

    def load_overlay(self, key: str, width: int, node_id: str) -> Any:
        """Download and decode an auxiliary image (a watermark) at about ``width`` pixels wide."""
        from mediaflow.workers.image import load_auxiliary

        if self.overlays is None:
            return load_auxiliary(self, key, width, node_id)
        if (key, width) not in self.overlays:
            self.overlays[(key, width)] = load_auxiliary(self, key, width, node_id).copy_memory()
        return self.overlays[(key, width)]


# Pixel helpers shared by the ops

def split_alpha(image: Any) -> tuple[Any, Any | None]:
    """``(colour bands, alpha band or None)``."""
    if image.hasalpha():
        return image.extract_band(0, n=image.bands - 1), image.extract_band(image.bands - 1)
    return image, None


def join_alpha(colour: Any, alpha: Any | None) -> Any:
    return colour if alpha is None else colour.bandjoin(alpha)


def to_uchar(image: Any) -> Any:
    return image if image.format == "uchar" else image.cast("uchar")


def parse_colour(value: str) -> tuple[int, int, int, int]:
    """``#rrggbb`` or ``#rrggbbaa`` as RGBA ints."""
    digits = value.lstrip("#")
    rgba = [int(digits[i:i + 2], 16) for i in range(0, len(digits), 2)]
    if len(rgba) == 3:
        rgba.append(255)
    return rgba[0], rgba[1], rgba[2], rgba[3]


def stripped_with_metadata(field: str) -> bool:
    """Whether an encode that strips metadata drops this header field: the EXIF block and its fields, XMP and
    IPTC (orientation, ICC profile and resolution stay: the decode and the encode use them)."""
    return field.startswith("exif-") or field in ("xmp-data", "iptc-data")


def int_field(image: Any, name: str, default: int) -> int:
    """An integer header field of a libvips image (``orientation``, ``n-pages``, ...), or ``default``."""
    import pyvips  # here, not at the top: node modules import this one where no libvips is installed

    if image.get_typeof(name) == 0:
        return default
    try:
        return int(image.get(name))
    except (pyvips.Error, TypeError, ValueError):
        return default


def resample(image: Any, width: int, height: int) -> Any:
    """Scale to exactly ``width`` x ``height`` (Lanczos3, alpha premultiplied)."""
    if (image.width, image.height) == (width, height):
        return image
    hscale = width / image.width
    vscale = height / image.height
    if image.hasalpha():
        scaled = image.premultiply().resize(hscale, vscale=vscale, kernel="lanczos3").unpremultiply()
    else:
        scaled = image.resize(hscale, vscale=vscale, kernel="lanczos3")
    if (scaled.width, scaled.height) != (width, height):
        scaled = scaled.embed(0, 0, width, height, extend="copy").crop(0, 0, width, height)
    return to_uchar(scaled).copy(interpretation=image.interpretation)


def crop_to(image: Any, width: int, height: int, gravity: str) -> Any:
    """Crop to ``width`` x ``height`` around a gravity (or the attention/entropy region)."""
    width, height = min(width, image.width), min(height, image.height)
    if (width, height) == (image.width, image.height):
        return image
    if gravity in ("attention", "entropy"):
        from mediaflow.workers.animation import smart_crop

        return smart_crop(image, width, height, gravity)
    left, top = gravity_offset(gravity, image.width - width, image.height - height)
    return image.crop(left, top, width, height)


def gravity_offset(gravity: str, free_x: int, free_y: int) -> tuple[int, int]:
    """Top-left offset of a box placed by ``gravity`` in ``free_x`` x ``free_y`` of free space."""
    x, y = free_x // 2, free_y // 2
    if gravity.startswith("north"):
        y = 0
    elif gravity.startswith("south"):
        y = free_y
    if gravity.endswith("west"):
        x = 0
    elif gravity.endswith("east"):
        x = free_x
    return max(0, x), max(0, y)


def report_json(report: dict[str, Any]) -> bytes:
    """Stable JSON bytes for reports (sorted keys, so outputs stay byte-identical)."""
    return json.dumps(report, sort_keys=True, separators=(",", ":")).encode()


def exif_fields(image: Any, limit: int = 200) -> dict[str, str]:
    """The EXIF fields of a libvips image header (``exif-ifd*``), values without libvips' type suffix."""
    import pyvips

    fields: dict[str, str] = {}
    for name in image.get_fields():
        if name.startswith("exif-ifd") and len(fields) < limit:
            with contextlib.suppress(pyvips.Error, UnicodeDecodeError):
                value = image.get(name)
                if isinstance(value, str):
                    # libvips appends "(text, type, count, bytes)"; the report keeps the value only.
                    fields[name.removeprefix("exif-")] = value.split(" (", 1)[0][:256]
    return fields
