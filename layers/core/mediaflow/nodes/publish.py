"""`publish`: queue the media for publication to platforms (an event the tenant's systems consume)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef

EVENT = "media.publish"
"""Detail type of the publication request."""


class Config(NodeConfig):
    platforms: list[str] = Field(default_factory=list, max_length=20,
                                 description="Platform names, e.g. the Convertly selectedPlatforms")
    caption: str = Field(default="", max_length=2200)


def execute(
    media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
) -> tuple[MediaRef, dict[str, Any]]:
    from mediaflow.nodes.webhook import emit, event_detail

    detail = event_detail(media, ctx, platforms=list(config.platforms), caption=config.caption)
    return media, {**emit(env, EVENT, detail), "platforms": list(config.platforms)}
