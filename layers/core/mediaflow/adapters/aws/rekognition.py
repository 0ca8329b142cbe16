"""The ``Vision`` port on AWS: Amazon Rekognition reading the stored S3 object itself (no bytes through
Lambda). Rekognition reads JPEG and PNG up to 15 MB from S3; anything else is refused by name first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mediaflow.adapters.aws.clients import client_of, error_code, translate
from mediaflow.errors import MediaTooLarge, NotFound, PluginUnavailable, ProviderError, UnsupportedMedia
from mediaflow.media import MediaRef

FORMATS = ("image/jpeg", "image/png")
MAX_S3_BYTES = 15 * 1024 * 1024


class RekognitionVision:
    def __init__(self, client: Any = None, region: str | None = None) -> None:
        self.client = client_of(client, "rekognition", region)

    def moderation(self, media: MediaRef, min_confidence: float) -> list[dict[str, Any]]:
        with _translated(media):
            found = self.client.detect_moderation_labels(Image=_s3_image(media), MinConfidence=min_confidence)
        return [{"name": label["Name"], "parent": label.get("ParentName") or None,
                 "confidence": round(float(label["Confidence"]), 2)} for label in found.get("ModerationLabels", [])]

    def labels(self, media: MediaRef, max_labels: int, min_confidence: float) -> list[dict[str, Any]]:
        with _translated(media):
            found = self.client.detect_labels(Image=_s3_image(media), MaxLabels=max_labels,
                                              MinConfidence=min_confidence)
        return [{"name": label["Name"], "parent": (label.get("Parents") or [{}])[0].get("Name"),
                 "confidence": round(float(label["Confidence"]), 2)} for label in found.get("Labels", [])]


def _s3_image(media: MediaRef) -> dict[str, Any]:
    if media.content_type not in FORMATS:
        raise UnsupportedMedia(f"Rekognition reads JPEG and PNG; this is {media.content_type}")
    if media.size > MAX_S3_BYTES:
        raise MediaTooLarge(f"{media.size} bytes: Rekognition reads images up to {MAX_S3_BYTES} bytes from S3")
    return {"S3Object": {"Bucket": media.bucket, "Name": media.key}}


@contextmanager
def _translated(media: MediaRef) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as error:
        code = error_code(error)
        message = f"Rekognition: {code}: {getattr(error, 'response', {}).get('Error', {}).get('Message', error)}"
        if code == "InvalidImageFormatException":
            raise UnsupportedMedia(message) from error
        if code == "ImageTooLargeException":
            raise MediaTooLarge(message) from error
        if code == "InvalidS3ObjectException":
            raise NotFound(f"{message} ({media.key})") from error
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            raise PluginUnavailable(message) from error
        if code == "InvalidParameterException":
            raise ProviderError(message) from error
        raise translate(error, "Rekognition") from error
