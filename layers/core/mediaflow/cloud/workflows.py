"""Saving, activating, pausing and deleting a workflow, with Step Functions kept in step.

The workflow record is written first (optimistic concurrency on its version); then the compiled
definition is deployed as a published state-machine version, and an active workflow moves the
machine's ``live`` alias to it. A deploy that fails leaves a record whose machine is created on the
first run instead (the launcher deploys missing definitions), so the two cannot drift apart for long.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaflow.cloud.launcher import StepFunctionsLauncher
from mediaflow.compiler import compile_workflow
from mediaflow.errors import InvalidDefinition
from mediaflow.ports import WorkflowStore
from mediaflow.validation import validate

if TYPE_CHECKING:
    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator

STATUSES = ("draft", "active", "paused")


def save_workflow(tenant: str, raw: Any, *, workflows: WorkflowStore, launcher: StepFunctionsLauncher,
                  workflow_id: str | None = None, status: str | None = None,
                  expected_version: int | None = None) -> dict[str, Any]:
    """Validate, store a new version, deploy it. Returns the stored record (with ``stateMachine``)."""
    report = validate(raw)
    if not report.valid or report.definition is None:
        raise InvalidDefinition("; ".join(str(issue) for issue in report.errors))
    compiled = compile_workflow(report.definition, report.configs)
    record: dict[str, Any] = {"definition": report.definition.canonical(), "name": report.definition.name or "",
                              "status": status or report.meta.get("status", "draft"),
                              "executionType": compiled.execution_type}
    if record["status"] not in STATUSES:
        raise InvalidDefinition(f"status must be one of {', '.join(STATUSES)}", field="status")
    if workflow_id:
        record["id"] = workflow_id
    stored: dict[str, Any] = workflows.put(tenant, record, expected_version=expected_version)
    return {**stored, "stateMachine": sync_workflow(tenant, stored, launcher=launcher)}


def sync_workflow(tenant: str, record: dict[str, Any], *, launcher: StepFunctionsLauncher) -> dict[str, Any]:
    """Deploy a stored workflow record's definition (the API's ``on_workflow_saved`` hook)."""
    report = validate(record["definition"])
    if not report.valid or report.definition is None:
        raise InvalidDefinition("; ".join(str(issue) for issue in report.errors))
    compiled = compile_workflow(report.definition, report.configs)
    return launcher.ensure_machine(tenant, record["id"], int(record["version"]), compiled.asl,
                                   compiled.execution_type, activate=record.get("status") == "active")


def set_status(tenant: str, workflow_id: str, status: str, *, workflows: WorkflowStore, launcher: StepFunctionsLauncher,
               expected_version: int | None = None) -> dict[str, Any]:
    """Activate or pause: a new workflow version with the same definition (runs record which one they used)."""
    if status not in STATUSES:
        raise InvalidDefinition(f"status must be one of {', '.join(STATUSES)}", field="status")
    current = workflows.get(tenant, workflow_id)
    record = {key: value for key, value in current.items()
              if key not in ("version", "createdAt", "updatedAt", "tenant", "stateMachine")}
    stored: dict[str, Any] = workflows.put(tenant, {**record, "status": status},
                                           expected_version=current["version"] if expected_version is None
                                           else expected_version)
    return {**stored, "stateMachine": sync_workflow(tenant, stored, launcher=launcher)}


def delete_workflow(tenant: str, workflow_id: str, *, workflows: WorkflowStore,
                    orchestrator: StepFunctionsOrchestrator) -> None:
    """Remove the record (NotFound when absent), then its state machines; running executions finish."""
    workflows.delete(tenant, workflow_id)
    orchestrator.delete(tenant, workflow_id)
