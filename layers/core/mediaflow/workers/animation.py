"""Animated images in the image worker: GIF, WebP and AVIF sequences keep their frames, delays and loop.

libvips holds an animation as one tall image, the frames stacked top to bottom ("toilet roll"), with
``page-height`` (the height of one frame), ``delay`` (one duration in ms per frame) and ``loop`` (how many
times it plays, 0 = forever). The worker keeps that layout from the decode to the encode:

* GIF and animated WebP are decoded by libvips with ``n=-1`` (every page); AVIF sequences, which libvips
  here does not read, by Pillow frame by frame into the same layout (their loop count is 0).
* Before any pixel is decoded the header is checked against ``MEDIAFLOW_MAX_FRAMES`` (``TooManyFrames``)
  and the pixel budget ``MEDIAFLOW_MAX_PIXELS`` counted over all frames (``MediaTooLarge``).
* What each kind does with an animation is its catalog entry's ``animation`` mode. Ops that change pixels
  or geometry (``per_frame``: resize, adjust, watermark) run once per frame, so no resampling or
  sharpening reaches across a frame edge and every frame comes out the same size (``page-height``
  then divides the height exactly). Smart crop gravities (``attention``, ``entropy``) choose the region
  on the first frame and crop every frame there, so the crop does not jump from frame to frame.
  Encode-only ops (``whole``) run on the whole roll; ``inspect`` (``view``) describes the first frame
  and leaves the roll alone.
* Kinds that make one picture (``first_frame``: ``thumbnail``, ``image_to_pdf``) and every output
  format without animation (JPEG, PNG, TIFF) take the first frame; GIF, WebP and AVIF outputs stay
  animated (AVIF sequences are written by Pillow, libvips here writes still AVIF only).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyvips

from mediaflow.catalog import animation_mode
from mediaflow.errors import MediaTooLarge, TooManyFrames
from mediaflow.settings import Settings
from mediaflow.workers import vips_loaders

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState, SourceInfo

# Input formats whose pages are frames of one animation (a multi-page TIFF is a document, not an animation).
ANIMATED_INPUTS = frozenset({"gif", "webp", "avif"})
# Output formats that can hold an animation; any other output takes the first frame.
ANIMATED_OUTPUTS = frozenset({"gif", "webp", "avif"})
# While an op runs frame by frame: the smart crop region chosen on the first frame, reused on the others.
_PINNED_CROPS: ContextVar[dict[tuple[int, int, int, int, str], tuple[int, int]] | None] = ContextVar(
    "pinned_crops", default=None)
DEFAULT_DELAY_MS = 100

ImageApply = Callable[["ImagePipelineState", Any, "OpContext"], "dict[str, Any] | None"]


def source_frames(info: SourceInfo) -> int:
    """How many frames the source animates (1 for a still image or a multi-page document)."""
    return max(1, info.pages) if info.sniffed.format in ANIMATED_INPUTS else 1


def check_budget(info: SourceInfo, settings: Settings, node_id: str) -> None:
    """Refuse from the header: too many frames, or too many pixels over all frames."""
    frames = source_frames(info)
    if frames > settings.max_frames:
        raise TooManyFrames(f"{frames} frames is over the limit of {settings.max_frames} "
                            "(MEDIAFLOW_MAX_FRAMES)", node_id=node_id)
    pixels = info.width * info.height * frames
    if pixels > settings.max_pixels:
        shape = f"{info.width} x {info.height}" + (f" x {frames} frames" if frames > 1 else "")
        raise MediaTooLarge(f"{shape} = {pixels} pixels is over the limit of {settings.max_pixels}",
                            node_id=node_id)


# --------------------------------------------------------------------------------------------------
# The roll

def frame_height(image: Any) -> int:
    """Height of one frame (the whole height for a still image)."""
    if image.get_typeof("page-height") == 0:
        return int(image.height)
    page = int(image.get("page-height"))
    return page if 0 < page < image.height and image.height % page == 0 else int(image.height)


def frame_count(image: Any) -> int:
    return int(image.height) // frame_height(image)


def timing(image: Any) -> tuple[list[int], int]:
    """Per-frame delays in ms and the loop count of a roll (defaults where the file had none)."""
    count = frame_count(image)
    delays: list[int] = []
    if image.get_typeof("delay") != 0:
        delays = [int(value) for value in image.get("delay")]
    delays = (delays + [delays[-1] if delays else DEFAULT_DELAY_MS] * count)[:count]
    loop = int(image.get("loop")) if image.get_typeof("loop") != 0 else 0
    return delays, loop


def split(image: Any) -> list[Any]:
    height = frame_height(image)
    return [image.crop(0, top, image.width, height) for top in range(0, image.height, height)]


def join(frames: list[Any], delays: list[int], loop: int) -> Any:
    """Stack same-sized frames into a roll carrying ``page-height``, ``delay`` and ``loop``."""
    roll = frames[0] if len(frames) == 1 else pyvips.Image.arrayjoin(frames, across=1)
    roll = roll.copy()
    roll.set_type(pyvips.GValue.gint_type, "page-height", int(frames[0].height))
    roll.set_type(pyvips.GValue.array_int_type, "delay", [int(delay) for delay in delays])
    roll.set_type(pyvips.GValue.gint_type, "loop", int(loop))
    for name in ("n-pages", "gif-delay", "gif-loop"):
        if roll.get_typeof(name) != 0:
            roll.remove(name)
    return roll


def still(image: Any) -> Any:
    """The first frame of a roll, as a plain still image (a still image is returned as it is)."""
    if frame_count(image) == 1:
        return image
    first = image.crop(0, 0, image.width, frame_height(image)).copy()
    for name in ("page-height", "delay", "loop", "n-pages", "gif-delay", "gif-loop"):
        if first.get_typeof(name) != 0:
            first.remove(name)
    return first


def for_output(image: Any, fmt: str, pdf: bool = False) -> Any:
    """The roll for a format that animates, else its first frame."""
    animates = fmt in ANIMATED_OUTPUTS and (fmt != "avif" or writes_avif_sequences())
    return image if animates and not pdf else still(image)


@cache
def writes_avif_sequences() -> bool:
    """Whether this Pillow has the AVIF plugin (11.2+ with libavif) that writes image sequences."""
    from PIL import features

    return bool(features.check("avif"))


def map_frames(image: Any, transform: Callable[[Any], Any]) -> Any:
    """Apply ``transform`` to every frame of a roll and stack the results again."""
    delays, loop = timing(image)
    return join([transform(frame) for frame in split(image)], delays, loop)


# --------------------------------------------------------------------------------------------------
# Decoding

def load(info: SourceInfo, via_pillow: bool, autorotate: bool) -> Any:
    """Every frame of the source as a roll (libvips ``n=-1``, or Pillow for AVIF sequences)."""
    if via_pillow:
        roll = _pillow_frames(info.path, info.sniffed.format)
    else:
        # Ops run frame after frame, top to bottom, so a sequential decode serves them; rotating a frame
        # reads its rows out of order and needs random access.
        rotates = autorotate and info.orientation != 1
        roll = vips_loaders.load(info.path, info.sniffed.format, n=-1,
                                 access="random" if rotates else "sequential", fail_on="error")
    if autorotate and info.orientation != 1:
        roll = map_frames(roll, lambda frame: frame.autorot().copy_memory())
    if autorotate and roll.get_typeof("orientation") != 0:
        roll = roll.copy()
        roll.remove("orientation")
    return roll


def _pillow_frames(path: Path, fmt: str) -> Any:
    from mediaflow.workers import pillow_fallback

    frames: list[Any] = []
    delays: list[int] = []
    with pillow_fallback.opened(path, fmt) as handle:
        for index in range(int(getattr(handle, "n_frames", 1))):
            handle.seek(index)
            handle.load()
            frames.append(pillow_fallback.to_vips(handle.copy()))
            delays.append(int(handle.info.get("duration") or DEFAULT_DELAY_MS))
        loop = int(handle.info.get("loop", 0) or 0)
    return join(frames, delays, loop)


# --------------------------------------------------------------------------------------------------
# Running ops

def run_op(state: ImagePipelineState, kind: str, apply: ImageApply, config: Any, ctx: OpContext) -> Any:
    """Run one op on the pipeline, frame by frame when the image is an animation (see module docstring)."""
    image = state.image
    if frame_count(image) == 1:
        return apply(state, config, ctx)
    mode = animation_mode(kind)
    if mode == "first_frame":
        state.image = still(image)
        return apply(state, config, ctx)
    if mode == "view":
        state.image = still(image)
        try:
            return apply(state, config, ctx)
        finally:
            state.image = image
    if mode != "per_frame":
        return apply(state, config, ctx)
    delays, loop = timing(image)
    frames: list[Any] = []
    output: Any = None
    state.overlays = {}
    pinned = _PINNED_CROPS.set({})
    try:
        for index, frame in enumerate(split(image)):
            state.image = frame
            output = apply(state, config, ctx)
            if index == 0:
                _check_result(state.image, len(delays), state.env.settings, ctx.node_id)
            # Each frame is computed here, in order: hundreds of lazy pipelines held open by one join
            # would each keep their buffers (several times the memory of the frames themselves).
            frames.append(state.image.copy_memory())
    finally:
        state.overlays = None
        _PINNED_CROPS.reset(pinned)
    state.image = join(frames, delays, loop)
    return output


def _check_result(frame: Any, count: int, settings: Settings, node_id: str) -> None:
    """The pixel budget also bounds what an op makes of an animation (an enlarging resize)."""
    pixels = int(frame.width) * int(frame.height) * count
    if pixels > settings.max_pixels:
        raise MediaTooLarge(f"the result, {frame.width} x {frame.height} x {count} frames = {pixels} pixels, is "
                            f"over the limit of {settings.max_pixels}", node_id=node_id)


def smart_crop(image: Any, width: int, height: int, interesting: str) -> Any:
    """``smartcrop`` of a still image; on the frames of an animation the region of the first frame."""
    pinned = _PINNED_CROPS.get()
    key = (int(image.width), int(image.height), width, height, interesting)
    if pinned is not None and key in pinned:
        left, top = pinned[key]
        return image.crop(left, top, width, height)
    # smartcrop scores the whole frame; by now the image is at its output scale.
    cropped = image.copy_memory().smartcrop(width, height, interesting=interesting)
    if pinned is not None:
        pinned[key] = (-int(cropped.xoffset), -int(cropped.yoffset))
    return cropped


def outcome_fields(image: Any) -> dict[str, Any]:
    """What an encode of an animation adds to the last op's output: frames, delays and loop."""
    if frame_count(image) == 1:
        return {}
    delays, loop = timing(image)
    return {"frames": frame_count(image), "delaysMs": delays, "loop": loop}


# --------------------------------------------------------------------------------------------------
# Encoding

def save_avif_sequence(image: Any, path: Path, quality: int, lossless: bool, effort: int) -> None:
    """Write a roll as an AVIF image sequence (Pillow's libavif encoder)."""
    from PIL import Image

    delays, loop = timing(image)
    pictures = []
    for frame in split(image):
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[int(frame.bands)]
        data = frame.cast("uchar").write_to_memory()
        pictures.append(Image.frombytes(mode, (int(frame.width), int(frame.height)), data))
    pictures = [picture.convert({"L": "RGB", "LA": "RGBA"}.get(picture.mode, picture.mode)) for picture in pictures]
    speed = max(0, min(10, 10 - effort))
    options: dict[str, Any] = {"quality": 100 if lossless else quality, "speed": speed}
    if lossless:
        options["subsampling"] = "4:4:4"
    pictures[0].save(path, format="AVIF", save_all=True, append_images=pictures[1:], duration=delays,
                     loop=loop, **options)
