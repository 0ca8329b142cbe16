"""`adjust`: brightness, saturation, contrast, hue, grayscale, sharpen, invert."""

from pydantic import Field

from mediaflow.nodes.base import NodeConfig


class Config(NodeConfig):
    brightness: float = Field(default=1.0, ge=0.0, le=4.0, description="Multiplier, 1 = unchanged")
    saturation: float = Field(default=1.0, ge=0.0, le=4.0, description="Multiplier, 1 = unchanged")
    contrast: float = Field(default=1.0, ge=0.0, le=4.0, description="Multiplier, 1 = unchanged")
    hue: float = Field(default=0.0, ge=-360.0, le=360.0, description="Rotation in degrees")
    grayscale: bool = False
    sharpen: float = Field(default=0.0, ge=0.0, le=10.0, description="Sigma of the sharpen mask; 0 = off")
    invert: bool = False
