"""`aws_rekognition` (Mindia's plugin): what an image shows, as labels.

On AWS, Amazon Rekognition DetectLabels on the stored S3 object. No labels model ships in a PyPI wheel, so
in the embedded mode the node fails with PluginUnavailable (docs/compat.md). The media passes through with
``labels`` (names, best first) in its metadata; the step output keeps names, parents and confidences."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.nodes.aws_rekognition_moderation import annotate, vision_of
from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef


class Config(NodeConfig):
    max_labels: int = Field(default=10, ge=1, le=100)
    min_confidence: float = Field(default=55.0, ge=0, le=100)


def execute(media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
            ) -> tuple[MediaRef, dict[str, Any]]:
    labels = vision_of(env, "aws_rekognition").labels(media, config.max_labels, config.min_confidence)
    return annotate(media, "labels", labels, {}), {"labels": labels}
