"""A node Task on Lambda: ``execute_task`` with a fresh scratch folder, idempotent per (run, nodes, media).

Step Functions may call a Task again after the first call finished (a Lambda service error on the
way back, a retried timeout). The first call's result is kept for a day and returned to the repeat, so
the outputs are written once. A call that finds the same Task still running raises TransientError,
which the compiled Retry policy retries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mediaflow.errors import Conflict, TransientError
from mediaflow.ports import Idempotency
from mediaflow.runtime.tasks import TaskEnvironment, execute_task

RESULT_TTL_SECONDS = 24 * 3600
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


def run_node(payload: dict[str, Any], env: TaskEnvironment, idempotency: Idempotency | None, *,
             claim_seconds: int = 900) -> dict[str, Any]:
    """Run one compiled Task; errors propagate with their domain class (= the Lambda errorType)."""
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
        try:
            result = execute_task(payload, task_env)
        except BaseException:
            release = getattr(idempotency, "release", None)
            if callable(release):
                release(key)
            raise
        idempotency.complete(key, {"media": result}, ttl_seconds=RESULT_TTL_SECONDS)  # type: ignore[call-arg]
        return result


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
