"""`notify`: like `webhook`, with a custom event name and message for the tenant's subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef


class Config(NodeConfig):
    event: str = Field(default="workflow.notify", pattern=r"^[a-z0-9_.]{1,64}$")
    message: str = Field(default="", max_length=1000)


def execute(
    media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
) -> tuple[MediaRef, dict[str, Any]]:
    from mediaflow.nodes.webhook import emit, event_detail

    return media, emit(env, config.event, event_detail(media, ctx, message=config.message))
