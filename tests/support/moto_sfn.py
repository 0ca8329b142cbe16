"""Run compiled ASL on moto's Step Functions interpreter, with Lambda Task calls routed in-process.

Inside ``mock_aws`` (Step Functions executes state machines; Lambda without Docker), the helper
creates one Lambda function per runtime placeholder of the compiled ASL (``${VipsFunctionArn}``,
``${FfmpegFunctionArn}``, ``${RembgFunctionArn}``, ``${LightFunctionArn}``), substitutes the
placeholders with their ARNs, creates a state machine, starts one execution and polls it to the end.

Every Lambda invocation is answered by ``handler(runtime, payload)`` in this process (moto's
``LambdaSimpleBackend.invoke`` is patched). A Python exception raised by the handler becomes what a
real Lambda returns for an unhandled error: the ``X-Amz-Function-Error: Unhandled`` header and the
JSON body ``{"errorMessage", "errorType"}``, where errorType is
:func:`mediaflow.execution.tasks.error_name` of the exception. Step Functions then fails the Task with
``Error`` = errorType and ``Cause`` = that JSON body, so Retry and Catch match on the error name.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from mediaflow.catalog import RUNTIMES
from mediaflow.compiler.asl import substitute
from mediaflow.execution.contract import error_name

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

REGION = "us-east-1"
ROLE_NAME = "mediaflow-test-sfn"
PLACEHOLDERS: dict[str, str] = {profile.placeholder: runtime for runtime, profile in RUNTIMES.items()}
FUNCTION_PREFIX = "mediaflow-"
MOCK_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

Handler = Callable[[str, dict[str, Any]], Any]

_ENTERED_TYPES = {
    "TaskStateEntered", "ChoiceStateEntered", "ParallelStateEntered", "MapStateEntered",
    "PassStateEntered", "SucceedStateEntered", "FailStateEntered", "WaitStateEntered",
}


@dataclass
class MotoExecution:
    """How one execution ended on moto."""

    status: str
    output: Any
    error: str | None
    cause: str | None
    states: list[str]
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list, repr=False)

    @property
    def cause_json(self) -> Any:
        """The Cause parsed as JSON (Lambda errors carry ``{"errorMessage", "errorType"}``), else None."""
        if self.cause is None:
            return None
        try:
            return json.loads(self.cause)
        except ValueError:
            return None


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _runtime_of(function_name: str) -> str:
    """Map an invoked name or ARN (``...:function:mediaflow-light[:qualifier]``) to its runtime."""
    name = function_name
    if name.startswith("arn:"):
        name = name.split(":")[6]
    if not name.startswith(FUNCTION_PREFIX):
        raise KeyError(f"not a mediaflow test function: {function_name}")
    return name[len(FUNCTION_PREFIX):]


@contextmanager
def routed_lambdas(handler: Handler, calls: list[tuple[str, dict[str, Any]]]) -> Iterator[None]:
    """Patch moto's Docker-less Lambda backend so that every invocation runs ``handler`` in-process."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
        response_headers: dict[str, Any],
    ) -> bytes:
        runtime = _runtime_of(function_name)
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        payload = json.loads(body) if body else {}
        calls.append((runtime, payload))
        try:
            result = handler(runtime, payload)
        except Exception as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            message = getattr(error, "message", None) or str(error)
            return json.dumps({"errorMessage": message, "errorType": error_name(error)}).encode("utf-8")
        return json.dumps(result).encode("utf-8")

    with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
        yield


def _ensure_role(iam: Any) -> str:
    try:
        return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    return str(iam.create_role(
        RoleName=ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"])


def _ensure_functions(lambda_client: Any, role_arn: str) -> dict[str, str]:
    """One function per runtime placeholder (reused when a surrounding mock already has them)."""
    code = _dummy_zip()
    arns: dict[str, str] = {}
    for placeholder, runtime in PLACEHOLDERS.items():
        name = FUNCTION_PREFIX + runtime
        try:
            arns[placeholder] = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            continue
        except lambda_client.exceptions.ResourceNotFoundException:
            pass
        created = lambda_client.create_function(
            FunctionName=name, Runtime="python3.11", Role=role_arn,
            Handler="handler.handler", Code={"ZipFile": code}, Timeout=900,
        )
        arns[placeholder] = created["FunctionArn"]
    return arns


def _entered_states(history: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for event in history:
        if event["type"] in _ENTERED_TYPES:
            names.append(event["stateEnteredEventDetails"]["name"])
    return names


def _failure(history: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    for event in reversed(history):
        if event["type"] in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            key = {"ExecutionFailed": "executionFailedEventDetails",
                   "ExecutionAborted": "executionAbortedEventDetails",
                   "ExecutionTimedOut": "executionTimedOutEventDetails"}[event["type"]]
            details = event.get(key, {})
            return details.get("error"), details.get("cause")
    return None, None


def workers_in_process(adapters: Any, workdir: Path, settings: Any) -> Handler:
    """A ``handler`` for :func:`run_on_moto` that runs each Task with ``execute_task`` over ``adapters`` (the
    embedded ones: blobs, runs, bus), in a scratch folder of its own under ``workdir`` (Parallel branches call
    in at the same time), after what each Lambda container does once (``prepare_runtime``)."""
    from mediaflow.cloud.nodes import prepare_runtime
    from mediaflow.execution.contract import TaskEnvironment
    from mediaflow.execution.tasks import execute_task

    def handler(runtime: str, payload: dict[str, Any]) -> Any:
        prepare_runtime()
        workdir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=workdir))
        try:
            env = TaskEnvironment(blobs=adapters.blobs, workdir=scratch, runs=adapters.runs, bus=adapters.bus,
                                  settings=settings)
            return execute_task(payload, env)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return handler


def run_on_moto(
    asl: dict[str, Any],
    input: dict[str, Any],
    handler: Handler,
    *,
    timeout_s: float = 60.0,
    machine_type: str = "STANDARD",
    name: str = "test-execution",
) -> MotoExecution:
    """Create the state machine for ``asl`` on moto, run it once on ``input`` and return how it ended.

    ``handler(runtime, payload)`` answers the Lambda Task calls ("vips", "ffmpeg", "rembg", "light");
    ``name`` becomes the execution name (``$$.Execution.Name``; moto leaves it null when omitted).
    """
    import boto3
    from moto import mock_aws

    calls: list[tuple[str, dict[str, Any]]] = []
    with mock_aws(config=MOCK_CONFIG), routed_lambdas(handler, calls):
        role_arn = _ensure_role(boto3.client("iam", region_name=REGION))
        arns = _ensure_functions(boto3.client("lambda", region_name=REGION), role_arn)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        taken = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
        machine_name = next(n for n in ("mediaflow-test", *(f"mediaflow-test-{i}" for i in range(2, 10_000)))
                            if n not in taken)
        machine_arn = sfn.create_state_machine(
            name=machine_name, definition=json.dumps(substitute(asl, arns)), roleArn=role_arn, type=machine_type,
        )["stateMachineArn"]
        execution_arn = sfn.start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(input)
        )["executionArn"]

        deadline = time.monotonic() + timeout_s
        described = sfn.describe_execution(executionArn=execution_arn)
        while described["status"] == "RUNNING":
            if time.monotonic() > deadline:
                sfn.stop_execution(executionArn=execution_arn, error="HarnessTimeout")
                raise TimeoutError(f"execution still running after {timeout_s} s")
            time.sleep(0.02)
            described = sfn.describe_execution(executionArn=execution_arn)

        history: list[dict[str, Any]] = []
        paginator_args: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**paginator_args)
            history.extend(page["events"])
            if not page.get("nextToken"):
                break
            paginator_args["nextToken"] = page["nextToken"]

    error, cause = _failure(history)
    output = json.loads(described["output"]) if described.get("output") else None
    return MotoExecution(
        status=described["status"], output=output, error=described.get("error", error),
        cause=described.get("cause", cause), states=_entered_states(history), history=history, calls=calls,
    )


def bridge_versions(patch: Any) -> None:
    """moto 5.2 has no ListStateMachineVersions nor DeleteStateMachineVersion, cannot start an execution on
    a version ARN and cannot list a version's executions (docs/moto-stepfunctions.md). This adds the two
    calls over moto's own version records, starts a version's execution on its machine remembering the
    version, and lists a version's executions from those (basic backend: executions stay RUNNING)."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.stepfunctions.exceptions import StateMachineDoesNotExist
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    def split(arn: str) -> tuple[str, int | None]:
        parts = arn.split(":")
        return (":".join(parts[:7]), int(parts[7])) if len(parts) == 8 and parts[7].isdigit() else (arn, None)

    def list_state_machine_versions(self: Any) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        return ActionResult({"stateMachineVersions": [
            {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions]})

    def delete_state_machine_version(self: Any) -> EmptyResult:
        base, number = split(self._get_param("stateMachineVersionArn"))
        machine = self.stepfunction_backend.describe_state_machine(base)
        if number not in machine.versions:
            raise StateMachineDoesNotExist(f"State Machine Version Does Not Exist: '{base}:{number}'")
        del machine.versions[number]
        return EmptyResult()

    original_start = StepFunctionBackend.start_execution
    original_list = StepFunctionBackend.list_executions

    def start_execution(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        base, number = split(state_machine_arn)
        execution = original_start(self, base, *args, **kwargs)
        setattr(execution, "version_arn", state_machine_arn if number is not None else None)  # noqa: B010
        return execution

    def list_executions(self: Any, state_machine_arn: str, status_filter: str | None = None, **kwargs: Any) -> Any:
        base, number = split(state_machine_arn)
        if number is None:
            return original_list(self, state_machine_arn, status_filter=status_filter, **kwargs)
        executions = [e for e in self.describe_state_machine(base).executions
                      if getattr(e, "version_arn", None) == state_machine_arn
                      and (status_filter is None or e.status == status_filter)]
        return executions, None

    patch.setattr(StepFunctionResponse, "list_state_machine_versions", list_state_machine_versions, raising=False)
    patch.setattr(StepFunctionResponse, "delete_state_machine_version", delete_state_machine_version,
                  raising=False)
    patch.setattr(StepFunctionBackend, "start_execution", start_execution)
    patch.setattr(StepFunctionBackend, "list_executions", list_executions)
