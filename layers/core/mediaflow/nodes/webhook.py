"""`webhook`: emit an event to the tenant's webhook subscriptions at this point of the run.

The event goes on the bus (EventBridge, or the in-process bus); the webhook dispatcher delivers it. The
delivery kinds ``notify`` and ``publish`` share :func:`emit`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import Field, NodeConfig

RUN_EVENTS = frozenset({"workflow.completed", "workflow.failed"})

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef


class Config(NodeConfig):
    event: str = Field(default="workflow.completed", pattern=r"^[a-z0-9_.]{1,64}$")
    include_download_urls: bool = True


def event_detail(media: MediaRef, ctx: OpContext, **extra: Any) -> dict[str, Any]:
    """The common detail of a delivery event: who, which run, which node and the media reference."""
    return {
        "tenant": ctx.run.tenant,
        "workflowId": ctx.run.workflow_id,
        "version": ctx.run.version,
        "runId": ctx.run.run_id,
        "nodeId": ctx.node_id,
        "media": media.to_state() if media.key else None,  # a run started by an event has no media
        **({"event": ctx.event} if ctx.event is not None else {}),
        **extra,
    }


def emit(env: TaskEnvironment, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Publish on the bus when there is one; return the op's recorded output either way."""
    if env.bus is None:
        return {"event": detail_type, "published": False, "reason": "no event bus configured"}
    env.bus.publish(detail_type, detail)
    return {"event": detail_type, "published": True}


def execute(
    media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
) -> tuple[MediaRef, dict[str, Any]]:
    extra: dict[str, Any] = {}
    if config.include_download_urls and media.key:
        with contextlib.suppress(Exception):  # a store that cannot sign URLs still delivers the event
            extra["downloadUrl"] = env.blobs.url(media.key)
    if config.event in RUN_EVENTS:
        # The run publishes exactly one workflow.completed / workflow.failed when it ends (mediaflow.runs):
        # this node's data rides in that event instead of a second one.
        return media, {"event": config.event, "published": False, "runEvent": {
            "media": media.to_state() if media.key else None, **extra}}
    return media, emit(env, config.event, event_detail(media, ctx, **extra))
