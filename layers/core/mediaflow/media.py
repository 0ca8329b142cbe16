"""MediaRef: how media moves between nodes (an object reference, never bytes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

MediaType = Literal["image", "video", "audio", "document", "other"]


class MediaRef(BaseModel):
    """A stored object plus what is known about it. Serialised in camelCase inside state payloads."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

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
    related: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Sidecar outputs of the same step (storyboard VTT, HLS segments, extra pages) as MediaRef dicts")

    def to_state(self) -> dict[str, Any]:
        """The camelCase dict placed in Step Functions state (None fields dropped, stable order)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

