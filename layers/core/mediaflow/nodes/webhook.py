"""`webhook`: emit an event to the tenant's webhook subscriptions at this point of the run."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    event: str = Field(default="workflow.completed", pattern=r"^[a-z0-9_.]{1,64}$")
    include_download_urls: bool = True
