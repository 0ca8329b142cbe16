"""`transform`: edit the media's metadata (set keys from templates, remove keys)."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from mediaflow.errors import NodeError
from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext
    from mediaflow.media import MediaRef

MAX_VALUE = 1024
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Config(NodeConfig):
    set: dict[str, str] = Field(
        default_factory=dict, max_length=50,
        description="Keys to set; values may use {original} {format} {nodeId} {runId}")
    remove: list[str] = Field(default_factory=list, max_length=50)


def _clean_value(value: str) -> str:
    return "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))[:MAX_VALUE]


def apply(media: MediaRef, config: Config, ctx: OpContext) -> MediaRef:
    """Remove ``config.remove`` keys, then set ``config.set`` keys rendered with the rename tokens.

    Keys must look like object-store metadata names (letters, digits, ``.``, ``_``, ``-``).
    """
    from mediaflow.nodes.rename import render, token_values

    for key in (*config.set, *config.remove):
        if not _KEY.match(key):
            raise NodeError(f"metadata key {key!r} must be 1-128 letters, digits, '.', '_' or '-'",
                            node_id=ctx.node_id, field="set" if key in config.set else "remove")
    values = token_values(media, ctx)
    metadata = {key: value for key, value in media.metadata.items() if key not in set(config.remove)}
    for key, template in config.set.items():
        metadata[key] = _clean_value(render(template, values))
    return media.model_copy(update={"metadata": metadata})
