"""`background_remove`: cut the subject out with rembg (u2netp by default)."""

from typing import Literal

from mediaflow.nodes.base import Field, NodeConfig

MODEL_ALIASES = {"small": "u2netp", "default": "u2netp", "large": "u2net", "human": "u2net_human_seg"}


class Config(NodeConfig):
    model: str = Field(default="u2netp", pattern=r"^[a-z0-9_\-]{1,40}$",
                       description="rembg model name (small = u2netp); its file must be present")
    output_format: Literal["png", "webp"] = "png"
    alpha_matting: bool = False
    only_mask: bool = False
    background_color: str | None = Field(default=None, pattern=r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")

    def model_name(self) -> str:
        return MODEL_ALIASES.get(self.model, self.model)
