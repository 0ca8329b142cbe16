"""`rename`: rewrite the output filename from a pattern; the result is always path-safe."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mediaflow.filenames import DEFAULT_STEM, clean_component, original_stem, split_extension
from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.media import MediaRef

TOKENS = ("original", "format", "ext", "timestamp", "nodeId", "runId")
MAX_FILENAME = 200

_TOKEN = re.compile(r"\{(" + "|".join(TOKENS) + r")\}")


class Config(NodeConfig):
    pattern: str = Field(default="{original}", min_length=1, max_length=200,
                         description="Tokens: {original} {format} {ext} {timestamp} {nodeId} {runId}")


def timestamp_token(started_at: str) -> str:
    """``20240102T030405Z`` from the run's ISO start time; fixed for a run, so outputs stay deterministic."""
    if not started_at:
        return "00000000T000000Z"
    try:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return "00000000T000000Z"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def render(pattern: str, values: dict[str, str]) -> str:
    """Replace the known ``{token}`` spellings; anything else in braces is kept as written."""
    return _TOKEN.sub(lambda match: values.get(match.group(1), ""), pattern)


def render_filename(pattern: str, *, original: str, fmt: str, ext: str, node_id: str, run_id: str,
                    timestamp: str) -> str:
    """Render ``pattern`` into a safe filename that ends with ``.{ext}``.

    ``original`` is the original file's name without its extension; ``timestamp`` is the token value
    (see :func:`timestamp_token`). A media extension written in the pattern that does not match the
    output is replaced; the result is at most 200 characters.
    """
    ext = clean_component(ext).lstrip(".").lower()
    values = {"original": original, "format": fmt, "ext": ext, "timestamp": timestamp, "nodeId": node_id,
              "runId": run_id}
    name = clean_component(render(pattern, values))
    stem, current = split_extension(name)
    if ext and current.lower() == ext:
        stem = stem.rstrip(". ")
    elif not ext and current:
        ext = current
    stem = stem.rstrip(". ") or DEFAULT_STEM
    suffix = f".{ext}" if ext else ""
    stem = stem[: MAX_FILENAME - len(suffix)].rstrip(". ") or DEFAULT_STEM
    return f"{stem}{suffix}"[:MAX_FILENAME]


def token_values(media: MediaRef, ctx: OpContext) -> dict[str, str]:
    """Values of every token for ``media`` at the op described by ``ctx``."""
    from mediaflow.sniff import EXTENSIONS, format_of_content_type

    fmt = format_of_content_type(media.content_type)
    if fmt == "unknown":
        _, current = split_extension(media.filename)
        fmt = current.lower() or "bin"
        ext = fmt
    else:
        ext = EXTENSIONS.get(fmt, fmt)
    return {"original": original_stem(media), "format": fmt, "ext": ext,
            "timestamp": timestamp_token(ctx.run.started_at), "nodeId": ctx.node_id, "runId": ctx.run.run_id}


def apply(media: MediaRef, config: Config, ctx: OpContext) -> MediaRef:
    """The renamed media reference (the stored object is not touched; the next upload uses the name)."""
    values = token_values(media, ctx)
    filename = render_filename(config.pattern, original=values["original"], fmt=values["format"],
                               ext=values["ext"], node_id=ctx.node_id, run_id=ctx.run.run_id,
                               timestamp=values["timestamp"])
    return media.model_copy(update={"filename": filename})
