"""`storyboard`: a sprite sheet of evenly spaced frames plus WebVTT cues pointing into it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    interval_seconds: float = Field(default=10.0, gt=0, le=3600)
    tile_width: int = Field(default=160, ge=16, le=1920)
    columns: int = Field(default=10, ge=1, le=50)
    max_frames: int = Field(default=100, ge=1, le=2500)
    output_format: Literal["jpeg", "webp", "png"] = "jpeg"


# --------------------------------------------------------------------------------------------------
# Executor (ffmpeg worker)

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.video_state import VideoState


@dataclass(frozen=True)
class Layout:
    count: int
    columns: int
    rows: int
    tile_width: int
    tile_height: int
    interval: float
    duration: float

    def cues(self) -> list[tuple[float, float, int, int]]:
        """``(start, end, x, y)`` of every tile, in time order."""
        cues = []
        for index in range(self.count):
            start = index * self.interval
            end = min((index + 1) * self.interval, self.duration)
            cues.append((start, max(end, start + 0.001), (index % self.columns) * self.tile_width,
                         (index // self.columns) * self.tile_height))
        return cues


def layout(config: Config, duration: float, width: int, height: int) -> Layout:
    from mediaflow.workers.ffmpeg_tools import even

    count = max(1, min(config.max_frames, math.ceil(duration / config.interval_seconds - 1e-6)))
    columns = min(config.columns, count)
    tile_width = even(config.tile_width)
    tile_height = even(tile_width * height / width)
    return Layout(count=count, columns=columns, rows=math.ceil(count / columns), tile_width=tile_width,
                  tile_height=tile_height, interval=config.interval_seconds, duration=duration)


def vtt(plan: Layout, sprite: str) -> bytes:
    """WebVTT cues that point into the sprite with media fragments (``#xywh=x,y,w,h``)."""
    from mediaflow.workers.ffmpeg_tools import timestamp

    lines = ["WEBVTT", ""]
    for start, end, x, y in plan.cues():
        lines += [f"{timestamp(start)} --> {timestamp(end)}",
                  f"{sprite}#xywh={x},{y},{plan.tile_width},{plan.tile_height}", ""]
    return "\n".join(lines).encode()


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """The first frame of every interval (select), scaled to the tile, laid out by the tile filter, in one run.

    ``select`` keeps the frame at or after each interval's start, so a clip shorter than one interval still
    gives its first frame (the fps filter rounds a partial last interval away and wrote nothing)."""
    import ffmpeg

    from mediaflow.nodes.poster_frame import image_encoder_options
    from mediaflow.workers.video_state import Sidecar

    node_id = ctx.node_id
    state.require_video(node_id)
    width, height = state.display_size(node_id)
    _, duration = state.span()
    plan = layout(config, duration, width, height)
    source = state.open(length=plan.count * plan.interval)
    video = (source["v:0"]
             .filter("select", f"gte(t,selected_n*{plan.interval!r})")
             .filter("scale", plan.tile_width, plan.tile_height, flags="bicubic")
             .filter("setsar", "1")
             .filter("tile", f"{plan.columns}x{plan.rows}", nb_frames=str(plan.count)))
    target = state.scratch(f".{config.output_format}")
    options = {**state.output_options(audio=False), **image_encoder_options(config.output_format),
               "frames:v": "1", "f": "image2", "update": "1"}
    state.run(ffmpeg.output(video, str(target), **options), node_id, "ffmpeg storyboard")
    sidecar = Sidecar(filename="{stem}.vtt", content_type="text/vtt", media_type="other",
                      render=lambda sprite: vtt(plan, sprite))
    state.produce(target, config.output_format, node_id, width=plan.columns * plan.tile_width,
                  height=plan.rows * plan.tile_height, sidecars=[sidecar])
    return {"format": config.output_format, "frames": plan.count, "columns": plan.columns, "rows": plan.rows,
            "tileWidth": plan.tile_width, "tileHeight": plan.tile_height, "intervalSeconds": plan.interval}
