"""Upload use cases beyond one presigned POST: multipart uploads (S3 multipart on AWS, the same protocol on
the local server) and upload tokens that let a browser upload to one workflow without an API key.

A multipart upload is named to the client by a signed handle (the store's upload id, the key, the declared
size and part size, the workflow it may start), so nothing about it is kept outside the store itself and a
handle cannot be altered. Completing checks every part against what the store holds (number, ETag, size)
before assembling, so a bad request is a 422 naming the part, never a broken object. The finished object
starts runs the way every upload does (mediaflow.starts): embedded at once, on AWS from the S3 event.
"""

from __future__ import annotations

import fnmatch
import math
import secrets
from datetime import UTC, datetime
from typing import Any

from mediaflow.api.context import ApiContext
from mediaflow.api.models import CompleteIn, MultipartIn, UploadIn, UploadTokenIn
from mediaflow.api.problems import ApiProblem
from mediaflow.api.security import UPLOAD_TOKEN_PREFIX, Principal
from mediaflow.errors import NotFound
from mediaflow.ids import safe_name
from mediaflow.ports import MultipartStore
from mediaflow.starts import (
    ACCEPT_METADATA,
    START_METADATA,
    WORKFLOW_METADATA,
    start_upload,
    tenant_of_upload,
    upload_key,
)
from mediaflow.triggers import run_name


def _field_problem(status: int, message: str, field: str, code: str) -> ApiProblem:
    return ApiProblem(status, message, code=code, errors=[{"field": field, "path": f"body.{field}",
                                                           "message": message}])


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _etag(value: str) -> str:
    return value.strip().strip('"')


def scoped_metadata(principal: Principal, body: UploadIn, max_bytes: int) -> tuple[dict[str, str], int]:
    """The object metadata of an upload (the caller's, plus the workflow it is for) and the largest size
    allowed: an upload token fixes the workflow, the size cap and the accepted types."""
    reserved = sorted(name for name in body.metadata if name.startswith("mediaflow-"))
    if reserved:
        raise _field_problem(422, f"metadata names starting with mediaflow- are reserved: {', '.join(reserved)}",
                             "metadata", "ReservedMetadata")
    metadata = dict(body.metadata)
    grant = principal.grant
    workflow_id = body.workflow_id
    if grant is not None:
        if workflow_id not in (None, grant["workflowId"]):
            raise ApiProblem(403, "this upload token is for another workflow", code="WrongWorkflow",
                             errors=[{"field": "workflowId", "path": "body.workflowId",
                                      "message": f"the token allows {grant['workflowId']} only"}])
        workflow_id = grant["workflowId"]
        max_bytes = min(max_bytes, int(grant["maxBytes"]))
        patterns = list(grant["contentTypes"])
        if patterns:
            declared = (body.content_type or "").split(";")[0].strip().lower()
            if not any(fnmatch.fnmatchcase(declared, pattern) for pattern in patterns):
                raise _field_problem(415, f"this upload token accepts {', '.join(patterns)} only",
                                     "contentType", "UnsupportedContentType")
            metadata[ACCEPT_METADATA] = ",".join(patterns)
    if not body.start:
        if grant is not None or workflow_id is not None:
            raise _field_problem(422, "start false stores the file to be run by its key; an upload for one "
                                      "workflow (workflowId, an upload token) starts it", "start", "StartConflict")
        metadata[START_METADATA] = "none"
    if workflow_id is not None:
        metadata[WORKFLOW_METADATA] = workflow_id
    return metadata, max_bytes


def part_size_for(ctx: ApiContext, size: int, asked: int | None) -> int:
    """Bytes per part: the caller's choice when it fits the rules, else the smallest default that keeps the
    file within the part count."""
    config = ctx.config
    largest = config.max_part_bytes if ctx.signer is None else min(config.max_part_bytes, config.max_body_bytes)
    if asked is not None:
        if not config.min_part_bytes <= asked <= largest:
            raise _field_problem(422, f"partSize must be between {config.min_part_bytes} and {largest} bytes",
                                 "partSize", "BadPartSize")
        if math.ceil(size / asked) > config.max_parts:
            raise _field_problem(422, f"{size} bytes in parts of {asked} is more than {config.max_parts} parts",
                                 "partSize", "TooManyParts")
        return asked
    mebibyte = 1024 * 1024
    needed = math.ceil(size / config.max_parts / mebibyte) * mebibyte
    return min(max(config.default_part_bytes, needed), largest)


class UploadService:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    @property
    def store(self) -> MultipartStore:
        if self.ctx.multipart is None:
            raise ApiProblem(501, "this deployment offers no multipart uploads", code="NotImplemented")
        return self.ctx.multipart

    # -- upload tokens -------------------------------------------------------------------------------
    def create_token(self, tenant: str, body: UploadTokenIn) -> dict[str, Any]:
        config = self.ctx.config
        record = self.ctx.workflows.get(tenant, body.workflow_id)  # 404 for another tenant's workflow
        if body.expires_in > config.max_upload_token_seconds:
            raise _field_problem(422, f"expiresIn is at most {config.max_upload_token_seconds} seconds",
                                 "expiresIn", "TokenTooLong")
        max_bytes = min(body.max_bytes or config.max_multipart_bytes, config.max_multipart_bytes)
        claims = {"typ": "upload", "t": tenant, "w": record["id"], "mb": max_bytes,
                  "ct": list(body.content_types), "j": secrets.token_hex(6)}
        token = self.ctx.token_signer.sign(claims, body.expires_in)
        return {"token": UPLOAD_TOKEN_PREFIX + token, "workflowId": record["id"],
                "expiresAt": _iso(self.ctx.clock() + body.expires_in), "maxBytes": max_bytes,
                "contentTypes": list(body.content_types)}

    # -- multipart -----------------------------------------------------------------------------------
    def create(self, principal: Principal, body: MultipartIn, base: str) -> dict[str, Any]:
        metadata, max_bytes = scoped_metadata(principal, body, self.ctx.config.max_multipart_bytes)
        if body.size > max_bytes:
            raise _field_problem(413, f"size is larger than the {max_bytes} bytes allowed", "size",
                                 "PayloadTooLarge")
        if WORKFLOW_METADATA in metadata:
            self.ctx.workflows.get(principal.tenant, metadata[WORKFLOW_METADATA])
        part_size = part_size_for(self.ctx, body.size, body.part_size)
        key = upload_key(principal.tenant, *[p for p in body.prefix.split("/") if p],
                         secrets.token_hex(8), safe_name(body.filename))
        content_type = body.content_type or "application/octet-stream"
        store_id = self.store.create(key, content_type, metadata)
        expires = self.ctx.config.multipart_expires_seconds
        handle = self.ctx.token_signer.sign({"typ": "multipart", "t": principal.tenant, "k": key, "u": store_id,
                                             "s": body.size, "p": part_size,
                                             "w": metadata.get(WORKFLOW_METADATA)}, expires)
        count = math.ceil(body.size / part_size)
        first = list(range(1, min(count, self.ctx.config.part_urls_per_call) + 1))
        urls = self.part_urls(principal, handle, first, base)
        return {"uploadId": handle, "key": key, "size": body.size, "partSize": part_size, "partCount": count,
                "parts": urls["parts"], "expiresAt": _iso(self.ctx.clock() + expires),
                "urlsExpireAt": urls["urlsExpireAt"]}

    def _upload(self, principal: Principal, handle: str) -> dict[str, Any]:
        """The claims of a multipart handle this caller may use (404 otherwise: nothing is revealed)."""
        try:
            claims = self.ctx.token_signer.verify(handle)
        except ApiProblem:
            raise NotFound("no such upload", field="uploadId") from None
        if claims.get("typ") != "multipart" or claims.get("t") != principal.tenant:
            raise NotFound("no such upload", field="uploadId")
        if principal.grant is not None and claims.get("w") != principal.grant["workflowId"]:
            raise NotFound("no such upload", field="uploadId")
        return claims

    @staticmethod
    def _expected_size(claims: dict[str, Any], number: int) -> int:
        size, part_size = int(claims["s"]), int(claims["p"])
        return min(part_size, size - (number - 1) * part_size)

    def part_urls(self, principal: Principal, handle: str, numbers: list[int], base: str) -> dict[str, Any]:
        claims = self._upload(principal, handle)
        count = math.ceil(int(claims["s"]) / int(claims["p"]))
        for index, number in enumerate(numbers):
            if not 1 <= number <= count:
                raise _field_problem(422, f"part numbers run from 1 to {count}; {number} is not one",
                                     f"partNumbers.{index}", "BadPartNumber")
        expires = self.ctx.config.upload_expires_seconds
        parts = [{"partNumber": number,
                  "url": self._part_url(claims, number, expires, base)} for number in numbers]
        return {"parts": parts, "urlsExpireAt": _iso(self.ctx.clock() + expires)}

    def _part_url(self, claims: dict[str, Any], number: int, expires: int, base: str) -> str:
        url = self.store.part_url(str(claims["k"]), str(claims["u"]), number, expires, base)
        if self.ctx.signer is not None:  # the local server checks each part's size on arrival
            url += f"?size={self._expected_size(claims, number)}"
        return url

    def status(self, principal: Principal, handle: str) -> dict[str, Any]:
        claims = self._upload(principal, handle)
        uploaded = self.store.list_parts(str(claims["k"]), str(claims["u"]))
        count = math.ceil(int(claims["s"]) / int(claims["p"]))
        have = {part["partNumber"] for part in uploaded
                if part["size"] == self._expected_size(claims, part["partNumber"])}
        return {"uploadId": handle, "key": claims["k"], "size": claims["s"], "partSize": claims["p"],
                "partCount": count, "uploaded": uploaded,
                "missing": [number for number in range(1, count + 1) if number not in have]}

    def complete(self, principal: Principal, handle: str, body: CompleteIn) -> dict[str, Any]:
        claims = self._upload(principal, handle)
        key, store_id = str(claims["k"]), str(claims["u"])
        try:
            stored = {part["partNumber"]: part for part in self.store.list_parts(key, store_id)}
        except NotFound:
            if self.ctx.blobs.exists(key):  # completed before: the answer was lost, the runs started then
                ref = self.ctx.blobs.head(key)
                return {"key": key, "size": ref.size, "contentType": ref.content_type,
                        "mediaType": ref.media_type, "runIds": []}
            raise
        self._check_parts(claims, body, stored)
        ref = self.store.complete(key, store_id, [(p.part_number, stored[p.part_number]["etag"])
                                                  for p in body.parts])
        run_ids = self._start_embedded(ref) if self.ctx.signer is not None else []
        return {"key": key, "size": ref.size, "contentType": ref.content_type, "mediaType": ref.media_type,
                "runIds": run_ids}

    def _check_parts(self, claims: dict[str, Any], body: CompleteIn, stored: dict[int, dict[str, Any]]) -> None:
        count = math.ceil(int(claims["s"]) / int(claims["p"]))
        previous = 0
        for index, part in enumerate(body.parts):
            where = f"parts.{index}"
            if part.part_number <= previous or part.part_number > count:
                raise _field_problem(422, f"part numbers must rise from 1 to {count}; {part.part_number} "
                                          f"does not follow {previous}", f"{where}.partNumber", "BadPartNumber")
            previous = part.part_number
            held = stored.get(part.part_number)
            if held is None:
                raise _field_problem(422, f"part {part.part_number} was not uploaded", f"{where}.partNumber",
                                     "PartMissing")
            if _etag(held["etag"]) != _etag(part.etag):
                raise _field_problem(422, f"part {part.part_number} has ETag {held['etag']}, not {part.etag}",
                                     f"{where}.etag", "ETagMismatch")
            expected = self._expected_size(claims, part.part_number)
            if int(held["size"]) != expected:
                raise _field_problem(422, f"part {part.part_number} holds {held['size']} bytes; it must hold "
                                          f"{expected}", f"{where}.size", "WrongPartSize")
        if len(body.parts) != count:
            given = {p.part_number for p in body.parts}
            missing = [n for n in range(1, count + 1) if n not in given]
            raise _field_problem(422, f"parts missing from the list: {missing[:20]}", "parts", "PartMissing")

    def _start_embedded(self, ref: Any) -> list[str]:
        """Embedded: start the matching workflows now (on AWS the S3 event reaches the trigger)."""
        owner = tenant_of_upload(ref.key)
        if owner is None:
            return []
        from mediaflow.api.runs import tenant_object

        tenant, relative = owner
        media = tenant_object(self.ctx, tenant, ref.key).model_copy(update={"metadata": ref.metadata})
        ids: list[str] = []

        def run_id_for(record: dict[str, Any]) -> str:
            ids.append(run_name(record["id"], ref.key, record["version"]))
            return ids[-1]

        start_upload(tenant, media, relative, workflows=self.ctx.workflows.list(tenant, status="active"),
                     launcher=self.ctx.launcher, run_id_for=run_id_for)
        return ids

    def abort(self, principal: Principal, handle: str) -> None:
        claims = self._upload(principal, handle)
        self.store.abort(str(claims["k"]), str(claims["u"]))

    def receive_part(self, token: str, data: bytes, expected: int | None) -> dict[str, Any]:
        """Embedded: one part PUT to its signed URL (the size the URL names is checked first)."""
        if expected is not None and len(data) != expected:
            raise _field_problem(422, f"this part must hold {expected} bytes; {len(data)} arrived", "body",
                                 "WrongPartSize")
        received = self.store.receive_part(token, data)
        if received is None:
            raise NotFound("no such part URL")
        number, etag = received
        return {"partNumber": number, "etag": etag, "size": len(data)}
