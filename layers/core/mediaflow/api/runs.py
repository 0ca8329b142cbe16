"""Run use cases: start runs on uploaded, stored or sample media (one file or a batch), read runs with
their steps and outputs, cancel and retry; presigned-style uploads and signed downloads."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mediaflow.api.context import ApiContext
from mediaflow.api.http import Part
from mediaflow.api.models import RunRequest
from mediaflow.api.problems import ApiProblem, rejected_as
from mediaflow.api.workflows import _decode_cursor as decode_cursor
from mediaflow.api.workflows import _encode_cursor as encode_cursor
from mediaflow.clock import now_iso
from mediaflow.compiler import BatchOptions, Compiled, compile_definition
from mediaflow.errors import Conflict, NotFound, public_error
from mediaflow.ids import new_run_id, safe_name
from mediaflow.media import MediaRef
from mediaflow.runs import cancel_pending, find_failures, input_keys, listed_outputs, media_ids
from mediaflow.sniff import sniff
from mediaflow.starts import direct_key, start_upload, tenant_of_upload, upload_key
from mediaflow.triggers import run_name

TERMINAL = frozenset({"completed", "failed", "cancelled"})


def store_bytes(ctx: ApiContext, key: str, data: bytes, declared: str | None = None) -> MediaRef:
    """Store uploaded bytes under ``key`` with the type sniffed from magic bytes (never the extension)."""
    sniffed = sniff(data[:4096]) if data else None
    content_type = sniffed.content_type if sniffed else (declared or "application/octet-stream")
    ref = ctx.blobs.put_bytes(key, data, content_type, overwrite=False)
    return ref.model_copy(update={"media_type": sniffed.media_type if sniffed else "other",
                                  "filename": key.rsplit("/", 1)[-1], "source_key": key})


def tenant_object(ctx: ApiContext, tenant: str, key: str) -> MediaRef:
    """A stored object of this tenant; another tenant's key reads as not found."""
    if not key.startswith(f"{tenant}/") or ".." in key.split("/"):
        raise NotFound(f"object {key!r} not found", field="objects")
    ref = ctx.blobs.head(key)
    head = ctx.blobs.read_range(key, 0, 4096) if ref.size else b""
    sniffed = sniff(head) if head else None
    return ref.model_copy(update={"media_type": sniffed.media_type if sniffed else ref.media_type,
                                  "content_type": sniffed.content_type if sniffed else ref.content_type,
                                  "filename": key.rsplit("/", 1)[-1], "source_key": key})


def upload_parts(parts: list[Part]) -> list[Part]:
    """The file parts of a multipart run request (``file``, or ``files`` for a batch); 422 without one."""
    files = [p for p in parts if p.filename is not None and p.name in ("file", "files")]
    if not files:
        raise ApiProblem(422, "send the media as a multipart field `file`", code="MissingFile",
                         errors=[{"field": "file", "path": "body.file", "message": "no file part"}])
    return files


def missing_media() -> ApiProblem:
    message = ("say what to run on: a multipart `file`, stored `objects`, a `url` to import, or `sample: true` for "
               "generated sample media")
    return ApiProblem(422, message, code="MissingMedia", errors=[
        {"field": "file", "path": "body.file", "message": "a multipart file part, or"},
        {"field": "objects", "path": "body.objects", "message": "keys of stored media, or"},
        {"field": "url", "path": "body.url", "message": "an https URL to import, or"},
        {"field": "sample", "path": "body.sample", "message": "true, to run on generated sample media"}])


def workflow_paused(workflow_id: str) -> ApiProblem:
    return ApiProblem(409, f"workflow {workflow_id!r} is paused: nothing runs it until it is resumed with "
                           f'PUT /v1/workflows/{workflow_id}/status {{"status": "active"}}',
                      code="WorkflowPaused",
                      errors=[{"field": "status", "path": "status", "message": "the workflow is paused"}])


@dataclass(frozen=True)
class Prepared:
    """A workflow checked and compiled for a run that has not started yet."""

    tenant: str
    workflow_id: str
    record: dict[str, Any]
    compiled: Compiled
    batch: bool
    passthrough: dict[str, str] = field(default_factory=dict)  # metadata every item starts with


class RunService:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    # -- starting ------------------------------------------------------------------------------------
    def media_from_parts(self, tenant: str, files: list[Part]) -> list[MediaRef]:
        batch = uuid.uuid4().hex[:12]
        stored: list[MediaRef] = []
        try:
            for index, part in enumerate(files):
                # one folder per part keeps the uploaded name, which outputs inherit ({original} in renames)
                key = direct_key(tenant, "api", batch, str(index), safe_name(part.filename or "file"))
                stored.append(store_bytes(self.ctx, key, part.data, part.content_type))
        except BaseException:
            self.forget(stored)
            raise
        return stored

    def media_from_keys(self, tenant: str, keys: list[str]) -> list[MediaRef]:
        if len(keys) > self.ctx.config.max_batch_objects:
            raise ApiProblem(422, f"at most {self.ctx.config.max_batch_objects} objects per run",
                             code="TooManyObjects", errors=[{"field": "objects", "path": "body.objects",
                                                             "message": "too many objects"}])
        return [tenant_object(self.ctx, tenant, key) for key in keys]

    def media_from_upload(self, tenant: str, upload_id: str) -> list[MediaRef]:
        """The object stored through an upload target (``uploadId`` of POST /v1/uploads)."""
        keys = [] if "/" in upload_id or ".." in upload_id else \
            list(self.ctx.blobs.list(upload_key(tenant, upload_id) + "/"))[:2]
        if len(keys) != 1:
            raise NotFound(f"no stored media for upload {upload_id!r}", field="uploadId")
        return [tenant_object(self.ctx, tenant, keys[0])]

    def sample_media(self, tenant: str, kind: str, count: int = 1) -> list[MediaRef]:
        from mediaflow import samples

        self.ctx.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.ctx.scratch_dir) as scratch:
            folder = Path(scratch)
            size = self.ctx.config.sample_size
            makers = {"image": lambda: samples.photo(folder / "sample.jpg", size, size * 2 // 3),
                      "video": lambda: samples.video(folder / "sample.mp4", 2.0, size="320x180"),
                      "audio": lambda: samples.tone(folder / "sample.wav", 2.0),
                      "document": lambda: samples.pdf(folder / "sample.pdf")}
            try:
                path = makers[kind]()
            except (RuntimeError, ImportError) as error:
                raise ApiProblem(422, f"no {kind} sample on this deployment: {error}", code="SampleUnavailable",
                                 errors=[{"field": "sampleType", "path": "body.sampleType",
                                          "message": str(error)}]) from None
            data, batch = path.read_bytes(), uuid.uuid4().hex[:12]
            names = [path.name] if count == 1 else [f"{path.stem}-{n + 1:03d}{path.suffix}" for n in range(count)]
            return [store_bytes(self.ctx, direct_key(tenant, "samples", batch, name), data) for name in names]

    def start_request(self, tenant: str, workflow_id: str, parts: list[Part] | None, request: RunRequest | None,
                      base: str) -> dict[str, Any]:
        """POST .../runs: the workflow is checked before any media is stored, and media stored for a run that
        then does not start is deleted again, so a refused request leaves nothing behind."""
        request = request or RunRequest()
        if parts is not None:
            files = upload_parts(parts)
            prepared = self.prepare(tenant, workflow_id, len(files), inputs=request.inputs)
            media, owned = self.media_from_parts(tenant, files), True
        elif request.objects:
            prepared = self.prepare(tenant, workflow_id, len(request.objects), inputs=request.inputs)
            media, owned = self.media_from_keys(tenant, request.objects), False
        elif request.url:
            return self.start_url(tenant, workflow_id, request.url, base, inputs=request.inputs)
        elif request.sample:
            prepared = self.prepare(tenant, workflow_id, request.count, inputs=request.inputs)
            media, owned = self.sample_media(tenant, request.sample_type, request.count), True
        else:
            raise missing_media()
        try:
            return self.launch(prepared, media, base, inputs=request.inputs)
        except BaseException:
            if owned:
                self.forget(media)
            raise

    def start_url(self, tenant: str, workflow_id: str, url: str, base: str, *, inputs: dict[str, Any] | None = None,
                  retry_of: str | None = None, version: int | None = None) -> dict[str, Any]:
        """A run on media the run fetches itself: the workflow with an ``import_url`` step after its trigger
        (for this run only; nothing is stored before the run starts)."""
        from mediaflow.nodes.import_url import prepended

        store = self.ctx.workflows
        record = store.get(tenant, workflow_id) if version is None else store.get_version(tenant, workflow_id,
                                                                                             version)
        prepared = self.prepare(tenant, workflow_id, 1, version=version, inputs=inputs,
                                definition=prepended(record["definition"], url))
        return self.launch(prepared, [], base, retry_of=retry_of, inputs=inputs, import_url=url)

    def forget(self, media: list[MediaRef]) -> None:
        for ref in media:
            self.ctx.blobs.delete(ref.key)

    def start(self, tenant: str, workflow_id: str, media: list[MediaRef], base: str, *,
              retry_of: str | None = None, version: int | None = None, inputs: dict[str, Any] | None = None,
              definition: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        """Start one run (a batch for several media). ``inputs`` feed input mappings and pass-through
        values (mediaflow.mappings); ``definition`` replaces the saved one for this run only."""
        prepared = self.prepare(tenant, workflow_id, len(media), version=version, inputs=inputs,
                                definition=definition, media=media)
        return self.launch(prepared, media, base, retry_of=retry_of, inputs=inputs, run_id=run_id)

    def prepare(self, tenant: str, workflow_id: str, items: int, *, version: int | None = None,
                inputs: dict[str, Any] | None = None, definition: dict[str, Any] | None = None,
                media: list[MediaRef] | None = None) -> Prepared:
        """The workflow compiled for ``items`` media, or the reason it cannot run now (404, 409, 422)."""
        from mediaflow import mappings

        store = self.ctx.workflows
        record = store.get(tenant, workflow_id) if version is None else store.get_version(tenant, workflow_id,
                                                                                             version)
        if record.get("status") == "archived" and version is None:
            raise Conflict(f"workflow {workflow_id!r} is archived", field="status")
        if self._current_status(tenant, workflow_id, record, version) == "paused":
            raise workflow_paused(workflow_id)
        original = definition if definition is not None else record["definition"]
        source, _ = mappings.prepare(original, media or [], inputs)
        batch = items > 1
        with rejected_as("the workflow is not valid: only a valid workflow can run"):
            compiled = compile_definition(source, batch=BatchOptions(expected_items=items) if batch else None)
        self.ctx.launcher.check(compiled)
        return Prepared(tenant, workflow_id, record, compiled, batch, mappings.passthrough(original, inputs))

    def _current_status(self, tenant: str, workflow_id: str, record: dict[str, Any], version: int | None) -> str:
        if version is None:
            return str(record.get("status"))
        return str(self.ctx.workflows.get(tenant, workflow_id).get("status"))

    def launch(self, prepared: Prepared, media: list[MediaRef], base: str, *, retry_of: str | None = None,
               inputs: dict[str, Any] | None = None, run_id: str | None = None,
               import_url: str | None = None) -> dict[str, Any]:
        tenant, workflow_id, record = prepared.tenant, prepared.workflow_id, prepared.record
        if prepared.passthrough:
            media = [m.model_copy(update={"metadata": {**m.metadata, **prepared.passthrough}}) for m in media]
        run_id = run_id or new_run_id()
        run: dict[str, Any] = {"runId": run_id, "workflowId": workflow_id, "tenant": tenant,
                               "version": record["version"], "startedAt": now_iso()}
        if retry_of:
            run["retryOf"] = retry_of
        if inputs:
            run["inputs"] = inputs
        if import_url:
            run["importUrl"] = import_url  # a retry from the start imports it again
        payload: dict[str, Any] = {"run": run}
        if prepared.batch:
            payload["items"] = [m.to_state() for m in media]
        else:  # no media: the run fetches its own (an import_url step first)
            payload["media"] = media[0].to_state() if media else None
        self.ctx.launcher.start(tenant, prepared.compiled.asl, payload, run_id)
        return {"runId": run_id, "status": "pending", "workflowId": workflow_id, "version": record["version"],
                "batch": prepared.batch, "total": max(len(media), 1), "location": f"{base}/v1/runs/{run_id}"}

    # -- reading -------------------------------------------------------------------------------------
    def get(self, tenant: str, run_id: str, base: str) -> dict[str, Any]:
        run = self.ctx.runs.get_run(tenant, run_id)
        steps = self.ctx.runs.steps(tenant, run_id)
        execution_input = run.get("input") or {}
        items = execution_input.get("items")
        batch = isinstance(items, list)
        outputs = listed_outputs(run["status"], run["output"], steps, input_keys(execution_input))
        return {
            "runId": run["runId"], "workflowId": run["workflowId"], "version": run["version"],
            "status": run["status"], "batch": batch,
            "progress": progress(run, items if batch else None, steps, self._leaves(tenant, run) if batch else ()),
            "steps": [public_step(step) for step in steps], "error": public_error(run.get("error")),
            "outputs": [{"key": ref["key"], "filename": ref.get("filename") or ref["key"].rsplit("/", 1)[-1],
                         "size": int(ref.get("size") or 0), "contentType": ref.get("contentType") or "",
                         "url": self.ctx.download_url(ref["key"], base),
                         **({"outputName": ref["outputName"]} if ref.get("outputName") else {})}
                        for ref in outputs],
            "inputs": self._inputs(execution_input, base),
            "retryOf": (execution_input.get("run") or {}).get("retryOf"),
            "createdAt": run["createdAt"], "startedAt": run.get("startedAt"), "endedAt": run.get("endedAt"),
        }

    def _inputs(self, execution_input: dict[str, Any], base: str) -> list[dict[str, Any]]:
        found = []
        for key in media_ids(execution_input)[:MAX_LISTED_INPUTS]:
            try:
                ref = self.ctx.blobs.head(key)
            except NotFound:
                continue  # removed since (lifecycle, delete): the run record still names it
            found.append({"key": key, "filename": key.rsplit("/", 1)[-1], "size": ref.size,
                          "contentType": ref.content_type, "url": self.ctx.download_url(key, base)})
        return found

    def input_keys(self, tenant: str, run_id: str) -> list[str]:
        """The stored keys a run was started on (its media, or every item of a batch)."""
        return media_ids(self.ctx.runs.get_run(tenant, run_id).get("input") or {})

    def _leaves(self, tenant: str, run: dict[str, Any]) -> set[str]:
        """The nodes that end a path of the run's workflow version (an item reaching one is done)."""
        try:
            record = self.ctx.workflows.get_version(tenant, run["workflowId"], int(run["version"]))
        except NotFound:
            return set()
        definition = record["definition"]
        sources = {edge["source"] for edge in definition.get("edges", [])}
        return {node["id"] for node in definition.get("nodes", []) if node["id"] not in sources}

    def runs_of(self, tenant: str, workflow_id: str, limit: int, offset: int = 0,
                cursor: str | None = None) -> dict[str, Any]:
        """One page of a workflow's runs, newest first; ``count`` is the total, ``nextCursor`` the next page."""
        self.ctx.workflows.get(tenant, workflow_id)
        start = decode_cursor(cursor) if cursor else offset
        runs = self.ctx.runs.list_runs(tenant, workflow_id, limit=limit, offset=start)
        total = self.ctx.runs.count_runs(tenant, workflow_id)
        summaries = [{k: r.get(k) for k in ("runId", "workflowId", "version", "status", "createdAt", "startedAt",
                                            "endedAt")} for r in runs]
        following = start + limit
        return {"workflowId": workflow_id, "count": total, "limit": limit, "offset": start,
                "nextCursor": encode_cursor(following) if following < total else None, "runs": summaries}

    # -- control -------------------------------------------------------------------------------------
    def cancel(self, tenant: str, run_id: str) -> dict[str, Any]:
        run = self.ctx.runs.get_run(tenant, run_id)
        if run["status"] in TERMINAL:
            raise Conflict(f"run {run_id!r} is already {run['status']}", field="status")
        cancelled = cancel_pending(self.ctx.runs, tenant, run_id)
        if cancelled is not None:  # no task started: none will (runs.begin_task), so nothing is written
            self.ctx.launcher.cancel(tenant, run_id)
            return {"runId": run_id, "status": cancelled["status"], "cancelRequested": True}
        if not self.ctx.launcher.cancel(tenant, run_id):
            # Not running in this process (e.g. left pending by a stopped server): close the record.
            run = self.ctx.runs.update_run(tenant, run_id, status="cancelled", endedAt=now_iso())
        return {"runId": run_id, "status": run["status"], "cancelRequested": True}

    def retry(self, tenant: str, run_id: str, base: str, start_from: str = "failed") -> dict[str, Any]:
        """Redrive a failed or cancelled run from its failed Task (``start_from="failed"``: the Tasks that
        completed keep their outputs and step records, the run keeps its id) or re-run it whole as a new run
        with ``retryOf`` (``"start"``). A run whose execution cannot be redriven is re-run whole."""
        run = self.ctx.runs.get_run(tenant, run_id)
        if run["status"] not in ("failed", "cancelled"):
            raise Conflict(f"only failed or cancelled runs can be retried; {run_id!r} is {run['status']}",
                           field="status")
        if start_from == "failed" and self.ctx.launcher.redrive(tenant, run_id):
            input = run.get("input") or {}
            items = input.get("items")
            return {"runId": run_id, "status": "pending", "workflowId": run["workflowId"],
                    "version": run["version"], "batch": isinstance(items, list),
                    "total": len(items) if isinstance(items, list) else 1, "redriven": True,
                    "location": f"{base}/v1/runs/{run_id}"}
        execution_input = run.get("input") or {}
        states = execution_input.get("items") or ([execution_input["media"]] if "media" in execution_input else [])
        states = [state for state in states if state]  # a run that fetched its own media started with none
        context = execution_input.get("run") or {}
        if not states and context.get("importUrl"):
            return self.start_url(tenant, run["workflowId"], str(context["importUrl"]), base,
                                  inputs=context.get("inputs"), retry_of=run_id, version=int(run["version"]))
        if not states:
            raise Conflict(f"run {run_id!r} has no media to run again", field="input")
        media = [MediaRef.model_validate(state) for state in states]
        return self.start(tenant, run["workflowId"], media, base, retry_of=run_id, version=int(run["version"]),
                          inputs=(execution_input.get("run") or {}).get("inputs"))

    # -- uploads and downloads -----------------------------------------------------------------------
    def upload_target(self, tenant: str, filename: str, content_type: str | None, base: str, *,
                      metadata: dict[str, str] | None = None, prefix: str = "",
                      max_bytes: int | None = None) -> dict[str, Any]:
        """Where to POST one file (presigned S3 POST on AWS, a signed local URL embedded). The stored upload
        starts the tenant's matching active workflows once, with ``metadata`` matched by filters.metadata."""
        upload_id = uuid.uuid4().hex[:16]
        key = upload_key(tenant, *[part for part in prefix.split("/") if part], upload_id, safe_name(filename))
        metadata = metadata or {}
        expires = self.ctx.config.upload_expires_seconds
        max_bytes = max_bytes or self.ctx.config.max_upload_bytes
        expires_at = (datetime.now(UTC) + timedelta(seconds=expires)).isoformat(timespec="seconds")
        meta_fields = {f"x-amz-meta-{name}": value for name, value in metadata.items()}
        if self.ctx.signer is None:
            target = self.ctx.blobs.presigned_post(key, content_type=content_type, expires_seconds=expires,
                                                   max_bytes=max_bytes, fields=meta_fields)
            if target is not None:
                return {"uploadId": upload_id, "key": key, "url": target["url"], "fields": target["fields"],
                        "expiresAt": expires_at}
            raise ApiProblem(501, "this deployment offers no upload URLs", code="NotImplemented")
        token = self.ctx.signer.sign({"k": key, "t": tenant, "m": metadata, "mb": max_bytes}, expires)
        return {"uploadId": upload_id, "key": key, "url": f"{base}/v1/uploads/{token}",
                "fields": {"key": key, **({"Content-Type": content_type} if content_type else {}), **meta_fields},
                "expiresAt": expires_at}

    def receive_upload(self, token: str, parts: list[Part] | None) -> dict[str, Any]:
        """Store the file of a signed upload target (once: a second POST is a 409) and start the tenant's
        matching active workflows on it, as the uploads bucket's trigger does on AWS."""
        if self.ctx.signer is None:
            raise NotFound("no such upload target")
        claims = self.ctx.signer.verify(token)
        files = [p for p in parts or [] if p.filename is not None]
        if len(files) != 1:
            raise ApiProblem(422, "send exactly one multipart field `file`", code="MissingFile",
                             errors=[{"field": "file", "path": "body.file", "message": "one file part expected"}])
        if len(files[0].data) > int(claims.get("mb") or self.ctx.config.max_upload_bytes):
            raise ApiProblem(413, f"the file is larger than the {claims['mb']} bytes this upload allows",
                             code="PayloadTooLarge", errors=[{"field": "file", "path": "body.file",
                                                              "message": "too large"}])
        ref = store_bytes(self.ctx, str(claims["k"]), files[0].data, files[0].content_type)
        ref = ref.model_copy(update={"metadata": dict(claims.get("m") or {})})
        owner = tenant_of_upload(ref.key)
        if owner is not None:
            tenant, relative = owner
            start_upload(tenant, ref, relative, workflows=self.ctx.workflows.list(tenant, status="active"),
                         launcher=self.ctx.launcher,
                         run_id_for=lambda record: run_name(record["id"], ref.key, record["version"]))
        return {"key": ref.key, "size": ref.size, "contentType": ref.content_type, "mediaType": ref.media_type}

    def download(self, token: str) -> tuple[bytes, str, str]:
        if self.ctx.signer is None:
            raise NotFound("no such download")
        key = str(self.ctx.signer.verify(token)["k"])
        ref = self.ctx.blobs.head(key)
        return self.ctx.blobs.read_range(key, 0, ref.size), ref.content_type, key.rsplit("/", 1)[-1]


MAX_LISTED_INPUTS = 100


def public_step(step: dict[str, Any]) -> dict[str, Any]:
    """A step record as the API shows it: its error fields without server paths."""
    return {key: public_error(value) if key in ("error", "errorMessage", "cause") else value
            for key, value in step.items()}


def progress(run: dict[str, Any], items: list[Any] | None, steps: Sequence[dict[str, Any]] = (),
             leaves: Collection[str] = ()) -> dict[str, Any]:
    """How far a run is. A batch that is still running counts from its per-item steps (each names its item):
    an item with a failed step has failed, one whose step reached a node that ends a path has completed."""
    counts = run.get("progress") or {}
    tasks = {"tasksSucceeded": int(counts.get("tasksSucceeded", 0)), "tasksFailed": int(counts.get("tasksFailed", 0))}
    status = run["status"]
    if items is None:
        return {"total": 1, "completed": int(status == "completed"), "failed": int(status in ("failed", "cancelled")),
                **tasks}
    total = len(items)
    if status not in TERMINAL:
        failed_items = {step["item"] for step in steps if step.get("status") == "failed" and "item" in step}
        done_items = {step["item"] for step in steps if step.get("status") == "completed" and "item" in step
                      and step.get("nodeId") in leaves} - failed_items
        return {"total": total, "completed": len(done_items), "failed": len(failed_items), **tasks}
    outcomes = run.get("output")
    if isinstance(outcomes, dict) and isinstance(outcomes.get("results"), list):
        outcomes = outcomes["results"]
    per_item = outcomes if isinstance(outcomes, list) and len(outcomes) == total else None
    if per_item is None:
        ok = total if status == "completed" else 0
        return {"total": total, "completed": ok, "failed": total - ok, **tasks}
    failed = sum(1 for item in per_item if any(True for _ in find_failures(item)))
    return {"total": total, "completed": total - failed, "failed": failed, **tasks}
