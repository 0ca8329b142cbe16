"""`validate`: fail the path with `ValidationFailed` unless the media meets every rule."""

from pydantic import Field, model_validator

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    media_types: list[str] = Field(default_factory=list, description="Allowed media types; empty = any")
    content_types: list[str] = Field(default_factory=list, description="Allowed MIME types; empty = any")
    max_size_bytes: int | None = Field(default=None, ge=1)
    min_width: int | None = Field(default=None, ge=1)
    min_height: int | None = Field(default=None, ge=1)
    max_width: int | None = Field(default=None, ge=1)
    max_height: int | None = Field(default=None, ge=1)
    max_duration_ms: int | None = Field(default=None, ge=1)
    required_metadata: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _ranges(self) -> "Config":
        for low, high in (("min_width", "max_width"), ("min_height", "max_height")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} is larger than {high}")
        return self
