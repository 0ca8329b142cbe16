"""Multipart uploads on the local server: the same protocol as S3 multipart, parts kept as files.

Each upload is a folder ``<data dir>/multipart/<upload id>/`` holding ``upload.json`` (key, type, metadata)
and one ``<part number>-<md5>.part`` file per part, each written to a temporary name and renamed, so a part
is there whole or not at all; its ETag is read from its name, so listing the parts of a large upload hashes
nothing. A part sent again lands under its new name before the old one is removed. Completing claims the
folder by renaming it (two concurrent completes: one wins), concatenates the parts into the blob store's own
atomic write, then deletes the folder. A sweeper deletes folders older than the retention (S3's lifecycle
rule does the same on AWS: two days).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from mediaflow.errors import InvalidUpload, NotFound
from mediaflow.media import MediaRef

logger = logging.getLogger(__name__)

MANIFEST = "upload.json"
COMPLETING = ".completing"
_CHUNK = 1024 * 1024


def _part_name(number: int, etag: str) -> str:
    return f"{number}-{etag.strip().strip(chr(34))}.part"


def _parse_part(path: Path) -> tuple[int, str] | None:
    """(number, ETag) of a part file's name; None for anything else."""
    number, _, digest = path.stem.partition("-")
    if not number.isdigit() or len(digest) != 32 or not all(c in "0123456789abcdef" for c in digest):
        return None
    return int(number), f'"{digest}"'


class LocalMultipart:
    """The MultipartStore port on a folder; part URLs are signed URLs of the local server."""

    def __init__(self, root: Path, blobs: Any, signer: Any, *, clock: Any = time.time) -> None:
        self.root = Path(root)
        self.blobs = blobs
        self.signer = signer
        self.clock = clock

    def _folder(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise NotFound(f"no upload {upload_id!r}", field="uploadId")
        return self.root / upload_id

    def _manifest(self, upload_id: str) -> dict[str, Any]:
        try:
            manifest: dict[str, Any] = json.loads((self._folder(upload_id) / MANIFEST).read_text())
        except FileNotFoundError:
            raise NotFound(f"no upload {upload_id!r} in progress (completed, aborted or expired)",
                           field="uploadId") from None
        return manifest

    def create(self, key: str, content_type: str, metadata: dict[str, str]) -> str:
        upload_id = secrets.token_hex(12)
        folder = self._folder(upload_id)
        folder.mkdir(parents=True)
        manifest = {"key": key, "contentType": content_type, "metadata": metadata, "createdAt": self.clock()}
        (folder / MANIFEST).write_text(json.dumps(manifest))
        return upload_id

    def part_url(self, key: str, upload_id: str, part_number: int, expires_seconds: int, base: str) -> str:
        token = self.signer.sign({"u": upload_id, "n": part_number, "k": key}, expires_seconds)
        return f"{base}/v1/uploads/parts/{token}"

    def receive_part(self, token: str, data: bytes) -> tuple[int, str] | None:
        """Store one part sent to a signed part URL; (part number, ETag). A part sent again replaces it."""
        claims = self.signer.verify(token)
        upload_id, number = str(claims["u"]), int(claims["n"])
        folder = self._folder(upload_id)
        if self._manifest(upload_id)["key"] != claims.get("k"):
            raise NotFound(f"no upload {upload_id!r}", field="uploadId")
        scratch = folder / f".{number}.{secrets.token_hex(4)}"
        scratch.write_bytes(data)
        etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
        kept = folder / _part_name(number, etag)
        scratch.replace(kept)
        for older in folder.glob(f"{number}-*.part"):  # an earlier try of this part
            if older != kept:
                older.unlink(missing_ok=True)
        return number, etag

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        folder = self._folder(upload_id)
        if self._manifest(upload_id)["key"] != key:
            raise NotFound(f"no upload {upload_id!r}", field="uploadId")
        newest: dict[int, tuple[float, dict[str, Any]]] = {}
        for path in folder.glob("*.part"):
            parsed = _parse_part(path)
            try:
                stat = path.stat()
            except FileNotFoundError:  # replaced while listing: the new one is listed
                continue
            if parsed is not None and stat.st_mtime >= newest.get(parsed[0], (-1.0, {}))[0]:
                newest[parsed[0]] = (stat.st_mtime, {"partNumber": parsed[0], "etag": parsed[1],
                                                     "size": stat.st_size})
        return [part for _, (_, part) in sorted(newest.items())]

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> MediaRef:
        folder = self._folder(upload_id)
        manifest = self._manifest(upload_id)
        if manifest["key"] != key:
            raise NotFound(f"no upload {upload_id!r}", field="uploadId")
        claimed = folder.with_name(upload_id + COMPLETING)
        try:
            folder.rename(claimed)
        except OSError:
            raise NotFound(f"upload {upload_id!r} is being completed already", field="uploadId") from None
        try:
            assembled = claimed / "assembled"
            with assembled.open("wb") as out:
                for number, etag in parts:
                    path = claimed / _part_name(number, etag)
                    if not path.exists():
                        raise InvalidUpload(f"part {number} was not uploaded with ETag {etag}",
                                            field=f"parts.{number}.etag")
                    with path.open("rb") as source:
                        shutil.copyfileobj(source, out, _CHUNK)
            ref: MediaRef = self.blobs.put_file(key, assembled, manifest["contentType"], overwrite=False)
        except BaseException:
            claimed.rename(folder)  # nothing was stored: the upload can be completed again
            raise
        shutil.rmtree(claimed, ignore_errors=True)
        return ref.model_copy(update={"metadata": dict(manifest.get("metadata") or {})})

    def abort(self, key: str, upload_id: str) -> None:
        if self._manifest(upload_id)["key"] != key:
            raise NotFound(f"no upload {upload_id!r}", field="uploadId")
        shutil.rmtree(self._folder(upload_id), ignore_errors=True)

    def sweep(self, max_age_seconds: float) -> list[str]:
        """Delete uploads started more than ``max_age_seconds`` ago (and leftovers of interrupted completes)."""
        if not self.root.exists():
            return []
        swept = []
        horizon = self.clock() - max_age_seconds
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            try:
                started = float(json.loads((folder / MANIFEST).read_text())["createdAt"])
            except (OSError, ValueError, KeyError):
                started = folder.stat().st_mtime
            if started < horizon:
                shutil.rmtree(folder, ignore_errors=True)
                swept.append(folder.name.removesuffix(COMPLETING))
        if swept:
            logger.info("swept %d incomplete upload(s) older than %.0f s", len(swept), max_age_seconds)
        return swept
