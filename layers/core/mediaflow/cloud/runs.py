"""Finishing a run from its execution's end, and running Express executions to their end.

Standard executions end with an EventBridge "Step Functions Execution Status Change" event. Express
executions emit none, so the Express runner function starts them with StartSyncExecution and hands the
result to the same :func:`finish_run`. A run is finished once (a conditional update on its status), so a
repeated event neither rewrites it nor publishes a second ``workflow.completed``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from mediaflow.ports import BlobStore, EventBus, RunStore
from mediaflow.runs import Ended, RunIdentity, finish

if TYPE_CHECKING:
    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator

logger = logging.getLogger(__name__)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def finish_run(execution: dict[str, Any], *, runs: RunStore, bus: EventBus,
               blobs: BlobStore) -> dict[str, Any] | None:
    """Record the end of an execution on its run and publish its events (see mediaflow.runs.finish).

    ``execution`` has ``status``, ``input`` and ``output`` (JSON text or parsed), ``error``, ``cause`` and
    ``executionArn``. Returns the run event's detail, or None when the run had already been finished.
    """
    execution_input = _json(execution.get("input")) or {}
    identity = RunIdentity.of(execution_input)
    if identity is None:
        logger.warning("execution %s has no mediaflow run in its input", execution.get("executionArn"))
        return None
    ended = Ended(str(execution["status"]), _json(execution.get("output")), execution.get("error"),
                  execution.get("cause"))
    return finish(identity, ended, execution_input=execution_input, runs=runs, bus=bus, url_for=blobs.url,
                  executionArn=execution.get("executionArn"))


def execution_from_status_event(event: dict[str, Any], describe: Any = None) -> dict[str, Any]:
    """The execution fields of a "Step Functions Execution Status Change" event.

    EventBridge leaves out an input or output above 248 KB (``inputDetails.included`` false); then
    ``describe(executionArn)`` (DescribeExecution) supplies them.
    """
    detail = dict(event.get("detail") or {})
    truncated = any((detail.get(f"{part}Details") or {}).get("included") is False for part in ("input", "output"))
    if truncated and describe is not None:
        described = describe(detail["executionArn"])
        detail.update({key: described.get(key) for key in ("input", "output", "error", "cause") if key in described})
    return detail


def run_express(event: dict[str, Any], *, orchestrator: StepFunctionsOrchestrator, runs: RunStore, bus: EventBus,
                blobs: BlobStore) -> dict[str, Any] | None:
    """The Express runner: StartSyncExecution, then finish the run with the result."""
    execution_input = event["input"]
    response = orchestrator.run_sync(event["stateMachineArn"], event["name"], execution_input)
    return finish_run({**response, "input": execution_input}, runs=runs, bus=bus, blobs=blobs)
