"""`rename`: rewrite the output filename from a pattern; the result is always path-safe."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig

TOKENS = ("original", "format", "ext", "timestamp", "nodeId", "runId")


class Config(NodeConfig):
    pattern: str = Field(default="{original}", min_length=1, max_length=200,
                         description="Tokens: {original} {format} {ext} {timestamp} {nodeId} {runId}")
