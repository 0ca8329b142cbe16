"""boto3 clients made on first use, and ClientError -> domain errors.

boto3 is imported inside functions only: the core (and the embedded mode) never needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mediaflow.errors import Conflict, InternalError, InvalidUpload, MediaflowError, NotFound, TransientError

NOT_FOUND_CODES = frozenset({
    "404", "NoSuchKey", "NoSuchBucket", "NotFound", "ResourceNotFoundException", "StateMachineDoesNotExist",
    "ExecutionDoesNotExist", "NoSuchVersion", "NoSuchUpload",
})
CONFLICT_CODES = frozenset({
    "ConditionalCheckFailedException", "PreconditionFailed", "412", "ExecutionAlreadyExists",
    "StateMachineAlreadyExists", "TransactionConflictException", "ConflictException",
})
UPLOAD_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "EntityTooLarge"})
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "ProvisionedThroughputExceededException",
    "RequestLimitExceeded", "SlowDown", "InternalError", "InternalServerError", "InternalFailure",
    "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
    "TooManyRequestsException", "LimitExceededException", "500", "503",
})


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or "")


def translate(error: BaseException, what: str = "") -> MediaflowError:
    """A domain error for a botocore ClientError (or a connection problem)."""
    code = error_code(error)
    message = f"{what}: {code or type(error).__name__}" if what else (code or type(error).__name__)
    if code in NOT_FOUND_CODES:
        return NotFound(f"{what} not found" if what else "not found")
    if code in CONFLICT_CODES:
        return Conflict(message)
    if code in UPLOAD_CODES:
        return InvalidUpload(message, field="parts")
    if code == "TransactionCanceledException":
        reasons = getattr(error, "response", {}).get("CancellationReasons") or []
        if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons:
            return Conflict(message)
        return TransientError(message)
    status = int(getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in TRANSIENT_CODES or status >= 500 or type(error).__name__ in (
            "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
        return TransientError(message)
    return InternalError(message)


@contextmanager
def translated(what: str = "") -> Iterator[None]:
    """Re-raise botocore errors inside the block as domain errors (the original is chained)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise translate(error, what) from error


class LazyClient:
    """A boto3 client (or resource) created on first attribute access, once per instance."""

    def __init__(self, service: str, *, region: str | None = None, resource: bool = False,
                 factory: Callable[[], Any] | None = None) -> None:
        self._service = service
        self._region = region
        self._resource = resource
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory() if self._factory else self._make()
        return self._client

    def _make(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 5})
        if self._service == "s3":  # presigned URLs with SigV4 on the regional endpoint
            config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
        if self._resource:
            return boto3.resource(self._service, region_name=self._region, config=config)
        return boto3.client(self._service, region_name=self._region, config=config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


def client_of(value: Any, service: str, region: str | None, *, resource: bool = False) -> Any:
    """``value`` when a client was injected, else a lazy one."""
    return value if value is not None else LazyClient(service, region=region, resource=resource)
