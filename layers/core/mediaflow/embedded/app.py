"""The embedded application: stores on a data dir, the embedded runtime, and the run/ingest use cases
shared by the CLI (`mediaflow run`, `serve`, `demo`) and the local API server."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.adapters.embedded import EmbeddedAdapters, open_embedded
from mediaflow.clock import now_iso
from mediaflow.compiled import BatchOptions, Compiled
from mediaflow.errors import Conflict, InvalidDefinition, MediaflowError, NotFound
from mediaflow.file_stat import file_etag
from mediaflow.filenames import output_file_name
from mediaflow.ids import new_run_id, safe_name
from mediaflow.media import MediaRef
from mediaflow.out_manifest import OutputManifest
from mediaflow.settings import Settings, get_settings
from mediaflow.sniff import sniff
from mediaflow.starts import direct_key, start_upload, upload_key

if TYPE_CHECKING:
    from mediaflow.embedded.executor import EmbeddedRuntime
    from mediaflow.ports import JobStore
    from mediaflow.validation import ValidationReport
    from mediaflow.webhooks.dispatch import Dispatcher

UPLOAD_LEASE_SECONDS = 300.0

logger = logging.getLogger(__name__)


def missing_runtimes(compiled: Compiled) -> list[str]:
    """Runtimes a compiled workflow needs whose worker (``catalog.RUNTIMES[...].worker``) this build lacks."""
    from mediaflow.catalog import RUNTIMES

    return sorted({task.runtime for task in compiled.tasks
                   if importlib.util.find_spec(RUNTIMES[task.runtime].worker_module) is None})


@dataclass
class OutputFile:
    key: str
    filename: str
    size: int
    content_type: str
    path: Path | None = None


@dataclass
class FileResult:
    input: Path
    run_id: str
    status: str
    seconds: float
    outputs: list[OutputFile] = field(default_factory=list)
    error: dict[str, Any] | None = None
    nodes: list[str] = field(default_factory=list)
    reused: bool = False  # completed by an earlier `mediaflow run`: nothing ran again


class LocalService:
    """mediaflow on one machine: a data dir (blobs + SQLite) and the embedded runtime."""

    def __init__(self, settings: Settings | None = None, *, data_dir: Path | None = None,
                 tenant: str | None = None) -> None:
        self.settings = settings or get_settings()
        if data_dir is not None:
            self.settings = self.settings.model_copy(update={"data_dir": Path(data_dir)})
        self.tenant = tenant or self.settings.tenant
        self.data_dir = Path(self.settings.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.adapters: EmbeddedAdapters = open_embedded(self.data_dir)
        from mediaflow.adapters.embedded.durable import DurableStore

        self.durable = DurableStore(self.adapters.db)
        self._runtime: EmbeddedRuntime | None = None
        self._webhooks: Dispatcher | None = None
        self._watching_jobs = False
        self._lock = threading.Lock()

    @property
    def runtime(self) -> EmbeddedRuntime:
        with self._lock:
            if self._runtime is None:
                from mediaflow.embedded.executor import EmbeddedRuntime

                a = self.adapters
                self._runtime = EmbeddedRuntime(self.settings, a.blobs, a.runs, a.bus)
            return self._runtime

    @property
    def webhooks(self) -> Dispatcher:
        """The webhook dispatcher, subscribed once to this service's bus (deliveries run in ``start()``)."""
        with self._lock:
            if self._webhooks is None:
                from mediaflow.embedded.bootstrap import webhook_dispatcher

                self._webhooks = webhook_dispatcher(self.adapters, self.settings)
                self.adapters.bus.subscribe(self._webhooks.on_event)
            return self._webhooks

    def watch_jobs(self, jobs: JobStore) -> None:
        """Publish job.completed / job.failed when a job's last run ends (once per service)."""
        with self._lock:
            if not self._watching_jobs:
                from mediaflow.job_events import watch_jobs

                watch_jobs(self.adapters.bus, self.adapters.runs, jobs)
                self._watching_jobs = True

    def close(self) -> None:
        if self._webhooks is not None:
            self._webhooks.stop()
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    def __enter__(self) -> LocalService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- media ---------------------------------------------------------------------------------------
    def ingest(self, path: Path, *, prefix: str = "", key: str | None = None, link: bool = False,
               etag: str | None = None) -> MediaRef:
        """Copy a local file into the tenant's inputs (never overwriting) with its sniffed type; ``key`` given
        (the upload watcher), there instead. ``link``: a hard link to the file's bytes instead of a copy
        (``mediaflow run``: the input is read in place, no copy, no hash of its bytes, no fsync), ``etag``
        its ``file_etag``."""
        with Path(path).open("rb") as handle:
            head = handle.read(4096)
        sniffed = sniff(head) if head else None
        filename = safe_name(Path(path).name)
        base = key or direct_key(self.tenant, *[part for part in prefix.split("/") if part], filename)
        candidate, counter = base, 1
        while True:
            content_type = sniffed.content_type if sniffed else "application/octet-stream"
            try:
                if link:
                    ref = self.adapters.blobs.put_link(candidate, Path(path), content_type, overwrite=False, etag=etag)
                else:
                    ref = self.adapters.blobs.put_file(candidate, Path(path), content_type, overwrite=False)
                break
            except Conflict:
                counter += 1
                stem, dot, ext = base.rpartition(".")
                candidate = f"{stem}-{counter}.{ext}" if dot and "/" not in ext else f"{base}-{counter}"
        return ref.model_copy(update={
            "media_type": sniffed.media_type if sniffed else "other",
            "filename": filename,
            "source_key": ref.key,
        })

    # -- workflows -----------------------------------------------------------------------------------
    def load_definition(self, source: str) -> ValidationReport:
        """A workflow file (any accepted shape) or the id of a stored workflow."""
        from mediaflow.validation import validate  # here, not at import: a kept plan needs no validator

        path = Path(source)
        if path.is_file():
            return validate(path.read_bytes())
        stored = self.adapters.workflows.get(self.tenant, source)
        report = validate(stored["definition"])
        report.meta.setdefault("id", stored["id"])
        report.meta.setdefault("version", stored["version"])
        return report

    def save_workflow(self, raw: Any, *, workflow_id: str | None = None, status: str = "draft") -> dict[str, Any]:
        from mediaflow.compiler import compile_definition
        from mediaflow.validation import validate

        report = validate(raw)
        compiled = compile_definition(report)
        assert compiled.definition is not None
        record = {"definition": compiled.definition.canonical(), "name": compiled.definition.name or "",
                  "status": report.meta.get("status", status), "executionType": compiled.execution_type}
        if workflow_id:
            record["id"] = workflow_id
        return self.adapters.workflows.put(self.tenant, record)

    # -- runs ----------------------------------------------------------------------------------------
    def run_files(
        self,
        report: ValidationReport | None,
        inputs: list[Path],
        out_dir: Path | None = None,
        *,
        workflow_id: str = "adhoc",
        version: int = 1,
        on_done: Callable[[FileResult], None] | None = None,
        force: bool = False,
        compiled: Compiled | None = None,
        last: Collection[str] = (),
        folders: Mapping[Path, str] | None = None,
    ) -> list[FileResult]:
        """One run per input file, several at once; a failing file never stops the others.

        With an ``out_dir`` each file's run id is derived from the compiled workflow, the file's identity and
        the folder (see ``file_run_id``), so running the same command again completes what is missing: a
        completed run only has its outputs copied again where they are missing, an interrupted or failed one
        resumes from its checkpoints. ``force`` starts every file afresh. ``compiled``: the report's compiled
        workflow, when the caller compiled it already. Files start largest first, and inputs named in ``last``
        (as given) after all the others: work started ahead on them made their Tasks the shortest. The
        shortest Tasks last keep every worker busy to the end, instead of one finishing a long Task alone
        (a large photo left to the end of a folder of small ones). ``folders``: the sub-folder of ``out_dir``
        each input's outputs go to (``console.placed_inputs``; the top when absent). Results keep the inputs'
        order."""
        if compiled is None:
            assert report is not None, "run_files needs the report or its compiled workflow"
            from mediaflow.compiler import compile_definition

            compiled = compile_definition(report)
        concurrency = max(1, min(len(inputs), self.settings.workers * 2))
        results: list[FileResult | None] = [None] * len(inputs)

        from mediaflow.embedded.workerpool import PoolDraining

        workflow = workflow_digest(compiled) if out_dir is not None else None
        of_workflow = f"{self.tenant}:{workflow.hexdigest()[:24]}" if workflow is not None else ""
        claims = _RunClaims()

        def one(index: int) -> None:
            run_id = etag = None
            if out_dir is not None:
                try:
                    run_id, etag = file_identity(compiled, inputs[index], out_dir, self.tenant, force=force,
                                                 workflow=workflow)
                    if not force:
                        run_id = self._run_of_input(inputs[index], etag, run_id, out_dir, of_workflow, claims)
                except OSError:
                    run_id = None  # run_one reports the unreadable input
            try:
                result = self.run_one(compiled, inputs[index], out_dir, workflow_id=workflow_id, version=version,
                                      run_id=run_id, replace_outputs=out_dir is not None, input_etag=etag,
                                      out_folder=(folders or {}).get(inputs[index], ""))
            except PoolDraining as stopping:  # stopped before this file's run began: the next run starts it
                result = FileResult(inputs[index], run_id or "", "pending", 0.0,
                                    error={"error": stopping.code, "message": stopping.message})
            except Exception as error:  # this file's run could not go on; the others do
                if isinstance(error, MediaflowError):
                    failure = {"error": error.code, "message": error.message}
                else:
                    logger.exception("the run of %s stopped", inputs[index])
                    failure = {"error": "InternalError", "message": f"{type(error).__name__}: {error}"}
                result = FileResult(inputs[index], run_id or "", "failed", 0.0, error=failure)
            results[index] = result
            if on_done is not None:
                on_done(result)

        def start_order(index: int) -> tuple[bool, int]:
            try:
                size = inputs[index].stat().st_size
            except OSError:
                size = 0  # run_one reports the unreadable input
            return str(inputs[index]) in last, -size

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mediaflow-file") as pool:
            list(pool.map(one, sorted(range(len(inputs)), key=start_order)))
        return [result for result in results if result is not None]

    def _run_of_input(self, path: Path, etag: str, run_id: str, out_dir: Path, of_workflow: str,
                      claims: _RunClaims) -> str:
        """The run of ``mediaflow run`` for the input at ``path``: ``run_id`` (from the file's identity), unless
        this folder's manifest has the path in an earlier run whose stored input holds the same bytes in
        another file (a copy, a checkout or a replaced file with the same content; a file touched or rewritten
        in place is the stored input itself, so its bytes cannot be told apart and it runs again), or another
        input of this command has that run (``claims``: two names of one file)."""
        manifest = OutputManifest.of(Path(out_dir))
        source = str(Path(path).absolute())
        with manifest.lock:
            earlier = manifest.inputs.get((source, of_workflow))
        if earlier is not None and earlier != (etag, run_id):
            earlier_etag, earlier_run = earlier
            if earlier_etag == etag or self._holds_same_bytes(earlier_run, Path(path)):
                run_id = earlier_run
        run_id = claims.take(run_id, source)
        with manifest.lock:
            manifest.note_input(source, of_workflow, etag, run_id)
        return run_id

    def _holds_same_bytes(self, run_id: str, path: Path) -> bool:
        """Whether run ``run_id`` stored an input with the bytes of ``path`` in a file other than ``path``."""
        try:
            record = self.adapters.runs.get_run(self.tenant, run_id)
        except NotFound:
            return False
        media = (record.get("input") or {}).get("media") if isinstance(record.get("input"), dict) else None
        stored = self.adapters.blobs.local_path(str(media.get("key"))) if isinstance(media, dict) else None
        try:
            return (stored is not None and stored.is_file() and not stored.samefile(path)
                    and _same_file(stored, path))
        except OSError:
            return False

    def run_one(self, compiled: Compiled, path: Path, out_dir: Path | None, *, workflow_id: str = "adhoc",
                version: int = 1, media: MediaRef | None = None, run_id: str | None = None,
                replace_outputs: bool = False, input_etag: str | None = None, out_folder: str = "") -> FileResult:
        """One run of ``compiled`` on the file at ``path``. With ``input_etag`` (its ``file_etag``,
        ``mediaflow run``) the input is linked into the store rather than copied. Outputs go to ``out_folder``
        under ``out_dir`` (see ``_output``)."""
        started = time.perf_counter()
        run_id = run_id or new_run_id()
        try:
            existing: dict[str, Any] | None = self.adapters.runs.get_run(self.tenant, run_id)
        except NotFound:
            existing = None
        if existing is not None and existing["status"] == "completed":  # done before: only outputs may be missing
            from mediaflow.runs import input_keys, output_refs

            refs = output_refs(existing.get("output"), exclude=input_keys(existing.get("input")))
            place = _Placement.of(path, workflow_id, out_folder, refs)
            outputs = [self._output(ref, out_dir, place, replace=True) for ref in refs]
            return FileResult(Path(path), run_id, "completed", time.perf_counter() - started, outputs,
                              None, [], reused=True)
        if existing is not None and existing["status"] in ("failed", "cancelled"):
            # run again from its checkpoints (Tasks that completed are not redone), as a redrive does
            self.adapters.runs.update_run(self.tenant, run_id, status="pending", error=None, endedAt=None)
        if existing is not None and isinstance(existing.get("input"), dict):
            execution_input = existing["input"]  # resumed: the same input gives the same Tasks (checkpoints)
            media = MediaRef.model_validate(execution_input["media"])
            if input_etag is not None and not self.adapters.blobs.exists(media.key):
                # a linked input whose link a crash lost before it reached the disk: link it again
                self.ingest(path, key=media.key, link=True, etag=input_etag)
        else:
            try:
                media = media or self.ingest(path, prefix=run_id, link=input_etag is not None, etag=input_etag)
            except OSError as error:
                return FileResult(Path(path), run_id, "failed", 0.0,
                                  error={"error": "InputUnreadable", "message": str(error)})
            run = {"runId": run_id, "workflowId": workflow_id, "tenant": self.tenant, "version": version,
                   "startedAt": now_iso()}
            execution_input = {"run": run, "media": media.to_state()}
        result = self.runtime.start(compiled.asl, execution_input, run_id)
        record = self.adapters.runs.get_run(self.tenant, run_id)
        refs = self._output_refs(result.output, media.key)
        place = _Placement.of(path, workflow_id, out_folder, refs)
        outputs = [self._output(ref, out_dir, place, replace=replace_outputs) for ref in refs]
        return FileResult(Path(path), run_id, record["status"], time.perf_counter() - started, outputs,
                          record.get("error"), result.states_entered())

    def _output_refs(self, output: Any, input_key: str) -> list[dict[str, Any]]:
        from mediaflow.runs import output_refs

        return output_refs(output, exclude={input_key})

    def _output(self, ref: dict[str, Any], out_dir: Path | None, place: _Placement, *,
                replace: bool = False) -> OutputFile:
        """Copy one output into ``out_dir``, at the input's sub-folder (``place.folder``) under the name the
        storage node asked for (the store's key gets ``-1`` when an earlier run anywhere took that name; the
        folder does not care) or the output's own name. A name a file of this folder already holds gets a
        numeric suffix, unless, with ``replace`` (``mediaflow run``), the folder's manifest says the file is
        this output's (written in place, or left alone when its bytes are the same: a re-run makes no copies)
        or an earlier output of the same input and workflow that this run did not make (``--force`` or an edited
        workflow replaces what the input gave before instead of writing ``photo-2.webp`` beside it; another
        workflow into the same folder does not). An output keeps the place it was first given."""
        key = str(ref["key"])
        filename = str(ref.get("filename") or key.rsplit("/", 1)[-1])
        output = OutputFile(key, filename, int(ref.get("size") or 0), str(ref.get("contentType") or ""))
        if out_dir is None:
            return output
        manifest = OutputManifest.of(Path(out_dir))
        origin = (str(place.source.absolute()), place.workflow_id)
        with manifest.lock:
            placed = manifest.place_of(key)
            if placed is not None:
                target = Path(out_dir) / placed
            else:
                target = Path(out_dir) / place.folder / output_file_name(key, filename, ref.get("outputName"))
                stem, suffix, counter = target.stem, target.suffix, 1
                while not manifest.may_write(target, key, origin, place.keys, replace=replace):
                    counter += 1
                    target = target.with_name(f"{stem}-{counter}{suffix}")
            manifest.claim(target, key, origin)
        if not _same_file(target, self.adapters.blobs.local_path(key)):
            self.adapters.blobs.download(key, target)  # makes the folder
        output.path = target
        output.size = target.stat().st_size
        return output

    def run_batch_map(self, report: ValidationReport, refs: list[MediaRef], *, workflow_id: str = "adhoc",
                      version: int = 1, run_id: str | None = None) -> Any:
        """A batch as ONE execution of the Map state machine (the API's batch runs)."""
        from mediaflow.compiler import compile_definition

        compiled = compile_definition(report, batch=BatchOptions(expected_items=len(refs)))
        run_id = run_id or new_run_id()
        run = {"runId": run_id, "workflowId": workflow_id, "tenant": self.tenant, "version": version,
               "startedAt": now_iso()}
        return self.runtime.start(compiled.asl, {"run": run, "items": [r.to_state() for r in refs]}, run_id)

    # -- the upload watcher -------------------------------------------------------------------------
    @property
    def launcher(self) -> RuntimeLauncher:
        return RuntimeLauncher(self)

    def handle_upload(self, path: Path, uploads_root: Path) -> list[str]:
        """Start the active workflows whose trigger matches a file dropped in uploads/; returns run ids.

        ``uploads/<tenant>/<path>`` is an upload of that tenant, as ``{tenant}/uploads/<path>`` is on AWS;
        a file directly in ``uploads/`` belongs to the default tenant (``MEDIAFLOW_TENANT``, ``local``).
        The same file (path, size, mtime) is handled once, even across restarts (a lease, then a done record).
        """
        from mediaflow.triggers import run_name

        stat = path.stat()
        parts = path.relative_to(uploads_root).parts
        tenant, relative = (parts[0], "/".join(parts[1:])) if len(parts) > 1 else (self.tenant, parts[0])
        marker = run_name("upload", f"{tenant}/{relative}", stat.st_size, stat.st_mtime_ns)
        # A lease, not an eternal claim: if this process dies before the runs are recorded, the next one to
        # look (after a restart, or once the lease expires) takes the file again. Run ids are deterministic
        # and the launcher starts an existing run id once, so taking it twice never starts a run twice.
        claimed, _ = self.durable.claim(marker, seconds=UPLOAD_LEASE_SECONDS)
        if not claimed:
            return []
        media = self.ingest(path, key=upload_key(tenant, marker[-12:], relative))
        media = media.model_copy(update={"filename": safe_name(path.name)})
        started = start_upload(tenant, media, relative, launcher=self.launcher,
                               workflows=self.adapters.workflows.list(tenant, status="active"),
                               run_id_for=lambda record: run_name(record["id"], relative, stat.st_mtime_ns,
                                                                  record["version"]))
        run_ids = [str(run["runId"]) for run in started]
        self.durable.complete(marker, {"runs": run_ids})
        return run_ids


class RuntimeLauncher:
    """Starts runs on a LocalService's embedded runtime (a thread per run, Tasks in worker processes)."""

    def __init__(self, service: LocalService) -> None:
        self.service = service

    def check(self, compiled: Compiled) -> None:
        missing = missing_runtimes(compiled)
        if missing:
            raise InvalidDefinition(f"this deployment has no worker for: {', '.join(missing)}", field="nodes")

    def start(self, tenant: str, asl: dict[str, Any], execution_input: dict[str, Any], run_id: str, *,
              machine_type: str | None = None) -> dict[str, Any]:
        """Start a run; a run id that already exists is not started again (a re-delivered upload, a watcher
        claim taken again after a crash: the first start, or the recovery of its run, carries on)."""
        try:
            self.service.adapters.runs.get_run(tenant, run_id)
        except NotFound:
            self.service.runtime.start_async(asl, execution_input, run_id)
            return {"runId": run_id, "started": True}
        return {"runId": run_id, "started": False}

    def redrive(self, tenant: str, run_id: str) -> bool:
        """Continue a failed run from its checkpoints; False when its execution was never recorded here."""
        try:
            self.service.runtime.redrive(tenant, run_id)
        except NotFound:
            return False
        return True

    def cancel(self, tenant: str, run_id: str) -> bool:
        return bool(self.service.runtime.cancel(run_id))


class EmbeddedLauncher(RuntimeLauncher):
    """The API's launcher on the embedded executor; a workflow it cannot run is a 422 naming the workers."""

    def check(self, compiled: Compiled) -> None:
        from mediaflow.api.problems import ApiProblem

        missing = missing_runtimes(compiled)
        if missing:
            raise ApiProblem(422, f"this deployment has no worker for: {', '.join(missing)}",
                             code="RuntimeUnavailable",
                             errors=[{"field": "nodes", "path": "nodes", "message": f"no worker for {m}"}
                                     for m in missing])


def without_outputs(inputs: list[Path], out_dir: Path) -> list[Path]:
    """``inputs`` less the files that ``out_dir``'s manifest says its outputs put there: a command writing into
    its own input folder (``--out photos`` or ``--out photos/web``) must not take them for inputs the next
    time (outputs of outputs, under new names). Other files in ``out_dir`` stay inputs."""
    manifest = OutputManifest.of(Path(out_dir))
    if not manifest.owners:
        return inputs
    within = str(Path(out_dir).absolute()) + "/"

    def written(path: Path) -> bool:
        if not str(path.absolute()).startswith(within):
            return False
        try:
            return manifest.owner(path) is not None
        except ValueError:  # under the folder's name only through a link
            return False

    return [path for path in inputs if not written(path)]


def file_run_id(compiled: Compiled, path: Path, out_dir: Path, tenant: str, *, force: bool = False) -> str:
    """The run id of ``mediaflow run`` for one file: a digest of the compiled state machine (the workflow
    version), the file's identity (``file_etag``), the output folder and the tenant; ``force`` adds a fresh
    nonce."""
    return file_identity(compiled, path, out_dir, tenant, force=force)[0]


def workflow_digest(compiled: Compiled) -> Any:
    """The compiled state machine's share of every file's run id (hashed once per command, then copied)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(compiled.asl, sort_keys=True, separators=(",", ":")).encode())
    return digest


def file_identity(compiled: Compiled, path: Path, out_dir: Path, tenant: str, *,
                  force: bool = False, workflow: Any = None) -> tuple[str, str]:
    """``(file_run_id, file_etag)``: the run id digests the file's etag with the compiled workflow, the folder
    and the tenant. ``workflow``: ``workflow_digest(compiled)``, when the caller identifies many files."""
    etag = file_etag(Path(path))
    digest = (workflow or workflow_digest(compiled)).copy()
    digest.update(f"\0{etag}\0{Path(out_dir).resolve()}\0{tenant}".encode())
    if force:
        digest.update(uuid.uuid4().bytes)
    return f"run-{digest.hexdigest()[:24]}", etag


class _RunClaims:
    """The runs the inputs of one ``mediaflow run`` have taken. Two names of one file (hard links) have the same
    identity, so the same run id: the second to ask gets a run of its own, derived from the run id and its path,
    and the folder's manifest keeps each name's run for the next command. One run for both would run twice at
    once, and write the outputs of one name only."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}
        self._lock = threading.Lock()

    def take(self, run_id: str, source: str) -> str:
        with self._lock:
            holder = self._holders.setdefault(run_id, source)
            if holder == source:
                return run_id
            own = "run-" + hashlib.sha256(f"{run_id}\0{source}".encode()).hexdigest()[:24]
            self._holders[own] = source
            return own


@dataclass(frozen=True)
class _Placement:
    """Where a run's outputs go in an ``--out`` folder: the input and the workflow (its id) they came from, the
    input's sub-folder there, and the keys of every output of this run (one run's outputs never replace each
    other)."""

    source: Path
    workflow_id: str
    folder: str
    keys: frozenset[str]

    @classmethod
    def of(cls, source: Path, workflow_id: str, folder: str, refs: list[dict[str, Any]]) -> _Placement:
        return cls(Path(source), workflow_id, folder, frozenset(str(ref["key"]) for ref in refs))


def _same_file(target: Path, source: Path) -> bool:
    import filecmp

    return target.is_file() and source.is_file() and filecmp.cmp(target, source, shallow=False)
