"""`storage`: persist the current media under the tenant's outputs prefix."""

from typing import Literal

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    destination: Literal["outputs", "convertly-storage", "custom"] = "outputs"
    prefix: str = Field(default="", max_length=256, pattern=r"^[A-Za-z0-9_\-./{}]*$",
                        description="Folder under the tenant's outputs; tokens like rename")
    overwrite: bool = False
