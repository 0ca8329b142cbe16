"""`storage`: persist the current media under the tenant's outputs prefix, and export it.

The object is copied to ``{tenant}/outputs/{prefix}{filename}``. Existing objects are never replaced
unless ``overwrite`` is set: on a clash the name gets a numeric suffix (``photo-1.jpg``, ``photo-2.jpg``).

The other destinations export that stored copy (mediaflow.nodes.storage_exports): ``s3`` (the user's allow-listed
bucket, through the user's role when ``roleArn`` is set), ``url`` (a presigned PUT URL, usually mapped from
the run's inputs) and ``local`` (embedded: a folder under the export root). A failed export is an
ExportFailed error of the node; the copy in the outputs stays, and the run lists it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from mediaflow.errors import Conflict, ExportFailed, NotFound
from mediaflow.nodes.base import Field, NodeConfig, model_validator
from mediaflow.nodes.storage_exports import EXPORTS, export, unsafe_relative

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef

MAX_SUFFIX = 1000


class Config(NodeConfig):
    destination: Literal["outputs", "convertly-storage", "custom", "s3", "url", "local"] = "outputs"
    prefix: str = Field(default="", max_length=256, pattern=r"^[A-Za-z0-9_\-./{}]*$",
                        description="Folder under the tenant's outputs (and under the export destination); "
                                    "tokens like rename")
    overwrite: bool = False
    bucket: str | None = Field(default=None, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$",
                               description="s3: the user's bucket (on the deployment's export allow-list)")
    role_arn: str | None = Field(default=None, max_length=2048,
                                 pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
                                 description="s3: a role in the user's account mediaflow assumes to write")
    external_id: str | None = Field(default=None, min_length=2, max_length=1224, pattern=r"^[\w+=,.@:/-]+$",
                                    description="s3: the ExternalId the role's trust policy requires")
    url: str | None = Field(default=None, max_length=8192,
                            description="url: a presigned PUT URL (map it from the run's inputs with inputMappings)")
    path: str | None = Field(default=None, max_length=1024, description="local: a folder under the export root")
    filename: str | None = Field(default=None, max_length=200,
                                 description="Exported file name; tokens like rename (default: the stored name)")

    @model_validator(mode="after")
    def _export_fields(self) -> Config:
        if self.destination in EXPORTS:
            for name in ("prefix", "path", "filename"):
                problem = unsafe_relative(getattr(self, name) or "")
                if problem:
                    raise ValueError(f"{name}: {problem}")
        if self.destination == "s3" and not self.bucket:
            raise ValueError("bucket: an s3 export needs the bucket")
        if self.external_id and not self.role_arn:
            raise ValueError("externalId: goes with roleArn")
        return self


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


def candidate_names(filename: str) -> Iterator[str]:
    """``a.jpg``, ``a-1.jpg``, ``a-2.jpg``, ... (the suffix goes before the last extension), made as they are
    tried: the first is nearly always free."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem:
        stem, ext = filename, ""
    suffix = f".{ext}" if ext else ""
    yield filename
    for n in range(1, MAX_SUFFIX + 1):
        yield f"{stem}-{n}{suffix}"


def _copy(env: TaskEnvironment, media: MediaRef, key: str, overwrite: bool) -> MediaRef:
    return env.blobs.copy(media.key, key, content_type=media.content_type, overwrite=overwrite)


def _marker_key(ctx: OpContext) -> str:
    """Where this (run, node, item) records the object it stored, so running it again reuses that object."""
    from mediaflow.filenames import node_prefix

    return f"{node_prefix(ctx.run, ctx.item, ctx.node_id)}/stored.json"


def _mark(env: TaskEnvironment, marker: str, key: str, etag: str | None) -> None:
    env.blobs.put_bytes(marker, json.dumps({"key": key, "etag": etag}).encode(), "application/json")


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
    prefix = output_prefix(media, config, ctx)
    folder = f"{ctx.run.tenant}/outputs/{prefix}"
    filename = output_filename(media)
    wanted = prefix + filename
    marker = _marker_key(ctx)
    stored: MediaRef | None = None if config.overwrite else _stored_before(env, marker)
    claimed: tuple[str, str | None] | None = None  # what the marker says already
    if stored is not None:  # this node already stored for this run and item (a retry, a resume): that object
        filename = stored.key.rsplit("/", 1)[-1]
        claimed = (stored.key, stored.etag)
        if stored.etag != media.etag:
            stored = _copy(env, media, stored.key, True)
    names: Iterable[str] = ([] if stored is not None else [filename] if config.overwrite
                            else candidate_names(filename))
    for name in names:
        key = folder + name
        if key == media.key:
            stored = env.blobs.head(key)
            filename = name
            break
        if not config.overwrite and env.blobs.exists(key):
            continue
        if not config.overwrite:
            # The name is claimed before the copy: a process killed between the copy and the marker below
            # would otherwise leave an object no attempt owns, and the next attempt would store a "-1" twin.
            _mark(env, marker, key, media.etag)
            claimed = (key, media.etag)
        try:
            stored = _copy(env, media, key, config.overwrite)
        except Conflict:
            continue  # written by someone else since the check: try the next name
        filename = name
        break
    if stored is None:
        raise Conflict(f"no free name for {filename!r} under {folder!r}", node_id=ctx.node_id, field="prefix")
    if (stored.key, stored.etag) != claimed:  # a copy keeps the bytes' etag: the claim says it already
        _mark(env, marker, stored.key, stored.etag)
    result = media.model_copy(update={
        "bucket": stored.bucket, "key": stored.key, "size": stored.size, "etag": stored.etag,
        "filename": filename, "output_name": wanted,
    })
    output: dict[str, Any] = {"key": stored.key, "bucket": stored.bucket, "destination": config.destination,
                              "size": stored.size}
    if config.destination in EXPORTS:
        try:
            output["export"] = export(result, config, ctx, env)
        except ExportFailed as failed:
            failed.output = {**output, "media": result.to_state()}  # kept in the outputs: the run lists it
            failed.message = f"{failed.message} (the output is kept at {stored.key})"
            failed.args = (failed.message,)
            raise
    return result, output
