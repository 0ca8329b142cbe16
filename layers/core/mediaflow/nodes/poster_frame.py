"""`poster_frame`: one still frame of a video (input seek: fast on long videos)."""

from typing import Literal

from pydantic import Field, model_validator

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    at_seconds: float | None = Field(default=None, ge=0)
    at_percent: float | None = Field(default=None, ge=0, le=100)
    best_frame: bool = Field(default=False, description="Pick the most representative frame near the time")
    output_format: Literal["jpeg", "png", "webp"] = "jpeg"
    width: int | None = Field(default=None, ge=8, le=7680)

    @model_validator(mode="after")
    def _one_time(self) -> "Config":
        if self.at_seconds is not None and self.at_percent is not None:
            raise ValueError("set atSeconds or atPercent, not both")
        return self
