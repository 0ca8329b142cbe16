"""Request and response models of the HTTPS API (camelCase on the wire)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

WorkflowStatus = Literal["draft", "active", "paused", "archived"]
RunStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
JobStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]
Scope = Literal["workflows:read", "workflows:write", "workflows:execute"]
NODE_ID = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Loose(BaseModel):
    """Inputs that accept several shapes (canonical, Convertly, Mindia): checked by ``validate``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


# -- workflows -----------------------------------------------------------------------------------------


WORKFLOW_EXAMPLE: dict[str, Any] = {
    "name": "Web images",
    "description": "Resize uploads under incoming/ to 1600 px and store a WebP",
    "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "resize", "kind": "resize", "config": {"width": 1600, "height": 1600, "fit": "inside"}},
        {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp", "compressionLevel": 80}},
        {"id": "store", "kind": "storage", "config": {"prefix": "web/"}},
    ],
    "edges": [{"source": "upload", "target": "resize"}, {"source": "resize", "target": "webp"},
              {"source": "webp", "target": "store"}],
    "trigger": {"onUpload": True, "filters": {"mediaTypes": ["image"], "prefixes": ["incoming/"]}},
    "settings": {"stopOnFailure": True},
}


def examples(*values: dict[str, Any]) -> ConfigDict:
    """``json_schema_extra`` with request examples (shown by the docs page; tests check they validate)."""
    return ConfigDict(json_schema_extra={"examples": list(values)})


class WorkflowInput(Loose):
    """A workflow in any accepted shape: canonical (nodes/edges), Convertly (definition.nodes[].data.kind),
    Mindia (steps) or Strongly-style connections; ``mediaflow.validation.validate`` checks it."""

    model_config = Loose.model_config | examples(WORKFLOW_EXAMPLE)

    id: str | None = Field(default=None, max_length=64, description="Convertly: replace this workflow")
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: WorkflowStatus | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    version: int | None = Field(default=None, ge=0, le=2_147_483_647,
                                description="PUT: the version being replaced")
    nodes: list[Any] | None = None
    edges: list[Any] | None = None
    connections: list[Any] | None = None
    trigger: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    definition: dict[str, Any] | None = Field(default=None, description="Convertly payload")
    steps: list[Any] | None = Field(default=None, description="Mindia payload")
    is_active: bool | None = None


class Workflow(Model):
    id: str
    workflow_id: str
    name: str
    description: str | None = None
    status: WorkflowStatus
    version: int
    tags: list[str] = Field(default_factory=list)
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    trigger: dict[str, Any]
    settings: dict[str, Any]
    valid: bool
    source: str = "canonical"
    execution_type: str | None = None
    node_count: int
    connection_count: int
    version_tag: str | None = None
    template: str | None = Field(default=None, description="The template it was made from (Convertly `template`)")
    definition_fields: dict[str, Any] | None = Field(
        default=None, description="Convertly definition-level fields as saved (`outputFormat`, `renamePattern`...)")
    last_run_at: str | None = None
    created_at: str
    updated_at: str


class WorkflowList(Model):
    count: int
    limit: int
    offset: int
    next_cursor: str | None = None
    workflows: list[Workflow]


class WorkflowPatch(Model):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    tags: list[str] | None = Field(default=None, max_length=50)
    is_active: bool | None = None
    status: WorkflowStatus | None = None
    version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class PlanTask(Model):
    state: str
    runtime: str
    nodes: list[str]
    long_route: str | None = Field(default=None, description="The ECS Fargate state that takes this Task's work "
                                                             "when it is estimated past the Lambda budget")
    fallback: bool = Field(default=False, description="Runs only after its fused Task failed (stopOnFailure: "
                                                       "false): the chain's nodes one by one")


class WorkflowPlanBody(Model):
    """The compiled state machine of a definition and what one run costs (docs/pricing.md)."""

    state_machine: dict[str, Any]
    execution_type: Literal["EXPRESS", "STANDARD"]
    task_states: int
    transitions_per_run: int
    lambda_invocations_per_run: int
    estimated_cost_per_1000_runs_usd: float
    tasks: list[PlanTask]
    assumptions: dict[str, Any]


class WorkflowPlan(WorkflowPlanBody):
    """The compiled state machine of a saved workflow and what one run costs (docs/pricing.md)."""

    workflow_id: str


class CheckReport(Model):
    valid: bool
    source: str
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    node_count: int
    connection_count: int


class DraftCheck(CheckReport):
    """A definition checked without saving it (the dashboard's builder, as it is edited)."""

    plan: WorkflowPlanBody | None = Field(default=None, description="The plan, when the definition is valid")


class StatusChange(Model):
    status: WorkflowStatus


class ValidationResult(CheckReport):
    workflow_id: str


class VersionIn(Model):
    version_tag: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=2000)


class VersionInfo(Model):
    version: int
    version_tag: str | None = None
    description: str | None = None
    status: str
    created_by: str | None = None
    created_at: str


class VersionList(Model):
    workflow_id: str
    current_version: int
    versions: list[VersionInfo]


class VersionCreated(Model):
    workflow_id: str
    version: int
    version_tag: str | None = None


class WorkflowDiff(Model):
    workflow_id: str
    from_version: int
    to_version: int
    nodes_added: list[str]
    nodes_removed: list[str]
    nodes_changed: list[dict[str, Any]]
    edges_added: list[dict[str, Any]]
    edges_removed: list[dict[str, Any]]
    fields_changed: list[str]


class Template(Model):
    id: str
    name: str
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    trigger: dict[str, Any]
    settings: dict[str, Any]
    created_at: str | None = None


class TemplateList(Model):
    count: int
    templates: list[Template]


class FromTemplate(Model):
    name: str | None = Field(default=None, max_length=200)
    status: WorkflowStatus | None = None


class WorkflowStats(Model):
    total: int
    draft: int
    active: int
    paused: int
    archived: int
    valid: int
    invalid: int


class NodeView(Model):
    id: str
    kind: str
    type: str
    label: str | None = None
    category: str | None = None
    position: dict[str, float] | None = None
    config: dict[str, Any]
    has_config: bool
    inbound_connections: int
    outbound_connections: int


class NodeList(Model):
    workflow_id: str
    count: int
    nodes: list[NodeView]


class NodeIn(Model):
    model_config = Model.model_config | examples(
        {"kind": "compress", "after": "resize", "config": {"compressionLevel": 75}})

    kind: str = Field(min_length=1, max_length=64, validation_alias=AliasChoices("kind", "nodeType", "type"))
    id: str | None = Field(default=None, pattern=NODE_ID)
    label: str | None = Field(default=None, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    position: dict[str, float] | None = None
    after: str | None = Field(default=None, pattern=NODE_ID, description="Connect from this node")
    edge_kind: Literal["true", "false"] | None = Field(default=None, description="When `after` is a branch")


class NodeUpdate(Model):
    config: dict[str, Any] | None = None
    label: str | None = Field(default=None, max_length=200)
    position: dict[str, float] | None = None
    replace_config: bool = Field(default=False, description="Replace instead of merging the config")


class NodeResult(Model):
    workflow_id: str
    node_id: str
    version: int
    node: NodeView | None = None
    removed: bool = False
    removed_connections: int = 0
    valid: bool


class ConnectionIn(Model):
    source: str = Field(pattern=NODE_ID, validation_alias=AliasChoices("source", "sourceNodeId"))
    target: str = Field(pattern=NODE_ID, validation_alias=AliasChoices("target", "targetNodeId"))
    kind: Literal["true", "false"] | None = Field(default=None,
                                                   validation_alias=AliasChoices("kind", "sourcePort"))


class ConnectionResult(Model):
    workflow_id: str
    connection_id: str
    version: int
    connection: dict[str, Any] | None = None
    removed: bool = False
    valid: bool


class EventIn(Model):
    model_config = Model.model_config | examples({"eventName": "order.paid", "data": {"orderId": "o-123"}})

    event_name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$",
                            validation_alias=AliasChoices("eventName", "event_type", "eventType"))
    data: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("data", "event_data",
                                                                                      "eventData"))
    source: str = Field(default="api", max_length=128)


class EventResult(Model):
    event_name: str
    workflows_triggered: int
    workflows_failed: int
    results: list[dict[str, Any]]


# -- runs and uploads ----------------------------------------------------------------------------------


class RunRequest(Model):
    """The JSON body of a run (a multipart ``file`` is the other way to start one)."""

    model_config = Model.model_config | examples({"objects": ["incoming/photo.jpg"]},
                                                 {"url": "https://example.com/photo.jpg"},
                                                 {"sample": True, "sampleType": "image"})

    objects: list[str] | None = Field(default=None, min_length=1, description="Keys of stored media")
    url: str | None = Field(default=None, min_length=1, max_length=4096,
                            description="Media to import: an https URL (or s3://bucket/key of an allow-listed "
                                        "bucket), fetched by an `import_url` step the run starts with")
    sample: bool = Field(default=False, description="A test run on generated sample media")
    sample_type: Literal["image", "video", "audio", "document"] = "image"
    inputs: dict[str, Any] | None = Field(default=None, description="Run inputs for inputMappings and "
                                                                   "passThroughValues (e.g. a presigned export URL)")
    count: int = Field(default=1, ge=1, le=100, description="With `sample`: a batch of this many sample items")


class RunAccepted(Model):
    run_id: str
    status: RunStatus
    workflow_id: str
    version: int
    batch: bool
    total: int
    location: str
    redriven: bool = Field(default=False, description="retry only: the run continues under its own id from "
                                                      "its failed Task")


class RetryRequest(Model):
    start_from: Literal["failed", "start"] = Field(
        default="failed", alias="from",
        description="`failed` (default): redrive from the failed Task, reusing what completed; `start`: a new "
                    "run of the whole workflow with `retryOf`")


class Progress(Model):
    total: int
    completed: int
    failed: int
    tasks_succeeded: int = 0
    tasks_failed: int = 0


class OutputFile(Model):
    key: str
    filename: str
    size: int
    content_type: str
    url: str
    output_name: str | None = Field(
        default=None, description="The name a storage node asked for (its prefix and the file's name); the key "
        "ends with it, or with it suffixed when an earlier run took that name")


class Run(Model):
    run_id: str
    workflow_id: str
    version: int
    status: RunStatus
    batch: bool
    progress: Progress
    steps: list[dict[str, Any]]
    outputs: list[OutputFile]
    inputs: list[OutputFile] = Field(default_factory=list, description="The media the run started on (a batch: "
                                                                       "one per item, in item order)")
    error: dict[str, Any] | None = None
    retry_of: str | None = None
    created_at: str
    started_at: str | None = None
    ended_at: str | None = None


class RunSummary(Model):
    run_id: str
    workflow_id: str
    version: int
    status: RunStatus
    created_at: str
    started_at: str | None = None
    ended_at: str | None = None


class RunList(Model):
    workflow_id: str
    count: int = Field(description="All runs of the workflow, not only this page")
    limit: int
    offset: int
    next_cursor: str | None = Field(default=None, description="The next page; null on the last one")
    runs: list[RunSummary]


class CancelResult(Model):
    run_id: str
    status: RunStatus
    cancel_requested: bool


MetadataKey = Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,64}$", description="lower case, as S3 keeps them")]


class UploadIn(Model):
    filename: str = Field(min_length=1, max_length=255)
    workflow_id: str | None = Field(default=None, min_length=1, max_length=64,
                                    description="Start only this workflow (an upload token always names one)")
    content_type: str | None = Field(default=None, max_length=255)
    metadata: dict[MetadataKey, Annotated[str, Field(max_length=512)]] = Field(
        default_factory=dict, max_length=20,
        description="Object metadata (sent as x-amz-meta-* fields), matched by trigger filters.metadata")
    prefix: str = Field(default="", max_length=200, pattern=r"^([A-Za-z0-9_.\-]+/)*$",
                        description="Folder below the tenant's uploads, e.g. `incoming/` (trigger filters.prefixes)")
    start: bool = Field(default=True, description="false: store the file and start no workflow (run it by its "
                                                  "key: `POST /v1/workflows/{id}/runs` with `objects`); not "
                                                  "with `workflowId` or an upload token")


class UploadTarget(Model):
    upload_id: str
    key: str
    url: str
    method: Literal["POST"] = "POST"
    fields: dict[str, str]
    expires_at: str


class StoredObject(Model):
    key: str
    size: int
    content_type: str
    media_type: str


ContentTypePattern = Annotated[str, Field(pattern=r"^[a-z0-9.+\-]+/([a-z0-9.+\-]+|\*)$", max_length=100)]


class MultipartIn(UploadIn):
    """A large file sent in parts (S3 multipart on AWS, the same protocol on the local server)."""

    model_config = UploadIn.model_config | examples({"filename": "clip.mov", "size": 209715200,
                                                     "contentType": "video/quicktime"})

    size: int = Field(ge=1, description="The whole file's size in bytes")
    part_size: int | None = Field(default=None, ge=1, description="Bytes per part (the last may be smaller); "
                                                                  "default 8 MiB, larger for huge files")


class PartUrl(Model):
    part_number: int
    url: str = Field(description="PUT the part's bytes here, no API key; keep the answer's ETag header")


class MultipartUpload(Model):
    upload_id: str = Field(description="Names the upload in the calls that follow (opaque)")
    key: str
    size: int
    part_size: int
    part_count: int
    parts: list[PartUrl] = Field(description="URLs of the first parts (ask for more with .../parts)")
    expires_at: str = Field(description="The upload is aborted if not completed by then")
    urls_expire_at: str


class PartNumbersIn(Model):
    part_numbers: list[int] = Field(min_length=1, max_length=100)


class PartUrls(Model):
    parts: list[PartUrl]
    urls_expire_at: str


class UploadedPart(Model):
    part_number: int
    etag: str
    size: int


class MultipartStatus(Model):
    upload_id: str
    key: str
    size: int
    part_size: int
    part_count: int
    uploaded: list[UploadedPart]
    missing: list[int] = Field(description="Part numbers still to send")


class CompletedPart(Model):
    part_number: int = Field(ge=1, le=10_000)
    etag: str = Field(min_length=1, max_length=200)


class CompleteIn(Model):
    parts: list[CompletedPart] = Field(min_length=1, max_length=10_000)


class CompletedUpload(StoredObject):
    run_ids: list[str] = Field(default_factory=list,
                               description="Runs started (local server); on AWS runs start from the S3 event")


class UploadTokenIn(Model):
    model_config = Model.model_config | examples({"workflowId": "wf_3f9a", "expiresIn": 900,
                                                  "maxBytes": 104857600, "contentTypes": ["image/*"]})

    workflow_id: str = Field(min_length=1, max_length=64)
    expires_in: int = Field(default=900, ge=1, description="Seconds (at most a day)")
    max_bytes: int | None = Field(default=None, ge=1, description="Largest file the token may upload")
    content_types: list[ContentTypePattern] = Field(
        default_factory=list, max_length=20, description="Accepted types (sniffed), e.g. `image/*`; empty = any")


class UploadToken(Model):
    token: str = Field(description="Send as `Authorization: Bearer <token>` to the upload routes only")
    workflow_id: str
    expires_at: str
    max_bytes: int
    content_types: list[str]


# -- jobs ----------------------------------------------------------------------------------------------


class JobAccepted(Model):
    job_id: str
    status: JobStatus


class JobProgress(Model):
    total: int
    completed: int
    failed: int
    percent: int


class Job(Model):
    job_id: str
    job_type: str
    status: JobStatus
    progress: JobProgress
    results: list[dict[str, Any]]
    error_message: str | None = None
    archive: OutputFile | None = None
    created_at: str
    updated_at: str


class JobSummary(Model):
    job_id: str
    job_type: str
    status: JobStatus = Field(description="As last recorded; GET /v1/jobs/{id} brings it up to date")
    files: int
    created_at: str
    updated_at: str


class JobList(Model):
    count: int
    jobs: list[JobSummary]


# -- keys and meta -------------------------------------------------------------------------------------


class KeyIn(Model):
    model_config = Model.model_config | examples({"name": "ci", "scopes": ["workflows:read", "workflows:execute"]})

    name: str = Field(default="", max_length=100)
    scopes: list[Scope] = Field(min_length=1)


class ApiKey(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    key_id: str
    name: str
    scopes: list[str]
    revoked: bool
    created_at: str
    revoked_at: str | None = None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="Shown once; only its hash is stored")


class KeyList(Model):
    count: int
    keys: list[ApiKey]


class CatalogNode(Model):
    kind: str
    category: str
    runtime: str
    role: Literal["trigger", "task", "choice", "gate"]
    fusable: bool
    summary: str
    example: dict[str, Any]
    config_schema: dict[str, Any] = Field(description="JSON Schema of the node's config (camelCase names)")
    animation: str | None = Field(default=None, description="What the kind does with an animated image "
                                                            "(GIF, WebP, AVIF sequence); null: not an image kind")


class CatalogCategory(Model):
    category: str
    kinds: list[str]


class NodeCatalog(Model):
    count: int
    nodes: list[CatalogNode]
    categories: list[CatalogCategory] = Field(description="The kinds of each category, in palette order")


class SessionInfo(Model):
    """Who the caller is; ``signedIn: false`` (not 401) when no valid key or session came with the request."""

    signed_in: bool
    tenant: str | None = None
    key_id: str | None = None
    scopes: list[str] | None = None
    via: Literal["key", "authorizer", "session"] | None = None
    mode: str


class Health(Model):
    status: Literal["ok"]
    mode: str
