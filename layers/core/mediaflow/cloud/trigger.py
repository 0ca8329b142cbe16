"""Uploads start runs: S3 "Object Created" -> the tenant's matching active workflows -> one run each.

Keys arrive decoded differently by source: S3 event notifications (Records[].s3.object.key) carry the
key form-encoded ("red flower+1.jpg" arrives as "red+flower%2B1.jpg"); EventBridge "Object Created"
events carry it as stored. Each shape is decoded exactly once, by an explicit rule per shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import AliasChoices, BaseModel, Field

from mediaflow.cloud.launcher import StepFunctionsLauncher
from mediaflow.errors import EmptyMedia, NotFound
from mediaflow.media import MediaRef
from mediaflow.ports import BlobStore, WorkflowStore
from mediaflow.sniff import HEAD_BYTES, sniff
from mediaflow.starts import start_upload, tenant_of_upload
from mediaflow.triggers import run_name

logger = logging.getLogger(__name__)

KeyEncoding = Literal["none", "form"]


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int = 0
    etag: str = ""
    version_id: str = ""
    sequencer: str = ""


def decode_key(raw: str, encoding: KeyEncoding) -> str:
    """The stored key: ``form`` undoes S3 notifications' form encoding (``+`` is a space); ``none`` keeps it."""
    return unquote_plus(raw) if encoding == "form" else raw


class _S3Object(BaseModel):
    key: str = Field(min_length=1)
    size: int = 0
    etag: str = Field(default="", validation_alias=AliasChoices("etag", "eTag"))
    version_id: str | None = Field(default=None, validation_alias=AliasChoices("version-id", "versionId"))
    sequencer: str = ""


class _Bucket(BaseModel):
    name: str = Field(min_length=1)


class _ObjectCreatedDetail(BaseModel):
    bucket: _Bucket
    object: _S3Object


class _S3Entity(BaseModel):
    bucket: _Bucket
    object: _S3Object


class _S3Record(BaseModel):
    event_name: str = Field(validation_alias="eventName")
    s3: _S3Entity


def _uploaded(bucket: str, obj: _S3Object, encoding: KeyEncoding) -> UploadedObject:
    return UploadedObject(bucket=bucket, key=decode_key(obj.key, encoding), size=obj.size, etag=obj.etag,
                          version_id=obj.version_id or "", sequencer=obj.sequencer)


def parse_upload_event(event: dict[str, Any], *, eventbridge_encoding: KeyEncoding = "none") -> list[UploadedObject]:
    """The objects of an EventBridge "Object Created" event, of an S3 notification (``Records``), or of an
    SQS batch whose messages are such events (the upload rule delivers to a queue in front of the trigger).

    Validated with pydantic (a malformed event raises ValidationError). Note that powertools'
    ``S3EventBridgeNotificationEvent`` form-decodes EventBridge keys, which breaks keys holding ``+``
    or ``%``; hence these models.
    """
    if is_queue_batch(event):
        return [obj for record in event["Records"]
                for obj in parse_upload_event(json.loads(record["body"]), eventbridge_encoding=eventbridge_encoding)]
    if "Records" in event:
        records = [_S3Record.model_validate(r) for r in event["Records"] if "s3" in r]
        return [_uploaded(r.s3.bucket.name, r.s3.object, "form") for r in records
                if r.event_name.startswith("ObjectCreated")]
    if event.get("detail-type") == "Object Created":
        detail = _ObjectCreatedDetail.model_validate(event.get("detail"))
        return [_uploaded(detail.bucket.name, detail.object, eventbridge_encoding)]
    return []


class UploadTrigger:
    def __init__(self, blobs: BlobStore, workflows: WorkflowStore, launcher: StepFunctionsLauncher) -> None:
        self.blobs = blobs
        self.workflows = workflows
        self.launcher = launcher

    def describe(self, obj: UploadedObject) -> MediaRef | None:
        """The object and a magic-byte sniff of its first bytes (one Range GET); None when gone or empty."""
        try:
            head, first_bytes = self.blobs.read_head(obj.key, HEAD_BYTES)
            sniffed = sniff(first_bytes)
        except (NotFound, EmptyMedia) as error:
            logger.info("upload %s skipped: %s", obj.key, error)
            return None
        from mediaflow.ids import safe_name

        return head.model_copy(update={
            "bucket": obj.bucket, "content_type": sniffed.content_type, "media_type": sniffed.media_type,
            "filename": safe_name(obj.key.rsplit("/", 1)[-1]), "source_key": obj.key,
            "etag": obj.etag or head.etag})

    def handle(self, obj: UploadedObject) -> list[dict[str, Any]]:
        """Start one run per matching active workflow; a duplicated event starts nothing new."""
        owner = tenant_of_upload(obj.key)
        if owner is None:
            logger.info("upload %s is not under {tenant}/uploads/: ignored", obj.key)
            return []
        tenant, relative = owner
        candidates = self.workflows.list(tenant, status="active")
        if not candidates:
            return []
        media = self.describe(obj)
        if media is None:
            return []
        started: list[dict[str, Any]] = start_upload(
            tenant, media, relative, workflows=candidates, launcher=self.launcher,
            run_id_for=lambda record: run_name(obj.bucket, obj.key, obj.version_id, obj.sequencer, record["id"],
                                               int(record["version"])))
        return started


def handle_queue_batch(event: dict[str, Any], handle: Callable[[UploadedObject], list[dict[str, Any]]], *,
                       eventbridge_encoding: KeyEncoding = "none") -> dict[str, Any]:
    """Start the runs of each message of an SQS batch; the messages that failed go back to the queue.

    Returns the started runs and ``batchItemFailures`` (the partial batch response Lambda reads when the
    event source reports batch item failures), so one bad message is retried alone and a retried message
    starts nothing twice (the run record is created conditionally).
    """
    runs: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        try:
            body = json.loads(record["body"])
            for obj in parse_upload_event(body, eventbridge_encoding=eventbridge_encoding):
                runs.extend(handle(obj))
        except Exception:
            logger.exception("upload message %s failed: it goes back to the queue", record.get("messageId"))
            failures.append({"itemIdentifier": str(record.get("messageId"))})
    return {"runs": runs, "batchItemFailures": failures}


def is_queue_batch(event: dict[str, Any]) -> bool:
    return any(record.get("eventSource") == "aws:sqs" for record in event.get("Records") or [])
