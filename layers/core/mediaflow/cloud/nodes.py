"""A node Task on Lambda: ``execute_task`` with a fresh scratch folder, idempotent per (run, nodes, media).

Step Functions may call a Task again after the first call finished (a Lambda service error on the
way back, a retried timeout). The first call's result is kept for a day and returned to the repeat, so
the outputs are written once. A call that finds the same Task still running raises TransientError,
which the compiled Retry policy retries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mediaflow.compiler.asl import LONG_ROUTE_PAYLOAD_VARIABLE, LONG_ROUTE_TIMEOUT_SECONDS
from mediaflow.errors import Conflict, InternalError, MediaflowError, TransientError
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.execution.tasks import execute_task
from mediaflow.ports import Idempotency
from mediaflow.settings import Settings

RESULT_TTL_SECONDS = 24 * 3600
LONG_ROUTE_CLAIM_SECONDS = LONG_ROUTE_TIMEOUT_SECONDS + 3600  # outlives the Fargate state's timeout
# A Lambda keeps this share of its remaining time, less a margin for download, upload and the probe.
LAMBDA_BUDGET_SHARE = 0.7
LAMBDA_BUDGET_MARGIN_SECONDS = 60.0
logger = logging.getLogger(__name__)
SCRATCH_ROOT = Path(tempfile.gettempdir()) / "mediaflow"


def task_key(payload: dict[str, Any]) -> str:
    run, media = payload.get("run") or {}, payload.get("media") or {}
    nodes = ",".join(str(op.get("nodeId")) for op in payload.get("ops") or [])
    digest = hashlib.sha256("\x1f".join([
        str(run.get("runId")), str(payload.get("runtime")), nodes, str(media.get("key")), str(media.get("etag")),
        str(payload.get("item")),
    ]).encode()).hexdigest()[:40]
    return f"{run.get('tenant', '')}#task#{digest}"


@contextmanager
def scratch(root: Path = SCRATCH_ROOT) -> Iterator[Path]:
    """A fresh folder under /tmp for one invocation, removed afterwards (warm containers reuse /tmp)."""
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=root, prefix="task-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def lambda_budget(payload: dict[str, Any], settings: Settings, remaining_ms: int | None) -> float | None:
    """Seconds of ffmpeg work a Lambda invocation may take on before handing off to the long route; None
    when there is no long route (or the Task is not ffmpeg): the work then runs here, as it always did."""
    if payload.get("runtime") != "ffmpeg" or settings.ffmpeg_long_route != "fargate":
        return None
    if settings.ffmpeg_lambda_budget_seconds is not None:
        return settings.ffmpeg_lambda_budget_seconds
    if remaining_ms is None:
        return None
    return max(0.0, remaining_ms / 1000 * LAMBDA_BUDGET_SHARE - LAMBDA_BUDGET_MARGIN_SECONDS)


def with_lambda_budget(env: TaskEnvironment, payload: dict[str, Any], context: Any) -> TaskEnvironment:
    """``env`` with the time budget of this Lambda invocation (see :func:`lambda_budget`)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget = lambda_budget(payload, env.settings, int(remaining()) if callable(remaining) else None)
    return dataclasses.replace(env, time_budget_seconds=budget)


def run_node(payload: dict[str, Any], env: TaskEnvironment, idempotency: Idempotency | None, *,
             claim_seconds: int = 900) -> dict[str, Any]:
    """Run one compiled Task; errors propagate with their domain class (= the Lambda errorType).

    ``{"handoff": "collect"}`` (the state after the Fargate task) never runs the work: it returns the
    result the Fargate task stored under the same task key."""
    with scratch() as folder:
        task_env = dataclasses.replace(env, workdir=folder)
        if idempotency is None:
            return execute_task(payload, task_env)
        key = task_key(payload)
        try:
            stored = idempotency.claim(key, ttl_seconds=claim_seconds)
        except Conflict:
            raise TransientError("the same task is running in another invocation") from None
        if stored is not None:
            media: dict[str, Any] = stored["media"]
            return media
        if payload.get("handoff") == "collect":
            _release(idempotency, key)
            raise InternalError("the long-route (ECS) task ended without storing a result",
                                node_id=str((payload.get("ops") or [{}])[0].get("nodeId")))
        try:
            result = execute_task(payload, task_env)
        except BaseException:
            _release(idempotency, key)
            raise
        idempotency.complete(key, {"media": result}, ttl_seconds=RESULT_TTL_SECONDS)
        return result


def _release(idempotency: Idempotency, key: str) -> None:
    idempotency.release(key)


def run_container_task(environ: dict[str, str], env: TaskEnvironment, idempotency: Idempotency | None) -> int:
    """The ECS Fargate entry point of the ffmpeg image: the Task payload the state machine put in
    ``MEDIAFLOW_TASK_PAYLOAD``, run by the same code as on Lambda, without a time budget. The result is
    stored under the task key, where the next state (the same Lambda, ``handoff: collect``) finds it.
    Exit status 0 on success, 1 on a failure (the run record names the error)."""
    raw = environ.get(LONG_ROUTE_PAYLOAD_VARIABLE)
    if not raw:
        logger.error("no %s in the environment", LONG_ROUTE_PAYLOAD_VARIABLE)
        return 2
    payload = json.loads(raw)
    try:
        media = run_node(payload, dataclasses.replace(env, time_budget_seconds=None), idempotency,
                         claim_seconds=LONG_ROUTE_CLAIM_SECONDS)
    except MediaflowError as error:
        logger.error(json.dumps({"errorType": error.code, "errorMessage": error.message, "nodeId": error.node_id}))
        return 1
    logger.info(json.dumps({"stored": task_key(payload), "key": media.get("key")}))
    return 0


def prepare_runtime() -> None:
    """Once per container: seed the writable numba cache in /tmp from the one baked into the image.

    The rembg image compiles numba's kernels at build time into MEDIAFLOW_NUMBA_CACHE_SEED (read-only at
    run time); numba needs a writable NUMBA_CACHE_DIR, so the seed is copied there on a cold start.
    """
    from mediaflow.settings import get_settings

    settings = get_settings()
    seed, target = settings.numba_cache_seed, settings.numba_cache_dir
    if seed and target and Path(seed).is_dir() and not Path(target).exists():
        shutil.copytree(seed, target, dirs_exist_ok=True)
