"""`replicate_deoldify` (Mindia's plugin): colourise a black-and-white photo with DeOldify on Replicate
(``arielreplicate/deoldify_image``); the coloured image becomes the new media. See `replicate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef

MODEL = "arielreplicate/deoldify_image"


class Config(NodeConfig):
    model_name: Literal["Artistic", "Stable"] = "Artistic"
    render_factor: int = Field(default=35, ge=7, le=45, description="Higher: more colour detail, slower")
    version: str | None = Field(default=None, pattern=r"^[a-f0-9]{64}$",
                                description="Pin a DeOldify version; without it the latest runs")


def execute(media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
            ) -> tuple[MediaRef, dict[str, Any]]:
    from mediaflow.nodes.replicate import run_model

    return run_model(media, ctx, env, model=MODEL, version=config.version, image_input="input_image",
                     inputs={"model_name": config.model_name, "render_factor": config.render_factor},
                     output="media")
