"""How a run ends, and what it publishes: one home for both runtimes.

The embedded executor (``embedded/executor.py``) and the AWS runs / Express runner functions
(``cloud/runs.py``) hand the end of an execution to :func:`finish`. It decides the run status (a
SUCCEEDED execution whose output holds node failures is ``failed``), writes it once (``RunStore.finish_run``
is conditional, so a repeated status event neither rewrites the run nor publishes again), and publishes:

- ``run.node.failed`` once per failed node of a run that went on without it;
- exactly one ``workflow.completed`` or ``workflow.failed``, with the media id(s) of the run, the failing
  node, the outputs, and the data of the ``webhook`` nodes that asked for the run event (a webhook node
  whose event is ``workflow.completed`` / ``workflow.failed`` adds its data here instead of publishing
  a second run event).

Everything here is pure but for the three ports it is given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mediaflow.clock import now_iso
from mediaflow.errors import NotFound, RunCancelled
from mediaflow.ports import EventBus, RunStore

logger = logging.getLogger(__name__)

RUN_STATUS_BY_EXECUTION = {"SUCCEEDED": "completed", "FAILED": "failed", "TIMED_OUT": "failed",
                           "ABORTED": "cancelled"}
RUN_EVENTS = frozenset({"workflow.completed", "workflow.failed"})



@dataclass(frozen=True)
class RunIdentity:
    """Who a run is: read from the ``run`` object every execution input carries."""

    tenant: str
    run_id: str
    workflow_id: str = "adhoc"
    version: int = 1
    started_at: str | None = None

    @classmethod
    def of(cls, execution_input: Any, *, default_tenant: str | None = None,
           run_id: str | None = None) -> RunIdentity | None:
        run = execution_input.get("run") if isinstance(execution_input, dict) else None
        run = run if isinstance(run, dict) else {}
        tenant, name = run.get("tenant") or default_tenant, run.get("runId") or run_id
        if not tenant or not name:
            return None
        return cls(str(tenant), str(name), str(run.get("workflowId") or "adhoc"), int(run.get("version") or 1),
                   run.get("startedAt"))


@dataclass(frozen=True)
class Ended:
    """An execution's end as either orchestrator reports it."""

    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None


# -- reading the outcome ---------------------------------------------------------------------------------


def describe_error(error: str | None, cause: str | None) -> dict[str, Any]:
    """A run error from an ASL error and cause; Lambda-shaped causes give their errorMessage."""
    message = cause or ""
    if cause:
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            message = str(parsed["errorMessage"])
    return {"error": error or "States.Runtime", "message": message, "cause": cause}


def _failure(failure: dict[str, Any]) -> dict[str, Any]:
    error = failure.get("error", failure.get("Error"))
    cause = failure.get("cause", failure.get("Cause"))
    described = describe_error(str(error) if error is not None else None, str(cause) if cause is not None else None)
    node_ids = failure.get("nodeIds") or ([failure["nodeId"]] if "nodeId" in failure else [])
    item: dict[str, Any] = {key: failure[key] for key in ("item", "sourceKey") if key in failure}  # batch item
    return {**described, "nodeIds": list(node_ids), **item}


def find_failures(output: Any) -> Iterator[dict[str, Any]]:
    """Every node failure in the output: a ``failure`` object, or the ``failures`` of a run that went on."""
    if isinstance(output, dict):
        failure = output.get("failure")
        if isinstance(failure, dict):
            yield _failure(failure)
        failures = output.get("failures")
        if isinstance(failures, dict):
            for item in failures.values():
                if isinstance(item, dict):
                    yield _failure(item)
        for key, value in output.items():
            if key not in ("failure", "failures"):
                yield from find_failures(value)
    elif isinstance(output, list):
        for item in output:
            yield from find_failures(item)


def _refs(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("bucket"), str) and isinstance(value.get("key"), str):
            if value["key"]:  # an empty key is the no-media reference of an event run
                yield value
            return
        for key, item in value.items():
            if key not in ("error", "failure", "failures"):
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def input_keys(execution_input: Any) -> set[str]:
    return {ref["key"] for ref in _refs(execution_input)}


def output_refs(output: Any, *, exclude: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The media references in an execution output, once each, in order, minus the run's inputs."""
    seen: set[str] = set(exclude)
    refs: list[dict[str, Any]] = []
    for ref in _refs(output):
        if ref["key"] not in seen:
            seen.add(ref["key"])
            refs.append(ref)
    return refs


def listed_outputs(status: str, output: Any, steps: list[dict[str, Any]], inputs: set[str]) -> list[dict[str, Any]]:
    """The media a run lists: its output's references, and for a run that did not complete what its steps
    wrote too (a branch that finished before a sibling failed, the nodes after a failed one: kept, and listed,
    never left as orphan files). Read again from the steps each time, so a step recorded after the run ended
    (a sibling's Lambda still running when a branch failed, on AWS) is listed too."""
    refs = output_refs(output, exclude=inputs)
    if status not in ("failed", "cancelled"):
        return refs
    listed = {ref["key"] for ref in refs} | inputs
    return refs + output_refs([step.get("output") for step in steps], exclude=listed)


def outcome(ended: Ended) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]]]:
    """``(run status, run error, node failures)`` of an ended execution."""
    status = RUN_STATUS_BY_EXECUTION[ended.status]
    failures = list(find_failures(ended.output))
    if ended.status == "SUCCEEDED":
        if failures:
            return "failed", {**failures[0], "failures": failures}, failures
        return status, None, []
    if ended.status in ("FAILED", "TIMED_OUT"):
        error = describe_error(ended.error or ("States.Timeout" if ended.status == "TIMED_OUT" else None),
                               ended.cause)
        return status, error, failures
    return status, None, failures


def media_ids(execution_input: Any) -> list[str]:
    """The keys of the media a run started on (one, or every item of a batch)."""
    if not isinstance(execution_input, dict):
        return []
    states = execution_input.get("items")
    if not isinstance(states, list):
        states = [execution_input.get("media")]
    return [str(state["key"]) for state in states if isinstance(state, dict) and state.get("key")]


def _mindia_media_id(tenant: str, keys: list[str]) -> str | None:
    """Mindia's ``media_id`` of the run's first media (its webhooks name the media so; docs/compat.md)."""
    from mediaflow.compat import media_id

    return media_id(tenant, keys[0]) if keys else None


def _step_nodes(steps: list[dict[str, Any]], status: str) -> list[str]:
    return list(dict.fromkeys(str(step.get("nodeId")) for step in steps if step.get("status") == status))


def _failed_nodes(error: dict[str, Any] | None, failures: list[dict[str, Any]]) -> list[str]:
    """Every node that failed, once each, in the order they are reported."""
    node_ids = [node for failure in failures for node in failure.get("nodeIds", [])] if failures else \
        list((error or {}).get("nodeIds", []))
    return list(dict.fromkeys(str(node) for node in node_ids))


def _webhook_data(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What webhook nodes asked to carry in the run event (see nodes/webhook.py)."""
    return [dict(step["output"]["runEvent"], nodeId=step.get("nodeId")) for step in steps
            if step.get("status") == "completed" and isinstance(step.get("output"), dict)
            and isinstance(step["output"].get("runEvent"), dict)]


# -- starting and finishing ------------------------------------------------------------------------------


def begin_task(runs: RunStore, tenant: str, run_id: str) -> None:
    """A worker starts a task of the run: a ``pending`` run becomes ``running`` (a run is pending until a
    worker starts its first task); a run cancelled meanwhile raises RunCancelled, so the task does nothing."""
    if runs.update_run_if(tenant, run_id, {"pending"}, status="running", startedAt=now_iso()) is not None:
        return
    try:
        status = runs.get_run(tenant, run_id)["status"]
    except NotFound:  # a task run outside any run record (tests, tools)
        return
    if status == "cancelled":
        raise RunCancelled(f"run {run_id!r} was cancelled before this task started")


def cancel_pending(runs: RunStore, tenant: str, run_id: str) -> dict[str, Any] | None:
    """pending -> cancelled (no task has started, so nothing will); None when the run is past pending."""
    return runs.update_run_if(tenant, run_id, {"pending"}, status="cancelled", endedAt=now_iso())


def finish(identity: RunIdentity, ended: Ended, *, execution_input: Any, runs: RunStore, bus: EventBus,
           url_for: Callable[[str], str] | None = None, **fields: Any) -> dict[str, Any] | None:
    """Record the end of a run once and publish its events; returns the run event's detail, or None when
    the run had already been finished. ``fields`` go on the run record too (e.g. ``executionArn``,
    ``progress``)."""
    tenant, run_id = identity.tenant, identity.run_id
    status, error, failures = outcome(ended)
    try:
        current, steps = runs.run_and_steps(tenant, run_id)
    except NotFound:  # started outside a launcher: record it now
        current = runs.create_run({"tenant": tenant, "runId": run_id, "workflowId": identity.workflow_id,
                                   "version": identity.version, "status": "running", "input": execution_input})
        steps = []
    output = ended.output
    refs = listed_outputs(status, output, steps, input_keys(execution_input))
    if status != "completed":
        if refs and not isinstance(output, dict):
            output = {"outputs": refs} if output is None else {"output": output, "outputs": refs}
        elif refs:
            output = {**output, "outputs": refs}
    if error is not None and not error.get("nodeIds"):
        error = {**error, "nodeIds": _step_nodes(steps, "failed")}
    ended_at = now_iso()
    if not current.get("startedAt"):  # no task ever started (e.g. a run that fails validation of its input)
        fields.setdefault("startedAt", identity.started_at or ended_at)
    updated = runs.finish_run(tenant, run_id, status=status, output=output, error=error, endedAt=ended_at,
                              **fields)
    if updated is None:
        logger.info("run %s was already finished", run_id)
        return None
    base = {"tenant": tenant, "workflowId": identity.workflow_id, "version": identity.version, "runId": run_id}
    for failure in failures:
        bus.publish("run.node.failed", {**base, "nodeIds": failure.get("nodeIds", []), "error": failure,
                                        "mediaIds": media_ids(execution_input)})
    outputs = [{**ref, "url": url_for(ref["key"])} if url_for else ref for ref in refs]
    detail: dict[str, Any] = {
        **base, "status": status, "startedAt": updated.get("startedAt") or identity.started_at,
        "endedAt": ended_at, "error": error, "mediaIds": media_ids(execution_input),
        "mediaId": _mindia_media_id(tenant, media_ids(execution_input)), "outputs": outputs,
        "failedNodes": _failed_nodes(error, failures) if status == "failed" else [],
    }
    webhooks = _webhook_data(steps)
    if webhooks:
        detail["webhooks"] = webhooks
    event = execution_input.get("event") if isinstance(execution_input, dict) else None
    if isinstance(event, dict):
        detail["event"] = event
    bus.publish("workflow.completed" if status == "completed" else "workflow.failed", detail)
    return detail
