"""Orchestrator on Step Functions: one state machine per workflow, one published version per workflow version.

- The machine's name is derived from (tenant, workflow id, type): Step Functions cannot change a
  machine's type, so a workflow whose compiled type changes (EXPRESS <-> STANDARD) gets a second machine.
- Every save publishes a version (``publish=True``); activating moves the ``live`` alias to it. Runs are
  started on the exact version ARN recorded for the workflow version they match, so a run always executes
  the definition it recorded. Where versions or aliases are unavailable (older emulators), the machine's
  own ARN is used and the alias is skipped.
- Versions are pruned after each publish (AWS caps a machine at 1,000): kept are the versions an alias
  routes to, the newest ``versions_kept``, those younger than ``version_grace_seconds`` (an Express run
  queued for the runner, which Step Functions cannot list) and those with a RUNNING execution.
- Standard executions are started with a deterministic name; ``ExecutionAlreadyExists`` means the run was
  started before and counts as success. Express executions emit no status-change events, so they are
  handed to the Express runner function, which waits for them with StartSyncExecution.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mediaflow.adapters.aws.clients import client_of, error_code, translate, translated
from mediaflow.compiler.asl import PLACEHOLDERS, substitute
from mediaflow.errors import NotFound

logger = logging.getLogger(__name__)

ALIAS = "live"
TYPE_SUFFIX = {"STANDARD": "std", "EXPRESS": "exp"}
UNSUPPORTED = frozenset({"UnknownOperationException", "InvalidAction", "NotImplemented", "404"})


def execution_arn(machine_arn: str, name: str, machine_type: str = "STANDARD") -> str:
    """The ARN Step Functions gives an execution ``name`` of ``machine_arn`` (a version suffix is dropped)."""
    parts = machine_arn.split(":")
    base = parts[:7]
    kind = "express" if machine_type == "EXPRESS" else "execution"
    return ":".join([*base[:5], kind, base[6], name])


class StepFunctionsOrchestrator:
    def __init__(self, *, role_arn: str, function_arns: dict[str, str], name_prefix: str = "mediaflow",
                 log_group_arn: str = "", express_runner: str = "", client: Any = None, lambda_client: Any = None,
                 region: str | None = None, versions_kept: int = 20, version_grace_seconds: int = 3600,
                 clock: Callable[[], float] = time.time) -> None:
        self.role_arn = role_arn
        self.function_arns = dict(function_arns)
        self.name_prefix = name_prefix
        self.log_group_arn = log_group_arn
        self.express_runner = express_runner
        self.versions_kept = versions_kept
        self.version_grace_seconds = version_grace_seconds
        self.clock = clock
        self.sfn = client_of(client, "stepfunctions", region)
        self.lambdas = client_of(lambda_client, "lambda", region)

    # -- names ---------------------------------------------------------------------------------------

    def machine_name(self, tenant: str, workflow_id: str, machine_type: str) -> str:
        digest = hashlib.sha256(f"{tenant}\x1f{workflow_id}".encode()).hexdigest()[:24]
        return f"{self.name_prefix}-{TYPE_SUFFIX[machine_type]}-{digest}"[:80]

    def machine_arn(self, name: str) -> str:
        _, partition, _, _, account, _ = self.role_arn.split(":", 5)
        return f"arn:{partition}:states:{self.sfn.meta.region_name}:{account}:stateMachine:{name}"

    # -- deploy --------------------------------------------------------------------------------------

    def deploy(self, tenant: str, workflow_id: str, version: int, asl: dict[str, Any], machine_type: str, *,
               activate: bool) -> dict[str, Any]:
        """Create or update the workflow's machine with ``asl``, publish a version, move ``live`` when active."""
        # Checked here, not at construction: the runs and Express-runner functions only describe and run
        # executions, and their environment names no node function.
        missing = [name for name in PLACEHOLDERS if not self.function_arns.get(name)]
        if missing:
            raise ValueError(f"function ARNs missing for {', '.join(missing)}")
        name = self.machine_name(tenant, workflow_id, machine_type)
        arn = self.machine_arn(name)
        common: dict[str, Any] = {
            "definition": json.dumps(substitute(asl, self.function_arns), sort_keys=True),
            "roleArn": self.role_arn, "tracingConfiguration": {"enabled": True},
            "publish": True, "versionDescription": f"workflow {workflow_id} version {version}",
        }
        if self.log_group_arn:
            common["loggingConfiguration"] = {
                "level": "ERROR", "includeExecutionData": False,
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": self.log_group_arn}}]}
        with translated(f"state machine {name!r}"):
            if self._exists(arn):
                response = self.sfn.update_state_machine(stateMachineArn=arn, **common)
            else:
                response = self.sfn.create_state_machine(
                    name=name, type=machine_type, **common,
                    tags=[{"key": "mediaflow:deployment", "value": self.name_prefix[:256]},
                          {"key": "mediaflow:tenant", "value": tenant[:256]},
                          {"key": "mediaflow:workflow", "value": workflow_id[:256]}])
        version_arn = response.get("stateMachineVersionArn")
        alias_arn = self.move_alias(arn, version_arn) if activate and version_arn else None
        if version_arn:
            try:
                self.prune_versions(arn)
            except Exception:  # pruning is housekeeping: the next save tries again
                logger.warning("could not prune the versions of %s", arn, exc_info=True)
        return {"name": name, "arn": arn, "type": machine_type, "versionArn": version_arn, "aliasArn": alias_arn,
                "workflowVersion": version}

    def prune_versions(self, arn: str) -> list[str]:
        """Delete the versions of ``arn`` nothing needs any more; returns the deleted version ARNs."""
        from botocore.exceptions import ClientError

        versions: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while True:  # botocore has no paginator for this call
            page = self.sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1000, **token)
            versions.extend(page.get("stateMachineVersions", []))
            if not page.get("nextToken"):
                break
            token = {"nextToken": page["nextToken"]}
        versions.sort(key=lambda v: int(v["stateMachineVersionArn"].rsplit(":", 1)[1]), reverse=True)
        if len(versions) <= self.versions_kept:
            return []
        routed = {route["stateMachineVersionArn"]
                  for alias in self.sfn.list_state_machine_aliases(stateMachineArn=arn).get("stateMachineAliases", [])
                  for route in self.sfn.describe_state_machine_alias(
                      stateMachineAliasArn=alias["stateMachineAliasArn"]).get("routingConfiguration", [])}
        newest = self.clock() - self.version_grace_seconds
        deleted: list[str] = []
        for version in versions[self.versions_kept:]:
            version_arn = version["stateMachineVersionArn"]
            if version_arn in routed or _epoch(version.get("creationDate")) > newest or self._running(version_arn):
                continue
            try:
                self.sfn.delete_state_machine_version(stateMachineVersionArn=version_arn)
            except ClientError as error:
                if error_code(error) in ("ConflictException", "ValidationException"):
                    continue  # an alias moved onto it meanwhile
                raise
            deleted.append(version_arn)
        if deleted:
            logger.info("pruned %d versions of %s", len(deleted), arn)
        return deleted

    def _running(self, version_arn: str) -> bool:
        """Whether an execution of this version is RUNNING (Express executions cannot be listed: False)."""
        from botocore.exceptions import ClientError

        try:
            listed = self.sfn.list_executions(stateMachineArn=version_arn, statusFilter="RUNNING", maxResults=1)
        except ClientError as error:
            if error_code(error) == "StateMachineTypeNotSupported":
                return False
            raise
        return bool(listed.get("executions"))

    def _exists(self, arn: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.sfn.describe_state_machine(stateMachineArn=arn)
        except ClientError as error:
            if error_code(error) in ("StateMachineDoesNotExist", "ResourceNotFoundException"):
                return False
            raise
        return True

    def move_alias(self, arn: str, version_arn: str) -> str | None:
        from botocore.exceptions import ClientError

        routing = [{"stateMachineVersionArn": version_arn, "weight": 100}]
        alias_arn = f"{arn}:{ALIAS}"
        try:
            try:
                self.sfn.update_state_machine_alias(stateMachineAliasArn=alias_arn, routingConfiguration=routing)
            except ClientError as error:
                if error_code(error) not in ("ResourceNotFound", "ResourceNotFoundException",
                                             "StateMachineDoesNotExist"):
                    raise
                alias_arn = self.sfn.create_state_machine_alias(
                    name=ALIAS, routingConfiguration=routing)["stateMachineAliasArn"]
        except ClientError as error:
            if error_code(error) in UNSUPPORTED:
                return None  # aliases unavailable: runs use the version ARN anyway
            raise translate(error, f"alias of {arn!r}") from error
        return alias_arn

    # -- runs ----------------------------------------------------------------------------------------

    def start(self, machine: dict[str, Any], name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
        """Start one execution; returns ``{executionArn, started}`` (started False: it already existed)."""
        from botocore.exceptions import ClientError

        target = machine.get("versionArn") or machine["arn"]
        payload = json.dumps(execution_input, sort_keys=True, separators=(",", ":"))
        arn = execution_arn(machine["arn"], name, machine["type"])
        if machine["type"] == "EXPRESS" and self.express_runner:
            with translated("Express runner"):
                self.lambdas.invoke(FunctionName=self.express_runner, InvocationType="Event",
                                    Payload=json.dumps({"stateMachineArn": target, "name": name,
                                                        "input": execution_input}).encode())
            return {"executionArn": arn, "started": True}
        try:
            response = self.sfn.start_execution(stateMachineArn=target, name=name, input=payload)
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                return {"executionArn": arn, "started": False}
            raise translate(error, f"execution {name!r}") from error
        return {"executionArn": response["executionArn"], "started": True}

    def run_sync(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
        """StartSyncExecution (Express only): the finished execution's status, output, error and cause."""
        with translated(f"execution {name!r}"):
            response: dict[str, Any] = self.sfn.start_sync_execution(
                stateMachineArn=state_machine_arn, name=name,
                input=json.dumps(execution_input, sort_keys=True, separators=(",", ":")))
        return response

    def redrive(self, execution: str) -> bool:
        """RedriveExecution (Standard): the execution continues from its failed states; False when Step
        Functions will not redrive it (Express, too old, not failed)."""
        from botocore.exceptions import ClientError

        if ":express:" in execution:
            return False
        try:
            self.sfn.redrive_execution(executionArn=execution)
        except ClientError as error:
            if error_code(error) in ("ExecutionNotRedrivable", "ExecutionDoesNotExist", "ExecutionLimitExceeded"):
                return False
            raise translate(error, f"execution {execution!r}") from error
        return True

    def describe_execution(self, execution: str) -> dict[str, Any]:
        """DescribeExecution: the input, output, error and cause of one execution."""
        with translated(f"execution {execution!r}"):
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution)
        return described

    def stop(self, execution: str, cause: str = "cancelled") -> None:
        with translated(f"execution {execution!r}"):
            self.sfn.stop_execution(executionArn=execution, error="Cancelled", cause=cause)

    # -- delete --------------------------------------------------------------------------------------

    def delete(self, tenant: str, workflow_id: str) -> None:
        """Delete the workflow's machines (aliases first); running executions finish on their own."""
        from botocore.exceptions import ClientError

        for machine_type in TYPE_SUFFIX:
            arn = self.machine_arn(self.machine_name(tenant, workflow_id, machine_type))
            try:
                aliases = self.sfn.list_state_machine_aliases(stateMachineArn=arn).get("stateMachineAliases", [])
                for alias in aliases:
                    self.sfn.delete_state_machine_alias(stateMachineAliasArn=alias["stateMachineAliasArn"])
                self.sfn.delete_state_machine(stateMachineArn=arn)
            except ClientError as error:
                mapped = translate(error, f"state machine {arn!r}")
                if not isinstance(mapped, NotFound) and error_code(error) not in UNSUPPORTED:
                    raise mapped from error


def _epoch(value: Any) -> float:
    """A creation date as boto3 returns it (a datetime) in seconds; unknown dates count as old."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return 0.0
