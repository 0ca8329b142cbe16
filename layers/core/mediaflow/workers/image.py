"""The image worker (runtime ``vips``): one decode, one libvips pipeline, one encode per task.

A compiled Task sends a fused chain of image ops. The worker downloads the media into a private
scratch folder, sniffs it from its magic bytes, reads the header and refuses too many pixels before
any pixel is decoded, then builds one lazy libvips pipeline: decode (with shrink-on-load when the
first geometric op is a downscale), auto-rotate by EXIF, import to sRGB, every op in order, and a
single encode whose format, quality and kept metadata were decided by the ops. The result is
uploaded under ``{tenant}/runs/{runId}/{nodeId of the last op}/{filename}``.

Per-op interface
----------------
Every image kind's module in :mod:`mediaflow.nodes` defines, next to its ``Config``::

    def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any] | None

``apply`` replaces ``state.image`` with a new (lazy) pyvips image and/or edits ``state.encode``
(the :class:`EncodePlan`); it must not evaluate pixels unless the op needs them (smart crop does).
It returns a small JSON-ready dict that becomes the op's ``OpOutcome.output``. Kinds that can start
a chain with a downscale (``resize``, ``thumbnail``) also define::

    def load_size(config: Config, width: int, height: int) -> tuple[int, int] | None

which, given the displayed size of the source, returns the exact size the op will scale the image to
before any crop or padding, or ``None`` when the op does not shrink. The worker then decodes straight
to that size (JPEG/WebP/HEIF shrink-on-load through ``pyvips.Image.thumbnail``) and the op finds the
image already scaled. The annotation kinds (``rename``, ``transform``) define
``apply(media: MediaRef, config, ctx) -> MediaRef``; the worker runs them, in chain order, on the
output reference after the encode, so ``{ext}`` and ``{format}`` name the encoded file.

Decisions written down here because they span ops:

* Pixels leave the decode step as 8-bit sRGB (or 8-bit grey), alpha kept. 16-bit input is reduced.
* Animated GIF, WebP and AVIF keep every frame, their delays and loop count (one tall image of stacked
  frames; pixel ops run per frame; one-picture kinds and still formats take the first frame): see
  :mod:`mediaflow.workers.animation`. Multi-page TIFF contributes its first page only.
* BMP and HEIC are decoded by Pillow (pillow-heif) after the same pixel check; BMP output is PNG and
  HEIC output is JPEG unless a ``convert`` says otherwise (libvips here cannot write either).
* TIFF and AVIF files that libvips refuses although they are valid (CIELab, 12-bit, old-style JPEG,
  tiled with separate planes, AVIF sequences) are decoded by Pillow instead, restricted to the sniffed
  format's plugin, after the same pixel check (:mod:`mediaflow.workers.pillow_fallback`). Float samples
  are mapped onto 0..255 by their range. Every decode failure is a named ``MediaDecodeError``.
* Without ``strip_metadata`` the output keeps the input's metadata (orientation reset to 1 after the
  pixels were rotated, the ICC profile replaced by sRGB). With it (or ``compress`` with
  ``stripMetadata`` or ``thumbnail``) nothing is kept but what the op asks for.
"""

from __future__ import annotations

import re
import time
from copy import deepcopy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyvips

from mediaflow.catalog import annotation_kinds, get_spec, kinds_for, node_module
from mediaflow.errors import (
    EmptyMedia,
    MediaDecodeError,
    MediaflowError,
    NodeError,
    ToolchainError,
    UnsupportedMedia,
)
from mediaflow.execution.contract import ChainResult, Op, OpContext, OpOutcome, TaskEnvironment, TaskPayload
from mediaflow.execution.tasks import input_file, output_prefix, parse_op, scratch_dir
from mediaflow.filenames import clean_component, original_stem
from mediaflow.media import MediaRef
from mediaflow.settings import Settings
from mediaflow.sniff import Sniffed, sniff_file
from mediaflow.workers import animation, jpeg_scaled, pillow_fallback, vips_loaders
from mediaflow.workers.image_state import (
    EncodePlan,
    ImagePipelineState,
    OutputFormat,
    PdfPlan,
    SourceInfo,
    int_field,
    resample,
    stripped_with_metadata,
    to_uchar,
)
from mediaflow.workers.turbojpeg import covering_shrink

if TYPE_CHECKING:
    from mediaflow.nodes.base import Annotation, ImageOp, NodeConfig, Reports, ShrinkOnLoad, StripsMetadata

# Fan-out tasks keep the shared decode in memory up to this size (above it each branch decodes again).
SHARED_DECODE_MAX_PIXELS = 40_000_000
# pdf_preview runs alone (workers/document.py renders pages); every other vips kind joins the pipeline.
STANDALONE_KINDS = frozenset({"pdf_preview"})


def pipeline_kinds() -> frozenset[str]:
    """The kinds whose ``apply`` edits the libvips pipeline (from the catalog)."""
    return kinds_for("vips") - STANDALONE_KINDS

# Loaders libvips may use on untrusted input; every other loader class stays blocked.
ALLOWED_LOADERS = ("VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp", "VipsForeignLoadHeif",
                   "VipsForeignLoadNsgif", "VipsForeignLoadTiff")
VIPS_FORMATS = frozenset({"jpeg", "png", "webp", "avif", "gif", "tiff"})
PILLOW_FORMATS = frozenset({"bmp", "heic"})
DEFAULT_OUTPUT: dict[str, OutputFormat] = {"jpeg": "jpeg", "png": "png", "webp": "webp", "avif": "avif",
                                           "gif": "gif", "tiff": "tiff", "bmp": "png", "heic": "jpeg"}
DEFAULT_QUALITY: dict[str, int] = {"jpeg": 82, "webp": 80, "avif": 60, "tiff": 85, "png": 90, "gif": 90}
LOAD_OPTIONS: dict[str, Any] = {"fail_on": "error"}
OPTIMIZE_CODING_MAX_PIXELS = 24_000_000
# libvips reports failures as text; these words mark a problem with the input rather than the encoder.
_DECODE_FAILURE = re.compile(r"load|premature|corrupt|truncat|invalid|\bread\b|out of order|decode|"
                             r"gifload|tiff2vips", re.IGNORECASE)


@dataclass
class _Step:
    node_id: str
    kind: str
    config: NodeConfig
    ctx: OpContext


# --------------------------------------------------------------------------------------------------
# libvips process settings

_configured: tuple[int, int] | None = None


def configure_vips(settings: Settings) -> None:
    """Block untrusted loaders and set the cache and thread count (once per process and settings)."""
    global _configured
    wanted = (settings.vips_cache_mb, settings.vips_concurrency)
    if _configured == wanted:
        return
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in ALLOWED_LOADERS:
        pyvips.operation_block_set(loader, False)
    if settings.vips_cache_mb > 0:
        pyvips.cache_set_max(1000)
        pyvips.cache_set_max_mem(settings.vips_cache_mb * 1024 * 1024)
        pyvips.cache_set_max_files(100)
    else:
        pyvips.cache_set_max(0)
        pyvips.cache_set_max_mem(0)
        pyvips.cache_set_max_files(0)
    if settings.vips_concurrency > 0:
        pyvips.concurrency_set(settings.vips_concurrency)
    _configured = wanted


# --------------------------------------------------------------------------------------------------
# Pixel helpers shared by the ops

def to_srgb_8bit(image: Any, *, imported: bool = False) -> Any:
    """8-bit sRGB (or 8-bit grey), importing an embedded ICC profile when there is one."""
    has_profile = image.get_typeof("icc-profile-data") != 0
    if has_profile and not imported and image.interpretation not in ("labs", "lab", "xyz"):
        try:
            image = image.icc_transform("srgb", embedded=True, intent="relative")
        except pyvips.Error:
            # An unusable profile: fall back to a plain colourspace conversion below.
            image = image.copy()
            image.remove("icc-profile-data")
    interpretation = image.interpretation
    if interpretation in ("b-w", "grey16"):
        return image.colourspace("b-w") if interpretation == "grey16" else to_uchar(image)
    if interpretation in ("srgb", "rgb") and image.format == "uchar":
        return image
    if interpretation in ("multiband", "matrix", "histogram", "fourier") and image.format == "uchar":
        if image.bands >= 3:
            return image.copy(interpretation="srgb")
        return image.copy(interpretation="b-w")
    try:
        return to_uchar(image.colourspace("srgb"))
    except pyvips.Error:
        return to_uchar(image).copy(interpretation="srgb" if image.bands >= 3 else "b-w")


def flatten(image: Any, background: tuple[int, int, int] = (255, 255, 255)) -> Any:
    """Drop alpha onto a solid background (for JPEG, PDF)."""
    if not image.hasalpha():
        return image
    colour = list(background) if image.bands > 2 else [background[0]]
    return to_uchar(image.flatten(background=colour))


# --------------------------------------------------------------------------------------------------
# Decoding

def read_header(path: Path, sniffed: Sniffed, node_id: str) -> tuple[SourceInfo, Any]:
    """Open the header only (no pixels) and describe it; returns the lazy libvips image when libvips decodes
    the file, None when Pillow does (BMP, HEIC, and the TIFF/AVIF files libvips refuses)."""
    size = path.stat().st_size
    if sniffed.format in VIPS_FORMATS:
        refusal = pillow_fallback.vips_refusal(path, sniffed.format)
        if refusal is None:
            try:
                image = vips_loaders.load(path, sniffed.format, access="sequential", **LOAD_OPTIONS)
            except pyvips.Error as error:
                if sniffed.format not in pillow_fallback.FALLBACK_FORMATS:
                    raise MediaDecodeError(f"cannot read the {sniffed.format} header: {_first_line(error)}",
                                           node_id=node_id) from error
                refusal = _first_line(error)
            else:
                info = SourceInfo(
                    sniffed=sniffed, path=path, size=size, width=image.width, height=image.height,
                    bands=image.bands, has_alpha=bool(image.hasalpha()),
                    orientation=int_field(image, "orientation", 1),
                    icc_profile=image.get_typeof("icc-profile-data") != 0, pages=int_field(image, "n-pages", 1),
                    header=image,
                )
                return info, image
        return _pillow_header(path, sniffed, size, node_id, refusal), None
    return _pillow_header(path, sniffed, size, node_id), None


def _pillow_header(path: Path, sniffed: Sniffed, size: int, node_id: str, libvips: str | None = None) -> SourceInfo:
    try:
        with pillow_fallback.opened(path, sniffed.format) as handle:
            exif = handle.getexif()
            return SourceInfo(
                sniffed=sniffed, path=path, size=size, width=handle.width, height=handle.height,
                bands=len(handle.getbands()), has_alpha="A" in handle.getbands(),
                orientation=int(exif.get(0x0112, 1)) if sniffed.format != "heic" else 1,
                icc_profile=bool(handle.info.get("icc_profile")), pages=int(getattr(handle, "n_frames", 1)),
            )
    except pillow_fallback.DECODE_ERRORS as error:
        raise pillow_fallback.decode_failure(sniffed.format, error, node_id, header=True,
                                             libvips=libvips) from error


def _pillow_decode(path: Path, sniffed: Sniffed, autorotate: bool) -> Any:
    from PIL import ImageOps

    try:
        with pillow_fallback.opened(path, sniffed.format) as handle:
            handle.load()
            bits = pillow_fallback.bits_per_sample(handle)
            picture = ImageOps.exif_transpose(handle) if autorotate else handle.copy()
            icc = handle.info.get("icc_profile")
            exif = handle.info.get("exif")
        image = pillow_fallback.to_vips(picture, bits)
    except pillow_fallback.DECODE_ERRORS as error:
        raise pillow_fallback.decode_failure(sniffed.format, error, None) from error
    if icc and not picture.mode.startswith(("LAB", "I", "F")):  # those pixels were converted above
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
    if exif and not autorotate:
        blob = exif if exif.startswith(b"Exif") else b"Exif\x00\x00" + exif
        image.set_type(pyvips.GValue.blob_type, "exif-data", blob)
    return image


def decode(header_image: Any, info: SourceInfo, size: tuple[int, int] | None, autorotate: bool, *,
           metadata: bool = True) -> Any:
    """The one pixel decode of a task: shrink-on-load to ``size`` when given, auto-rotate, sRGB. Without
    ``metadata`` (the encode drops it) a decode that copies the header's fields leaves EXIF, XMP and IPTC off."""
    sniffed = info.sniffed
    if animation.source_frames(info) > 1:
        return to_srgb_8bit(animation.load(info, header_image is None, autorotate))
    if header_image is not None:
        shrunk = _shrink_on_load(info, header_image, size, autorotate, metadata) if size is not None else None
        if shrunk is not None:
            image = shrunk
        elif size is not None:
            extra: dict[str, Any] = {"export_profile": "srgb"} if info.icc_profile else {}
            image = pyvips.Image.thumbnail(str(info.path), size[0], height=size[1], size="force",
                                           no_rotate=not autorotate, **extra, **LOAD_OPTIONS)
            if info.icc_profile:
                # thumbnail already imported the profile; keep its sRGB tag without a second transform.
                return to_srgb_8bit(image, imported=True)
        elif autorotate and info.orientation not in (1, 2):
            # Rotations and vertical flips read rows out of order, which a sequential decode refuses.
            image = vips_loaders.load(info.path, sniffed.format, access="random", **LOAD_OPTIONS).autorot()
        elif autorotate and info.orientation == 2:
            image = header_image.autorot()
        else:
            image = header_image
    else:
        image = _pillow_decode(info.path, sniffed, autorotate)
        if size is not None:
            image = resample(image, size[0], size[1])
    if autorotate and image.get_typeof("orientation") != 0:
        image = image.copy()
        image.remove("orientation")
    return to_srgb_8bit(pillow_fallback.display_range(image))


def load_shrink(sniffed_format: str, stored: tuple[int, int], target: tuple[int, int]) -> dict[str, Any]:
    """The loader option that decodes straight to the smallest scale still covering ``target`` (as sharp
    does): JPEG DCT scaling by 8, 4 or 2 (``turbojpeg.covering_shrink``; where libjpeg-turbo's own library
    decodes instead, ``jpeg_scaled`` may take 3/8, which libvips' loader lacks), WebP's scaled decode. Empty
    when the loader cannot shrink this image."""
    if sniffed_format == "jpeg":
        shrink = covering_shrink(stored, target)
        return {"shrink": shrink} if shrink > 1 else {}
    factor = min(stored[0] / target[0], stored[1] / target[1])
    if sniffed_format == "webp" and factor > 1:
        return {"scale": 1 / factor}
    return {}


def _shrink_on_load(info: SourceInfo, header_image: Any, size: tuple[int, int], autorotate: bool,
                    metadata: bool = True) -> Any | None:
    """JPEG and still WebP: decode at a reduced scale (``load_shrink``), then one Lanczos3 reduce to
    ``size`` (alpha premultiplied), auto-rotate on the small image, import the ICC profile. ``None`` for
    the other formats (``thumbnail`` shrinks those on load: HEIF/AVIF through their embedded thumbnail)."""
    if info.sniffed.format not in ("jpeg", "webp") or info.pages > 1:
        return None
    turned = autorotate and info.orientation >= 5
    target = (size[1], size[0]) if turned else size
    image = (jpeg_scaled.decode(info.path, header_image, target, metadata=metadata)
             if info.sniffed.format == "jpeg" else None)
    if image is None:
        options = load_shrink(info.sniffed.format, (info.width, info.height), target)
        image = vips_loaders.load(info.path, info.sniffed.format, access="sequential", **options, **LOAD_OPTIONS)
    image = resample(image, target[0], target[1])
    if autorotate and info.orientation not in (1, 2):
        # Rotations read rows out of order, which a sequential decode refuses; the image is small by now.
        image = image.copy_memory().autorot()
    elif autorotate and info.orientation == 2:
        image = image.autorot()
    return image


def _header_stand_in(header_image: Any, info: SourceInfo) -> Any:
    """A lazy image with the displayed geometry of the source, for ops that only read headers."""
    if header_image is not None:
        return header_image.autorot() if info.orientation != 1 else header_image
    width, height = info.display_size(True)
    return pyvips.Image.black(width, height, bands=info.bands)


def load_auxiliary(state: ImagePipelineState, key: str, width: int, node_id: str) -> Any:
    """Fetch another image from the tenant's storage with the same untrusted-input rules."""
    if ".." in key.split("/") or key.startswith("/") or "\x00" in key:
        raise NodeError(f"invalid image key {key!r}", node_id=node_id, field="imageKey")
    full_key = key if key.startswith(f"{state.tenant}/") else f"{state.tenant}/{key}"
    path = state.workdir / f"aux-{len(list(state.workdir.iterdir()))}"
    state.env.blobs.download(full_key, path)
    sniffed = _sniff(path, node_id)
    if not sniffed.is_raster_image:
        raise UnsupportedMedia(f"the watermark image is {sniffed.format}, not a raster image",
                               node_id=node_id, field="imageKey")
    info, header_image = read_header(path, sniffed, node_id)
    info = replace(info, pages=1)  # an animated watermark contributes its first frame
    _check_pixels(info, state.env.settings, node_id)
    shown_w, shown_h = info.display_size(True)
    target = None
    if width < shown_w:
        target = (width, max(1, round(shown_h * width / shown_w)))
    return decode(header_image, info, target, autorotate=True)


# --------------------------------------------------------------------------------------------------
# Encoding

def _keep_flags(plan: EncodePlan) -> int:
    keep = pyvips.enums.ForeignKeep
    if not plan.strip:
        return int(keep.ALL)
    flags = int(keep.NONE)
    if plan.keep_icc:
        flags |= int(keep.ICC)
    if plan.keep_orientation:
        flags |= int(keep.EXIF)
    return flags


def _prepare_metadata(image: Any, plan: EncodePlan) -> Any:
    if not (plan.strip and plan.keep_orientation):
        return image
    # Keep only the orientation tag: libvips writes a fresh minimal EXIF block from the field.
    image = image.copy()
    for name in image.get_fields():
        if stripped_with_metadata(name):
            image.remove(name)
    return image


def encode(image: Any, plan: EncodePlan, path: Path) -> None:
    """Write ``image`` once, as ``plan`` says."""
    fmt = plan.format
    quality = plan.quality or DEFAULT_QUALITY[fmt]
    keep = _keep_flags(plan)
    image = _prepare_metadata(image, plan)
    target = str(path)
    if fmt == "jpeg":
        # Optimised Huffman tables make libjpeg buffer every coefficient; only worth it below ~24 MP.
        optimize = image.width * image.height <= OPTIMIZE_CODING_MAX_PIXELS
        flatten(image).jpegsave(target, Q=quality, optimize_coding=optimize, keep=keep)
    elif fmt == "png":
        compression = 6 if plan.effort is None else min(9, plan.effort)
        if plan.palette:
            image.pngsave(target, compression=compression, palette=True, Q=quality, keep=keep)
        else:
            image.pngsave(target, compression=compression, keep=keep)
    elif fmt == "webp":
        effort = 3 if plan.effort is None else min(6, plan.effort)
        image.webpsave(target, Q=quality, lossless=plan.lossless, effort=effort, keep=keep)
    elif fmt == "avif" and animation.frame_count(image) > 1:
        effort = 2 if plan.effort is None else plan.effort
        animation.save_avif_sequence(image, path, quality, plan.lossless, effort)
    elif fmt == "avif":
        # AV1 effort 4+ costs several seconds per megapixel on one thread for a few % of size.
        effort = 2 if plan.effort is None else plan.effort
        image.heifsave(target, compression="av1", Q=quality, lossless=plan.lossless, effort=effort,
                       bitdepth=8, keep=keep)
    elif fmt == "gif":
        effort = 3 if plan.effort is None else max(1, min(10, plan.effort + 1))
        image.gifsave(target, effort=effort, keep=keep)
    else:
        if plan.quality is not None and not plan.lossless and not image.hasalpha():
            image.tiffsave(target, compression="jpeg", Q=quality, keep=keep)
        else:
            image.tiffsave(target, compression="deflate", predictor="horizontal", keep=keep)


def encode_pdf(image: Any, plan: EncodePlan, path: Path) -> None:
    """Wrap the image in a PDF with img2pdf: JPEG stays DCT, everything else is embedded losslessly."""
    import img2pdf

    pdf = plan.pdf or PdfPlan()
    inner = path.with_suffix(".jpg" if plan.format == "jpeg" else ".png")
    flat = flatten(image)
    if plan.format == "jpeg":
        optimize = flat.width * flat.height <= OPTIMIZE_CODING_MAX_PIXELS
        flat.jpegsave(str(inner), Q=plan.quality or DEFAULT_QUALITY["jpeg"], optimize_coding=optimize,
                      keep=int(pyvips.enums.ForeignKeep.NONE))
    else:
        flat.pngsave(str(inner), compression=6, keep=int(pyvips.enums.ForeignKeep.NONE))
    if pdf.page_size == "image":
        layout = img2pdf.get_fixed_dpi_layout_fun((pdf.dpi, pdf.dpi))
    else:
        page = ((img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297)) if pdf.page_size == "a4"
                else (img2pdf.in_to_pt(8.5), img2pdf.in_to_pt(11)))
        layout = img2pdf.get_layout_fun(pagesize=page, fit=img2pdf.FitMode.into, auto_orient=True)
    extra: dict[str, Any] = {"title": pdf.title} if pdf.title else {}
    with pillow_fallback.pixel_limit_lifted():
        data = img2pdf.convert(str(inner), layout_fun=layout, nodate=True, engine=img2pdf.Engine.internal,
                               **extra)
    path.write_bytes(data)
    inner.unlink()


# --------------------------------------------------------------------------------------------------
# The chain

def run_chain(task: TaskPayload, env: TaskEnvironment) -> ChainResult:
    """Run a fused chain of image ops (see the module docstring)."""
    if len(task.ops) == 1 and task.ops[0].kind == "pdf_preview":
        from mediaflow.workers.document import run_pdf_preview

        return run_pdf_preview(task, env)
    configure_vips(env.settings)
    steps = _parse_steps(task, task.ops)
    branches = [_parse_steps(task, branch) for branch in task.branches] or None
    with scratch_dir(env, "vips-") as workdir:
        return _run(task, env, steps, workdir, branches)


def _parse_steps(task: TaskPayload, ops: list[Op]) -> list[_Step]:
    steps: list[_Step] = []
    for op in ops:
        kind, config = parse_op(op, pipeline_kinds() | annotation_kinds(), "vips")
        steps.append(_Step(op.node_id, kind, config, OpContext(node_id=op.node_id, run=task.run, item=task.item)))
    return steps


def _run(task: TaskPayload, env: TaskEnvironment, steps: list[_Step], workdir: Path,
         branches: list[list[_Step]] | None = None) -> ChainResult:
    """Decode once, apply ``steps``; then encode once, or once per branch (each with its own ops)."""
    every_step = steps + [step for branch in branches or [] for step in branch]
    first_id = every_step[0].node_id
    source_path = workdir / "source"
    source_path = input_file(env, task.media.key, source_path)
    sniffed = _sniff(source_path, first_id)
    pipeline, annotation = pipeline_kinds(), annotation_kinds()
    pixel_steps = [step for step in every_step if step.kind in pipeline]
    inspect_only = all(step.kind == "inspect" or step.kind in annotation for step in every_step)
    if inspect_only and not sniffed.is_raster_image and not branches:
        return _inspect_other(task, env, steps, sniffed, source_path)
    if not sniffed.is_raster_image:
        what = "SVG is never rendered" if sniffed.format == "svg" else f"{sniffed.format} is not an image"
        raise UnsupportedMedia(f"{what} ({sniffed.content_type}); image nodes take "
                               "JPEG, PNG, WebP, AVIF, HEIC, GIF, TIFF or BMP", node_id=first_id)
    info, header_image = read_header(source_path, sniffed, first_id)
    if not inspect_only:
        _check_pixels(info, env.settings, first_id)

    autorotate = not any(getattr(step.config, "keep_orientation", False) for step in pixel_steps
                         if step.kind == "strip_metadata")
    load_size = _first_load_size([step for step in steps if step.kind in pipeline] if branches
                                 else pixel_steps, info, autorotate)
    decode_started = time.time()  # an eager decode (libjpeg-turbo's M/8) is the first op's work, as a lazy one is
    try:
        if inspect_only:
            image = _header_stand_in(header_image, info)
        else:
            image = decode(header_image, info, load_size, autorotate,
                           metadata=not _drops_metadata(steps, branches))
    except MediaDecodeError as error:
        error.node_id = error.node_id or first_id
        raise
    except pyvips.Error as error:
        raise MediaDecodeError(f"cannot decode the {sniffed.format} image: {_first_line(error)}",
                               node_id=first_id) from error
    state = ImagePipelineState(
        image=image, source=info, encode=EncodePlan(format=DEFAULT_OUTPUT[sniffed.format]), env=env,
        workdir=workdir, media=task.media, tenant=task.run.tenant, run_id=task.run.run_id,
    )
    if not autorotate:
        state.encode.keep_orientation = True
    outcomes: list[OpOutcome] = []
    annotations = _apply_steps(state, steps, outcomes, first_id, first_started=decode_started)
    if not branches:
        media = _finish(task, env, state, steps, annotations, outcomes, inspect_only, info, "output", first_id)
        outcomes.sort(key=lambda outcome: [s.node_id for s in steps].index(outcome.node_id))
        return ChainResult(media=media, outcomes=outcomes)

    shared = state.image
    if shared.width * shared.height <= SHARED_DECODE_MAX_PIXELS:
        try:  # every branch encodes from this one decode instead of decoding the file again
            shared = shared.copy_memory()
        except pyvips.Error as error:
            raise _vips_failure(error, steps[-1].node_id if steps else first_id, first_id) from error
    results: list[MediaRef] = []
    for index, branch in enumerate(branches):
        branch_state = replace(state, image=shared, encode=deepcopy(state.encode), extra_outputs=[])
        branch_annotations = annotations + _apply_steps(branch_state, branch, outcomes, first_id)
        named = steps + branch
        results.append(_finish(task, env, branch_state, named, branch_annotations, outcomes, False, info,
                               f"output-{index}", first_id))
    return ChainResult(media=results[0], outcomes=outcomes, branches=results)


def _apply_steps(state: ImagePipelineState, steps: list[_Step], outcomes: list[OpOutcome],
                 first_id: str, *, first_started: float | None = None) -> list[_Step]:
    """Run the pixel/encode-plan ops in order; returns the annotations left for after the encode.
    ``first_started``: when the first op's work began (its decode), if before the op itself."""
    annotations: list[_Step] = []
    annotation = annotation_kinds()
    for step in steps:
        if step.kind in annotation:
            annotations.append(step)
            continue
        started = time.time() if first_started is None or outcomes else first_started
        executor: ImageOp = node_module(step.kind)
        try:
            output = animation.run_op(state, step.kind, executor.apply, step.config, step.ctx)
        except MediaflowError as error:
            error.node_id = error.node_id or step.node_id
            raise
        except pyvips.Error as error:
            raise _vips_failure(error, step.node_id, first_id) from error
        outcomes.append(OpOutcome(step.node_id, step.kind, started, time.time(), output or None))
    return annotations


def _finish(task: TaskPayload, env: TaskEnvironment, state: ImagePipelineState, steps: list[_Step],
            annotations: list[_Step], outcomes: list[OpOutcome], inspect_only: bool, info: SourceInfo,
            stem: str, first_id: str) -> MediaRef:
    """Encode (unless only inspecting), apply rename/transform, store extra outputs and the result."""
    out_path = state.workdir / f"{stem}.{state.encode.extension}"
    if inspect_only:
        media = _passthrough_media(task, info, state)
    else:
        started = time.time()
        state.image = animation.for_output(state.image, state.encode.format, state.encode.pdf is not None)
        try:
            if state.encode.pdf is not None:
                encode_pdf(state.image, state.encode, out_path)
            else:
                encode(state.image, state.encode, out_path)
        except pyvips.Error as error:
            raise _vips_failure(error, steps[-1].node_id, first_id) from error
        encoded_ms = round((time.time() - started) * 1000, 3)
        media = _draft_media(task, state, out_path)
        last_pixel_op = next((o for o in reversed(outcomes) if o.node_id in {s.node_id for s in steps}), None)
        if last_pixel_op is not None:
            last_pixel_op.ended = time.time()
            last_pixel_op.output = {**(last_pixel_op.output or {}), "encodeMs": encoded_ms,
                                    **animation.outcome_fields(state.image)}
    for step in annotations:
        started = time.time()
        annotation: Annotation = node_module(step.kind)
        media = annotation.apply(media, step.config, step.ctx)
        outcomes.append(OpOutcome(step.node_id, step.kind, started, time.time(),
                                  {"filename": media.filename} if step.kind == "rename"
                                  else {"metadataKeys": sorted(media.metadata)}))
    for key, data, content_type in state.extra_outputs:
        env.blobs.put_bytes(key, data, content_type)
    if not inspect_only:
        media = _upload(task, env, steps[-1].node_id, media, out_path)
    return media


def _sniff(path: Path, node_id: str) -> Sniffed:
    try:
        return sniff_file(path)
    except EmptyMedia as error:
        error.node_id = node_id
        raise


def _check_pixels(info: SourceInfo, settings: Settings, node_id: str) -> None:
    animation.check_budget(info, settings, node_id)


def _drops_metadata(steps: list[_Step], branches: list[list[_Step]] | None) -> bool:
    """Whether every encode after ``steps`` (and each of ``branches``) writes none of the source's EXIF, XMP
    and IPTC, because an op of its chain strips them (``StripsMetadata``)."""
    def strips(chain: list[_Step]) -> bool:
        for step in chain:
            op: StripsMetadata = node_module(step.kind)
            if getattr(op, "strips_metadata", None) is not None and op.strips_metadata(step.config):
                return True
        return False

    return strips(steps) or (bool(branches) and all(strips(branch) for branch in branches or []))


def _first_load_size(steps: list[_Step], info: SourceInfo, autorotate: bool) -> tuple[int, int] | None:
    width, height = info.display_size(autorotate)
    for step in steps:
        spec = get_spec(step.kind)
        if spec is not None and spec.geometry:
            op: ShrinkOnLoad = node_module(step.kind)
            size = op.load_size(step.config, width, height)
            if size is None or size[0] > width or size[1] > height or size == (width, height):
                return None
            return size
        if spec is None or not spec.passive:
            return None
    return None


def _vips_failure(error: pyvips.Error, node_id: str, first_id: str) -> MediaflowError:
    text = _first_line(error)
    if _DECODE_FAILURE.search(f"{error}\n{getattr(error, 'detail', '')}"):
        return MediaDecodeError(f"cannot decode the image: {text}", node_id=first_id)
    return ToolchainError(f"libvips failed: {text}", node_id=node_id)


def _first_line(error: BaseException) -> str:
    detail = getattr(error, "detail", "") or ""
    lines = [line.strip() for line in f"{error.args[0] if error.args else error}\n{detail}".splitlines()
             if line.strip()]
    return "; ".join(lines[:3])[:300]


def _draft_media(task: TaskPayload, state: ImagePipelineState, path: Path) -> MediaRef:
    stem = original_stem(task.media)
    pdf = state.encode.pdf is not None
    return task.media.model_copy(update={
        "content_type": state.encode.content_type,
        "size": path.stat().st_size,
        "etag": None,
        "media_type": "document" if pdf else "image",
        "width": int(state.image.width),
        "height": animation.frame_height(state.image),
        "duration_ms": None,
        "filename": f"{stem}.{state.encode.extension}",
        "metadata": dict(task.media.metadata),
        "source_key": task.media.source_key or task.media.key,
    })


def _output_key(task: TaskPayload, node_id: str, filename: str) -> str:
    return f"{output_prefix(task, node_id)}/{clean_component(filename) or 'file'}"


def _upload(task: TaskPayload, env: TaskEnvironment, node_id: str, media: MediaRef, path: Path) -> MediaRef:
    key = _output_key(task, node_id, media.filename)
    stored = env.blobs.put_file(key, path, media.content_type, move=True)  # the scratch output is written once
    return media.model_copy(update={
        "bucket": stored.bucket, "key": stored.key, "etag": stored.etag, "size": stored.size or media.size,
    })


def _passthrough_media(task: TaskPayload, info: SourceInfo, state: ImagePipelineState) -> MediaRef:
    width, height = info.display_size(True)
    return task.media.model_copy(update={
        "content_type": info.sniffed.content_type, "media_type": info.sniffed.media_type, "size": info.size,
        "width": width, "height": height, "source_key": task.media.source_key or task.media.key,
    })


def _inspect_other(task: TaskPayload, env: TaskEnvironment, steps: list[_Step], sniffed: Sniffed,
                   path: Path) -> ChainResult:
    """Inspect media the image worker does not decode: report what the bytes are, nothing more."""
    inspect_node: Reports = node_module("inspect")
    outcomes: list[OpOutcome] = []
    media = task.media.model_copy(update={
        "content_type": sniffed.content_type, "media_type": sniffed.media_type, "size": path.stat().st_size,
        "source_key": task.media.source_key or task.media.key,
    })
    for step in steps:
        started = time.time()
        if step.kind == "inspect":
            report: dict[str, Any] = {"format": sniffed.format, "mediaType": sniffed.media_type,
                                      "contentType": sniffed.content_type, "size": path.stat().st_size}
            if sniffed.media_type in ("video", "audio"):
                from mediaflow.workers.ffmpeg_tools import probe

                report.update(probe(path, settings=env.settings))
                media = media.model_copy(update={
                    "width": report.get("width"), "height": report.get("height"),
                    "duration_ms": report.get("durationMs")})
            output, extra = inspect_node.finish(report, step.config, step.ctx, media)
            if extra is not None:
                env.blobs.put_bytes(*extra)
        else:
            annotation: Annotation = node_module(step.kind)
            media = annotation.apply(media, step.config, step.ctx)
            output = {"filename": media.filename}
        outcomes.append(OpOutcome(step.node_id, step.kind, started, time.time(), output))
    return ChainResult(media=media, outcomes=outcomes)
