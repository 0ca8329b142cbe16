"""`inspect`: read format, dimensions, alpha, orientation, ICC, duration, streams; stored as metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.media import MediaRef
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    include_exif: bool = Field(default=False, description="Copy readable EXIF tags into the report")
    write_report: bool = Field(default=True, description="Store the report as a JSON output")


def report_key(media: MediaRef, ctx: OpContext) -> str:
    """Where the JSON report of ``media`` goes: next to the run's outputs, under the op's node id."""
    from mediaflow.filenames import clean_component, original_stem

    parts = (ctx.run.tenant, "runs", ctx.run.run_id, ctx.node_id)
    prefix = "/".join(clean_component(part) or "_" for part in parts)
    return f"{prefix}/{original_stem(media)}.inspect.json"


def finish(report: dict[str, Any], config: Config, ctx: OpContext,
           media: MediaRef) -> tuple[dict[str, Any], tuple[str, bytes, str] | None]:
    """The op's output (the report, plus the key of its JSON file) and the file to store, if any."""
    from mediaflow.workers.image_state import report_json

    output: dict[str, Any] = {"report": report}
    if not config.write_report:
        return output, None
    key = report_key(media, ctx)
    output["reportKey"] = key
    return output, (key, report_json(report), "application/json")


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    """Describe the image as it stands at this point of the chain, from its header (no pixel decode).

    Width and height are the displayed size (after EXIF orientation); the worker copies them onto
    the returned media reference.
    """
    info = state.source
    image = state.image
    report: dict[str, Any] = {
        "format": info.sniffed.format,
        "mediaType": info.sniffed.media_type,
        "contentType": info.sniffed.content_type,
        "width": int(image.width),
        "height": int(image.height),
        "bands": int(image.bands),
        "hasAlpha": bool(image.hasalpha()),
        "exifOrientation": info.orientation,
        "iccProfile": info.icc_profile,
        "size": info.size,
        "pages": info.pages,
    }
    if config.include_exif:
        report["exif"] = dict(sorted(info.exif.items()))
    output, extra = finish(report, config, ctx, state.media)
    if extra is not None:
        state.extra_outputs.append(extra)
    return output
