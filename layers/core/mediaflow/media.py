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


def source_keys(execution_input: dict[str, Any]) -> list[str]:
    """The stored keys a run was started on: its media, or every item of a batch (originals first)."""
    states = execution_input.get("items") or ([execution_input["media"]] if "media" in execution_input else [])
    return [str(state.get("sourceKey") or state["key"]) for state in states if isinstance(state, dict)
            and (state.get("sourceKey") or state.get("key"))]


def event_media(tenant: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    """The media fields of a run's workflow.completed / workflow.failed event: the keys it ran on and their
    media ids (Mindia's ``media_id``, see mediaflow.compat.media_id)."""
    from mediaflow.compat import media_id

    keys = source_keys(execution_input)
    ids = [media_id(tenant, key) for key in keys]
    return {"mediaId": ids[0] if ids else None, "mediaIds": ids, "mediaKeys": keys}
