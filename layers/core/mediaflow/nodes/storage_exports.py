"""Exports of the `storage` node: the stored output copied to a destination outside mediaflow.

- ``s3``: the user's bucket (on the deployment's export allow-list), written directly or through a role in
  the user's account (``roleArn`` + ``externalId``; the trust and permissions policies are in
  docs/import-export.md);
- ``url``: a presigned PUT URL given at run time (the SSRF guard of imports applies: https to public
  addresses, loopback only with the import loopback allowance);
- ``local``: embedded mode, a folder under the export root (``MEDIAFLOW_EXPORT_LOCAL_ROOT``).

Names come from the rename tokens and never leave the destination's folder: ``..``, absolute paths,
backslashes and percent-encoded separators are refused in the config, and a local path is checked again
after symlinks are resolved. An export replaces an object of the same name at the destination.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.errors import ExportFailed

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef
    from mediaflow.nodes.storage import Config

EXPORTS = frozenset({"s3", "url", "local"})
_ENCODED = re.compile(r"%(?:2f|5c|2e|00)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_relative(text: str) -> str | None:
    """Why ``text`` could leave the folder it is relative to, or None when it cannot."""
    if not text:
        return None
    if _ENCODED.search(text):
        return "percent-encoded separators and dots are not allowed"
    if "\\" in text:
        return "backslashes are not allowed"
    if text.startswith("/") or _DRIVE.match(text):
        return "must be a relative path"
    if any(part == ".." for part in text.split("/")):
        return "`..` is not allowed"
    if any(ord(ch) < 32 for ch in text):
        return "control characters are not allowed"
    return None


def export_name(media: MediaRef, config: Config, ctx: OpContext) -> str:
    """The exported file's name: ``filename`` rendered with the rename tokens, else the stored name."""
    from mediaflow.nodes.rename import render_filename, token_values

    if not config.filename:
        return media.filename or media.key.rsplit("/", 1)[-1]
    values = token_values(media, ctx)
    return render_filename(config.filename, original=values["original"], fmt=values["format"], ext=values["ext"],
                           node_id=ctx.node_id, run_id=ctx.run.run_id, timestamp=values["timestamp"])


def relative_path(media: MediaRef, config: Config, ctx: OpContext) -> str:
    """``{prefix}{name}`` under the destination, every token rendered and every component path-safe."""
    from mediaflow.nodes.storage import output_prefix

    relative = output_prefix(media, config, ctx) + export_name(media, config, ctx)
    problem = unsafe_relative(relative)
    if problem:
        raise ExportFailed(f"the export name {relative!r} is refused: {problem}", field="filename")
    return relative


def export(media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment) -> dict[str, Any]:
    """Copy the stored ``media`` to the configured destination; what was written (for the run record)."""
    from mediaflow.execution.tasks import input_file, scratch_dir

    with scratch_dir(env, "export-") as folder:
        source = input_file(env, media.key, folder / "media")
        if config.destination == "s3":
            return _to_bucket(source, media, config, ctx, env)
        if config.destination == "url":
            return _to_url(source, media, config, env)
        return _to_folder(source, media, config, ctx, env)


def _to_bucket(source: Path, media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment) -> dict[str, Any]:
    from mediaflow.adapters.aws.buckets import write_object

    if config.bucket not in env.settings.export_bucket_names:
        raise ExportFailed(f"export to s3://{config.bucket} refused: the bucket is not on this deployment's "
                           "export allow-list", field="bucket")
    key = relative_path(media, config, ctx)
    written = write_object(str(config.bucket), key, source, media.content_type, role_arn=config.role_arn or "",
                           external_id=config.external_id or "", region=env.settings.region,
                           timeout=env.settings.export_timeout_seconds)
    return {"destination": f"s3://{config.bucket}/{key}", **written}


def _to_url(source: Path, media: MediaRef, config: Config, env: TaskEnvironment) -> dict[str, Any]:
    from mediaflow.transfer import put, shown

    if not config.url:
        raise ExportFailed("no URL to export to: give `url`, or map it from the run's inputs (inputMappings)",
                           field="url")
    status = put(config.url, source, media.content_type, timeout=env.settings.export_timeout_seconds,
                 allow_loopback=env.settings.import_allow_loopback)
    return {"destination": shown(config.url), "status": status}


def _to_folder(source: Path, media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment) -> dict[str, Any]:
    settings = env.settings
    if settings.mode != "embedded" or settings.export_local_root is None:
        raise ExportFailed("local export refused: it needs the embedded mode and an export root "
                           "(MEDIAFLOW_EXPORT_LOCAL_ROOT)", field="path")
    root = settings.export_local_root.resolve()
    folder_text = "/".join(part for part in (config.path or "").split("/") if part)
    problem = unsafe_relative(folder_text)
    if problem:
        raise ExportFailed(f"local export to {config.path!r} refused: {problem}", field="path")
    target = (root / folder_text / relative_path(media, config, ctx)).resolve()
    if not target.is_relative_to(root) or target == root:
        raise ExportFailed(f"local export to {config.path!r} refused: it leaves the export root", field="path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.resolve().is_relative_to(root):
            raise ExportFailed(f"local export to {config.path!r} refused: it leaves the export root", field="path")
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".export-")
        try:
            with os.fdopen(handle, "wb") as out, source.open("rb") as data:
                while chunk := data.read(1 << 20):
                    out.write(chunk)
            Path(partial).replace(target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ExportFailed(f"local export to {target.relative_to(root)} failed: {error.strerror or error}",
                           field="path") from None
    return {"destination": "local", "path": target.relative_to(root).as_posix(), "size": target.stat().st_size}
