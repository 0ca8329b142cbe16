"""Task dispatch shared by both runtimes: split a Task's ops over the workers, run them, record the steps.

The worker for each runtime (named in :data:`mediaflow.catalog.RUNTIMES`) applies the ops in order (one
decode, one encode for fused chains) and returns the new MediaRef. The Lambda handlers and the embedded
executor both call ``execute_task``. The payload and context types are in :mod:`mediaflow.execution.contract`.
"""

from __future__ import annotations

import errno
import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from mediaflow.clock import now_iso
from mediaflow.errors import ExceedsLambdaBudget, InternalError, MediaflowError, StorageFull
from mediaflow.execution.contract import (
    COMPILED_CONFIGS,
    ChainResult,
    Op,
    OpOutcome,
    StepRecord,
    TaskEnvironment,
    TaskPayload,
    Worker,
)
from mediaflow.filenames import node_prefix
from mediaflow.media import MediaRef

_COMPILED: ContextVar[bool] = ContextVar("compiled_task", default=False)
"""Whether the Task this thread runs came from this deployment's compiler through its own runtime."""


def load_worker(runtime: str) -> Worker:
    """The worker of ``runtime`` (``catalog.RUNTIMES[runtime].worker``), imported on first use."""
    from mediaflow.catalog import RUNTIMES

    module_name, _, attr = RUNTIMES[runtime].worker.partition(":")
    worker: Worker = getattr(importlib.import_module(module_name), attr)
    return worker


@contextmanager
def scratch_dir(env: TaskEnvironment, prefix: str) -> Iterator[Path]:
    """A private folder under the task's workdir, removed whatever happens."""
    try:
        made = tempfile.mkdtemp(prefix=prefix, dir=env.workdir)
    except FileNotFoundError:  # the workdir itself is made by the first Task (one mkdir, not one a Task)
        env.workdir.mkdir(parents=True, exist_ok=True)
        made = tempfile.mkdtemp(prefix=prefix, dir=env.workdir)
    path = Path(made)
    try:
        yield path
    finally:
        try:
            path.rmdir()  # the usual end: the outputs were moved into the store, the folder is empty
        except OSError:
            shutil.rmtree(path, ignore_errors=True)


def parse_op(op: Op, allowed: frozenset[str], runtime: str) -> tuple[str, Any]:
    """The canonical kind and validated config of ``op`` for the ``runtime`` worker; InvalidDefinition
    names the node and the field (a kind the worker does not run, bad config, or config that makes the
    node run elsewhere, e.g. convert to mp4 on the image worker). The config of a compiled Task is the
    compiler's dump of the validated one: read as it is."""
    from mediaflow.catalog import get_spec, runtime_label
    from mediaflow.errors import InvalidDefinition

    name = runtime_label(runtime)
    spec = get_spec(op.kind)
    if spec is None or spec.kind not in allowed:
        raise InvalidDefinition(f"kind {op.kind!r} does not run on the {name} worker (the {name} runtime)",
                                node_id=op.node_id, field="kind")
    config = spec.config_model.trusted(op.config) if _COMPILED.get() else _validated(spec, op)
    belongs = spec.runtime_for(config)
    if spec.runtime != "light" and belongs != runtime:
        raise InvalidDefinition(f"{spec.kind} with this config runs on {runtime_label(belongs)}, "
                                f"not on the {name} worker", node_id=op.node_id, field="config")
    return spec.kind, config


def _validated(spec: Any, op: Op) -> Any:
    from pydantic import ValidationError

    from mediaflow.errors import InvalidDefinition

    try:
        return spec.config_model.model_validate(op.config)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidDefinition(f"invalid {spec.kind} config: {path}: {first.get('msg', 'invalid')}",
                                node_id=op.node_id, field=f"config.{path}" if path else "config") from None


def input_file(env: TaskEnvironment, key: str, target: Path) -> Path:
    """The input as a local file: read in place when the store is a local folder (the embedded mode never
    writes to an object it has stored, so readers are safe), else downloaded to ``target``."""
    path = env.blobs.local_path(key)
    if path is not None and path.is_file():
        return path
    return env.blobs.download(key, target)


def output_prefix(task: TaskPayload, node_id: str) -> str:
    """Where a node's outputs go: ``{tenant}/runs/{runId}/{nodeId}`` with every part made path-safe."""
    return node_prefix(task.run, task.item, node_id)


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


def execute_task(payload: dict[str, Any], env: TaskEnvironment, *, own_runtime: bool = False) -> Any:
    """Run one compiled Task. Returns the output MediaRef as a state dict (a list of them for a fan-out
    Task); raises a named error on failure.

    ``own_runtime``: this deployment's own runtime sent the payload (the embedded pool). A Task its compiler
    marked (``compiled``) is then read as validated, node configs included, without pydantic (ADR 0010); any
    other Task, and every Task a Lambda is sent, is validated."""
    compiled = own_runtime and isinstance(payload, dict) and payload.get("compiled") == COMPILED_CONFIGS
    task = TaskPayload.trusted(payload) if compiled else TaskPayload.model_validate(payload)
    reading = _COMPILED.set(compiled)
    try:
        return _execute(task, env)
    finally:
        _COMPILED.reset(reading)


def _execute(task: TaskPayload, env: TaskEnvironment) -> Any:
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
        env.runs.record_step(task.run.tenant, task.run.run_id, StepRecord.trusted({
            "node_id": outcome.node_id, "kind": outcome.kind, "status": "completed",
            "started_at": now_iso(outcome.started), "ended_at": now_iso(outcome.ended),
            "duration_ms": round((outcome.ended - outcome.started) * 1000, 3), "output": output, **_item_fields(task),
        }).model_dump(by_alias=True, exclude_none=True))

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
            env.runs.record_step(task.run.tenant, task.run.run_id, StepRecord.trusted({
                "node_id": op.node_id, "kind": op.kind, "status": status, "started_at": now_iso(started),
                "ended_at": now_iso(ended), "duration_ms": round((ended - started) * 1000, 3),
                "error": error.code if status == "failed" else None,
                "error_message": error.message if status == "failed" else None,
                "output": getattr(error, "output", None) if status == "failed" else None,  # e.g. an output kept
                **_item_fields(task),
            }).model_dump(by_alias=True, exclude_none=True))
