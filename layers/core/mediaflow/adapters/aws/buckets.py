"""Buckets that are not mediaflow's own: reads for ``s3://`` imports and writes for exports.

Both sides are allow-listed by the caller (settings ``import_buckets`` / ``export_buckets``, granted by the
stack's ImportBuckets / ExportBuckets parameters). An export may go through a role in the user's account:
``sts:AssumeRole`` with the ExternalId the user set in the role's trust policy (docs/import-export.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediaflow.errors import ExportFailed, ImportFailed, ImportTooLarge

SESSION_NAME = "mediaflow-export"


def _s3(region: str | None, credentials: dict[str, str] | None = None, timeout: float = 60.0) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=min(timeout, 10.0),
                    read_timeout=timeout, signature_version="s3v4")
    extra = {} if credentials is None else {
        "aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"]}
    return boto3.client("s3", region_name=region, config=config, **extra)


def _code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(error).__name__)


def read_object(bucket: str, key: str, target: Path, *, max_bytes: int, timeout: float,
                region: str | None = None) -> int:
    """Download ``s3://bucket/key`` to ``target`` (ImportTooLarge above ``max_bytes``); returns its size."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _s3(region, timeout=timeout)
    try:
        size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        if size > max_bytes:
            raise ImportTooLarge(f"s3://{bucket}/{key} is {size} bytes; the import limit is {max_bytes}",
                                 field="url")
        client.download_file(bucket, key, str(target))
    except (ClientError, BotoCoreError) as error:
        target.unlink(missing_ok=True)
        raise ImportFailed(f"s3://{bucket}/{key}: {_code(error)}", field="url") from None
    return size


def assumed_credentials(role_arn: str, external_id: str, region: str | None = None) -> dict[str, str]:
    """Short-lived credentials of the user's role (ExportFailed naming the role when STS refuses)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    arguments = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME, "DurationSeconds": 900}
    if external_id:
        arguments["ExternalId"] = external_id
    try:
        answer = boto3.client("sts", region_name=region).assume_role(**arguments)
    except (ClientError, BotoCoreError) as error:
        raise ExportFailed(f"cannot assume {role_arn}: {_code(error)}", field="roleArn") from None
    credentials: dict[str, str] = answer["Credentials"]
    return credentials


def write_object(bucket: str, key: str, source: Path, content_type: str, *, role_arn: str = "",
                 external_id: str = "", region: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """Upload ``source`` to ``s3://bucket/key`` (through the user's role when ``role_arn`` is given);
    ExportFailed names the destination and the S3 error."""
    from botocore.exceptions import BotoCoreError, ClientError

    credentials = assumed_credentials(role_arn, external_id, region) if role_arn else None
    client = _s3(region, credentials, timeout)
    try:
        with source.open("rb") as body:
            answer = client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (ClientError, BotoCoreError) as error:
        status = (getattr(error, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        suffix = f" (HTTP {status})" if status else ""
        raise ExportFailed(f"export to s3://{bucket}/{key} failed: {_code(error)}{suffix}", field="bucket") from None
    return {"bucket": bucket, "key": key, "etag": str(answer.get("ETag", "")).strip('"')}
