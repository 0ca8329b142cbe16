"""`import_url`: fetch media from an https URL (or an allow-listed S3 bucket) and make it the current media.

The URL is fetched through :mod:`mediaflow.transfer`: https to public addresses only (every IP spelling,
the resolved address pinned, each redirect checked again), no credentials forwarded, stopped at the size
and time caps. The bytes are typed by their magic bytes, never by the server's Content-Type, and stored
under the run's own prefix, so later nodes (and a retry) read them from mediaflow's storage.
``s3://bucket/key`` reads a bucket on the deployment's import allow-list (AWS: ImportBuckets).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from mediaflow.media import MediaType
from mediaflow.nodes.base import Field, NodeConfig, field_validator

if TYPE_CHECKING:
    from pathlib import Path

    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef

SCHEMES = ("https://", "http://", "s3://")
MEDIA_TYPES: tuple[MediaType, ...] = ("image", "video", "audio", "document")


class Config(NodeConfig):
    url: str = Field(min_length=1, max_length=4096,
                     description="https:// URL of the media, or s3://bucket/key of a bucket on the import allow-list")
    max_bytes: int | None = Field(default=None, ge=1,
                                  description="Refuse larger sources (never above the deployment's import cap)")
    media_types: list[MediaType] = Field(default_factory=lambda: list(MEDIA_TYPES), min_length=1,
                                         description="Media types accepted, judged by the downloaded bytes")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.lower().startswith(SCHEMES):
            raise ValueError("the URL must start with https:// (or s3:// for an allow-listed bucket)")
        return value


def prepended(definition: dict[str, Any], url: str) -> dict[str, Any]:
    """``definition`` with an ``import_url`` node of ``url`` between its trigger and the trigger's successors:
    what a run started with ``{"url": ...}`` runs (the saved workflow is not changed)."""
    from mediaflow.catalog import get_spec

    nodes = list(definition.get("nodes", []))
    trigger = next((node["id"] for node in nodes if (spec := get_spec(str(node.get("kind")))) is not None
                    and spec.role == "trigger"), None)
    if trigger is None:
        return definition
    taken = {str(node.get("id")) for node in nodes}
    node_id = next(name for name in ("import", *(f"import-{n}" for n in range(2, 1000))) if name not in taken)
    edges = [{**edge, "source": node_id} if edge.get("source") == trigger else edge
             for edge in definition.get("edges", [])]
    return {**definition, "nodes": [*nodes, {"id": node_id, "kind": "import_url", "config": {"url": url}}],
            "edges": [{"source": trigger, "target": node_id}, *edges]}


def s3_location(url: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of an ``s3://bucket/key`` URL, else None."""
    if not url.lower().startswith("s3://"):
        return None
    bucket, _, key = url[5:].partition("/")
    return bucket, key


def _from_bucket(url: str, target: Path, max_bytes: int, env: TaskEnvironment) -> tuple[str, dict[str, Any]]:
    from mediaflow.errors import ImportRefused

    bucket, key = s3_location(url) or ("", "")
    if not bucket or not key or ".." in key.split("/"):
        raise ImportRefused(f"{url}: an S3 source is s3://bucket/key", field="url")
    if bucket not in env.settings.import_bucket_names:
        raise ImportRefused(f"bucket {bucket!r} is not on this deployment's import allow-list", field="url")
    from mediaflow.adapters.aws.buckets import read_object

    size = read_object(bucket, key, target, max_bytes=max_bytes, timeout=env.settings.import_timeout_seconds,
                       region=env.settings.region)
    return PurePosixPath(key).name, {"source": f"s3://{bucket}/{key}", "size": size}


def _from_url(url: str, target: Path, max_bytes: int, env: TaskEnvironment) -> tuple[str, dict[str, Any]]:
    from mediaflow.transfer import fetch

    settings = env.settings
    fetched = fetch(url, target, max_bytes=max_bytes, timeout=settings.import_timeout_seconds,
                    max_redirects=settings.import_max_redirects, allow_loopback=settings.import_allow_loopback)
    return fetched.filename, {"source": fetched.url, "size": fetched.size, "redirects": fetched.redirects}


def stored_name(name: str, extension: str) -> str:
    """A path-safe filename for the imported bytes, ending with the extension their type has."""
    from mediaflow.filenames import original_stem
    from mediaflow.media import MediaRef
    from mediaflow.nodes.rename import render_filename

    stem = original_stem(MediaRef.trusted({"bucket": "", "key": "", "filename": name or "import"}))
    return render_filename("{original}", original=stem, fmt=extension, ext=extension, node_id="", run_id="",
                           timestamp="")


def execute(media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment) -> tuple[MediaRef, dict[str, Any]]:
    """Fetch, type and store the source; the stored object becomes the current media (its metadata kept)."""
    from mediaflow.errors import UnsupportedMedia
    from mediaflow.execution.tasks import scratch_dir
    from mediaflow.filenames import node_prefix
    from mediaflow.sniff import sniff_file

    cap = env.settings.import_max_bytes
    max_bytes = min(config.max_bytes or cap, cap)
    with scratch_dir(env, "import-") as folder:
        target = folder / "source"
        fetch = _from_bucket if s3_location(config.url) else _from_url
        name, output = fetch(config.url, target, max_bytes, env)
        sniffed = sniff_file(target)
        if sniffed.media_type not in config.media_types:
            raise UnsupportedMedia(f"{output['source']} is {sniffed.format} ({sniffed.media_type}), not one of "
                                   f"{', '.join(config.media_types)}", field="url")
        filename = stored_name(name, sniffed.extension)
        key = f"{node_prefix(ctx.run, ctx.item, ctx.node_id)}/{filename}"
        stored = env.blobs.put_file(key, target, sniffed.content_type, overwrite=True)
    result = media.model_copy(update={
        "bucket": stored.bucket, "key": stored.key, "size": stored.size, "etag": stored.etag,
        "content_type": sniffed.content_type, "media_type": sniffed.media_type, "filename": filename,
        "source_key": stored.key, "width": None, "height": None, "duration_ms": None, "related": []})
    return result, {**output, "key": stored.key, "contentType": sniffed.content_type,
                    "mediaType": sniffed.media_type}
