"""`trim`: keep a time range of a video or audio file (stream copy when cut points allow)."""

from pydantic import Field, model_validator

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    start_seconds: float = Field(default=0.0, ge=0)
    end_seconds: float | None = Field(default=None, gt=0)
    duration_seconds: float | None = Field(default=None, gt=0)
    stream_copy: bool = Field(default=False, description="Cut without re-encoding (keyframe accuracy)")

    @model_validator(mode="after")
    def _range(self) -> "Config":
        if self.end_seconds is not None and self.duration_seconds is not None:
            raise ValueError("set endSeconds or durationSeconds, not both")
        if self.end_seconds is not None and self.end_seconds <= self.start_seconds:
            raise ValueError("endSeconds must be after startSeconds")
        return self
