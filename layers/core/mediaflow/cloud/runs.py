"""Finishing a run from its execution's end, and running Express executions to their end.

Standard executions end with an EventBridge "Step Functions Execution Status Change" event. Express
executions emit none, so the Express runner function starts them with StartSyncExecution and hands the
result to the same :func:`finish_run`. A run is finished once (a conditional update on its status), so a
repeated event neither rewrites it nor publishes a second ``workflow.completed``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mediaflow.adapters.embedded.sqlite import now_iso
from mediaflow.errors import NotFound
from mediaflow.media import event_media
from mediaflow.runtime.embedded import (
    RUN_STATUS_BY_EXECUTION,
    describe_error,
    find_failures,
    input_keys,
    output_refs,
)

logger = logging.getLogger(__name__)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def outcome(status: str, output: Any, error: str | None, cause: str | None) -> tuple[str, dict[str, Any] | None]:
    """The run status and error of an ended execution (a SUCCEEDED output with a ``failure`` is failed)."""
    run_status = RUN_STATUS_BY_EXECUTION[status]
    if status == "SUCCEEDED":
        failures = list(find_failures(output))
        if failures:
            return "failed", {**failures[0], "failures": failures}
        return run_status, None
    if status in ("FAILED", "TIMED_OUT"):
        return run_status, describe_error(error or ("States.Timeout" if status == "TIMED_OUT" else None), cause)
    return run_status, None


def finish_run(execution: dict[str, Any], *, runs: Any, bus: Any, blobs: Any) -> dict[str, Any] | None:
    """Record the end of an execution on its run and publish workflow.completed / workflow.failed.

    ``execution`` has ``status``, ``input`` and ``output`` (JSON text or parsed), ``error``, ``cause`` and
    ``executionArn``. Returns the event detail, or None when the run had already been finished.
    """
    execution_input = _json(execution.get("input")) or {}
    output = _json(execution.get("output"))
    run = execution_input.get("run") if isinstance(execution_input, dict) else None
    if not isinstance(run, dict) or not run.get("tenant") or not run.get("runId"):
        logger.warning("execution %s has no mediaflow run in its input", execution.get("executionArn"))
        return None
    tenant, run_id = str(run["tenant"]), str(run["runId"])
    workflow_id, version = str(run.get("workflowId") or "adhoc"), int(run.get("version") or 1)
    status, error = outcome(str(execution["status"]), output, execution.get("error"), execution.get("cause"))
    ended_at = now_iso()
    try:
        runs.get_run(tenant, run_id)
    except NotFound:  # started outside the launcher: record it now
        runs.create_run({"tenant": tenant, "runId": run_id, "workflowId": workflow_id, "version": version,
                         "status": "running", "input": execution_input})
    finish = getattr(runs, "finish_run", None) or runs.update_run
    updated = finish(tenant, run_id, status=status, output=output, error=error, endedAt=ended_at,
                     executionArn=execution.get("executionArn"))
    if updated is None:
        logger.info("run %s was already finished", run_id)
        return None
    refs = output_refs(output, exclude=input_keys(execution_input))
    outputs = [{**ref, "url": blobs.url(ref["key"])} for ref in refs]
    detail = {"tenant": tenant, "workflowId": workflow_id, "version": version, "runId": run_id, "status": status,
              "startedAt": run.get("startedAt"), "endedAt": ended_at, "error": error, "outputs": outputs,
              **event_media(tenant, execution_input)}
    bus.publish("workflow.completed" if status == "completed" else "workflow.failed", detail)
    return detail


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


def run_express(event: dict[str, Any], *, orchestrator: Any, runs: Any, bus: Any,
                blobs: Any) -> dict[str, Any] | None:
    """The Express runner: StartSyncExecution, then finish the run with the result."""
    execution_input = event["input"]
    response = orchestrator.run_sync(event["stateMachineArn"], event["name"], execution_input)
    return finish_run({**response, "input": execution_input}, runs=runs, bus=bus, blobs=blobs)
