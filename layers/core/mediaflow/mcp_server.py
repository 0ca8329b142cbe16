"""`mediaflow mcp`: an MCP server (the official ``mcp`` SDK) over stdio or streamable HTTP.

It offers Convertly's seven workflow tools with their names and semantics (list_workflows, create_workflow,
update_workflow, set_workflow_active, delete_workflow, run_workflow, list_workflow_runs) plus validate_workflow,
plan_workflow, list_node_kinds, get_run, list_templates and create_from_template, and resources for the node
catalog and the docs. Every tool's input schema is the JSON schema of the API's own request model
(``mediaflow.api.models``), with examples. Tools call the API through ``mediaflow.client``: a deployed stack
(``--api``), or by default the embedded data dir through the API's own handler in this process
(``GatewayTransport``). Failures come back as tool errors carrying the API's problem (type, title, status,
detail and the errors naming node and field), never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mediaflow.api.models import FromTemplate, Model, Run, RunRequest, WorkflowInput, WorkflowStatus

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.types import CallToolResult

    from mediaflow.client import MediaflowClient

logger = logging.getLogger("mediaflow.mcp")
M = TypeVar("M", bound=BaseModel)
Report = Callable[[float, "float | None", str], None]
LOCAL_HOST = "mediaflow.local"
PROBLEM_BASE = "https://mediaflow.dev/problems/"

CONVERTLY_EXAMPLE: dict[str, Any] = {
    "name": "Convert + compress for the web", "template": "convert-compress-post", "outputFormat": "webp",
    "compressionMode": "balanced", "isActive": True,
    "definition": {
        "outputFormat": "webp", "compressionLevel": 75, "audioOutputFormat": "mp3",
        "nodes": [{"id": "upload", "data": {"kind": "upload"}}, {"id": "convert", "data": {"kind": "convert"}},
                  {"id": "compress", "data": {"kind": "compress"}}, {"id": "storage", "data": {"kind": "storage"}}],
        "edges": [{"source": "upload", "target": "convert"}, {"source": "convert", "target": "compress"},
                  {"source": "compress", "target": "storage"}],
        "uploadSource": "api", "uploadLogicGate": "and", "uploadConditions": [],
        "storageDestination": "convertly-storage", "renamePattern": "{original}-{format}", "resizeWidth": "1920"}}
CANONICAL_EXAMPLE: dict[str, Any] = {
    "name": "AVIF for the web", "status": "active",
    "nodes": [{"id": "upload", "kind": "upload"},
              {"id": "resize", "kind": "resize", "config": {"width": 1600, "fit": "inside"}},
              {"id": "avif", "kind": "convert", "config": {"outputFormat": "avif", "compressionLevel": 60}},
              {"id": "store", "kind": "storage", "config": {"prefix": "web/"}}],
    "edges": [{"source": "upload", "target": "resize"}, {"source": "resize", "target": "avif"},
              {"source": "avif", "target": "store"}]}

GUIDE = """# Building mediaflow workflows

A workflow is a tree of typed nodes. Canonical shape:
`{"name": ..., "status": "draft|active|paused", "nodes": [{"id", "kind", "config"}],
"edges": [{"source", "target", "kind"?: "true"|"false"}], "trigger": {...}, "settings": {...}}`.
It starts at one `upload` (or `event`) node; each node's `config` follows its kind's schema
(tool `list_node_kinds`, resource `mediaflow://catalog`). Edges out of a `branch` carry `kind` "true" or
"false". End a chain with `storage` to keep its output. Convertly's payload (`definition.nodes[].data.kind`,
`outputFormat`, `compressionLevel`, `renamePattern`, `resizeWidth`, `branchConditions`...) is accepted too.

Typical flow: `validate_workflow` (or `plan_workflow` for cost and execution type) -> `create_workflow`
-> `run_workflow` on a local file -> `list_workflow_runs` / `get_run` for outputs. `delete_workflow`
needs `confirm: true`, which you set only after the user agreed. Errors come back as problem details:
`errors[].nodeId` and `errors[].path` say which node and which field to fix.
"""


# -- tool inputs: the API's models, plus what a tool adds -------------------------------------------------


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ListWorkflowsIn(Model):
    model_config = _examples({}, {"status": "active"})
    status: WorkflowStatus | None = Field(default=None, description="Only workflows with this status")


class DefinitionIn(WorkflowInput):
    """``WorkflowInput`` with the field descriptions an agent needs to write a definition."""

    nodes: list[Any] | None = Field(default=None, description=(
        'Canonical: [{"id": "resize", "kind": "resize", "config": {"width": 1600}}]; kinds and their config '
        "schemas: list_node_kinds"))
    edges: list[Any] | None = Field(default=None, description=(
        'Canonical: [{"source": "upload", "target": "resize"}]; out of a branch add "kind": "true" or "false"'))
    definition: dict[str, Any] | None = Field(default=None, description=(
        "Convertly payload: {nodes: [{id, data: {kind}}], edges, outputFormat, compressionLevel, renamePattern, "
        "resizeWidth, branchConditions, ...}"))
    status: WorkflowStatus | None = Field(default=None, description="draft (default), active (runs on uploads) "
                                                                     "or paused; active needs a valid definition")


class CreateWorkflowIn(DefinitionIn):
    """The body of `POST /api/workflows` (Convertly) or `POST /v1/workflows` (canonical nodes/edges)."""

    model_config = _examples(CONVERTLY_EXAMPLE, CANONICAL_EXAMPLE)


class UpdateWorkflowIn(DefinitionIn):
    """A full replacement definition for the workflow ``id``."""

    model_config = _examples({"id": "wf_0123456789abcdef", **CANONICAL_EXAMPLE})
    id: str = Field(min_length=1, max_length=64, description="The workflow to replace")


class SetActiveIn(Model):
    model_config = _examples({"id": "wf_0123456789abcdef", "isActive": False})
    id: str = Field(min_length=1, max_length=64, description="Workflow id")
    is_active: bool = Field(description="true: resume (runs on uploads); false: pause")


class DeleteIn(Model):
    model_config = _examples({"id": "wf_0123456789abcdef", "confirm": True})
    id: str = Field(min_length=1, max_length=64, description="Workflow id")
    confirm: bool = Field(default=False, description="Must be true, set only after the user agreed; runs are kept")


class RunWorkflowIn(RunRequest):
    """Run a saved workflow on a local file (uploaded first), on stored objects, or on sample media."""

    model_config = _examples({"id": "wf_0123456789abcdef", "filePath": "/home/me/hero.png"},
                             {"id": "wf_0123456789abcdef", "sample": True, "sampleType": "image"})
    id: str = Field(min_length=1, max_length=64, description="Workflow id")
    file_path: str | None = Field(default=None, description="A local file to upload and run on")
    output_dir: str | None = Field(default=None, description="Download the outputs into this local folder")
    wait_seconds: float = Field(default=300, ge=0, le=3600, description="How long to wait for the run to end")


class ListRunsIn(Model):
    model_config = _examples({"id": "wf_0123456789abcdef"})
    id: str = Field(min_length=1, max_length=64, description="Workflow id")
    limit: int = Field(default=50, ge=1, le=100, description="Most recent runs first")


class ValidateIn(DefinitionIn):
    """A definition to check without saving it, or only ``id`` to check a saved workflow."""

    model_config = _examples(CANONICAL_EXAMPLE, {"id": "wf_0123456789abcdef"})


class PlanIn(DefinitionIn):
    """A definition to plan before saving it, or only ``id`` for a saved workflow."""

    model_config = _examples(CANONICAL_EXAMPLE, {"id": "wf_0123456789abcdef", "items": 500})
    items: int = Field(default=1, ge=1, le=10_000, description="Plan a batch run of this many files")


class NodeKindsIn(Model):
    model_config = _examples({}, {"kind": "resize"}, {"category": "image"})
    kind: str | None = Field(default=None, description="Only this kind")
    category: str | None = Field(default=None, description="Only this category (image, video, logic...)")


class GetRunIn(Model):
    model_config = _examples({"runId": "run_0123456789abcdef"})
    run_id: str = Field(min_length=1, max_length=128, description="Run id")


class NoInput(Model):
    model_config = _examples({})


class FromTemplateIn(FromTemplate):
    model_config = _examples({"templateId": "image-web-optimise", "name": "Web images", "status": "active"})
    template_id: str = Field(min_length=1, max_length=64, description="Template id (see list_templates)")


# -- results -------------------------------------------------------------------------------------------


def problem(status: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None,
            title: str | None = None) -> dict[str, Any]:
    from http import HTTPStatus

    return {"type": PROBLEM_BASE + code, "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail, "errors": errors or []}


def validation_problem(error: ValidationError) -> dict[str, Any]:
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "path": ".".join(str(p) for p in e["loc"]),
               "message": e["msg"], "code": e["type"]} for e in error.errors(include_url=False)]
    return problem(422, "RequestValidation", "the tool arguments are not valid", errors)


def _json(data: Any) -> Any:
    return data.model_dump(mode="json", by_alias=True) if isinstance(data, BaseModel) else data


def ok(data: Any) -> CallToolResult:
    from mcp.types import CallToolResult, TextContent

    payload = _json(data)
    structured = payload if isinstance(payload, dict) else {"items": payload}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(payload, ensure_ascii=False,
                                                                             default=str))],
                          structured_content=structured)


def failed(body: dict[str, Any]) -> CallToolResult:
    """A tool error carrying the problem: a summary line (node and field first) and the problem as JSON."""
    from mcp.types import CallToolResult, TextContent

    lines = [f"{body.get('status')} {str(body.get('type', '')).rsplit('/', 1)[-1]}: {body.get('detail')}"]
    for error in body.get("errors") or []:
        where = " ".join(x for x in (f"node {error['nodeId']}" if error.get("nodeId") else "",
                                     f"field {error.get('path') or error.get('field')}"
                                     if error.get("path") or error.get("field") else "") if x)
        lines.append(f"- {where + ': ' if where else ''}{error.get('message', '')}")
    text = "\n".join(lines) + "\n" + json.dumps(body, ensure_ascii=False, default=str)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=body, is_error=True)


# -- the backend ---------------------------------------------------------------------------------------


@dataclass
class Backend:
    """The API the tools call: built on first use (after stdio has claimed stdout), closed at shutdown."""

    api: str | None = None
    key: str | None = None
    profile: str | None = None
    data_dir: Path | None = None
    tenant: str | None = None
    _client: MediaflowClient | None = None
    _service: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self) -> MediaflowClient:
        with self._lock:
            if self._client is None:
                self._client = self._open()
            return self._client

    def _open(self) -> MediaflowClient:
        from mediaflow.client import MediaflowClient
        from mediaflow.client.profiles import resolve_target

        target = resolve_target(self.api, self.key, self.profile)
        if target is not None:
            from mediaflow import cli_remote

            return MediaflowClient(target.api_url, target.api_key, transport=cli_remote.transport)
        from mediaflow.api import create_app
        from mediaflow.api.config import SCOPES
        from mediaflow.client.gateway import GatewayTransport
        from mediaflow.embedded.app import LocalService
        from mediaflow.embedded.bootstrap import embedded_context

        self._service = LocalService(data_dir=self.data_dir, tenant=self.tenant)
        app = create_app(embedded_context(self._service))
        # This process owns the data dir: it acts as its tenant, as an API Gateway authorizer would say.
        authorizer = {"tenant": self._service.tenant, "scopes": ",".join(SCOPES), "keyId": "mcp-local"}
        return MediaflowClient(f"https://{LOCAL_HOST}", None,
                               transport=GatewayTransport(app.resolve, host=LOCAL_HOST, authorizer=authorizer))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._service is not None:
                self._service.close()
            self._client = self._service = None


# -- tools ---------------------------------------------------------------------------------------------


class Tools:
    """The tool bodies: each takes its validated input model and returns a JSON-ready result."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def api(self) -> MediaflowClient:
        return self.backend.client

    def list_workflows(self, args: ListWorkflowsIn) -> Any:
        found = [_json(w) for w in self.api.workflows.iter(status=args.status)]
        return {"count": len(found), "workflows": found}

    def create_workflow(self, args: CreateWorkflowIn) -> Any:
        body = args.model_dump(by_alias=True, exclude_unset=True, mode="json")
        rejected = _invalid(body)
        if rejected is not None:
            return rejected
        return self.api.workflows.create(body)

    def update_workflow(self, args: UpdateWorkflowIn) -> Any:
        body = args.model_dump(by_alias=True, exclude_unset=True, mode="json")
        workflow_id = body.pop("id")
        rejected = _invalid(body)
        if rejected is not None:
            return rejected
        return self.api.workflows.replace(workflow_id, body)

    def set_workflow_active(self, args: SetActiveIn) -> Any:
        return self.api.workflows.activate(args.id) if args.is_active else self.api.workflows.pause(args.id)

    def delete_workflow(self, args: DeleteIn) -> Any:
        if not args.confirm:
            return failed(problem(400, "ConfirmationRequired",
                                  f"delete_workflow removes workflow {args.id}; ask the user, then call again with "
                                  "confirm: true", [{"field": "confirm", "path": "confirm",
                                                     "message": "must be true to delete"}]))
        self.api.workflows.delete(args.id)
        return {"id": args.id, "deleted": True, "runsKept": True}

    def run_workflow(self, args: RunWorkflowIn, report: Report) -> Any:
        if args.file_path:
            path = Path(args.file_path).expanduser()
            if not path.is_file():
                return failed(problem(422, "FileNotFound", f"no such file: {path}",
                                      [{"field": "filePath", "path": "filePath", "message": "no such file"}]))
            report(0, None, f"uploading {path.name}")
            accepted = self.api.runs.start(args.id, [path])
        elif args.objects:
            accepted = self.api.runs.start_objects(args.id, args.objects)
        elif args.sample:
            accepted = self.api.runs.start_sample(args.id, args.sample_type)
        else:
            return failed(problem(422, "MissingInput", "give filePath (a local file), objects or sample: true",
                                  [{"field": "filePath", "path": "filePath", "message": "required"}]))
        from mediaflow.client import WaitTimeout

        report(0, None, f"run {accepted.run_id} started")

        def seen(run: Run) -> None:
            done = run.progress.completed + run.progress.failed
            report(done, run.progress.total, f"run {run.run_id}: {run.status}")

        try:
            run = self.api.runs.wait(accepted.run_id, timeout=args.wait_seconds, on_progress=seen)
        except WaitTimeout as late:
            return {**_json(late.last), "note": f"still running after {args.wait_seconds:.0f} s; "
                                                "follow it with get_run"}
        result = _json(run)
        if args.output_dir and run.status == "completed":
            result["downloaded"] = [str(p) for p in self.api.runs.download_outputs(run, args.output_dir)]
        return result

    def list_workflow_runs(self, args: ListRunsIn) -> Any:
        summaries = self.api.runs.list(args.id, limit=args.limit).runs
        runs = [_json(self.api.runs.get(s.run_id)) for s in summaries]
        return {"workflowId": args.id, "count": len(runs), "runs": runs}

    def validate_workflow(self, args: ValidateIn) -> Any:
        body = args.model_dump(by_alias=True, exclude_unset=True, mode="json")
        if set(body) <= {"id"} and body.get("id"):
            return self.api.workflows.validate(str(body["id"]))
        from mediaflow.validation import validate

        report = validate(body)
        result = report.to_dict()
        if report.definition is not None:
            result["definition"] = report.definition.canonical()
        return result

    def plan_workflow(self, args: PlanIn) -> Any:
        body = args.model_dump(by_alias=True, exclude_unset=True, exclude={"items"}, mode="json")
        if set(body) <= {"id"} and body.get("id"):
            return self.api.workflows.plan(str(body["id"]), items=args.items)
        from mediaflow.compiler import BatchOptions, plan_workflow
        from mediaflow.validation import validate

        rejected = _invalid(body, "only a valid workflow has a plan")
        if rejected is not None:
            return rejected
        report = validate(body)
        assert report.definition is not None
        batch = BatchOptions(expected_items=args.items) if args.items > 1 else None
        return plan_workflow(report.definition, report.configs, batch=batch).to_dict()

    def list_node_kinds(self, args: NodeKindsIn) -> Any:
        from mediaflow.catalog import describe_catalog

        entries = [e for e in describe_catalog() if (args.kind is None or e["kind"] == args.kind)
                   and (args.category is None or e["category"] == args.category)]
        if args.kind and not entries:
            return failed(problem(404, "NotFound", f"no node kind {args.kind!r}",
                                  [{"field": "kind", "path": "kind", "message": "unknown kind"}]))
        return {"count": len(entries), "kinds": entries}

    def get_run(self, args: GetRunIn) -> Any:
        return self.api.runs.get(args.run_id)

    def list_templates(self, args: NoInput) -> Any:
        return self.api.workflows.templates()

    def create_from_template(self, args: FromTemplateIn) -> Any:
        return self.api.workflows.from_template(args.template_id, name=args.name, status=args.status)


def _invalid(body: dict[str, Any], why: str = "the workflow is not valid") -> CallToolResult | None:
    """A tool error naming node and field when ``body`` does not validate (checked before saving)."""
    from mediaflow.api.problems import issue_errors
    from mediaflow.validation import validate

    report = validate(body)
    if report.valid:
        return None
    return failed(problem(422, "InvalidDefinition", f"{why}: {len(report.errors)} error(s)",
                          issue_errors(report.errors)))


@dataclass(frozen=True)
class Spec:
    name: str
    model: type[BaseModel]
    description: str
    read_only: bool = False
    destructive: bool = False
    reports_progress: bool = False


SPECS = (
    Spec("list_workflows", ListWorkflowsIn, "Read every saved workflow with its definition.", read_only=True),
    Spec("create_workflow", CreateWorkflowIn,
         "Create a new pipeline. The schema mirrors POST /api/workflows (Convertly) and also takes mediaflow's "
         "canonical nodes/edges. An invalid definition is refused with errors naming node and field."),
    Spec("update_workflow", UpdateWorkflowIn, "Replace the full definition of an existing workflow (by id)."),
    Spec("set_workflow_active", SetActiveIn, "Pause (isActive false) or resume (isActive true) a workflow."),
    Spec("delete_workflow", DeleteIn, "Remove a workflow (requires confirm: true; past runs are kept).",
         destructive=True),
    Spec("run_workflow", RunWorkflowIn,
         "Upload a local file and execute the workflow end-to-end; returns the run with its outputs "
         "(download URLs; outputDir also saves them locally). Sends progress notifications while it runs.",
         reports_progress=True),
    Spec("list_workflow_runs", ListRunsIn, "Pull the 50 most recent runs of a workflow, with status and outputs.",
         read_only=True),
    Spec("validate_workflow", ValidateIn,
         "Check a definition without saving it (or a saved one by id): errors and warnings per node and field.",
         read_only=True),
    Spec("plan_workflow", PlanIn,
         "Before saving: the compiled Step Functions plan, execution type (EXPRESS/STANDARD), transitions and the "
         "estimated AWS cost per 1000 runs.", read_only=True),
    Spec("list_node_kinds", NodeKindsIn,
         "The node catalog: every kind with its category, summary, example config and config JSON schema.",
         read_only=True),
    Spec("get_run", GetRunIn, "A run: status, progress, steps, outputs (download URLs) and error.", read_only=True),
    Spec("list_templates", NoInput, "Ready-made workflow templates.", read_only=True),
    Spec("create_from_template", FromTemplateIn, "Create a workflow from a template (see list_templates)."),
)


def build_tool(spec: Spec, body: Callable[..., Any]) -> Any:
    """An SDK tool whose input schema is ``spec.model``'s JSON schema; arguments are validated by that same
    model, and every failure becomes a problem-shaped tool error."""
    from mcp.server.mcpserver.tools.base import Tool
    from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
    from mcp.types import ToolAnnotations

    from mediaflow.client import ApiError, ClientError

    class RawArguments(ArgModelBase):
        model_config = ConfigDict(extra="allow")

        def model_dump_one_level(self) -> dict[str, Any]:
            return {"arguments": dict(self.model_extra or {})}

    def invoke(arguments: dict[str, Any], report: Report) -> CallToolResult:
        from mcp.types import CallToolResult

        try:
            parsed = spec.model.model_validate(arguments)
        except ValidationError as error:
            return failed(validation_problem(error))
        try:
            result = body(parsed, report) if spec.reports_progress else body(parsed)
        except ApiError as error:
            return failed(error.problem)
        except ClientError as error:
            return failed(problem(502, "ApiUnreachable", str(error)))
        except Exception as error:  # never a traceback to the client; the log keeps it
            logger.exception("tool %s failed", spec.name)
            return failed(problem(500, "InternalError", f"{spec.name} failed: {type(error).__name__}"))
        return result if isinstance(result, CallToolResult) else ok(result)

    async def call(arguments: dict[str, Any], ctx: Context[Any, Any]) -> CallToolResult:
        def report(done: float, total: float | None, message: str) -> None:
            try:
                anyio.from_thread.run(ctx.report_progress, done, total, message)
            except Exception:  # progress is best effort: a client without a progress token gets none
                logger.debug("progress not sent", exc_info=True)

        # The client is synchronous: the tool runs on a worker thread, progress hops back to the loop.
        return await anyio.to_thread.run_sync(functools.partial(invoke, arguments, report))

    schema = spec.model.model_json_schema(by_alias=True)
    annotations = ToolAnnotations(read_only_hint=spec.read_only, destructive_hint=spec.destructive,
                                  idempotent_hint=spec.read_only)
    return Tool(fn=call, name=spec.name, title=spec.name.replace("_", " "), description=spec.description,
                parameters=schema, fn_metadata=FuncMetadata(arg_model=RawArguments), is_async=True,
                context_kwarg="ctx", annotations=annotations)


def build_server(backend: Backend) -> MCPServer:
    from mcp.server.mcpserver import MCPServer

    from mediaflow.catalog import describe_catalog
    from mediaflow.cli import catalog_markdown, package_version

    tools = Tools(backend)
    # The backend outlives sessions (streamable HTTP runs one per client): cmd_mcp closes it at exit.
    server: MCPServer = MCPServer(
        name="mediaflow", version=package_version(), instructions=GUIDE,
        tools=[build_tool(spec, getattr(tools, spec.name)) for spec in SPECS])

    @server.resource("mediaflow://catalog", name="node-catalog", mime_type="application/json",
                     description="Every node kind with its config JSON schema and an example")
    def catalog() -> str:
        return json.dumps(describe_catalog(), indent=1)

    @server.resource("mediaflow://nodes/{kind}", name="node-kind", mime_type="application/json",
                     description="One node kind with its config schema")
    def node_kind(kind: str) -> str:
        entry = next((e for e in describe_catalog() if e["kind"] == kind), None)
        if entry is None:
            from mcp.server.mcpserver.exceptions import ResourceError

            raise ResourceError(f"no node kind {kind!r}")
        return json.dumps(entry, indent=1)

    @server.resource("mediaflow://docs/nodes", name="node-reference", mime_type="text/markdown",
                     description="The node reference (settings, defaults, examples)")
    def node_docs() -> str:
        return catalog_markdown(describe_catalog())

    @server.resource("mediaflow://docs/workflows", name="workflow-guide", mime_type="text/markdown",
                     description="How to build a workflow, with a canonical and a Convertly example")
    def guide() -> str:
        return (GUIDE + "\n## Canonical example\n\n```json\n" + json.dumps(CANONICAL_EXAMPLE, indent=2)
                + "\n```\n\n## Convertly example\n\n```json\n" + json.dumps(CONVERTLY_EXAMPLE, indent=2) + "\n```\n")

    return server


# -- transports and the command ------------------------------------------------------------------------


def serve_http(server: MCPServer, host: str, port: int, path: str) -> None:
    """Streamable HTTP on host:port (0 = any free port; the URL is printed on stderr once bound)."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections made once the URL is printed wait in the backlog until uvicorn accepts
    bound = sock.getsockname()[1]
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    sys.stderr.write(f"mediaflow MCP on http://{shown}:{bound}{path} (Ctrl-C stops)\n")
    sys.stderr.flush()
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])


def cmd_mcp(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    backend = Backend(api=args.api, key=args.key, profile=args.profile,
                      data_dir=Path(args.data_dir) if args.data_dir else None, tenant=args.tenant)
    try:
        from mediaflow.client.profiles import resolve_target

        target = resolve_target(args.api, args.key, args.profile)
    except LookupError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    if target is not None and not target.api_key:
        sys.stderr.write(f"error: no API key for {target.api_url}: --key, MEDIAFLOW_API_KEY or `mediaflow login`\n")
        return 2
    server = build_server(backend)
    try:
        if args.transport == "stdio":
            server.run("stdio")
        else:
            serve_http(server, args.host, args.port, args.path)
    except KeyboardInterrupt:
        pass
    finally:
        backend.close()
    return 0
