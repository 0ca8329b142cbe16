"""The typed client of the mediaflow API (``/v1``), on httpx.

Requests and answers are the API's own pydantic models (``mediaflow.api.models``): the client and the server
share one definition of every shape (docs/adr/0007-python-client-shares-the-api-models.md). The same client
talks to ``mediaflow serve`` and to a deployed stack behind API Gateway; uploads go to the upload target the
API hands out (a signed local URL, or an S3 presigned POST), so large files never pass through the API.
"""

from __future__ import annotations

import email.utils
import filecmp
import json
import mimetypes
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, unquote

import httpx
from pydantic import BaseModel, ValidationError

from mediaflow.api.models import (
    ApiKeyCreated,
    CancelResult,
    EventResult,
    Health,
    Job,
    JobAccepted,
    KeyList,
    Run,
    RunAccepted,
    RunList,
    StoredObject,
    TemplateList,
    UploadTarget,
    ValidationResult,
    VersionCreated,
    VersionList,
    Workflow,
    WorkflowDiff,
    WorkflowInput,
    WorkflowList,
    WorkflowStats,
)
from mediaflow.client.errors import ApiError, TransportError, WaitTimeout, error_for
from mediaflow.client.uploads import Uploads

if TYPE_CHECKING:  # the webhook models live with their routes (powertools): imported when first used
    from mediaflow.api.routes.webhooks import Delivery, DeliveryList, Webhook, WebhookCreated, WebhookList

M = TypeVar("M", bound=BaseModel)
S = TypeVar("S")
RETRY_STATUSES = frozenset({429, 503})
TERMINAL_RUN = frozenset({"completed", "failed", "cancelled"})
TERMINAL_JOB = frozenset({"completed", "failed", "cancelled"})
DEFAULT_TIMEOUT = 30.0
DIRECT_LIMIT = 9 * 1024 * 1024  # files sent with a run request; API Gateway refuses bodies over 10 MB


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mediaflow")
    except Exception:  # not installed as a distribution (a source checkout on PYTHONPATH)
        return "0"


def parse(model: type[M], data: Any) -> M:
    """``data`` as ``model``, ignoring fields a newer server added (the shared models forbid extras on input)."""
    for _ in range(20):
        try:
            return model.model_validate(data)
        except ValidationError as error:
            extras = [e["loc"] for e in error.errors() if e["type"] == "extra_forbidden"]
            if not extras or len(extras) != len(error.errors()):
                raise
            for loc in extras:
                target = data
                for part in loc[:-1]:
                    target = target[part]
                target.pop(loc[-1], None)
    return model.model_validate(data)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a delay in seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem+json body, or one synthesised from a non-problem answer (a gateway's HTML 502)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and "status" in body and ("detail" in body or "title" in body):
        return body
    detail = body.get("message") if isinstance(body, dict) and body.get("message") else response.text[:500]
    return {"type": "about:blank", "title": response.reason_phrase, "status": response.status_code,
            "detail": str(detail or response.reason_phrase), "errors": []}


def _still_in_progress(response: httpx.Response) -> bool:
    """A 409 naming ``idempotencyKey``: an earlier attempt of this very request (a retry after a timeout carries
    its key) is still being answered; asked again a moment later, the API replays that attempt's answer."""
    if response.status_code != 409:
        return False
    errors = problem_of(response).get("errors") or []
    return any(isinstance(error, dict) and error.get("field") == "idempotencyKey" for error in errors)


def workflow_body(definition: Mapping[str, Any] | WorkflowInput | str | Path) -> dict[str, Any]:
    """A workflow in any accepted shape (dict, ``WorkflowInput``, a JSON file) as a request body."""
    if isinstance(definition, WorkflowInput):
        return definition.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if isinstance(definition, str | Path):
        loaded = json.loads(Path(definition).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{definition}: a workflow file holds a JSON object")
        return loaded
    return dict(definition)


class MediaflowClient:
    """A session with one mediaflow API.

    ``base_url`` is the API root (``http://127.0.0.1:8080`` or ``https://abc.execute-api...amazonaws.com/prod``;
    a trailing ``/v1`` is accepted). Requests answered 429 or 503 are retried ``max_retries`` times, waiting
    what ``Retry-After`` says (capped at ``max_retry_wait``) or an exponential backoff with jitter; POSTs carry
    an ``Idempotency-Key`` so that a retried POST never acts twice. ``timeout`` bounds each request (uploads
    and downloads get ``transfer_timeout`` to write or read). ``transport`` swaps httpx's network transport
    (see ``mediaflow.client.gateway``). ``runs.start`` sends files up to ``direct_limit`` bytes with the run
    request and uploads larger ones first."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 transfer_timeout: float = 600.0, max_retries: int = 4, max_retry_wait: float = 60.0,
                 transport: httpx.BaseTransport | None = None, direct_limit: int = DIRECT_LIMIT,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        base = base_url.rstrip("/")
        self.base_url = base.removesuffix("/v1")
        self.api_key = api_key
        self.max_retries, self.max_retry_wait, self.sleep = max_retries, max_retry_wait, sleep
        self.direct_limit = direct_limit
        self.transfer_timeout = httpx.Timeout(timeout, read=transfer_timeout, write=transfer_timeout)
        self.http = httpx.Client(timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=False,
                                 headers={"User-Agent": f"mediaflow-client/{_version()}",
                                          "Accept": "application/json, application/problem+json"})
        self.workflows = Workflows(self)
        self.runs = Runs(self)
        self.jobs = Jobs(self)
        self.webhooks = Webhooks(self)
        self.keys = Keys(self)
        self.uploads = Uploads(self)

    # -- plumbing ------------------------------------------------------------------------------------
    def __enter__(self) -> MediaflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def _own(self, url: str) -> bool:
        """Whether ``url`` belongs to this API (only then does it get the key)."""
        return url.startswith(self.base_url + "/")

    def request(self, method: str, path: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None,
                files: Any = None, data: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                timeout: httpx.Timeout | None = None, expect: Sequence[int] = ()) -> httpx.Response:
        """One API call with retries; raises ``ApiError`` (with the problem) on an error answer."""
        url = self.url(path)
        all_headers = dict(headers or {})
        if self.api_key and self._own(url):
            all_headers.setdefault("Authorization", f"Bearer {self.api_key}")
        if method.upper() == "POST" and self._own(url):
            all_headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self.http.request(method, url, json=json_body, params=query, files=_reopen(files),
                                             data=data, headers=all_headers,
                                             timeout=timeout or self.http.timeout)
            except httpx.TransportError as error:
                # Only requests that cannot have acted are retried: connection failures, or idempotent ones.
                safe = isinstance(error, httpx.ConnectError) or method.upper() in ("GET", "HEAD", "PUT", "DELETE") \
                    or "Idempotency-Key" in all_headers
                if attempt >= self.max_retries or not safe:
                    raise TransportError(f"{method} {url}: {type(error).__name__}: {error}") from error
                attempt += 1
                self.sleep(self._backoff(attempt, None))
                continue
            if (response.status_code in RETRY_STATUSES or _still_in_progress(response)) and attempt < self.max_retries:
                attempt += 1
                self.sleep(self._backoff(attempt, retry_after_seconds(response.headers.get("Retry-After"))))
                continue
            if response.status_code >= 400 and response.status_code not in expect:
                raise error_for(response.status_code)(response.status_code, problem_of(response), method=method,
                                                      url=url, headers=dict(response.headers))
            return response

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_wait)
        return min(self.max_retry_wait, 0.25 * 2 ** attempt) * (0.5 + random.random() / 2)

    def call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return parse(model, self.request(method, path, **kwargs).json())

    # -- meta, uploads and downloads -----------------------------------------------------------------
    def health(self) -> Health:
        return self.call(Health, "GET", "/v1/health")

    def openapi(self) -> dict[str, Any]:
        document: dict[str, Any] = self.request("GET", "/v1/openapi.json").json()
        return document

    def upload(self, path: str | Path, *, content_type: str | None = None, prefix: str = "",
               metadata: Mapping[str, str] | None = None) -> str:
        """Upload a local file as an upload of the tenant (to the upload target the API hands out: a signed
        local URL, or an S3 presigned POST); returns its key. Like any upload, it starts the tenant's active
        workflows whose upload trigger matches (``prefix`` and ``metadata`` are what their filters see)."""
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"no such file: {source}")
        declared = content_type or mimetypes.guess_type(source.name)[0]
        body: dict[str, Any] = {"filename": source.name, **({"contentType": declared} if declared else {})}
        if prefix:
            body["prefix"] = prefix
        if metadata:
            body["metadata"] = dict(metadata)
        target = self.call(UploadTarget, "POST", "/v1/uploads", json_body=body)
        with source.open("rb") as handle:
            response = self.request("POST", target.url, data=target.fields, timeout=self.transfer_timeout,
                                    files={"file": (source.name, handle, declared or "application/octet-stream")})
        if response.status_code == 201 and response.content:
            return parse(StoredObject, response.json()).key
        return target.key  # S3 answers a presigned POST with 204 and no body

    def download(self, url: str, destination: str | Path) -> Path:
        """Stream a URL the API handed out (an output) to ``destination`` (a file, or a folder to put it in)."""
        target = Path(destination)
        full = self.url(url)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key and self._own(full) else {}
        with self.http.stream("GET", full, headers=headers, timeout=self.transfer_timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise error_for(response.status_code)(response.status_code, problem_of(response), method="GET",
                                                      url=full)
            if target.is_dir():
                target = target / _filename(response, full)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
            partial.replace(target)
        return target


def _reopen(files: Any) -> Any:
    """Rewind file handles so that a retried upload sends the whole file again."""
    values = files.values() if isinstance(files, dict) else [v for _, v in files] if isinstance(files, list) else []
    for value in values:
        handle = value[1] if isinstance(value, tuple) and len(value) > 1 else value
        if hasattr(handle, "seek"):
            handle.seek(0)
    return files


def _filename(response: httpx.Response, url: str) -> str:
    name = disposition_filename(response.headers.get("Content-Disposition", ""))
    if name and Path(name).name:
        return Path(name).name
    return Path(httpx.URL(url).path).name or "download"


def wait_for(fetch: Callable[[], S], done: Callable[[S], bool], what: str, *, timeout: float, poll: float,
             sleep: Callable[[float], None], on_progress: Callable[[S], None] | None = None) -> S:
    """Fetch until ``done``; the interval grows from 0.2 s to ``poll``; raises ``WaitTimeout``."""
    deadline = time.monotonic() + timeout
    interval = min(poll, 0.2)
    while True:
        state = fetch()
        if on_progress is not None:
            on_progress(state)
        if done(state):
            return state
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what} is still {getattr(state, 'status', 'running')} after {timeout:g} s", state)
        sleep(interval)
        interval = min(poll, interval * 1.5)


def _seg(value: str) -> str:
    return quote(value, safe="")


class Workflows:
    """``/v1/workflows``: CRUD, status, validation, plans, versions, templates and events."""

    def __init__(self, client: MediaflowClient) -> None:
        self.c = client

    def list(self, *, status: str | None = None, tag: str | None = None, search: str | None = None,
             sort: str = "updatedAt:desc", limit: int = 20, offset: int = 0,
             cursor: str | None = None) -> WorkflowList:
        return self.c.call(WorkflowList, "GET", "/v1/workflows", params={
            "status": status, "tag": tag, "search": search, "sort": sort, "limit": limit, "offset": offset,
            "cursor": cursor})

    def iter(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Workflow]:
        """Every workflow, following the pages."""
        cursor: str | None = None
        while True:
            page = self.list(status=status, limit=page_size, cursor=cursor)
            yield from page.workflows
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get(self, workflow_id: str) -> Workflow:
        return self.c.call(Workflow, "GET", f"/v1/workflows/{_seg(workflow_id)}")

    def create(self, definition: Mapping[str, Any] | WorkflowInput | str | Path) -> Workflow:
        """Save a workflow (canonical, Convertly or Mindia shape; a dict, a ``WorkflowInput`` or a JSON file)."""
        return self.c.call(Workflow, "POST", "/v1/workflows", json_body=workflow_body(definition))

    def replace(self, workflow_id: str, definition: Mapping[str, Any] | WorkflowInput | str | Path, *,
                if_version: int | None = None) -> Workflow:
        """Replace the definition; ``if_version`` refuses (409) when someone saved in between."""
        headers = {"If-Match": f'"{if_version}"'} if if_version is not None else None
        return self.c.call(Workflow, "PUT", f"/v1/workflows/{_seg(workflow_id)}", json_body=workflow_body(definition),
                           headers=headers)

    def update(self, workflow_id: str, *, name: str | None = None, description: str | None = None,
               tags: Sequence[str] | None = None, is_active: bool | None = None, status: str | None = None,
               if_version: int | None = None) -> Workflow:
        listed = list(tags) if tags is not None else None
        body = {k: v for k, v in {"name": name, "description": description, "tags": listed, "isActive": is_active,
                                  "status": status, "version": if_version}.items() if v is not None}
        return self.c.call(Workflow, "PATCH", f"/v1/workflows/{_seg(workflow_id)}", json_body=body)

    def set_status(self, workflow_id: str, status: str) -> Workflow:
        return self.c.call(Workflow, "PUT", f"/v1/workflows/{_seg(workflow_id)}/status", json_body={"status": status})

    def activate(self, workflow_id: str) -> Workflow:
        return self.set_status(workflow_id, "active")

    def pause(self, workflow_id: str) -> Workflow:
        return self.set_status(workflow_id, "paused")

    def delete(self, workflow_id: str) -> None:
        self.c.request("DELETE", f"/v1/workflows/{_seg(workflow_id)}")

    def duplicate(self, workflow_id: str) -> Workflow:
        return self.c.call(Workflow, "POST", f"/v1/workflows/{_seg(workflow_id)}/duplicate")

    def validate(self, workflow_id: str) -> ValidationResult:
        return self.c.call(ValidationResult, "POST", f"/v1/workflows/{_seg(workflow_id)}/validate")

    def plan(self, workflow_id: str, *, items: int = 1) -> dict[str, Any]:
        """The compiled state machine, execution type and cost estimate of a saved workflow."""
        plan: dict[str, Any] = self.c.request("GET", f"/v1/workflows/{_seg(workflow_id)}/plan",
                                              params={"items": items}).json()
        return plan

    def stats(self) -> WorkflowStats:
        return self.c.call(WorkflowStats, "GET", "/v1/workflows/stats")

    def versions(self, workflow_id: str) -> VersionList:
        return self.c.call(VersionList, "GET", f"/v1/workflows/{_seg(workflow_id)}/versions")

    def snapshot(self, workflow_id: str, *, tag: str | None = None, description: str | None = None
                 ) -> VersionCreated:
        body = {k: v for k, v in {"versionTag": tag, "description": description}.items() if v is not None}
        return self.c.call(VersionCreated, "POST", f"/v1/workflows/{_seg(workflow_id)}/versions", json_body=body)

    def version(self, workflow_id: str, version: int) -> Workflow:
        return self.c.call(Workflow, "GET", f"/v1/workflows/{_seg(workflow_id)}/versions/{int(version)}")

    def diff(self, workflow_id: str, version: int, other: int) -> WorkflowDiff:
        return self.c.call(WorkflowDiff, "GET",
                           f"/v1/workflows/{_seg(workflow_id)}/versions/{int(version)}/diff/{int(other)}")

    def templates(self) -> TemplateList:
        return self.c.call(TemplateList, "GET", "/v1/workflows/templates")

    def from_template(self, template_id: str, *, name: str | None = None, status: str | None = None) -> Workflow:
        body = {k: v for k, v in {"name": name, "status": status}.items() if v is not None}
        return self.c.call(Workflow, "POST", f"/v1/workflows/templates/{_seg(template_id)}", json_body=body)

    def fire_event(self, event_name: str, data: Mapping[str, Any] | None = None, *, source: str = "api"
                   ) -> EventResult:
        return self.c.call(EventResult, "POST", "/v1/workflows/events",
                           json_body={"eventName": event_name, "data": dict(data or {}), "source": source})


class Runs:
    """Runs: start (local files, stored objects, sample media), read, wait, cancel, retry, download outputs."""

    def __init__(self, client: MediaflowClient) -> None:
        self.c = client

    def start(self, workflow_id: str, files: Iterable[str | Path], *,
              idempotency_key: str | None = None) -> RunAccepted:
        """Run the workflow on local files (several: one batch run). A direct run: the files go with the request
        and no upload trigger fires. Past ``direct_limit`` bytes (API Gateway takes 10 MB per request) they are
        uploaded first in parts (``uploads.upload``, resuming an interrupted upload of the same file), stored
        without starting any workflow, and run as stored objects. ``idempotency_key``: the same key with the same
        request within the API's replay window (24 h) answers with the run it started the first time instead of
        a new one (for uploaded files, the same request means the same stored objects: see ``start_objects``)."""
        paths = [Path(f) for f in files]
        if not paths:
            raise ValueError("start needs at least one file")
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"no such file: {', '.join(missing)}")
        if sum(p.stat().st_size for p in paths) > self.c.direct_limit:
            keys = [self.c.uploads.upload(p, start=False).key for p in paths]
            return self.start_objects(workflow_id, keys, idempotency_key=idempotency_key)
        with ExitStack() as stack:
            parts = [("files" if len(paths) > 1 else "file",
                      (p.name, stack.enter_context(p.open("rb")),
                       mimetypes.guess_type(p.name)[0] or "application/octet-stream")) for p in paths]
            return self.c.call(RunAccepted, "POST", f"/v1/workflows/{_seg(workflow_id)}/runs", files=parts,
                               timeout=self.c.transfer_timeout,
                               headers={"Idempotency-Key": idempotency_key} if idempotency_key else None)

    def start_objects(self, workflow_id: str, keys: Sequence[str], *,
                      idempotency_key: str | None = None) -> RunAccepted:
        """Run on stored objects (keys from ``upload`` or the uploads bucket); ``idempotency_key`` as for
        ``start``, the same keys making the same request."""
        return self.c.call(RunAccepted, "POST", f"/v1/workflows/{_seg(workflow_id)}/runs",
                           json_body={"objects": list(keys)},
                           headers={"Idempotency-Key": idempotency_key} if idempotency_key else None)

    def start_sample(self, workflow_id: str, sample_type: str = "image") -> RunAccepted:
        """A test run on media the API generates (image, video, audio or document)."""
        return self.c.call(RunAccepted, "POST", f"/v1/workflows/{_seg(workflow_id)}/runs",
                           json_body={"sample": True, "sampleType": sample_type})

    def get(self, run_id: str) -> Run:
        return self.c.call(Run, "GET", f"/v1/runs/{_seg(run_id)}")

    def list(self, workflow_id: str, *, limit: int = 50) -> RunList:
        return self.c.call(RunList, "GET", f"/v1/workflows/{_seg(workflow_id)}/runs", params={"limit": limit})

    def wait(self, run_id: str, *, timeout: float = 600.0, poll: float = 0.5,
             on_progress: Callable[[Run], None] | None = None) -> Run:
        """Poll until the run ends; ``on_progress`` sees every state; raises ``WaitTimeout``."""
        return wait_for(lambda: self.get(run_id), lambda run: run.status in TERMINAL_RUN, f"run {run_id}",
                        timeout=timeout, poll=poll, sleep=self.c.sleep, on_progress=on_progress)

    def cancel(self, run_id: str) -> CancelResult:
        return self.c.call(CancelResult, "POST", f"/v1/runs/{_seg(run_id)}/cancel")

    def retry(self, run_id: str, *, from_start: bool = False) -> RunAccepted:
        """Redrive a failed or cancelled run from its failed Task (same run id, ``redriven``); with
        ``from_start`` run the whole workflow again as a new run whose ``retry_of`` names this one."""
        return self.c.call(RunAccepted, "POST", f"/v1/runs/{_seg(run_id)}/retry",
                           json_body={"from": "start" if from_start else "failed"})

    def download_outputs(self, run: Run | str, folder: str | Path, *, as_asked: bool = False) -> Sequence[Path]:
        """Every output of the run into ``folder`` (created), named by the output's filename; with ``as_asked``,
        by the name its storage node asked for (its prefix a sub-folder of ``folder``), as ``mediaflow run``
        names them. A file already there is never written over: a different one gets ``-1``, ``-2``..., the same
        bytes again are not written twice (a run fetched again)."""
        from mediaflow.filenames import output_file_name

        record = self.get(run) if isinstance(run, str) else run
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for output in record.outputs:
            name = (output_file_name(output.key, output.filename, output.output_name) if as_asked
                    else Path(output.filename).name or Path(output.key).name)
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                paths.append(self.c.download(output.url, target))
                continue
            fetched = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            try:
                self.c.download(output.url, fetched)
                if filecmp.cmp(fetched, target, shallow=False):  # the same output fetched again: one copy kept
                    paths.append(target)
                else:
                    paths.append(fetched.replace(_unique(target)))
            finally:
                fetched.unlink(missing_ok=True)
        return paths


def _unique(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


class Jobs:
    """Convertly-style jobs: convert, compress or resize a set of files."""

    def __init__(self, client: MediaflowClient) -> None:
        self.c = client

    def create(self, job_type: str, files: Sequence[str | Path], *, formats: Sequence[str] = (),
               compressions: Sequence[int] = (), resizes: Sequence[str] = (), create_archive: bool = False,
               save_to_storage: bool = False) -> JobAccepted:
        data = {"jobType": job_type, "createArchive": str(create_archive).lower(),
                "saveToStorage": str(save_to_storage).lower()}
        for name, values in (("formats", formats), ("compressions", compressions), ("resizes", resizes)):
            if values:
                data[name] = ",".join(str(v) for v in values)
        with ExitStack() as stack:
            parts = [("files", (Path(f).name, stack.enter_context(Path(f).open("rb")),
                                mimetypes.guess_type(str(f))[0] or "application/octet-stream")) for f in files]
            return self.c.call(JobAccepted, "POST", "/v1/jobs", data=data, files=parts,
                               timeout=self.c.transfer_timeout)

    def get(self, job_id: str) -> Job:
        return self.c.call(Job, "GET", f"/v1/jobs/{_seg(job_id)}")

    def cancel(self, job_id: str) -> JobAccepted:
        return self.c.call(JobAccepted, "DELETE", f"/v1/jobs/{_seg(job_id)}")

    def wait(self, job_id: str, *, timeout: float = 600.0, poll: float = 0.5,
             on_progress: Callable[[Job], None] | None = None) -> Job:
        return wait_for(lambda: self.get(job_id), lambda job: job.status in TERMINAL_JOB, f"job {job_id}",
                        timeout=timeout, poll=poll, sleep=self.c.sleep, on_progress=on_progress)


class Webhooks:
    """Webhook subscriptions (signed per Standard Webhooks) and their deliveries."""

    def __init__(self, client: MediaflowClient) -> None:
        self.c = client

    def create(self, url: str, *, event_types: Sequence[str] = (), workflow_id: str | None = None,
               description: str = "") -> WebhookCreated:
        from mediaflow.api.routes.webhooks import WebhookCreated

        body = {"url": url, "eventTypes": list(event_types), "description": description,
                **({"workflowId": workflow_id} if workflow_id else {})}
        return self.c.call(WebhookCreated, "POST", "/v1/webhooks", json_body=body)

    def list(self) -> WebhookList:
        from mediaflow.api.routes.webhooks import WebhookList

        return self.c.call(WebhookList, "GET", "/v1/webhooks")

    def get(self, webhook_id: str) -> Webhook:
        from mediaflow.api.routes.webhooks import Webhook

        return self.c.call(Webhook, "GET", f"/v1/webhooks/{_seg(webhook_id)}")

    def delete(self, webhook_id: str) -> None:
        self.c.request("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")

    def rotate_secret(self, webhook_id: str) -> str:
        return str(self.c.request("POST", f"/v1/webhooks/{_seg(webhook_id)}/rotate").json()["secret"])

    def deliveries(self, webhook_id: str) -> DeliveryList:
        from mediaflow.api.routes.webhooks import DeliveryList

        return self.c.call(DeliveryList, "GET", f"/v1/webhooks/{_seg(webhook_id)}/deliveries")

    def replay(self, webhook_id: str, delivery_id: str) -> Delivery:
        from mediaflow.api.routes.webhooks import Delivery

        return self.c.call(Delivery, "POST", f"/v1/webhooks/{_seg(webhook_id)}/deliveries/{_seg(delivery_id)}/replay")

    def ping(self, webhook_id: str) -> Delivery:
        from mediaflow.api.routes.webhooks import Delivery

        return self.c.call(Delivery, "POST", f"/v1/webhooks/{_seg(webhook_id)}/ping")


class Keys:
    """API keys of the caller's tenant (needs ``workflows:write``)."""

    def __init__(self, client: MediaflowClient) -> None:
        self.c = client

    def create(self, scopes: Sequence[str], *, name: str = "") -> ApiKeyCreated:
        return self.c.call(ApiKeyCreated, "POST", "/v1/keys", json_body={"name": name, "scopes": list(scopes)})

    def list(self) -> KeyList:
        return self.c.call(KeyList, "GET", "/v1/keys")

    def revoke(self, key_id: str) -> None:
        self.c.request("DELETE", f"/v1/keys/{_seg(key_id)}")


__all__ = ["ApiError", "MediaflowClient", "TransportError", "WaitTimeout", "parse"]


def disposition_filename(value: str) -> str | None:
    """The file name a ``Content-Disposition`` value gives: its ``filename*`` (RFC 6266) when there is one, else
    its ``filename``; None without either."""
    named: dict[str, str] = {}
    for part in value.split(";")[1:]:
        key, equals, raw = part.strip().partition("=")
        if equals:
            named[key.strip().lower()] = raw.strip()
    extended = named.get("filename*")
    if extended:
        charset, _, rest = extended.partition("'")
        _, _, encoded = rest.partition("'")
        if charset.lower() in ("utf-8", "") and encoded:
            return unquote(encoded, encoding="utf-8")
    plain = named.get("filename")
    return plain.strip('"') if plain else None
