"""moto 5.2 has Rekognition's DetectLabels but not DetectModerationLabels (docs/moto-stepfunctions.md).
The bridge records every Rekognition call the code makes, answers DetectModerationLabels the way AWS does
(after checking, as AWS does, that the S3 object it names exists: InvalidS3ObjectException otherwise) with
a recorded response chosen per key, and passes every other call on to moto."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

# DetectModerationLabels on a photo with exposed nudity (ModerationModelVersion 7.0 taxonomy).
FLAGGED: dict[str, Any] = {"ModerationLabels": [
    {"Confidence": 98.71, "Name": "Explicit", "ParentName": "", "TaxonomyLevel": 1},
    {"Confidence": 98.71, "Name": "Explicit Nudity", "ParentName": "Explicit", "TaxonomyLevel": 2},
    {"Confidence": 97.42, "Name": "Exposed Female Nipple", "ParentName": "Explicit Nudity", "TaxonomyLevel": 3},
], "ModerationModelVersion": "7.0", "ContentTypes": []}
SAFE: dict[str, Any] = {"ModerationLabels": [], "ModerationModelVersion": "7.0", "ContentTypes": []}


@dataclass
class RekognitionBridge:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    flagged_keys: set[str] = field(default_factory=set)

    def moderation(self, params: dict[str, Any]) -> dict[str, Any]:
        import boto3
        from botocore.exceptions import ClientError

        s3_object = params["Image"]["S3Object"]
        try:
            boto3.client("s3").head_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"])
        except ClientError:
            raise ClientError({"Error": {"Code": "InvalidS3ObjectException",
                                         "Message": "Unable to get object metadata from S3."}},
                              "DetectModerationLabels") from None
        answer = FLAGGED if s3_object["Name"] in self.flagged_keys else SAFE
        minimum = float(params.get("MinConfidence", 50))
        return {**answer, "ModerationLabels": [label for label in answer["ModerationLabels"]
                                               if label["Confidence"] >= minimum]}


@contextmanager
def rekognition_bridge() -> Iterator[RekognitionBridge]:
    from botocore.client import BaseClient

    bridge = RekognitionBridge()
    original = BaseClient._make_api_call

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "rekognition":
            bridge.calls.append((operation, params))
            if operation == "DetectModerationLabels":
                return bridge.moderation(params)
        return original(self, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", call)
        yield bridge
