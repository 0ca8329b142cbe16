"""`stamp` (test kind, runtime light): set one metadata key on the media reference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import NodeConfig
from pydantic import Field

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef


class Config(NodeConfig):
    key: str = Field(min_length=1, max_length=40)
    value: str = "yes"


def execute(media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment) -> tuple[MediaRef, dict[str, Any]]:
    stamped = media.model_copy(update={"metadata": {**media.metadata, config.key: config.value}})
    return stamped, {"stamped": {config.key: config.value}}
