"""`upload` trigger: a file uploaded to the uploads bucket / data dir, or posted to the run API."""

from typing import Literal

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    source: Literal["any", "api", "s3"] = "any"
