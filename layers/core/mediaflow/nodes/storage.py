"""`storage`: persist the current media under the tenant's outputs prefix.

The object is copied to ``{tenant}/outputs/{prefix}{filename}``. Existing objects are never replaced
unless ``overwrite`` is set: on a clash the name gets a numeric suffix (``photo-1.jpg``, ``photo-2.jpg``).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mediaflow.errors import Conflict, NotFound
from mediaflow.nodes.base import NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef

MAX_SUFFIX = 1000


class Config(NodeConfig):
    destination: Literal["outputs", "convertly-storage", "custom"] = "outputs"
    prefix: str = Field(default="", max_length=256, pattern=r"^[A-Za-z0-9_\-./{}]*$",
                        description="Folder under the tenant's outputs; tokens like rename")
    overwrite: bool = False


def output_prefix(media: MediaRef, config: Config, ctx: OpContext) -> str:
    """The rendered, sanitised folder under the outputs (``""`` or ending with ``/``)."""
    from mediaflow.filenames import clean_component
    from mediaflow.nodes.rename import render, token_values

    rendered = render(config.prefix, token_values(media, ctx)) if "{" in config.prefix else config.prefix
    parts = [clean_component(part) for part in rendered.split("/")]
    parts = [part for part in parts if part and part not in (".", "..")]
    return "".join(f"{part}/" for part in parts)


def output_filename(media: MediaRef) -> str:
    from mediaflow.filenames import DEFAULT_STEM, clean_component

    name = clean_component(media.filename or PurePosixPath(media.key).name)
    return name or DEFAULT_STEM


def candidate_names(filename: str) -> list[str]:
    """``a.jpg``, ``a-1.jpg``, ``a-2.jpg``, ... (the suffix goes before the last extension)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem:
        stem, ext = filename, ""
    suffix = f".{ext}" if ext else ""
    return [filename] + [f"{stem}-{n}{suffix}" for n in range(1, MAX_SUFFIX + 1)]


def _copy(env: TaskEnvironment, media: MediaRef, key: str, overwrite: bool) -> MediaRef:
    return env.blobs.copy(media.key, key, content_type=media.content_type, overwrite=overwrite)


def _marker_key(ctx: OpContext) -> str:
    """Where this (run, node, item) records the object it stored, so running it again reuses that object."""
    from mediaflow.filenames import node_prefix

    return f"{node_prefix(ctx.run, ctx.item, ctx.node_id)}/stored.json"


def _stored_before(env: TaskEnvironment, marker: str) -> MediaRef | None:
    """The object an earlier attempt of this (run, node, item) stored, unless something replaced it since."""
    if not env.blobs.exists(marker):
        return None
    try:
        record = json.loads(env.blobs.read_range(marker, 0, 65536))
        existing = env.blobs.head(str(record["key"]))
    except (ValueError, KeyError, TypeError, NotFound):
        return None
    return existing if existing.etag is not None and existing.etag == record.get("etag") else None


def execute(
    media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
) -> tuple[MediaRef, dict[str, Any]]:
    """Copy the media to the tenant's outputs; the stored reference becomes the current media."""
    folder = f"{ctx.run.tenant}/outputs/{output_prefix(media, config, ctx)}"
    filename = output_filename(media)
    marker = _marker_key(ctx)
    stored: MediaRef | None = None if config.overwrite else _stored_before(env, marker)
    if stored is not None:  # this node already stored for this run and item (a retry, a resume): that object
        filename = stored.key.rsplit("/", 1)[-1]
        if stored.etag != media.etag:
            stored = _copy(env, media, stored.key, True)
    names = [] if stored is not None else [filename] if config.overwrite else candidate_names(filename)
    for name in names:
        key = folder + name
        if key == media.key:
            stored = env.blobs.head(key)
            filename = name
            break
        if not config.overwrite and env.blobs.exists(key):
            continue
        try:
            stored = _copy(env, media, key, config.overwrite)
        except Conflict:
            continue  # written by someone else since the check: try the next name
        filename = name
        break
    if stored is None:
        raise Conflict(f"no free name for {filename!r} under {folder!r}", node_id=ctx.node_id, field="prefix")
    env.blobs.put_bytes(marker, json.dumps({"key": stored.key, "etag": stored.etag}).encode(), "application/json")
    result = media.model_copy(update={
        "bucket": stored.bucket, "key": stored.key, "size": stored.size, "etag": stored.etag,
        "filename": filename,
    })
    return result, {"key": stored.key, "bucket": stored.bucket, "destination": config.destination,
                    "size": stored.size}
