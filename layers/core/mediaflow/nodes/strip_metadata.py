"""`strip_metadata`: drop EXIF, XMP, IPTC, GPS and ICC (pixels converted to sRGB first)."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    keep_icc: bool = Field(default=False, description="Keep the ICC profile (everything else goes)")
    keep_orientation: bool = Field(default=False, description="Orientation is applied to pixels when false")
