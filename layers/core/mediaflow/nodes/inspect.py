"""`inspect`: read format, dimensions, alpha, orientation, ICC, duration, streams; stored as metadata."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    include_exif: bool = Field(default=False, description="Copy readable EXIF tags into the report")
    write_report: bool = Field(default=True, description="Store the report as a JSON output")
