"""`negate` (test kind, runtime vips): invert the colour bands, keep alpha."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.base import NodeConfig
from mediaflow.workers.image_state import join_alpha, split_alpha, to_uchar
from pydantic import Field

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.workers.image_state import ImagePipelineState


class Config(NodeConfig):
    strength: float = Field(default=1.0, ge=0, le=1, description="1: full negative")


def apply(state: ImagePipelineState, config: Config, ctx: OpContext) -> dict[str, Any]:
    colour, alpha = split_alpha(state.image)
    inverted = colour.invert()
    mixed = inverted if config.strength == 1 else colour * (1 - config.strength) + inverted * config.strength
    state.image = join_alpha(to_uchar(mixed), alpha)
    return {"strength": config.strength}
