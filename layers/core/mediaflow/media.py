"""MediaRef: how media moves between nodes (an object reference, never bytes)."""

from __future__ import annotations

from typing import Any, Literal

from mediaflow.declared import Declared, Field, to_camel
from mediaflow.errors import MediaflowError

MediaType = Literal["image", "video", "audio", "document", "other"]
RESERVED_PREFIX = ".mf-"  # key segments the folder store keeps for itself, refused on every store alike
_MAX_KEY_BYTES = 1024


class InvalidKeyError(MediaflowError):
    """A blob key that could escape the store's folder or that S3 would not accept."""

    code = "InvalidKey"
    http_status = 400


def validate_key(key: str) -> str:
    """Return ``key`` when it is a safe relative '/'-separated key, else raise InvalidKey."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("blob key must be a non-empty string", field="key")
    if len(key.encode("utf-8")) > _MAX_KEY_BYTES:
        raise InvalidKeyError("blob key is longer than 1024 bytes", field="key")
    if "\x00" in key or "\\" in key:
        raise InvalidKeyError(f"blob key {key!r} contains a NUL or a backslash", field="key")
    if key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        raise InvalidKeyError(f"blob key {key!r} is absolute", field="key")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(f"blob key {key!r} has an empty, '.' or '..' segment", field="key")
        if segment.startswith(RESERVED_PREFIX):
            raise InvalidKeyError(f"blob key {key!r} uses the reserved prefix {RESERVED_PREFIX!r}",
                                  field="key")
    return key


def media_type_of(content_type: str) -> MediaType:
    major = content_type.split("/", 1)[0].lower()
    if major in ("image", "video", "audio"):
        return major  # type: ignore[return-value]
    if content_type.lower() in ("application/pdf", "application/postscript"):
        return "document"
    return "other"


class Camel(Declared):
    """A declared model (:mod:`mediaflow.declared`) in camelCase on the wire, snake_case in Python, unknown keys
    ignored: the references and the Task contract that travel between the compiler, the runtimes and the workers."""

    @classmethod
    def pydantic_config(cls) -> dict[str, Any]:
        return {"alias_generator": to_camel, "populate_by_name": True, "extra": "ignore"}


class MediaRef(Camel):
    """A stored object plus what is known about it. Serialised in camelCase inside state payloads."""

    bucket: str = Field(description="S3 bucket, or the embedded blob store's name")
    key: str
    content_type: str = "application/octet-stream"
    size: int = Field(default=0, ge=0)
    etag: str | None = None
    media_type: MediaType = "other"
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    filename: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)
    source_key: str | None = Field(default=None, description="Key of the original upload, never overwritten")
    output_name: str | None = Field(
        default=None,
        description="Set by the storage node: the name under the tenant's outputs it asked for (its prefix and "
                    "file name); the key's name differs when that one was taken (photo-1.jpg)")
    related: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Sidecar outputs of the same step (storyboard VTT, HLS segments, extra pages) as MediaRef dicts")

    def to_state(self) -> dict[str, Any]:
        """The camelCase dict placed in Step Functions state (None fields dropped, stable order)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

