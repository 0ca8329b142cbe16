"""The task contract shared by both runtimes: what a compiled Task sends and what it gets back.

A compiled Task state calls one runtime (vips, ffmpeg, rembg, light) with ``{run, media, ops}``;
the worker for that runtime applies the ops in order (one decode, one encode for fused chains) and
returns the new MediaRef. The Lambda handlers and the embedded executor both call ``execute_task``.
"""

from __future__ import annotations

import errno
import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from mediaflow.errors import ExceedsLambdaBudget, InternalError, MediaflowError, StorageFull
from mediaflow.media import MediaRef
from mediaflow.ports import BlobStore, EventBus, RunStore, Vision
from mediaflow.settings import Settings, get_settings


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Op(_Camel):
    node_id: str
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)


class RunContext(_Camel):
    run_id: str
    workflow_id: str = "adhoc"
    tenant: str = "local"
    version: int = 1
    started_at: str = Field(default="", description="ISO time the run started; {timestamp} derives from it")


def no_media() -> MediaRef:
    """The media of a run started by an event: nothing stored (empty key); metadata nodes may annotate it."""
    return MediaRef(bucket="", key="")


class TaskPayload(_Camel):
    runtime: Literal["vips", "ffmpeg", "rembg", "light"]
    run: RunContext
    media: MediaRef = Field(description="In a run started by an event (no media): NO_MEDIA, an empty reference "
                            "that metadata nodes may annotate")
    ops: list[Op] = Field(min_length=1)
    branches: list[list[Op]] = Field(
        default_factory=list, description="Fan-out: after `ops`, each branch's ops run on the same decode")
    item: int | None = Field(default=None, ge=0, description="Index of the item in a batch run (Map)")

    @field_validator("media", mode="before")
    @classmethod
    def _no_media(cls, value: Any) -> Any:
        return no_media() if value is None else value
    event: dict[str, Any] | None = Field(default=None, description="The event that started the run: eventName, "
                                         "data, source")
    record_failure: bool = Field(default=True, description="False for a fused Task that is re-run node by node "
                                 "when it fails (stopOnFailure: false): the re-run records the steps")


class StepRecord(_Camel):
    node_id: str
    kind: str
    status: Literal["completed", "failed", "skipped"]
    started_at: str
    ended_at: str
    duration_ms: float
    error: str | None = None
    error_message: str | None = None
    output: dict[str, Any] | None = None
    item: int | None = Field(default=None, description="Index of the batch item this step ran for")
    source_key: str | None = Field(default=None, description="Key of the upload this step's item came from")


@dataclass
class TaskEnvironment:
    """What a worker may touch: storage, bookkeeping, the bus, settings and a scratch folder."""

    blobs: BlobStore
    workdir: Path
    runs: RunStore | None = None
    bus: EventBus | None = None
    settings: Settings = field(default_factory=get_settings)
    vision: Vision | None = None
    time_budget_seconds: float | None = None
    """Seconds of work this invocation may start (a Lambda's remaining time); None: no limit (embedded, ECS)."""


@dataclass(frozen=True)
class OpContext:
    """What an op executor knows about where it runs."""

    node_id: str
    run: RunContext
    item: int | None = None  # the batch item (Map iteration) this op runs for
    event: dict[str, Any] | None = None  # the event that started the run, if an event did


@dataclass
class OpOutcome:
    """What one op reports for the run record (timings are filled in by the worker)."""

    node_id: str
    kind: str
    started: float
    ended: float
    output: dict[str, Any] | None = None


@dataclass
class ChainResult:
    media: MediaRef
    outcomes: list[OpOutcome]
    branches: list[MediaRef] | None = None


Worker = Callable[[TaskPayload, TaskEnvironment], ChainResult]

WORKERS: dict[str, str] = {
    "vips": "mediaflow.workers.image:run_chain",
    "ffmpeg": "mediaflow.workers.video:run_chain",
    "rembg": "mediaflow.workers.cutout:run_chain",
    "light": "mediaflow.workers.light:run_chain",
}


def load_worker(runtime: str) -> Worker:
    module_name, _, attr = WORKERS[runtime].partition(":")
    worker: Worker = getattr(importlib.import_module(module_name), attr)
    return worker


@contextmanager
def scratch_dir(env: TaskEnvironment, prefix: str) -> Iterator[Path]:
    """A private folder under the task's workdir, removed whatever happens."""
    env.workdir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=env.workdir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


RUNTIME_NAMES = {"vips": "libvips", "ffmpeg": "ffmpeg", "rembg": "rembg", "light": "light"}


def parse_op(op: Op, allowed: frozenset[str], runtime: str) -> tuple[str, Any]:
    """The canonical kind and validated config of ``op`` for the ``runtime`` worker; InvalidDefinition
    names the node and the field (a kind the worker does not run, bad config, or config that makes the
    node run elsewhere, e.g. convert to mp4 on the image worker)."""
    from pydantic import ValidationError

    from mediaflow.catalog import get_spec
    from mediaflow.errors import InvalidDefinition

    name = RUNTIME_NAMES.get(runtime, runtime)
    spec = get_spec(op.kind)
    if spec is None or spec.kind not in allowed:
        raise InvalidDefinition(f"kind {op.kind!r} does not run on the {name} worker (the {name} runtime)",
                                node_id=op.node_id, field="kind")
    try:
        config = spec.config_model.model_validate(op.config)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidDefinition(f"invalid {spec.kind} config: {path}: {first.get('msg', 'invalid')}",
                                node_id=op.node_id, field=f"config.{path}" if path else "config") from None
    belongs = spec.runtime_for(config)
    if spec.runtime != "light" and belongs != runtime:
        raise InvalidDefinition(f"{spec.kind} with this config runs on {RUNTIME_NAMES.get(belongs, belongs)}, "
                                f"not on the {name} worker", node_id=op.node_id, field="config")
    return spec.kind, config


def input_file(env: TaskEnvironment, key: str, target: Path) -> Path:
    """The input as a local file: read in place when the store is a local folder (the embedded mode never
    writes to an object it has stored, so readers are safe), else downloaded to ``target``."""
    local_path = getattr(env.blobs, "local_path", None)
    if local_path is not None:
        path: Path = local_path(key)
        if path.is_file():
            return path
    return env.blobs.download(key, target)


def output_prefix(task: TaskPayload, node_id: str) -> str:
    """Where a node's outputs go: ``{tenant}/runs/{runId}/{nodeId}`` with every part made path-safe."""
    return node_prefix(task.run, task.item, node_id)


def node_prefix(run: RunContext, item: int | None, node_id: str) -> str:
    """``{tenant}/runs/{runId}[/item-{i}]/{nodeId}``, every part path-safe: one place per (run, node, item)."""
    from mediaflow.nodes.rename import clean_component

    parts = [run.tenant, "runs", run.run_id]
    if item is not None:  # items of one batch never share an output key
        parts.append(f"item-{item}")
    parts.append(node_id)
    return "/".join(clean_component(part) or "_" for part in parts)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_light(op: Op) -> bool:
    from mediaflow.catalog import get_spec

    spec = get_spec(op.kind)
    return spec is not None and spec.runtime == "light"


def split_ops(ops: list[Op]) -> tuple[list[Op], list[Op], list[Op]]:
    """Leading light ops, the media runtime's ops, trailing light ops (the compiler fuses in this shape)."""
    start = 0
    while start < len(ops) and _is_light(ops[start]):
        start += 1
    if start == len(ops):
        return ops, [], []
    end = len(ops)
    while end > start and _is_light(ops[end - 1]):
        end -= 1
    return ops[:start], ops[start:end], ops[end:]


def run_ops(task: TaskPayload, env: TaskEnvironment) -> ChainResult:
    """Light ops before and after go to the light worker; the rest to the task's media runtime.

    With branches, the media runtime runs the shared ops and every branch's media ops from one decode;
    each branch's trailing light ops then run on that branch's output.
    """
    if task.branches:
        return _run_branches(task, env)
    leading, core, trailing = split_ops(task.ops)
    media, outcomes = task.media, list[OpOutcome]()
    for runtime, ops in (("light", leading), (task.runtime, core), ("light", trailing)):
        if not ops:
            continue
        try:
            part = load_worker(runtime)(task.model_copy(update={"runtime": runtime, "ops": ops, "media": media}),
                                        env)
        except MediaflowError as error:
            error.completed_steps = [*outcomes, *error.completed_steps]
            raise
        media = part.media
        outcomes.extend(part.outcomes)
    return ChainResult(media=media, outcomes=outcomes)


def _run_branches(task: TaskPayload, env: TaskEnvironment) -> ChainResult:
    leading, core, _ = split_ops(task.ops)
    media, outcomes = task.media, []
    if leading:
        part = load_worker("light")(task.model_copy(update={"runtime": "light", "ops": leading, "branches": []}),
                                    env)
        media, outcomes = part.media, list(part.outcomes)
    tails: list[list[Op]] = []
    heads: list[list[Op]] = []
    for branch in task.branches:
        end = len(branch)
        while end > 0 and _is_light(branch[end - 1]):
            end -= 1
        heads.append(branch[:end])
        tails.append(branch[end:])
    shared = load_worker(task.runtime)(task.model_copy(update={"ops": core, "branches": heads, "media": media}), env)
    outcomes.extend(shared.outcomes)
    results: list[MediaRef] = []
    for branch_media, tail in zip(shared.branches or [shared.media], tails, strict=True):
        if tail:
            part = load_worker("light")(task.model_copy(update={
                "runtime": "light", "ops": tail, "branches": [], "media": branch_media}), env)
            branch_media = part.media
            outcomes.extend(part.outcomes)
        results.append(branch_media)
    return ChainResult(media=results[0], outcomes=outcomes, branches=results)


def execute_task(payload: dict[str, Any], env: TaskEnvironment) -> Any:
    """Run one compiled Task. Returns the output MediaRef as a state dict (a list of them for a fan-out
    Task); raises a named error on failure."""
    task = TaskPayload.model_validate(payload)
    if not task.media.key:
        _refuse_media_ops(task)
    if env.runs is not None:
        from mediaflow.runs import begin_task

        begin_task(env.runs, task.run.tenant, task.run.run_id)
    started = time.time()
    try:
        result = run_ops(task, env)
    except ExceedsLambdaBudget:
        raise  # handed to the long route: not a failure of the node
    except Exception as error:  # a toolchain crash still gets a named, recorded error
        node_id = getattr(error, "node_id", None) or task.ops[0].node_id
        if storage_full(error) and not isinstance(error, StorageFull):
            wrapped: MediaflowError = StorageFull(f"no room to write the output: {error}", node_id=node_id)
        elif isinstance(error, MediaflowError):
            wrapped = error
        else:
            wrapped = InternalError(f"{type(error).__name__}: {error}", node_id=node_id)
        completed = [o for o in getattr(error, "completed_steps", []) if isinstance(o, OpOutcome)]
        _record_outcomes(task, env, completed, {})  # ops of this Task that finished before the failure
        _record_failure(task, env, wrapped, started)
        if wrapped is error:
            raise
        raise wrapped from error
    _record_outcomes(task, env, result.outcomes, _ends(task, result))
    if result.branches is not None:
        return [media.to_state() for media in result.branches]
    return result.media.to_state()


def _record_outcomes(task: TaskPayload, env: TaskEnvironment, outcomes: list[OpOutcome],
                     ends: dict[str, dict[str, Any]]) -> None:
    """Record completed ops. The media a Task hands on is kept on the step of the node that made it, so a
    run that stops (or goes on without a node) still lists every output its steps wrote (mediaflow.runs)."""
    if env.runs is None:
        return
    for outcome in outcomes:
        output = outcome.output
        if outcome.node_id in ends:
            output = {**(output or {}), "media": ends[outcome.node_id]}
        env.runs.record_step(task.run.tenant, task.run.run_id, StepRecord(
            node_id=outcome.node_id, kind=outcome.kind, status="completed", started_at=iso(outcome.started),
            ended_at=iso(outcome.ended), duration_ms=round((outcome.ended - outcome.started) * 1000, 3),
            output=output, **_item_fields(task),
        ).model_dump(by_alias=True, exclude_none=True))

_NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def storage_full(error: BaseException) -> bool:
    """Whether ``error`` (an OSError, or a tool's error carrying its text) says the disk had no room."""
    if isinstance(error, OSError) and error.errno in _NO_ROOM:
        return True
    text = str(error)
    return any(os.strerror(code) in text for code in _NO_ROOM)


def _refuse_media_ops(task: TaskPayload) -> None:
    """A run with no media (started by an event) reaches a node that works on media: a named error (the
    validation refuses such workflows when they are saved; this guards definitions stored before)."""
    from mediaflow.catalog import get_spec
    from mediaflow.errors import NodeError

    def check(ops: list[Op]) -> bool:
        """False once an op fetches media itself (the ops after it work on that media)."""
        for op in ops:
            spec = get_spec(op.kind)
            if spec is not None and spec.makes_media:
                return False
            if spec is None or spec.needs_media:
                raise NodeError(f"`{op.node_id}` works on media, and this run (started by an event) has none",
                                node_id=op.node_id)
        return True

    if check(task.ops):
        for branch in task.branches:
            check(branch)


def _item_fields(task: TaskPayload) -> dict[str, Any]:
    """Which batch item a step belongs to: its index and the key of its upload (none outside a batch)."""
    if task.item is None:
        return {}
    return {"item": task.item, "source_key": task.media.source_key or task.media.key}


def _ends(task: TaskPayload, result: ChainResult) -> dict[str, dict[str, Any]]:
    """node id -> the media state it handed on, for the last node of the chain or of each branch."""
    if result.branches is None:
        return {task.ops[-1].node_id: result.media.to_state()} if result.media.key else {}
    lasts = [branch[-1].node_id if branch else task.ops[-1].node_id for branch in task.branches]
    return {node_id: media.to_state() for node_id, media in zip(lasts, result.branches, strict=False)}


def _record_failure(task: TaskPayload, env: TaskEnvironment, error: MediaflowError, started: float) -> None:
    if env.runs is None or not task.record_failure:
        return
    ended = time.time()
    failed_node = error.node_id or task.ops[0].node_id
    reached = False
    for op in [*task.ops, *(op for branch in task.branches for op in branch)]:
        status: Literal["failed", "skipped"] = "skipped" if reached else "failed"
        if op.node_id == failed_node or status == "skipped":
            reached = True
            env.runs.record_step(task.run.tenant, task.run.run_id, StepRecord(
                node_id=op.node_id, kind=op.kind, status=status, started_at=iso(started), ended_at=iso(ended),
                duration_ms=round((ended - started) * 1000, 3),
                error=error.code if status == "failed" else None,
                error_message=error.message if status == "failed" else None,
                output=getattr(error, "output", None) if status == "failed" else None,  # e.g. an output kept
                **_item_fields(task),
            ).model_dump(by_alias=True, exclude_none=True))


def error_name(error: BaseException) -> str:
    """The error name Step Functions sees (Lambda's errorType) and the embedded executor reproduces."""
    return getattr(error, "code", None) or type(error).__name__
