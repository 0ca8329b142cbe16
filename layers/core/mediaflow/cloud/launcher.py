"""Starting runs on Step Functions.

A definition is deployed once: its digest (sha256 of the canonical ASL) maps to the published
state-machine version that runs it, recorded next to the workflow. Starting a run creates the run
record (``pending``, with the workflow version) first; that conditional write is what makes a duplicated
trigger start one run, for Express machines too (Step Functions only deduplicates Standard names).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from mediaflow.adapters.aws.stepfunctions import execution_arn
from mediaflow.compiler import Compiled, dumps_asl
from mediaflow.errors import Conflict, NotFound
from mediaflow.ports import MachineRegistry, RunStore

if TYPE_CHECKING:
    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator

logger = logging.getLogger(__name__)

EXPRESS_MAX_SECONDS = 300


def definition_digest(asl: dict[str, Any]) -> str:
    return hashlib.sha256(dumps_asl(asl).encode()).hexdigest()[:32]


def infer_machine_type(asl: dict[str, Any]) -> str:
    """STANDARD when the machine may run past Express's 5 minutes or holds a Distributed Map."""
    if int(asl.get("TimeoutSeconds") or 0) > EXPRESS_MAX_SECONDS:
        return "STANDARD"
    text = dumps_asl(asl)
    return "STANDARD" if '"DISTRIBUTED"' in text else "EXPRESS"


class StepFunctionsLauncher:
    """Deploys definitions on demand and starts runs; the API's Launcher on AWS."""

    def __init__(self, orchestrator: StepFunctionsOrchestrator, registry: MachineRegistry, runs: RunStore) -> None:
        self.orchestrator = orchestrator
        self.registry = registry
        self.runs = runs

    def check(self, compiled: Compiled) -> None:
        """Every runtime has a function on AWS: nothing to refuse."""

    def ensure_machine(self, tenant: str, workflow_id: str, version: int, asl: dict[str, Any],
                       machine_type: str | None = None, *, activate: bool = False) -> dict[str, Any]:
        digest = definition_digest(asl)
        machine = self.registry.machine(tenant, workflow_id, digest)
        if machine is not None and not activate:
            return machine
        machine_type = machine_type or infer_machine_type(asl)
        if machine is None or machine.get("type") != machine_type:
            machine = self.orchestrator.deploy(tenant, workflow_id, version, asl, machine_type, activate=activate)
            self.registry.record_machine(tenant, workflow_id, digest, machine)
        elif activate and machine.get("versionArn"):
            machine = {**machine, "aliasArn": self.orchestrator.move_alias(machine["arn"], machine["versionArn"])}
        return machine

    def start(self, tenant: str, asl: dict[str, Any], execution_input: dict[str, Any], run_id: str, *,
              machine_type: str | None = None) -> dict[str, Any]:
        """Create the run record and start its execution (named ``run_id``). Idempotent per run id."""
        run = execution_input.get("run") or {}
        workflow_id, version = str(run.get("workflowId") or "adhoc"), int(run.get("version") or 1)
        machine = self.ensure_machine(tenant, workflow_id, version, asl, machine_type)
        machine_arn = machine.get("versionArn") or machine["arn"]
        # An execution's ARN follows from its machine and name, so the run is written once, before the start,
        # with both (a redrive starts the same version again); the run stays pending until a worker starts
        # its first task.
        expected_arn = execution_arn(machine["arn"], run_id, machine.get("type") or infer_machine_type(asl))
        try:
            self.runs.create_run({"tenant": tenant, "runId": run_id, "workflowId": workflow_id, "version": version,
                                  "status": "pending", "input": execution_input, "stateMachineArn": machine_arn,
                                  "executionArn": expected_arn})
        except Conflict:
            existing = self.runs.get_run(tenant, run_id)
            if existing["status"] != "pending":
                logger.info("run %s already started (%s)", run_id, existing["status"])
                return {"runId": run_id, "started": False, "executionArn": existing.get("executionArn")}
        started = self.orchestrator.start(machine, run_id, execution_input)
        if started["started"] and started["executionArn"] != expected_arn:
            self.runs.update_run(tenant, run_id, executionArn=started["executionArn"], stateMachineArn=machine_arn)
        return {"runId": run_id, **started}

    def cancel(self, tenant: str, run_id: str) -> bool:
        try:
            run = self.runs.get_run(tenant, run_id)
        except NotFound:
            return False
        arn = run.get("executionArn")
        if not arn or ":express:" in arn or run["status"] not in ("pending", "running"):
            return False  # Express executions cannot be stopped
        self.orchestrator.stop(arn)
        return True

    def redrive(self, tenant: str, run_id: str) -> bool:
        """Continue a failed or cancelled run from its failed Task, under its own run id.

        Standard: RedriveExecution. Express (or a Standard execution Step Functions will not redrive): a new
        execution of the same state machine version with the run's recorded input; the node functions answer
        the Tasks that completed from their kept results (cloud/nodes.py, a day), so only the failed Task and
        what follows it run. False when the run has no recorded execution to continue."""
        run = self.runs.get_run(tenant, run_id)
        arn, machine_arn = run.get("executionArn"), run.get("stateMachineArn")
        execution_input = run.get("input")
        if not arn or not machine_arn or not isinstance(execution_input, dict):
            return False
        self.runs.update_run(tenant, run_id, status="pending", error=None, endedAt=None)
        if self.orchestrator.redrive(arn):
            return True
        base = ":".join(str(machine_arn).split(":")[:7])  # without a version suffix
        machine = {"arn": base, "versionArn": machine_arn, "type": "EXPRESS" if ":express:" in arn else "STANDARD"}
        name = f"{run_id[:60]}-redrive-{uuid.uuid4().hex[:8]}"
        started = self.orchestrator.start(machine, name, execution_input)
        self.runs.update_run(tenant, run_id, executionArn=started["executionArn"])
        return True
