"""Convertly-compatible jobs: a job is an ad-hoc workflow built from its fields (convert / compress /
resize / storage nodes), run once per file. Its status is derived from those runs."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from itertools import product
from typing import Any

from mediaflow.api.context import ApiContext
from mediaflow.api.http import Part
from mediaflow.api.problems import ApiProblem, DefinitionRejected, issue_errors
from mediaflow.api.runs import TERMINAL, RunService, store_bytes
from mediaflow.clock import now_iso
from mediaflow.compiler import compile_workflow
from mediaflow.errors import Conflict, NotFound, public_error
from mediaflow.ids import new_run_id, safe_name
from mediaflow.runs import cancel_pending
from mediaflow.starts import direct_key
from mediaflow.validation import LIMITS, validate

JOB_TYPES = ("convert", "compress", "resize")


def _field_error(field: str, message: str) -> ApiProblem:
    return ApiProblem(422, message, code="InvalidJob",
                      errors=[{"field": field, "path": f"body.{field}", "message": message}])


def _json_list(form: dict[str, str], field: str) -> list[Any]:
    text = form.get(field)
    if text is None or not text.strip():
        return []
    try:
        value = json.loads(text)
    except ValueError:
        value = [item.strip() for item in text.split(",") if item.strip()]
    if not isinstance(value, list):
        value = [value]
    return value


def _bool(form: dict[str, str], field: str, default: bool) -> bool:
    text = form.get(field)
    if text is None:
        return default
    if text.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if text.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    raise _field_error(field, f"{field} must be true or false")


def _resize(value: Any) -> dict[str, Any] | None:
    if value in (None, "original", "", 0):
        return None
    text = str(value).lower()
    width, _, height = text.partition("x")
    try:
        size = {"width": int(width) if width else None, "height": int(height) if height else None}
    except ValueError:
        raise _field_error("resizes", f"resize {value!r}: use \"original\", a width or WIDTHxHEIGHT") from None
    return {k: v for k, v in size.items() if v is not None}


def job_variants(job_type: str, formats: list[Any], compressions: list[Any], resizes: list[Any]
                 ) -> list[dict[str, Any]]:
    """Every (format, compression, resize) combination of a job, in branch order (branch i is ``v{i+1}``)."""
    if job_type == "convert" and not formats:
        formats = ["webp"]
    combos = list(product(formats or [None], compressions or [None], resizes or ["original"]))
    if len(combos) > LIMITS.max_fan_out:
        raise _field_error("formats", f"{len(combos)} combinations: at most {LIMITS.max_fan_out} per job")
    return [{"format": fmt, "compression": quality, "resize": size} for fmt, quality, size in combos]


_VARIANT_IN_KEY = re.compile(r"/(?:v|resize-|convert-|compress-)(\d+)/")


def label_output(output: dict[str, Any], variants: list[dict[str, Any]]) -> dict[str, Any]:
    """An output with the format, compression and resize of the branch that made it."""
    found = _VARIANT_IN_KEY.search(output["key"])
    index = int(found.group(1)) - 1 if found else -1
    if not 0 <= index < len(variants):
        return output
    variant = variants[index]
    actual = output.get("contentType", "").split("/")[-1] or None
    return {**output, "variant": index + 1, "format": variant["format"] or actual,
            "compression": variant["compression"], "resize": variant["resize"]}


def job_definition(job_id: str, job_type: str, formats: list[Any], compressions: list[Any], resizes: list[Any],
                   save: bool) -> dict[str, Any]:
    """One branch per (format, compression, resize) combination, each ending in storage when asked."""
    if job_type not in JOB_TYPES:
        raise _field_error("jobType", f"jobType must be one of {', '.join(JOB_TYPES)}")
    combos = job_variants(job_type, formats, compressions, resizes)
    nodes: list[dict[str, Any]] = [{"id": "upload", "kind": "upload"}]
    edges: list[dict[str, str]] = []
    for index, variant in enumerate(combos, start=1):
        fmt, quality, size = variant["format"], variant["compression"], variant["resize"]
        previous = "upload"
        steps: list[tuple[str, dict[str, Any]]] = []
        resize = _resize(size)
        if resize:
            steps.append(("resize", resize))
        if fmt is not None:
            steps.append(("convert", {"outputFormat": fmt, **({"compressionLevel": quality} if quality else {})}))
        elif quality is not None or job_type == "compress":
            steps.append(("compress", {"compressionLevel": quality} if quality else {}))
        if save:
            steps.append(("storage", {"prefix": f"jobs/{job_id}/v{index}/"}))
        if not steps:
            raise _field_error("jobType", "the job does nothing: give formats, compressions or resizes")
        for kind, config in steps:
            node_id = f"{kind}-{index}"
            nodes.append({"id": node_id, "kind": kind, "config": config})
            edges.append({"source": previous, "target": node_id})
            previous = node_id
    return {"name": f"job {job_id}", "nodes": nodes, "edges": edges, "trigger": {"onUpload": False},
            "settings": {"stopOnFailure": False}}


class JobService:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.runs = RunService(ctx)

    def create(self, tenant: str, parts: list[Part] | None) -> dict[str, Any]:
        if parts is None:
            raise ApiProblem(415, "POST /v1/jobs takes multipart/form-data", code="UnsupportedMediaType")
        form = {p.name: p.text for p in parts if p.filename is None}
        files = [p for p in parts if p.filename is not None and p.name in ("files", "file", "files[]")]
        if not files:
            raise _field_error("files", "attach at least one file in the field `files`")
        if len(files) > self.ctx.config.max_job_files:
            raise _field_error("files", f"at most {self.ctx.config.max_job_files} files per job")
        job_id = str(uuid.uuid4())
        job_type = form.get("jobType", "convert").strip() or "convert"
        if job_type not in JOB_TYPES:
            raise _field_error("jobType", f"jobType must be one of {', '.join(JOB_TYPES)}")
        lists = [_json_list(form, name) for name in ("formats", "compressions", "resizes")]
        formats, compressions, resizes = lists
        definition = job_definition(job_id, job_type, formats, compressions, resizes,
                                    _bool(form, "saveToStorage", True))
        report = validate(definition)
        if not report.valid or report.definition is None:
            raise DefinitionRejected("the job's fields do not make a valid workflow", issue_errors(report.errors))
        compiled = compile_workflow(report.definition, report.configs)
        self.ctx.launcher.check(compiled)
        entries: list[dict[str, Any]] = []
        for index, part in enumerate(files):
            key = direct_key(tenant, "jobs", job_id, f"{index}-{safe_name(part.filename or 'f')}")
            ref = store_bytes(self.ctx, key, part.data, part.content_type)
            entries.append({"filename": part.filename or "", "key": ref.key, "runId": new_run_id(),
                            "media": ref.to_state()})
        self.ctx.jobs.create_job({"tenant": tenant, "jobId": job_id, "status": "pending", "jobType": job_type,
                                  "createArchive": _bool(form, "createArchive", False),
                                  "variants": job_variants(job_type, formats, compressions, resizes),
                                  "files": [{k: v for k, v in e.items() if k != "media"} for e in entries]})
        workflow_id = f"job-{job_id}"
        for entry in entries:
            run = {"runId": entry["runId"], "workflowId": workflow_id, "tenant": tenant, "version": 1,
                   "startedAt": now_iso(), "jobId": job_id}
            self.ctx.launcher.start(tenant, compiled.asl, {"run": run, "media": entry["media"]}, str(entry["runId"]))
        return {"jobId": job_id, "status": "pending"}

    def get(self, tenant: str, job_id: str, base: str) -> dict[str, Any]:
        job = self.ctx.jobs.get_job(tenant, job_id)
        results = []
        for entry in job["files"]:
            run = self.runs.get(tenant, entry["runId"], base)
            outputs = [label_output(o, job.get("variants") or []) for o in run["outputs"]]
            results.append({"file": entry["filename"], "key": entry["key"], "runId": entry["runId"],
                            "status": run["status"], "outputs": outputs,
                            "error": public_error((run.get("error") or {}).get("message"))})
        status = job["status"] if job["status"] == "cancelled" else _derive(results)
        completed = sum(1 for r in results if r["status"] == "completed")
        failed = sum(1 for r in results if r["status"] in ("failed", "cancelled"))
        error = next((f"{r['file']}: {r['error'] or r['status']}" for r in results
                      if r["status"] in ("failed", "cancelled")), None) if status == "failed" else None
        if status != job["status"]:
            job = self.ctx.jobs.update_job(tenant, job_id, status=status)
        archive = self._archive(tenant, job, results, base) if status == "completed" else None
        total = len(results)
        return {"jobId": job_id, "jobType": job["jobType"], "status": status,
                "progress": {"total": total, "completed": completed, "failed": failed,
                             "percent": (completed + failed) * 100 // total if total else 100},
                "results": results, "errorMessage": error, "archive": archive,
                "createdAt": job["createdAt"], "updatedAt": job["updatedAt"]}

    def cancel(self, tenant: str, job_id: str) -> dict[str, Any]:
        job = self.ctx.jobs.get_job(tenant, job_id)
        statuses = [self.ctx.runs.get_run(tenant, e["runId"])["status"] for e in job["files"]
                    if _exists(self.ctx, tenant, e["runId"])]
        if job["status"] != "pending" or any(s != "pending" for s in statuses):
            current = job["status"] if job["status"] != "pending" else "processing"
            raise Conflict(f"only pending jobs can be cancelled; job {job_id!r} is {current}", field="status")
        for entry in job["files"]:
            if _exists(self.ctx, tenant, entry["runId"]):  # no task started, so none will (runs.begin_task)
                cancel_pending(self.ctx.runs, tenant, entry["runId"])
                self.ctx.launcher.cancel(tenant, entry["runId"])
        self.ctx.jobs.update_job(tenant, job_id, status="cancelled")
        return {"jobId": job_id, "status": "cancelled"}

    def _archive(self, tenant: str, job: dict[str, Any], results: list[dict[str, Any]], base: str
                 ) -> dict[str, Any] | None:
        if not job.get("createArchive"):
            return None
        key = job.get("archiveKey") or f"{tenant}/outputs/jobs/{job['jobId']}/archive.zip"
        if not job.get("archiveKey"):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                names: set[str] = set()
                for result in results:
                    for output in result["outputs"]:
                        name = output["filename"]
                        if "variant" in output:
                            name = (f"v{output['variant']}-{output['format']}-q{output['compression'] or 'auto'}-"
                                    f"{output['resize']}/{name}")
                        while name in names:
                            name = f"_{name}"
                        names.add(name)
                        data = self.ctx.blobs.read_range(output["key"], 0, int(output["size"]) or 1 << 40)
                        archive.writestr(name, data)
            self.ctx.blobs.put_bytes(key, buffer.getvalue(), "application/zip")
            self.ctx.jobs.update_job(tenant, job["jobId"], archiveKey=key)
        ref = self.ctx.blobs.head(key)
        return {"key": key, "filename": "archive.zip", "size": ref.size, "contentType": "application/zip",
                "url": self.ctx.download_url(key, base)}


def _exists(ctx: ApiContext, tenant: str, run_id: str) -> bool:
    try:
        ctx.runs.get_run(tenant, run_id)
    except NotFound:
        return False
    return True


def _derive(results: list[dict[str, Any]]) -> str:
    statuses = [r["status"] for r in results]
    if all(s == "pending" for s in statuses):
        return "pending"
    if not all(s in TERMINAL for s in statuses):
        return "processing"
    return "completed" if all(s == "completed" for s in statuses) else "failed"
