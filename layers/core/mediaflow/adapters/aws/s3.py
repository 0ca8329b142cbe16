"""BlobStore on S3: the uploads bucket for ``{tenant}/uploads/...`` keys, the outputs bucket for the rest.

Workers address media by key only, so the store routes each key to its bucket. Run-scoped intermediates
(``{tenant}/runs/...``) are tagged so that a lifecycle rule on the outputs bucket expires them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediaflow.adapters.aws.clients import client_of, error_code, translate, translated
from mediaflow.errors import Conflict, NotFound
from mediaflow.media import MediaRef, media_type_of, validate_key

RETENTION_TAG = "mediaflow-retention"
RUN_SCOPED = "run"
SINGLE_COPY_LIMIT = 5 * 1024**3  # CopyObject's own limit; larger objects go through the managed copy
MULTIPART_THRESHOLD = 64 * 1024 * 1024


def is_run_scoped(key: str) -> bool:
    parts = key.split("/")
    return len(parts) > 2 and parts[1] == "runs"


def is_upload(key: str) -> bool:
    """Keys kept in the uploads bucket: ``{tenant}/uploads/...`` (uploads that start the tenant's matching
    workflows) and ``{tenant}/inputs/...`` (media of direct runs, which the bucket's trigger rule ignores)."""
    parts = key.split("/")
    return len(parts) > 2 and parts[1] in ("uploads", "inputs")


class S3BlobStore:
    """The BlobStore port on S3 (``bucket`` is the outputs bucket)."""

    def __init__(self, bucket: str, *, uploads_bucket: str | None = None, client: Any = None,
                 region: str | None = None, presign_seconds: int = 3600) -> None:
        self.bucket = bucket
        self.uploads_bucket = uploads_bucket or bucket
        self.s3 = client_of(client, "s3", region)
        self.presign_seconds = presign_seconds

    def bucket_for(self, key: str) -> str:
        return self.uploads_bucket if is_upload(key) else self.bucket

    def _extra(self, key: str, content_type: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"ContentType": content_type}
        if is_run_scoped(key):
            extra["Tagging"] = f"{RETENTION_TAG}={RUN_SCOPED}"
        return extra

    # -- writes --------------------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes, content_type: str, *, overwrite: bool = True) -> MediaRef:
        validate_key(key)
        args: dict[str, Any] = {"Bucket": self.bucket_for(key), "Key": key, "Body": data,
                                **self._extra(key, content_type)}
        if not overwrite:
            args["IfNoneMatch"] = "*"  # S3 conditional write: 412 when the key exists
        return self._written(key, self._put(args, key), len(data), content_type)

    def put_file(self, key: str, path: Path, content_type: str, *, overwrite: bool = True,
                 move: bool = False) -> MediaRef:
        """Upload the file (``move`` changes nothing here: the bytes go over the network either way)."""
        validate_key(key)
        path = Path(path)
        if path.stat().st_size <= MULTIPART_THRESHOLD:
            with path.open("rb") as body:
                args: dict[str, Any] = {"Bucket": self.bucket_for(key), "Key": key, "Body": body,
                                        **self._extra(key, content_type)}
                if not overwrite:
                    args["IfNoneMatch"] = "*"
                response = self._put(args, key)
            return self._written(key, response, path.stat().st_size, content_type)
        # Large files go multipart; "never overwrite" is a HEAD check here (a narrow race documented
        # in docs/deploy.md), since the managed transfer does not pass If-None-Match.
        if not overwrite and self.exists(key):
            raise Conflict(f"object {key!r} already exists and is never overwritten", field="key")
        from boto3.s3.transfer import TransferConfig

        extra = self._extra(key, content_type)
        with translated(f"object {key!r}"):
            self.s3.upload_file(str(path), self.bucket_for(key), key, ExtraArgs=extra,
                                Config=TransferConfig(multipart_threshold=MULTIPART_THRESHOLD))
        return self.head(key)

    def _written(self, key: str, response: dict[str, Any], size: int, content_type: str) -> MediaRef:
        """The ref of an object just written, from what was sent and the PUT's answer (no HEAD)."""
        return self._ref(key, {"ContentType": content_type, "ETag": response.get("ETag", "")}, size)

    def _put(self, args: dict[str, Any], key: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = self.s3.put_object(**args)
            return response
        except ClientError as error:
            if error_code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise Conflict(f"object {key!r} already exists and is never overwritten", field="key") from error
            raise translate(error, f"object {key!r}") from error

    def copy(self, source_key: str, key: str, *, content_type: str | None = None,
             overwrite: bool = True) -> MediaRef:
        """Server-side copy (multipart for large objects); the source is left as it is."""
        validate_key(key)
        source = self.head(source_key)
        extra: dict[str, Any] = {"MetadataDirective": "REPLACE",
                                 **self._extra(key, content_type or source.content_type)}
        if "Tagging" in extra:
            extra["TaggingDirective"] = "REPLACE"
        if not overwrite and self.exists(key):
            raise Conflict(f"object {key!r} already exists and is never overwritten", field="key")
        if not overwrite and source.size <= SINGLE_COPY_LIMIT:
            # If-None-Match on the CopyObject too: two writers racing past the check cannot both win.
            from botocore.exceptions import ClientError

            try:
                self.s3.copy_object(CopySource={"Bucket": self.bucket_for(source_key), "Key": source_key},
                                    Bucket=self.bucket_for(key), Key=key, IfNoneMatch="*", **extra)
            except ClientError as error:
                if error_code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    raise Conflict(f"object {key!r} already exists and is never overwritten",
                                   field="key") from error
                raise translate(error, f"object {source_key!r}") from error
            return self.head(key)
        with translated(f"object {source_key!r}"):
            self.s3.copy({"Bucket": self.bucket_for(source_key), "Key": source_key}, self.bucket_for(key), key,
                         ExtraArgs=extra)
        return self.head(key)

    # -- reads ---------------------------------------------------------------------------------------

    def head(self, key: str) -> MediaRef:
        with translated(f"object {key!r}"):
            meta = self.s3.head_object(Bucket=self.bucket_for(key), Key=key)
        return self._ref(key, meta, int(meta.get("ContentLength", 0)))

    def _ref(self, key: str, meta: dict[str, Any], size: int) -> MediaRef:
        content_type = str(meta.get("ContentType") or "application/octet-stream")
        return MediaRef(
            bucket=self.bucket_for(key), key=key, content_type=content_type, size=size,
            etag=str(meta.get("ETag", "")).strip('"') or None, media_type=media_type_of(content_type),
            filename=key.rsplit("/", 1)[-1], metadata=dict(meta.get("Metadata") or {}),
        )

    def download(self, key: str, path: Path) -> Path:
        """One GET streamed to a temporary file, then renamed (s3transfer would HEAD first: a second call
        per Task, which at volume is a call per upload for nothing)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".mf-tmp-{uuid.uuid4().hex}")
        try:
            with translated(f"object {key!r}"):
                body = self.s3.get_object(Bucket=self.bucket_for(key), Key=key)["Body"]
                with tmp.open("wb") as out:
                    for chunk in body.iter_chunks(chunk_size=1024 * 1024):
                        out.write(chunk)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (fewer at the end of the object) with one Range GET."""
        if start < 0 or length < 0:
            raise ValueError("start and length must not be negative")
        if length == 0:
            return b""
        response = self._range_get(key, start, length)
        return b"" if response is None else response[1]

    def read_head(self, key: str, length: int) -> tuple[MediaRef, bytes]:
        """The object's description and its first ``length`` bytes, from one Range GET (no HEAD)."""
        response = self._range_get(key, 0, max(length, 1))
        if response is None:  # an empty object: no byte range to read
            return self.head(key), b""
        meta, data = response
        total = str(meta.get("ContentRange") or "").rpartition("/")[2]
        size = int(total) if total.isdigit() else int(meta.get("ContentLength", len(data)))
        return self._ref(key, meta, size), data[:length]

    def _range_get(self, key: str, start: int, length: int) -> tuple[dict[str, Any], bytes] | None:
        from botocore.exceptions import ClientError

        try:
            response = self.s3.get_object(Bucket=self.bucket_for(key), Key=key,
                                          Range=f"bytes={start}-{start + length - 1}")
        except ClientError as error:
            if error_code(error) == "InvalidRange":
                return None
            raise translate(error, f"object {key!r}") from error
        data: bytes = response["Body"].read()
        return response, data[:length]

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except NotFound:
            return False
        return True

    def list(self, prefix: str) -> Iterator[str]:
        bucket = self.bucket_for(prefix if prefix.count("/") >= 2 else f"{prefix}/x/y")
        paginator = self.s3.get_paginator("list_objects_v2")
        with translated(f"prefix {prefix!r}"):
            keys = [item["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                    for item in page.get("Contents", [])]
        return iter(sorted(keys))

    # -- delete / url --------------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        with translated(f"object {key!r}"):
            self.s3.delete_object(Bucket=self.bucket_for(key), Key=key)

    def local_path(self, key: str) -> Path | None:
        """None: S3 objects are never on this machine's disk."""
        return None

    def sweep_unfinished(self, prefix: str) -> int:
        """0: an S3 write is whole or absent; incomplete multipart uploads expire by the buckets' lifecycle rule
        (AbortIncompleteMultipartUpload in template.yaml)."""
        return 0

    def presigned_post(self, key: str, *, content_type: str | None, expires_seconds: int, max_bytes: int,
                       fields: dict[str, str] | None = None) -> dict[str, Any] | None:
        """A presigned POST whose policy fixes the key, the size range, the type and the x-amz-meta-* fields."""
        validate_key(key)
        conditions: list[Any] = [["content-length-range", 1, max_bytes]]
        fields = {**({"Content-Type": content_type} if content_type else {}), **(fields or {})}
        conditions.extend({name: value} for name, value in fields.items())
        post: dict[str, Any] = self.s3.generate_presigned_post(
            Bucket=self.bucket_for(key), Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_seconds)
        return post

    def url(self, key: str, expires_seconds: int | None = None) -> str:
        """A presigned GET URL."""
        with translated(f"object {key!r}"):
            url: str = self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket_for(key), "Key": key},
                ExpiresIn=expires_seconds or self.presign_seconds)
        return url


class S3Multipart:
    """The MultipartStore port on S3 multipart uploads; parts go straight to S3 through presigned URLs.
    Incomplete uploads are aborted by the buckets' lifecycle rule (AbortIncompleteMultipartUpload)."""

    def __init__(self, blobs: S3BlobStore) -> None:
        self.blobs = blobs
        self.s3 = blobs.s3

    def create(self, key: str, content_type: str, metadata: dict[str, str]) -> str:
        validate_key(key)
        with translated(f"object {key!r}"):
            answer = self.s3.create_multipart_upload(Bucket=self.blobs.bucket_for(key), Key=key,
                                                     ContentType=content_type, Metadata=metadata)
        return str(answer["UploadId"])

    def part_url(self, key: str, upload_id: str, part_number: int, expires_seconds: int, base: str) -> str:
        url: str = self.s3.generate_presigned_url(
            "upload_part", ExpiresIn=expires_seconds,
            Params={"Bucket": self.blobs.bucket_for(key), "Key": key, "UploadId": upload_id,
                    "PartNumber": part_number})
        return url

    def receive_part(self, token: str, data: bytes) -> tuple[int, str] | None:
        return None  # parts are PUT to S3 itself

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        marker = 0
        while True:
            with translated(f"upload of {key!r}"):
                page = self.s3.list_parts(Bucket=self.blobs.bucket_for(key), Key=key, UploadId=upload_id,
                                          PartNumberMarker=marker)
            parts.extend({"partNumber": int(p["PartNumber"]), "etag": str(p["ETag"]), "size": int(p["Size"])}
                         for p in page.get("Parts") or [])
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> MediaRef:
        with translated(f"upload of {key!r}"):
            self.s3.complete_multipart_upload(
                Bucket=self.blobs.bucket_for(key), Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]})
        return self.blobs.head(key)

    def abort(self, key: str, upload_id: str) -> None:
        with translated(f"upload of {key!r}"):
            self.s3.abort_multipart_upload(Bucket=self.blobs.bucket_for(key), Key=key, UploadId=upload_id)
