"""`notify`: like `webhook`, with a custom event name and message for the tenant's subscribers."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    event: str = Field(default="workflow.notify", pattern=r"^[a-z0-9_.]{1,64}$")
    message: str = Field(default="", max_length=1000)
