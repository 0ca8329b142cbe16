"""`transform`: edit the media's metadata (set keys from templates, remove keys)."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    set: dict[str, str] = Field(default_factory=dict, max_length=50,
                                description="Keys to set; values may use {original} {format} {nodeId} {runId}")
    remove: list[str] = Field(default_factory=list, max_length=50)
