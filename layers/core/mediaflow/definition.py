"""The canonical workflow definition (pydantic v2): nodes, edges, trigger, settings.

The node ``config`` is kept as a plain dict here; the per-kind model (``mediaflow.nodes.<kind>.Config``)
checks it during validation, so that every problem is reported with its node id and field path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from mediaflow.conditions import ConditionGroup

NODE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
MediaKind = Literal["image", "video", "audio", "document"]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Position(_Model):
    x: float = 0
    y: float = 0


class Node(_Model):
    id: str = Field(pattern=NODE_ID_PATTERN, description="Unique id: letters, digits, '-', '_'")
    kind: str = Field(min_length=1, max_length=64)
    label: str | None = Field(default=None, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    position: Position | None = None
    input_mappings: dict[str, str] | None = Field(
        default=None, max_length=50,
        description="Config fields filled when a run starts, from a path: `{\"width\": \"inputs.targetWidth\"}`")
    pass_through_values: dict[str, str] | None = Field(
        default=None, max_length=50, description="Output keys copied from run inputs: `{\"orderId\": \"orderId\"}`")


class Edge(_Model):
    source: str = Field(min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=64)
    kind: Literal["true", "false"] | None = Field(default=None, description="Only on edges out of a branch")

    @field_validator("kind", mode="before")
    @classmethod
    def _bool_kind(cls, value: Any) -> Any:
        return str(value).lower() if isinstance(value, bool) else value


class TriggerFilters(_Model):
    media_types: list[MediaKind] = Field(default_factory=list, description="Empty = every media type")
    prefixes: list[str] = Field(default_factory=list, description="Key prefixes under the tenant's uploads")
    content_types: list[str] = Field(default_factory=list, description="MIME types; `image/*` allowed")
    metadata: dict[str, str] = Field(default_factory=dict, description="Object metadata that must match")
    conditions: ConditionGroup | None = Field(default=None, description="Extra conditions on the media")


class Trigger(_Model):
    on_upload: bool = True
    filters: TriggerFilters = Field(default_factory=TriggerFilters)


class RetrySettings(_Model):
    max_attempts: int = Field(default=2, ge=0, le=10)
    interval_seconds: int = Field(default=2, ge=1, le=3600)
    backoff_rate: float = Field(default=2.0, ge=1.0, le=10.0)


class Settings(_Model):
    stop_on_failure: bool = True
    retry: RetrySettings = Field(default_factory=RetrySettings)
    timeout_seconds: int | None = Field(default=None, ge=10, le=86_400,
                                        description="Whole-run limit; default 300 (express) or 3600 (standard)")
    execution_type: Literal["auto", "standard", "express"] = "auto"
    max_concurrency: int = Field(default=10, ge=1, le=1000, description="Items processed at once in a batch")


class WorkflowDefinition(_Model):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    trigger: Trigger = Field(default_factory=Trigger)
    settings: Settings = Field(default_factory=Settings)

    def canonical(self) -> dict[str, Any]:
        """The one stored and returned shape."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
