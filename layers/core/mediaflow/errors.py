"""Domain errors. Adapters turn provider errors into these; one place maps them to HTTP."""

from __future__ import annotations

import re
from typing import Any


class MediaflowError(Exception):
    """Base of every domain error. ``code`` is the stable name shown to users and used as ASL error name."""

    code = "MediaflowError"
    http_status = 500

    def __init__(self, message: str, *, node_id: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node_id = node_id
        self.field = field
        # Ops of the same Task that completed before this error (worker outcomes), so the run keeps them.
        self.completed_steps: list[object] = []


class NotFound(MediaflowError):
    code = "NotFound"
    http_status = 404


class Conflict(MediaflowError):
    code = "Conflict"
    http_status = 409


class InvalidUpload(MediaflowError):
    """A multipart upload that cannot complete as asked (a part missing, an ETag that does not match)."""

    code = "InvalidUpload"
    http_status = 422


class InvalidDefinition(MediaflowError):
    """A workflow definition (or a node's config) that does not validate. ``issues`` and ``warnings`` hold
    the validation issues when a whole definition was checked (``compiler.compile_definition``)."""

    code = "InvalidDefinition"
    http_status = 422

    def __init__(self, message: str, *, node_id: str | None = None, field: str | None = None,
                 issues: list[Any] | None = None, warnings: list[Any] | None = None) -> None:
        super().__init__(message, node_id=node_id, field=field)
        self.issues = issues or []
        self.warnings = warnings or []


class NodeError(MediaflowError):
    """A node failed on its media; the run records it and the original upload stays untouched."""

    code = "NodeError"
    http_status = 422


class UnsupportedMedia(NodeError):
    """The bytes are not a type this node accepts (sniffed from magic bytes, not the extension)."""

    code = "UnsupportedMedia"


class MediaDecodeError(NodeError):
    """The file claims a supported type but could not be decoded (truncated, corrupt)."""

    code = "MediaDecodeError"


class MediaTooLarge(NodeError):
    """The media exceeds a configured budget (pixels, duration, bytes) and was refused before decoding."""

    code = "MediaTooLarge"


class TooManyFrames(MediaTooLarge):
    """An animated image has more frames than ``MEDIAFLOW_MAX_FRAMES`` (refused from the header)."""

    code = "TooManyFrames"


class ActiveContentRefused(NodeError):
    """The document carries active content (JavaScript, launch actions, embedded files) and is refused."""

    code = "ActiveContentRefused"


class EmptyMedia(NodeError):
    code = "EmptyMedia"


class ValidationFailed(NodeError):
    """A `validate` node's rule did not hold."""

    code = "ValidationFailed"


class ToolchainError(NodeError):
    """ffmpeg / libvips / rembg failed for a reason other than the input."""

    code = "ToolchainError"


class PluginUnavailable(NodeError):
    """The node's provider is not available where it runs (no local model, no API token, an AWS-only
    service in the embedded mode); the message says what is missing. Not retried."""

    code = "PluginUnavailable"


class ProviderError(NodeError):
    """An external provider (Rekognition, Replicate) refused or failed the request for this media."""

    code = "ProviderError"


class ImportRefused(NodeError):
    """A media source (a URL, another bucket) is not one mediaflow fetches from; the message says why
    (not https, a private address, a redirect into private space, a bucket not on the allow-list)."""

    code = "ImportRefused"


class ImportTooLarge(NodeError):
    """The media source is larger than the import size cap; nothing was kept."""

    code = "ImportTooLarge"


class ImportTimeout(NodeError):
    """The media source did not deliver within the import time cap; nothing was kept."""

    code = "ImportTimeout"


class ImportFailed(NodeError):
    """The media source answered with an error (an HTTP status, a missing object) or the connection broke."""

    code = "ImportFailed"


class ExportFailed(NodeError):
    """Delivering the output to a destination outside mediaflow failed (the message names the destination
    and the HTTP status or S3 error). The output is kept in mediaflow's own storage: ``output`` says where,
    and the run lists it."""

    code = "ExportFailed"

    def __init__(self, message: str, *, node_id: str | None = None, field: str | None = None,
                 output: dict[str, Any] | None = None) -> None:
        super().__init__(message, node_id=node_id, field=field)
        self.output = output


class TransientError(MediaflowError):
    """Worth retrying (throttling, a storage hiccup). The compiled Retry policy catches this name."""

    code = "TransientError"
    http_status = 503


class ExceedsLambdaBudget(MediaflowError):
    """The ffmpeg work is estimated to outlast the Lambda invocation: the compiled state machine catches
    this and runs the same Task as an ECS Fargate task (``ecs:runTask.sync``). Not a failure of the node."""

    code = "ExceedsLambdaBudget"
    http_status = 503


class InternalError(MediaflowError):
    """An unexpected failure inside a worker (a bug or a crashed toolchain), wrapped with its node id."""

    code = "InternalError"


class StorageFull(MediaflowError):
    """No room to write an output (disk full, quota, file size limit); the inputs are untouched."""

    code = "StorageFull"
    http_status = 507


class RunCancelled(MediaflowError):
    """The run was cancelled before this task started; the task does nothing."""

    code = "RunCancelled"
    http_status = 409


# An absolute path on the server (a scratch file, a package): a slash that starts a token, then path characters.
# URLs ("https://host/x"), MIME types ("image/png") and ratios ("1/2") do not start a token with a slash.
_SERVER_PATH = re.compile(r"(?<![\w.:/~-])(?:/[\w.@+~-]+)+/?")


def without_paths(text: str) -> str:
    """``text`` with every absolute server path cut to its last component (``/tmp/x/source: bad`` ->
    ``source: bad``): tool messages (ffprobe, libvips, Pillow) keep their meaning, the server keeps its layout."""
    return _SERVER_PATH.sub(lambda match: match.group(0).rstrip("/").rsplit("/", 1)[-1] or "/", text)


def public_error(value: Any) -> Any:
    """An error value (a string, or a dict/list of them as run records keep it) with server paths removed."""
    if isinstance(value, str):
        return without_paths(value)
    if isinstance(value, dict):
        return {key: public_error(item) for key, item in value.items()}
    if isinstance(value, list):
        return [public_error(item) for item in value]
    return value
