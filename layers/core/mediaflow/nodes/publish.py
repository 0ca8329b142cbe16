"""`publish`: queue the media for publication to platforms (an event the tenant's systems consume)."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    platforms: list[str] = Field(default_factory=list, max_length=20,
                                 description="Platform names, e.g. the Convertly selectedPlatforms")
    caption: str = Field(default="", max_length=2200)
