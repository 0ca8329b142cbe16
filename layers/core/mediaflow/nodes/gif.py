"""`gif`: an animated GIF (palettegen/paletteuse) or animated WebP preview of a video."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    output_format: Literal["gif", "webp"] = "gif"
    fps: float = Field(default=10.0, gt=0, le=50)
    width: int = Field(default=480, ge=16, le=1920)
    start_seconds: float = Field(default=0.0, ge=0)
    duration_seconds: float = Field(default=3.0, gt=0, le=60)
    loop: int = Field(default=0, ge=0, le=65535, description="0 = forever")


# --------------------------------------------------------------------------------------------------
# Executor (ffmpeg worker)

WEBP_ENCODERS = ("libwebp_anim", "libwebp")

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.video_state import VideoState


def run_video(state: VideoState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """GIF: palettegen and paletteuse in one filter graph (one decode). WebP: libwebp's animation encoder."""
    import ffmpeg

    from mediaflow.errors import MediaDecodeError
    from mediaflow.workers.ffmpeg_tools import fit_even, pick_encoder

    node_id = ctx.node_id
    state.require_video(node_id)
    source_width, source_height = state.display_size(node_id)
    _, duration = state.span()
    if config.start_seconds >= duration:
        raise MediaDecodeError(f"the preview starts at {config.start_seconds:g} s, after the end of the media "
                               f"({duration:.3f} s)", node_id=node_id, field="config.startSeconds")
    length = min(config.duration_seconds, duration - config.start_seconds)
    width, height = fit_even(source_width, source_height, config.width, None)
    source = state.open(offset=config.start_seconds, length=length)
    video = source["v:0"].filter("fps", fps=f"{config.fps:g}")
    if (width, height) != (source_width, source_height):
        video = video.filter("scale", width, height, flags="lanczos")
    video = video.filter("setsar", "1")
    options = state.output_options(audio=False)
    if config.output_format == "gif":
        split = video.filter_multi_output("split")
        palette = split[0].filter("palettegen", stats_mode="diff", max_colors="256")
        video = ffmpeg.filter([split[1], palette], "paletteuse", dither="bayer", bayer_scale="4",
                              diff_mode="rectangle")
        options.update({"c:v": "gif", "f": "gif", "loop": str(config.loop)})
    else:
        encoder = pick_encoder(state.ffmpeg_path, WEBP_ENCODERS, "animated WebP", node_id)
        video = video.filter("format", "yuv420p")
        options.update({"c:v": encoder, "f": "webp", "loop": str(config.loop), "quality": "75",
                        "compression_level": "4", "lossless": "0"})
    target = state.scratch(f".{config.output_format}")
    state.run(ffmpeg.output(video, str(target), **options), node_id, f"ffmpeg {config.output_format} preview")
    frames = max(1, round(length * config.fps))
    state.produce(target, config.output_format, node_id, width=width, height=height,
                  duration_ms=round(length * 1000))
    return {"format": config.output_format, "width": width, "height": height, "fps": config.fps,
            "frames": frames, "durationMs": round(length * 1000), "loop": config.loop}
