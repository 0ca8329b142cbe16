"""Synchronous, storage-free conversion (Convertly's ``POST /api/convert`` and ``POST /api/compress``): one
file in, the converted file in the response. It runs as a one-node run on the same launcher as every run,
bounded in size (413) and time (408, the run is cancelled); the input and output objects are deleted once
the answer is read, so nothing of the media is kept (the run record stays, as for every run)."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from mediaflow.api.context import ApiContext
from mediaflow.api.http import Part
from mediaflow.api.problems import ApiProblem, DefinitionRejected, issue_errors
from mediaflow.api.runs import TERMINAL, RunService, store_bytes
from mediaflow.clock import now_iso
from mediaflow.compiler import compile_workflow
from mediaflow.ids import new_run_id, safe_name
from mediaflow.starts import direct_key
from mediaflow.validation import validate

Operation = Literal["convert", "compress"]
# form field -> (node config key, type); both spellings Convertly clients use are read
FIELDS: dict[str, dict[str, tuple[str, type]]] = {
    "convert": {"format": ("outputFormat", str), "outputFormat": ("outputFormat", str),
                "quality": ("compressionLevel", int), "compressionLevel": ("compressionLevel", int)},
    "compress": {"quality": ("compressionLevel", int), "compressionLevel": ("compressionLevel", int),
                 "mode": ("mode", str), "compressionMode": ("mode", str)},
}
POLL_SECONDS = 0.05


def _problem(status: int, field: str, message: str, code: str | None = None) -> ApiProblem:
    return ApiProblem(status, f"{field}: {message}", code=code,
                      errors=[{"field": field, "path": f"body.{field}", "message": message}])


class SyncConversion:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.runs = RunService(ctx)

    def config(self, operation: Operation, form: dict[str, str]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name, value in form.items():
            if name not in FIELDS[operation]:
                raise _problem(422, name, f"not a field of POST /api/{operation} (fields: "
                               f"{', '.join(FIELDS[operation])}, file)", "UnsupportedField")
            key, kind = FIELDS[operation][name]
            try:
                config[key] = kind(value.strip())
            except ValueError:
                raise _problem(422, name, f"must be {'a number' if kind is int else 'text'}") from None
        if operation == "convert" and "outputFormat" not in config:
            raise _problem(422, "format", "the target format is required (webp, avif, jpeg, png, ...)")
        return config

    def run(self, tenant: str, operation: Operation, parts: list[Part] | None, base: str
            ) -> tuple[bytes, str, str]:
        """(bytes, content type, filename) of the converted file."""
        if parts is None:
            raise ApiProblem(415, f"POST /api/{operation} takes multipart/form-data", code="UnsupportedMediaType")
        files = [p for p in parts if p.filename is not None]
        if len(files) != 1 or files[0].name not in ("file", "files"):
            raise _problem(422, "file", "send exactly one file in the field `file`", "MissingFile")
        limit = self.ctx.config.sync_max_bytes
        if len(files[0].data) > limit:
            raise _problem(413, "file", f"{len(files[0].data)} bytes: at most {limit} here; use POST /api/jobs",
                           "PayloadTooLarge")
        config = self.config(operation, {p.name: p.text for p in parts if p.filename is None})
        definition = {"name": f"sync {operation}", "trigger": {"onUpload": False},
                      "nodes": [{"id": "upload", "kind": "upload"}, {"id": operation, "kind": operation,
                                                                     "config": config}],
                      "edges": [{"source": "upload", "target": operation}]}
        report = validate(definition)
        if not report.valid or report.definition is None:
            raise DefinitionRejected("the conversion settings are not valid", issue_errors(report.errors))
        compiled = compile_workflow(report.definition, report.configs)
        self.ctx.launcher.check(compiled)
        key = direct_key(tenant, "sync", uuid.uuid4().hex[:12], safe_name(files[0].filename or "file"))
        media = store_bytes(self.ctx, key, files[0].data, files[0].content_type)
        run_id = new_run_id()
        run = {"runId": run_id, "workflowId": f"sync-{operation}", "tenant": tenant, "version": 1,
               "startedAt": now_iso()}
        try:
            self.ctx.launcher.start(tenant, compiled.asl, {"run": run, "media": media.to_state()}, run_id)
            return self._answer(tenant, run_id, base)
        finally:
            self.ctx.blobs.delete(key)

    def _answer(self, tenant: str, run_id: str, base: str) -> tuple[bytes, str, str]:
        deadline = time.monotonic() + self.ctx.config.sync_timeout_seconds
        while self.ctx.runs.get_run(tenant, run_id)["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                self.runs.cancel(tenant, run_id)
                raise ApiProblem(408, f"the conversion took longer than {self.ctx.config.sync_timeout_seconds} s; "
                                 "use POST /api/jobs for large work", code="RequestTimeout")
            time.sleep(POLL_SECONDS)
        run = self.runs.get(tenant, run_id, base)
        for output in run["outputs"][1:]:
            self.ctx.blobs.delete(output["key"])
        if run["status"] != "completed" or not run["outputs"]:
            error = run.get("error") or {}
            raise ApiProblem(422, f"the file could not be converted: {error.get('message') or run['status']}",
                             code=str(error.get("error") or "ConversionFailed"),
                             errors=[{"field": "file", "path": "body.file", "message": error.get("message") or ""}])
        output = run["outputs"][0]
        try:
            data = self.ctx.blobs.read_range(output["key"], 0, int(output["size"]) or 1)
        finally:
            self.ctx.blobs.delete(output["key"])
        return data, output["contentType"], output["filename"]
