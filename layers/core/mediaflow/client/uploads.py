"""Large files in parts, resumable: the client side of ``/v1/uploads/multipart`` (docs/uploads.md).

The state of an upload in progress (its uploadId and the file it is for) is kept in a small JSON file in
the user's config dir (``uploads/``), named after the file's path, size and modification time and the API.
Uploading the same file again resumes: the API says which parts it holds, and only the others are sent.
Each part is retried on its own; a finished upload removes its state file.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from mediaflow.api.models import CompletedUpload, MultipartStatus, MultipartUpload, PartUrls
from mediaflow.client.errors import NotFound, TransportError, error_for

if TYPE_CHECKING:
    from mediaflow.client.core import MediaflowClient

PartDone = Callable[[int, int, int], None]  # (part number, parts done, part count)


def _state_name(path: Path, base_url: str) -> str:
    stat = path.stat()
    identity = f"{base_url}\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32] + ".json"


class Uploads:
    """``api.uploads``: multipart uploads that resume where they stopped."""

    def __init__(self, client: MediaflowClient, state_dir: Path | None = None) -> None:
        self.client = client
        self._state_dir = state_dir
        self.part_retries = 4

    @property
    def state_dir(self) -> Path:
        if self._state_dir is None:
            from mediaflow.client.profiles import config_dir

            self._state_dir = config_dir() / "uploads"
        return self._state_dir

    def state_file(self, path: str | Path) -> Path:
        return self.state_dir / _state_name(Path(path), self.client.base_url)

    def upload(self, path: str | Path, *, workflow_id: str | None = None, prefix: str = "",
               metadata: Mapping[str, str] | None = None, content_type: str | None = None,
               part_size: int | None = None, on_part: PartDone | None = None,
               on_resume: Callable[[int, int], None] | None = None, start: bool = True) -> CompletedUpload:
        """Upload ``path`` in parts (resuming an earlier, interrupted upload of the same file made with the same
        ``start``) and complete it: the finished file starts its workflows (only ``workflow_id`` when given)
        once; with ``start`` False none (it is run by its key: ``runs.start_objects``)."""
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"no such file: {source}")
        state_path = self.state_file(source)
        status = self._resume(state_path, start=start)
        if status is None:
            status = self._start(source, state_path, workflow_id=workflow_id, prefix=prefix, metadata=metadata,
                                 content_type=content_type, part_size=part_size, start=start)
        elif on_resume is not None:
            on_resume(status.part_count - len(status.missing), status.part_count)
        done = status.part_count - len(status.missing)
        etags = {part.part_number: part.etag for part in status.uploaded}
        with source.open("rb") as handle:
            for first in range(0, len(status.missing), 100):
                numbers = status.missing[first:first + 100]
                urls = self.client.call(PartUrls, "POST", f"/v1/uploads/multipart/{status.upload_id}/parts",
                                        json_body={"partNumbers": numbers})
                for part in urls.parts:
                    handle.seek((part.part_number - 1) * status.part_size)
                    chunk = handle.read(status.part_size)
                    etags[part.part_number] = self._put_part(part.url, chunk)
                    done += 1
                    if on_part is not None:
                        on_part(part.part_number, done, status.part_count)
        parts = [{"partNumber": number, "etag": etags[number]} for number in range(1, status.part_count + 1)]
        completed = self.client.call(CompletedUpload, "POST", f"/v1/uploads/multipart/{status.upload_id}/complete",
                                     json_body={"parts": parts})
        state_path.unlink(missing_ok=True)
        return completed

    def _start(self, source: Path, state_path: Path, **options: Any) -> MultipartStatus:
        declared = options["content_type"] or mimetypes.guess_type(source.name)[0]
        body: dict[str, Any] = {"filename": source.name, "size": source.stat().st_size,
                                **({"contentType": declared} if declared else {})}
        for name, field in (("workflow_id", "workflowId"), ("prefix", "prefix"), ("part_size", "partSize")):
            if options[name]:
                body[field] = options[name]
        if options["metadata"]:
            body["metadata"] = dict(options["metadata"])
        if not options["start"]:
            body["start"] = False
        created = self.client.call(MultipartUpload, "POST", "/v1/uploads/multipart", json_body=body)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps({"uploadId": created.upload_id, "file": str(source.resolve()),
                                          "key": created.key, "api": self.client.base_url,
                                          "start": options["start"]}))
        return MultipartStatus(upload_id=created.upload_id, key=created.key, size=created.size,
                               part_size=created.part_size, part_count=created.part_count, uploaded=[],
                               missing=list(range(1, created.part_count + 1)))

    def _resume(self, state_path: Path, *, start: bool | None = None) -> MultipartStatus | None:
        """The upload a state file names, as the API sees it now; None when there is none to resume (with
        ``start``, one made to start workflows where this one must not, or the other way, is left to expire)."""
        try:
            state = json.loads(state_path.read_text())
            upload_id = state["uploadId"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if start is not None and bool(state.get("start", True)) != start:
            return None
        try:
            return self.client.call(MultipartStatus, "GET", f"/v1/uploads/multipart/{upload_id}")
        except NotFound:  # completed, aborted or expired: start again
            state_path.unlink(missing_ok=True)
            return None

    def _put_part(self, url: str, chunk: bytes) -> str:
        """PUT one part to its URL (no API key: the URL is signed); retried on its own; its ETag."""
        attempt = 0
        while True:
            try:
                response = self.client.http.put(url, content=chunk, timeout=self.client.transfer_timeout,
                                                headers={"Content-Type": "application/octet-stream"})
            except httpx.TransportError as error:
                if attempt >= self.part_retries:
                    raise TransportError(f"PUT part: {type(error).__name__}: {error}") from error
            else:
                if response.status_code < 300 and response.headers.get("etag"):
                    return str(response.headers["etag"])
                if response.status_code < 500 or attempt >= self.part_retries:
                    raise error_for(response.status_code)(response.status_code, _problem(response),
                                                          method="PUT", url=url.split("?", 1)[0])
            attempt += 1
            self.client.sleep(self.client._backoff(attempt, None))

    def abort(self, path: str | Path) -> bool:
        """Abort the upload in progress for ``path`` (its parts are deleted); False when there is none."""
        state_path = self.state_file(path)
        status = self._resume(state_path)
        if status is None:
            return False
        try:
            self.client.request("DELETE", f"/v1/uploads/multipart/{status.upload_id}")
        finally:
            state_path.unlink(missing_ok=True)
        return True


def _problem(response: httpx.Response) -> dict[str, Any]:
    from mediaflow.client.core import problem_of

    return problem_of(response)
