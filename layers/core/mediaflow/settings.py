"""Every setting, read once from MEDIAFLOW_* environment variables (README lists them)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePath
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from mediaflow.declared import Declaration, Declared, Field, declarations, field_validator
from mediaflow.environment import ENV_PREFIX, lowered_environment

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TRUE, _FALSE = frozenset({"1", "on", "t", "true", "y", "yes"}), frozenset({"0", "off", "f", "false", "n", "no"})
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {"ge": lambda value, bound: value >= bound,
                                                  "gt": lambda value, bound: value > bound,
                                                  "le": lambda value, bound: value <= bound,
                                                  "lt": lambda value, bound: value < bound}


_S = TypeVar("_S", bound="EnvironmentSettings")


class _NotPlain(Exception):
    """A raw value the light reader does not vouch for: pydantic reads it, and words the error."""


def _variables(declared: Declaration) -> list[str]:
    """The variables a field is read from: ``MEDIAFLOW_<FIELD>``, or the ones its ``validation_alias`` names."""
    alias = declared.options.get("validation_alias")
    if isinstance(alias, tuple):
        return list(alias)
    return [alias] if isinstance(alias, str) else [f"{ENV_PREFIX}{declared.name}"]


def _from_environment(model: type[Declared]) -> dict[str, str]:
    """The raw values of ``model``'s fields found in the environment (the first variable set wins; names match in
    any case)."""
    environment = lowered_environment()
    found: dict[str, str] = {}
    for declared in declarations(model):
        for variable in _variables(declared):
            if variable.lower() in environment:
                found[declared.name] = environment[variable.lower()]
                break
    return found


def _plain(hint: Any, text: str, options: dict[str, Any]) -> Any:
    """``text`` as a value of ``hint`` where it is plainly one (what pydantic makes of it), else _NotPlain."""
    if hint is str:
        return text
    if hint is bool and (text in _TRUE or text in _FALSE):
        return text in _TRUE
    if hint in (int, float) and (_INTEGER if hint is int else _DECIMAL).fullmatch(text):
        value = hint(text)
        if all(_BOUNDS[name](value, bound) for name, bound in options.items() if name in _BOUNDS):
            return value
    if isinstance(hint, type) and issubclass(hint, PurePath) and text:
        return hint(text)
    origin, arguments = get_origin(hint), get_args(hint)
    if origin is Literal and text in arguments:
        return text
    if origin in (UnionType, Union):
        choices = [argument for argument in arguments if argument is not type(None)]
        words = [argument for argument in choices if get_origin(argument) is Literal and text in get_args(argument)]
        if words:
            return text
        others = [argument for argument in choices if get_origin(argument) is not Literal]
        if len(others) == 1:
            return _plain(others[0], text, options)
    raise _NotPlain(text)


def _read(declared: Declaration, text: str) -> Any:
    value = _plain(declared.hint, text, declared.options)
    try:
        for check in declared.after:
            value = check(value)
    except ValueError as error:
        raise _NotPlain(text) from error
    return value


class EnvironmentSettings(Declared):
    """A model whose fields not given as arguments come from the environment, validated like any input
    (strings coerced to the field types). A few lines instead of pydantic-settings, whose import (asyncio,
    its cloud secret sources) cost every process and every Lambda cold start about 60 ms. Declared
    (:mod:`mediaflow.declared`): importing it imports no pydantic."""

    @classmethod
    def pydantic_config(cls) -> dict[str, Any]:
        return {"extra": "ignore", "populate_by_name": True}

    def __init__(self, **values: object) -> None:
        super().__init__(**{**_from_environment(type(self)), **values})

    @classmethod
    def from_environment(cls: type[_S]) -> _S:
        """These settings as the environment gives them: read without pydantic where every variable set is a plain
        value of its field's type (text, a number in range, yes or no, a path, one of the field's words), and
        validated by pydantic, with its errors, otherwise. Either way the same settings
        (``tests/unit/test_settings_environment.py``)."""
        raw = _from_environment(cls)
        try:
            values = {declared.name: _read(declared, raw[declared.name]) for declared in declarations(cls)
                      if declared.name in raw}
        except _NotPlain:
            return cls()
        return cls.trusted(values)


def _default_u2net_home() -> Path:
    """rembg's own U2NET_HOME, else the checkout's .tools/u2net (make setup), else ~/.u2net."""
    if os.environ.get("U2NET_HOME"):
        return Path(os.environ["U2NET_HOME"])
    checkout = Path(__file__).resolve().parents[3] / ".tools" / "u2net"
    return checkout if checkout.is_dir() else Path.home() / ".u2net"


def _default_moderation_model() -> Path:
    """The checkout's .tools/nudenet/320n.onnx (make setup), else ~/.mediaflow/nudenet/320n.onnx."""
    checkout = Path(__file__).resolve().parents[3] / ".tools" / "nudenet" / "320n.onnx"
    return checkout if checkout.is_file() else Path.home() / ".mediaflow" / "nudenet" / "320n.onnx"


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class Settings(EnvironmentSettings):

    mode: Literal["embedded", "aws"] = "embedded"
    data_dir: Path = Field(default=Path("data"), description="Embedded mode: blobs, SQLite and uploads/")
    workers: int = Field(default_factory=_default_workers, ge=1, le=64, description="Embedded worker processes")
    pin_workers: bool = Field(default=True, description="`mediaflow run`: workers that fill the cores, each of "
                              "whose Tasks runs on one thread on inputs of 256 KB or more, are each kept on one core")
    tenant: str = Field(default="local", description="Tenant used by the CLI in the embedded mode")
    plan_cache: str = Field(default="", description="Where `mediaflow run` keeps the compiled plans of workflow "
                            "files (default: the user's cache folder; off: none)")

    max_pixels: int = Field(default=120_000_000, ge=1,
                            description="Refuse images above this many pixels (all frames of an animation)")
    max_frames: int = Field(default=1000, ge=1, description="Refuse animated images with more frames")
    max_upload_bytes: int = Field(default=5 * 1024**3, ge=1)
    max_video_seconds: float = Field(default=4 * 3600.0, gt=0, description="ffmpeg budget per input")
    vips_concurrency: int = Field(default=1, ge=0, le=64, description="libvips threads per worker (0 = auto)")
    vips_cache_mb: int = Field(default=0, ge=0, description="libvips operation cache; 0 keeps RSS flat")

    u2net_home: Path = Field(default_factory=_default_u2net_home, description="Folder of rembg model files")
    numba_cache_dir: Path | None = Field(
        default=None, validation_alias=("MEDIAFLOW_NUMBA_CACHE_DIR", "NUMBA_CACHE_DIR"))
    rembg_threads: int = Field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 4)), ge=1, le=64,
                               description="onnxruntime threads per background_remove (same bytes at any count)")
    numba_cache_seed: Path | None = Field(default=None, description="rembg image: read-only numba cache to copy")

    # AWS mode (read by the AWS adapters only)
    uploads_bucket: str = ""
    outputs_bucket: str = ""
    workflows_table: str = ""
    runs_table: str = ""
    keys_table: str = ""
    idempotency_table: str = ""
    event_bus_name: str = "default"
    state_machine_role_arn: str = ""
    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    name_prefix: str = Field(default="mediaflow", description="AWS: prefix of the workflow state machines")
    jobs_table: str = ""
    webhooks_table: str = ""
    vips_function_arn: str = ""
    ffmpeg_function_arn: str = ""
    rembg_function_arn: str = ""
    light_function_arn: str = ""
    express_runner_function: str = Field(default="", description="AWS: function that runs Express executions")
    state_machine_log_group_arn: str = ""
    inbound_email_domain: str = Field(default="", description="AWS: domain whose mail SES stores for email triggers")
    trigger_queue_url: str = Field(default="", description="AWS: SQS queue of `queue` triggers (enqueue)")
    trigger_cache_seconds: float = Field(
        default=5.0, ge=0, le=300,
        description="AWS trigger: how long a warm trigger reuses a tenant's active workflows (0 = read each time)")
    presign_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600, description="AWS: presigned URL lifetime")
    usage_plan_id: str = Field(default="", description="AWS: usage plan every new API key joins (per-key limits)")
    cors_allow_origins: str = Field(default="", description="Origins a browser may call the API from "
                                    "(comma-separated, * for any; empty: no CORS headers)")
    state_machine_versions_kept: int = Field(
        default=20, ge=1, le=900, description="AWS: newest published versions kept per state machine (besides "
        "the live one and any a running execution uses); AWS allows 1,000")
    state_machine_version_grace_seconds: int = Field(
        default=3600, ge=0, description="AWS: versions younger than this are never pruned (queued Express runs)")
    eventbridge_key_encoding: Literal["none", "form"] = Field(
        default="none", description="AWS: how EventBridge 'Object Created' events encode object keys")

    ai_provider: Literal["auto", "openai", "bedrock"] = Field(
        default="auto", description="ai_generate: bedrock on AWS, an OpenAI-compatible endpoint otherwise (auto)")
    ai_base_url: str = Field(default="", description="ai_generate: OpenAI-compatible base URL (ending in /v1)")
    ai_api_key: str = Field(default="", description="ai_generate: bearer token of the OpenAI-compatible endpoint")
    ai_model: str = Field(default="gpt-4o-mini", description="ai_generate: model of the OpenAI-compatible endpoint")
    ai_bedrock_model: str = Field(default="anthropic.claude-3-haiku-20240307-v1:0",
                                  description="ai_generate: Bedrock model id")
    ai_timeout_seconds: float = Field(default=60.0, gt=0, le=900, description="ai_generate: one call's limit")
    ai_max_image_bytes: int = Field(default=3_750_000, ge=0, description="ai_generate: larger images are not sent")

    webhook_allow_loopback_http: bool = Field(default=False, description="Local development only")
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60, description="Timeout of one delivery")
    webhook_delivery_retention_days: int = Field(default=30, ge=1, le=365,
                                                 description="AWS: days a delivery record is kept (TTL)")
    webhook_dead_letter_queue_url: str = Field(default="", description="AWS: SQS queue of dead deliveries")

    import_allow_loopback: bool = Field(
        default=False, description="import_url and presigned-URL export may reach loopback (http allowed there "
                                   "only); local development and tests only")
    import_max_bytes: int = Field(default=1024**3, ge=1, description="import_url: refuse sources larger than this")
    import_timeout_seconds: float = Field(default=25.0, gt=0, le=900,
                                          description="import_url: the whole download's time limit")
    import_max_redirects: int = Field(default=5, ge=0, le=20, description="import_url: redirects followed")
    import_buckets: str = Field(default="", description="AWS: comma-separated buckets `s3://` imports may read "
                                                        "(the stack's ImportBuckets parameter grants the reads)")
    export_buckets: str = Field(default="", description="Comma-separated buckets the storage node may export to "
                                                        "(the stack's ExportBuckets parameter grants the writes)")
    export_local_root: Path | None = Field(default=None, description="Embedded: the folder under which the "
                                                                     "storage node may export to local paths")
    export_timeout_seconds: float = Field(default=25.0, gt=0, le=900,
                                          description="storage: the time limit of one export to a URL")

    moderation_model: Path = Field(default_factory=_default_moderation_model,
                                   description="Embedded moderation: the nudenet 320n.onnx detector file")
    moderation_threads: int = Field(default=1, ge=1, le=64, description="onnxruntime threads per moderation")
    replicate_api_token: str = Field(default="", validation_alias=(
        "MEDIAFLOW_REPLICATE_API_TOKEN", "REPLICATE_API_TOKEN"), description="Replicate API token")
    replicate_base_url: str = Field(default="https://api.replicate.com",
                                    description="Replicate's API (a proxy or a stub may stand in)")
    replicate_wait_seconds: float = Field(default=25.0, gt=0, le=840,
                                          description="How long a replicate node waits for its prediction")

    ffmpeg_path: str = Field(default="ffmpeg", description="ffmpeg binary (a name on PATH or a path)")
    ffprobe_path: str = Field(default="ffprobe", description="ffprobe binary (a name on PATH or a path)")
    max_video_pixels: int = Field(default=7680 * 4320, ge=1, description="Refuse video frames above this many pixels")
    ffmpeg_timeout_seconds: float = Field(default=840.0, gt=0, description="Kill one ffmpeg op after this long")
    ffmpeg_threads: int | Literal["auto"] = Field(
        default="auto", description="Encoder threads (1-64): auto = the vCPUs this process may use (the Lambda "
                                    "function's or the Fargate task's); a fixed count keeps outputs byte-identical")
    ffmpeg_long_route: Literal["off", "fargate"] = Field(
        default="off", description="AWS: where ffmpeg work past the Lambda budget goes (fargate: ECS task)")
    ffmpeg_lambda_budget_seconds: float | None = Field(
        default=None, ge=0, description="AWS: estimated ffmpeg seconds a Lambda invocation takes on "
                                        "(default: its remaining time less a margin)")
    ffmpeg_cluster_arn: str = Field(default="", description="AWS: ECS cluster of the long ffmpeg route")
    ffmpeg_task_definition_arn: str = Field(default="", description="AWS: task definition of the long route")
    fargate_subnets: str = Field(default="", description="AWS: comma-separated subnets of the Fargate tasks")
    fargate_security_groups: str = Field(default="", description="AWS: comma-separated security groups")

    @field_validator("ffmpeg_threads")
    @classmethod
    def _thread_count(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 64:
            raise ValueError("ffmpeg threads must be from 1 to 64, or auto")
        return value

    @property
    def import_bucket_names(self) -> frozenset[str]:
        return _names(self.import_buckets)

    @property
    def export_bucket_names(self) -> frozenset[str]:
        return _names(self.export_buckets)

    @property
    def ffmpeg_thread_count(self) -> int:
        """``ffmpeg_threads`` as a number: auto follows the CPUs this process may run on."""
        if self.ffmpeg_threads != "auto":
            return self.ffmpeg_threads
        try:
            available = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            available = os.cpu_count() or 1
        return max(1, min(available, 64))


def _names(listed: str) -> frozenset[str]:
    return frozenset(name.strip() for name in listed.split(",") if name.strip())


@cache
def get_settings() -> Settings:
    return Settings.from_environment()


DEFAULT_PROFILE = "default"  # the profile `mediaflow login` writes unless told otherwise


class ClientSettings(EnvironmentSettings):
    """Where the remote CLI and `mediaflow mcp --api` find a deployed API (README: "CLI against a stack")."""

    api_url: str | None = Field(default=None, description="API root of a deployed stack or a `serve`")
    api_key: str | None = Field(default=None, description="API key for api_url")
    profile: str | None = Field(default=None, description="Profile saved by `mediaflow login`")
    config_dir: Path | None = Field(default=None, description="Folder of profiles.json (default: user config)")


def client_settings() -> ClientSettings:
    """Read each time: a CLI invocation is short and tests change the environment between calls."""
    return ClientSettings.from_environment()
