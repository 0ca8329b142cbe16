"""The video worker (runtime ``ffmpeg``): fused chains of audio/video ops, one ffmpeg run where possible.

A compiled Task sends a chain of ffmpeg ops (rename/transform annotations may sit between them).
The worker downloads the media into a private scratch folder, sniffs it from its magic bytes
(HLS playlists, ffconcat lists, images and anything else that is not audio/video are refused by
name before ffmpeg sees them), reads the header with ffprobe through the pinned demuxer, and
refuses too long or too large media (``max_video_seconds``, ``max_video_pixels``) before any work
starts. Then the ops run in order. The result is uploaded under
``{tenant}/runs/{runId}/{nodeId of the last op}/{filename}``; sidecar files (HLS segments, the
storyboard's WebVTT) go next to it and are listed in ``MediaRef.related``.

Per-op interface
----------------
Every ffmpeg kind's module in :mod:`mediaflow.nodes` defines, next to its ``Config``::

    def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any] | None

(``convert`` and ``thumbnail`` with ``source: video`` are run here, by :func:`run_convert` and
:func:`run_thumbnail`, because their modules belong to the image worker too.) An op reads the
current input through :meth:`VideoState.open`, which applies the pending time window, and hands
its output file to :meth:`VideoState.produce`, which makes it the input of the next op.

Fusion: ``trim`` does not encode when another op follows; it narrows the time window, and the
next op applies it with an input seek (``-ss`` before ``-i``) and ``-t``, so trim + transcode
(+ scale, + fps) is one ffmpeg run, and trim + audio (+ loudness) one run per loudnorm pass.
A trim at the end of a chain writes the input's container again (stream copy when asked).

Decisions written down here because they span ops:

* Rotated video (display matrix) is turned upright by ffmpeg's autorotate before any filter;
  sizes are computed from the displayed size and the output carries no rotation.
* The first video stream and the first audio stream are used (``extract_audio`` picks a track;
  a stream-copy trim keeps every audio track). Cover art is not video.
* Outputs are deterministic: ``-fflags +bitexact``, ``-flags +bitexact`` per stream, no metadata
  or chapters copied, and the encoder thread count of ``ffmpeg_threads`` (auto: the vCPUs of the Lambda
  function or Fargate task; tests fix it), so the same input and thread count give the same bytes on every
  runtime.
* Work estimated to outlast the Lambda invocation (``TaskEnvironment.time_budget_seconds``, set by the
  Lambda entry point only) raises :class:`ExceedsLambdaBudget` before any encoding; the state machine then
  runs the same Task on ECS Fargate (see :func:`estimate_seconds`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.catalog import annotation_kinds, kinds_for, node_module
from mediaflow.errors import (
    EmptyMedia,
    ExceedsLambdaBudget,
    InvalidDefinition,
    MediaflowError,
    MediaTooLarge,
)
from mediaflow.execution.contract import ChainResult, OpContext, OpOutcome, TaskEnvironment, TaskPayload
from mediaflow.execution.tasks import input_file, output_prefix, parse_op, scratch_dir
from mediaflow.filenames import clean_component, original_stem
from mediaflow.media import MediaRef
from mediaflow.settings import Settings
from mediaflow.sniff import CONTENT_TYPES, EXTENSIONS, MEDIA_TYPES, sniff_file
from mediaflow.workers.ffmpeg_tools import (
    MediaInfo,
    demuxer_for,
    probe,
    read_info,
)
from mediaflow.workers.video_state import Produced, Sidecar, VideoState, Window

if TYPE_CHECKING:
    from mediaflow.nodes.base import Annotation, NodeConfig, VideoOp

__all__ = ["Sidecar", "VideoState", "Window", "probe", "run_chain"]


@dataclass
class _Step:
    node_id: str
    kind: str
    config: NodeConfig
    ctx: OpContext


# --------------------------------------------------------------------------------------------------
# The chain

def run_chain(task: TaskPayload, env: TaskEnvironment) -> ChainResult:
    """Run a fused chain of ffmpeg ops (see the module docstring)."""
    steps = _parse_steps(task)
    known = task.media
    check_scratch_space(env, known.size, steps[0].node_id)
    if known.duration_ms is not None:  # what the upload already says: hand off before downloading
        pixels = known.width * known.height if known.width and known.height else None
        check_time_budget(env, [step.kind for step in steps], known.duration_ms / 1000, pixels, steps[0].node_id)
    with scratch_dir(env, "ffmpeg-") as workdir:
        return _run(task, env, steps, workdir)


def _parse_steps(task: TaskPayload) -> list[_Step]:
    steps: list[_Step] = []
    for op in task.ops:
        kind, config = parse_op(op, kinds_for("ffmpeg") | annotation_kinds(), "ffmpeg")
        steps.append(_Step(op.node_id, kind, config, OpContext(node_id=op.node_id, run=task.run, item=task.item)))
    if not any(step.kind in kinds_for("ffmpeg") for step in steps):
        raise InvalidDefinition("an ffmpeg task needs at least one audio/video op", node_id=task.ops[0].node_id)
    return steps


def _run(task: TaskPayload, env: TaskEnvironment, steps: list[_Step], workdir: Path) -> ChainResult:
    first_id = steps[0].node_id
    source = workdir / "source"
    source = input_file(env, task.media.key, source)
    try:
        sniffed = sniff_file(source)
    except EmptyMedia as error:
        error.node_id = first_id
        raise
    demuxer = demuxer_for(sniffed, first_id)
    info = read_info(source, demuxer, settings=env.settings, node_id=first_id)
    check_budget(info, env.settings, first_id)
    size = info.display_size
    check_time_budget(env, [step.kind for step in steps], info.duration, size[0] * size[1] if size else None,
                      first_id)

    state = VideoState(env=env, workdir=workdir, media=task.media, path=source, sniffed=sniffed, info=info,
                       first_node_id=first_id)
    video_kinds = kinds_for("ffmpeg")
    media_steps = [step for step in steps if step.kind in video_kinds]
    outcomes: list[OpOutcome] = []
    for position, step in enumerate(media_steps):
        state.following = [later.kind for later in media_steps[position + 1:]]
        started = time.time()
        try:
            output = _execute(state, step)
        except MediaflowError as error:
            error.node_id = error.node_id or step.node_id
            raise
        outcomes.append(OpOutcome(step.node_id, step.kind, started, time.time(), output or None))

    produced = state.produced
    if produced is None:  # pragma: no cover - every chain ends with an op that writes a file
        raise InvalidDefinition("the chain produced no output", node_id=first_id)
    media = _draft_media(task, produced)
    annotations = annotation_kinds()
    for step in steps:
        if step.kind not in annotations:
            continue
        started = time.time()
        annotation: Annotation = node_module(step.kind)
        media = annotation.apply(media, step.config, step.ctx)
        outcomes.append(OpOutcome(step.node_id, step.kind, started, time.time(),
                                  {"filename": media.filename} if step.kind == "rename"
                                  else {"metadataKeys": sorted(media.metadata)}))
    order = [step.node_id for step in steps]
    outcomes.sort(key=lambda outcome: order.index(outcome.node_id))
    media = _upload(task, env, media_steps[-1].node_id, media, produced)
    return ChainResult(media=media, outcomes=outcomes)


def check_budget(info: MediaInfo, settings: Settings, node_id: str) -> None:
    """Refuse media over the duration or frame-size budget before any decoding."""
    if info.duration is not None and info.duration > settings.max_video_seconds:
        raise MediaTooLarge(f"{info.duration:.1f} s is over the limit of {settings.max_video_seconds:g} s",
                            node_id=node_id)
    size = info.display_size
    if size is not None and size[0] * size[1] > settings.max_video_pixels:
        raise MediaTooLarge(f"{size[0]} x {size[1]} = {size[0] * size[1]} pixels per frame is over the limit of "
                            f"{settings.max_video_pixels}", node_id=node_id)


# CPU seconds one op spends per second of media at 1280x720 on one encoder thread (x264/AAC defaults,
# measured order of magnitude, rounded up): the ops that re-encode everything dominate.
CPU_SECONDS_PER_MEDIA_SECOND: dict[str, float] = {
    "transcode": 1.0, "convert": 1.0, "trim": 0.3, "storyboard": 0.15, "gif": 0.1, "audio": 0.05,
    "extract_audio": 0.05, "poster_frame": 0.02, "thumbnail": 0.02,
}
REFERENCE_PIXELS = 1280 * 720
SCRATCH_FACTOR = 2.5  # the input, the output and a sidecar or two-pass file
AUDIO_ONLY_KINDS = frozenset({"audio", "extract_audio"})


def estimate_seconds(kinds: Sequence[str], duration: float | None, pixels: int | None, threads: int) -> float:
    """Wall seconds a chain of ffmpeg ops is expected to take on ``duration`` seconds of media with
    ``pixels`` per frame on ``threads`` encoder threads (threads help sublinearly)."""
    if not duration:
        return 0.0
    scale = max(0.25, (pixels or REFERENCE_PIXELS) / REFERENCE_PIXELS)
    cpu = sum(CPU_SECONDS_PER_MEDIA_SECOND.get(kind, 0.0) * duration * (1.0 if kind in AUDIO_ONLY_KINDS else scale)
              for kind in kinds)
    return cpu / max(1, threads) ** 0.8


def check_scratch_space(env: TaskEnvironment, size: int | None, node_id: str) -> None:
    """Under a time budget (a Lambda), an input whose copy and output would not fit in the scratch space
    goes to the long route before it is downloaded."""
    if env.time_budget_seconds is None or not size:
        return
    env.workdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(env.workdir).free
    if size * SCRATCH_FACTOR > free:
        raise ExceedsLambdaBudget(f"the input ({size} bytes) and its output need more scratch space than this "
                                  f"invocation has ({free} bytes free)", node_id=node_id)


def check_time_budget(env: TaskEnvironment, kinds: Sequence[str], duration: float | None, pixels: int | None,
                      node_id: str) -> None:
    """Hand the chain to the long route (ECS Fargate) when its estimate exceeds this invocation's budget."""
    budget = env.time_budget_seconds
    if budget is None:
        return
    estimate = estimate_seconds(kinds, duration, pixels, env.settings.ffmpeg_thread_count)
    if estimate > budget:
        raise ExceedsLambdaBudget(f"estimated {estimate:.0f} s of ffmpeg work ({duration or 0:.0f} s of media) "
                                  f"exceeds the Lambda budget of {budget:.0f} s", node_id=node_id)


def _execute(state: VideoState, step: _Step) -> dict[str, Any] | None:
    op: VideoOp = node_module(step.kind)
    return op.run_video(state, step.config, step.ctx)


def _draft_media(task: TaskPayload, produced: Produced) -> MediaRef:
    fmt = produced.format
    return task.media.model_copy(update={
        "content_type": CONTENT_TYPES[fmt],
        "size": produced.path.stat().st_size,
        "etag": None,
        "media_type": MEDIA_TYPES.get(fmt, "other"),
        "width": produced.width,
        "height": produced.height,
        "duration_ms": produced.duration_ms,
        "filename": f"{original_stem(task.media)}.{EXTENSIONS[fmt]}",
        "metadata": dict(task.media.metadata),
        "source_key": task.media.source_key or task.media.key,
        "related": [],
    })


def _upload(task: TaskPayload, env: TaskEnvironment, node_id: str, media: MediaRef, produced: Produced) -> MediaRef:
    prefix = output_prefix(task, node_id)
    related: list[dict[str, Any]] = []
    final_stem = media.filename.rpartition(".")[0] or media.filename
    for sidecar in produced.sidecars:
        filename = clean_component(sidecar.filename.replace("{stem}", final_stem)) or "sidecar"
        key = f"{prefix}/{filename}"
        if sidecar.render is not None:
            stored = env.blobs.put_bytes(key, sidecar.render(media.filename), sidecar.content_type)
        else:
            assert sidecar.path is not None
            stored = env.blobs.put_file(key, sidecar.path, sidecar.content_type)
        related.append(MediaRef.trusted({
            "bucket": stored.bucket, "key": stored.key, "content_type": sidecar.content_type, "size": stored.size,
            "etag": stored.etag, "media_type": sidecar.media_type, "filename": filename,
            "source_key": task.media.source_key or task.media.key,
        }).to_state())
    stored = env.blobs.put_file(f"{prefix}/{clean_component(media.filename) or 'file'}", produced.path,
                                media.content_type, move=True)
    return media.model_copy(update={"bucket": stored.bucket, "key": stored.key, "etag": stored.etag,
                                    "size": stored.size or media.size, "related": related})
