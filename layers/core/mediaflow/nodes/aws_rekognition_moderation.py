"""`aws_rekognition_moderation` (Mindia's plugin): unsafe-content labels of an image.

On AWS, Amazon Rekognition DetectModerationLabels on the stored S3 object; in the embedded mode, the nudenet
detector that ships in its wheel (labels mapped onto Rekognition's names). The media passes through with
``moderation_flagged`` ("true"/"false") and ``moderation_labels`` in its metadata, so that a ``branch`` on
``metadata.moderation_flagged`` can block or route it; the step output keeps every label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.errors import PluginUnavailable
from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef
    from mediaflow.ports import Vision

MAX_METADATA = 1024


class Config(NodeConfig):
    min_confidence: float = Field(default=50.0, ge=0, le=100, description="Labels below this confidence (0-100) "
                                  "are left out")


def vision_of(env: TaskEnvironment, kind: str) -> Vision:
    if env.vision is None:
        raise PluginUnavailable(f"{kind} has no image analysis provider in this environment")
    return env.vision


def annotate(media: MediaRef, prefix: str, labels: list[dict[str, Any]], extra: dict[str, str]) -> MediaRef:
    """``media`` with the label names (unique, best first) and ``extra`` in its metadata."""
    names = ",".join(dict.fromkeys(str(label["name"]) for label in labels))
    return media.model_copy(update={"metadata": {**media.metadata, **extra, prefix: names[:MAX_METADATA]}})


def execute(media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
            ) -> tuple[MediaRef, dict[str, Any]]:
    labels = vision_of(env, "aws_rekognition_moderation").moderation(media, config.min_confidence)
    flagged = bool(labels)
    updated = annotate(media, "moderation_labels", labels, {"moderation_flagged": "true" if flagged else "false"})
    return updated, {"flagged": flagged, "labels": labels}
