"""Starting runs from triggers: one use case for uploads and events, on both runtimes, over a Launcher.

- An **upload** (through ``/v1/uploads``, the uploads bucket on AWS, or the watched folder embedded) starts
  every active workflow of the key's tenant whose upload trigger matches it (media type, prefix, content type,
  ``filters.metadata`` against the metadata given at upload), once per workflow version: the run id is derived
  from the upload, so a repeated notification starts nothing new.
- An **event** (``POST /v1/workflows/events``) starts every active workflow whose ``event`` trigger matches
  its name. The run carries the event (``eventName``, ``data``, ``source``) and no media.

Runs started directly (``POST /v1/workflows/{id}/runs``, jobs) never go through here: their inputs are
stored where no trigger looks (see ``direct_key``).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable
from typing import Any

from mediaflow.clock import now_iso
from mediaflow.compiled import Compiled
from mediaflow.errors import InvalidDefinition, MediaflowError
from mediaflow.media import MediaRef
from mediaflow.ports import Launcher

logger = logging.getLogger(__name__)

UPLOADS = "uploads"  # {tenant}/uploads/...: uploads that start the tenant's matching workflows
DIRECT = "inputs"  # {tenant}/inputs/...: media of direct runs, which start no trigger
WORKFLOW_METADATA = "mediaflow-workflow"  # an upload for one workflow (upload tokens): no other starts
ACCEPT_METADATA = "mediaflow-accept"  # the sniffed types such an upload may have (comma-separated patterns)
START_METADATA = "mediaflow-start"  # "none": an upload stored to be run by its key later, that starts nothing



def direct_key(tenant: str, *parts: str) -> str:
    """Where the media of a direct run (API run, job, sample) is stored: never under ``uploads/``."""
    return "/".join([tenant, DIRECT, *parts])


def upload_key(tenant: str, *parts: str) -> str:
    """Where an upload that starts the tenant's matching workflows is stored."""
    return "/".join([tenant, UPLOADS, *parts])


def tenant_of_upload(key: str) -> tuple[str, str] | None:
    """``(tenant, key below the tenant's uploads/)`` for ``{tenant}/uploads/...``, else None."""
    parts = key.split("/", 2)
    if len(parts) != 3 or parts[1] != UPLOADS or not parts[0] or not parts[2]:
        return None
    return parts[0], parts[2]


def compiled_for(record: dict[str, Any]) -> Compiled:
    """The compiled state machine of a stored workflow (InvalidDefinition when it no longer validates)."""
    from mediaflow.compiler import compile_definition  # on use: the key helpers above load without the compiler

    return compile_definition(record["definition"])


def execution_input(tenant: str, record: dict[str, Any], run_id: str, **state: Any) -> dict[str, Any]:
    """The input of a run of ``record``: its ``run`` context plus ``state`` (media, items or event)."""
    run = {"runId": run_id, "workflowId": record["id"], "tenant": tenant, "version": int(record["version"]),
           "startedAt": now_iso()}
    return {"run": run, **state}


def _launch(tenant: str, record: dict[str, Any], run_id: str, launcher: Launcher, **state: Any) -> Any:
    compiled = compiled_for(record)
    launcher.check(compiled)
    return launcher.start(tenant, compiled.asl, execution_input(tenant, record, run_id, **state), run_id,
                          machine_type=compiled.execution_type)


def start_upload(tenant: str, media: MediaRef, relative_key: str, *, workflows: Iterable[dict[str, Any]],
                 launcher: Launcher, run_id_for: Callable[[dict[str, Any]], str]) -> list[Any]:
    """Start every matching active workflow on an upload; returns what the launcher answered for each.
    An upload made for one workflow (``mediaflow-workflow`` metadata) starts that one only, and only when
    its sniffed type is one the upload accepted (``mediaflow-accept``); one stored to be run by its key
    (``mediaflow-start: none``) starts nothing."""
    if media.metadata.get(START_METADATA) == "none":
        return []
    only = media.metadata.get(WORKFLOW_METADATA)
    accepted = [p for p in media.metadata.get(ACCEPT_METADATA, "").split(",") if p]
    if accepted and not any(fnmatch.fnmatchcase(media.content_type, pattern) for pattern in accepted):
        logger.warning("upload %s is %s, which its upload token does not accept: nothing started",
                       media.key, media.content_type)
        return []
    if only is not None:
        workflows = [record for record in workflows if record.get("id") == only]
    started = []
    from mediaflow.triggers import matching_workflows

    for record in matching_workflows(workflows, media, relative_key):
        try:
            started.append(_launch(tenant, record, run_id_for(record), launcher, media=media.to_state()))
        except InvalidDefinition:
            logger.warning("workflow %s is no longer valid: skipped", record["id"])
    return started


def event_trigger_matches(record: dict[str, Any], event_name: str) -> bool:
    trigger = next((n for n in record["definition"].get("nodes", []) if n.get("kind") == "event"), None)
    if trigger is None:
        return False
    pattern = str((trigger.get("config") or {}).get("eventName", "*"))
    return pattern == "*" or fnmatch.fnmatchcase(event_name, pattern)


def start_event(tenant: str, event_name: str, data: dict[str, Any], source: str, *,
                workflows: Iterable[dict[str, Any]], launcher: Launcher,
                new_run_id: Callable[[], str]) -> list[dict[str, Any]]:
    """Start every active workflow with a matching event trigger; one result per workflow (a run id, or the
    error that kept it from starting: one workflow failing to start never stops the others)."""
    event = {"eventName": event_name, "data": data, "source": source}
    results: list[dict[str, Any]] = []
    for record in workflows:
        if record.get("status") != "active" or not event_trigger_matches(record, event_name):
            continue
        result: dict[str, Any] = {"workflowId": record["id"], "workflowName": record.get("name")}
        run_id = new_run_id()
        try:
            _launch(tenant, record, run_id, launcher, event=event, media=None)
            result["runId"] = run_id
        except MediaflowError as error:
            result["error"] = error.message
        except Exception:  # the launcher's own failure (throttled, unavailable): reported, others go on
            logger.exception("could not start workflow %s for event %s", record["id"], event_name)
            result["error"] = "could not start"
        results.append(result)
    return results


def fire_event(tenant: str, event_name: str, data: dict[str, Any], source: str, *,
               workflows: Iterable[dict[str, Any]], launcher: Launcher,
               new_run_id: Callable[[], str]) -> dict[str, Any]:
    """``POST /v1/workflows/events``: :func:`start_event`, summed up (how many started, how many failed)."""
    results = start_event(tenant, event_name, data, source, workflows=workflows, launcher=launcher,
                          new_run_id=new_run_id)
    failed = sum(1 for result in results if "error" in result)
    return {"eventName": event_name, "workflowsTriggered": len(results) - failed, "workflowsFailed": failed,
            "results": results}
