"""A whole mediaflow deployment inside moto: the template's tables, both buckets (uploads with EventBridge
notifications), the bus with an SQS queue that records every event, node functions whose invocations
are answered in-process by functions/nodes/handler.py, and the Express runner.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support.moto_dynamodb import atomic_requests
from tests.support.moto_sfn import MOCK_CONFIG, routed_lambdas

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_DEV", "false")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "mediaflow")

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
PREFIX = "mediaflow-test"
TABLES = {"WorkflowsTable": "workflows", "RunsTable": "runs", "JobsTable": "jobs", "ApiKeysTable": "keys",
          "WebhooksTable": "webhooks", "IdempotencyTable": "idempotency"}


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    return loaded


def load_handler(relative: str) -> ModuleType:
    """Import a Lambda entry point by path (every function folder has its own handler.py)."""
    path = ROOT / relative
    name = "lambda_" + relative.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeContext:
    function_name: str = "mediaflow-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:mediaflow-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass
class Deployment:
    settings: Any
    adapters: Any
    queue_url: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def events(self, wait_s: float = 0.0) -> list[dict[str, Any]]:
        """Every event the bus delivered to the recording queue so far (drained)."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_s
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages and (found or time.monotonic() >= deadline):
                return found
            if not messages:
                time.sleep(0.05)


def _create_tables(dynamodb: Any, env: dict[str, str]) -> None:
    resources = load_template()["Resources"]
    for logical, short in TABLES.items():
        props = resources[logical]["Properties"]
        name = f"{PREFIX}-{short}"
        args: dict[str, Any] = {"TableName": name, "KeySchema": props["KeySchema"],
                                "AttributeDefinitions": props["AttributeDefinitions"],
                                "BillingMode": props["BillingMode"]}
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**args)
        env[f"MEDIAFLOW_{logical.removesuffix('Table').upper().replace('APIKEYS', 'KEYS')}_TABLE"] = name


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    import boto3
    from mediaflow.cloud import bootstrap
    from moto import mock_aws

    nodes = load_handler("functions/nodes/handler.py")
    express = load_handler("functions/runs/express.py")

    def answer(function: str, payload: dict[str, Any]) -> Any:
        if function == "express-runner":
            return express.lambda_handler(payload, FakeContext("mediaflow-express-runner"))
        return nodes.lambda_handler(payload, FakeContext(f"mediaflow-{function}"))

    _start_versions_on_their_machine(monkeypatch)
    calls: list[tuple[str, dict[str, Any]]] = []
    with mock_aws(config=MOCK_CONFIG), atomic_requests(), routed_lambdas(answer, calls):
        env: dict[str, str] = {"MEDIAFLOW_MODE": "aws", "MEDIAFLOW_NAME_PREFIX": PREFIX,
                               "MEDIAFLOW_UPLOADS_BUCKET": f"{PREFIX}-uploads",
                               "MEDIAFLOW_OUTPUTS_BUCKET": f"{PREFIX}-outputs",
                               "MEDIAFLOW_EVENT_BUS_NAME": PREFIX}
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (env["MEDIAFLOW_UPLOADS_BUCKET"], env["MEDIAFLOW_OUTPUTS_BUCKET"]):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=env["MEDIAFLOW_UPLOADS_BUCKET"],
                                 VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=env["MEDIAFLOW_UPLOADS_BUCKET"],
            NotificationConfiguration={"EventBridgeConfiguration": {}})
        _create_tables(boto3.client("dynamodb", region_name=REGION), env)

        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=PREFIX)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName=f"{PREFIX}-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for bus, pattern in ((PREFIX, {"source": ["mediaflow"]}),
                             ("default", {"source": ["aws.s3"], "detail-type": ["Object Created"]})):
            rule = f"record-{bus}"
            events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])

        iam = boto3.client("iam", region_name=REGION)
        role_arn = iam.create_role(RoleName=f"{PREFIX}-sfn", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "states.amazonaws.com"}}]}))["Role"]["Arn"]
        lambdas = boto3.client("lambda", region_name=REGION)
        env["MEDIAFLOW_STATE_MACHINE_ROLE_ARN"] = role_arn
        for runtime in ("vips", "ffmpeg", "rembg", "light", "express-runner"):
            arn = lambdas.create_function(FunctionName=f"mediaflow-{runtime}", Runtime="python3.12", Role=role_arn,
                                          Handler="handler.lambda_handler", Code={"ZipFile": _zip()})["FunctionArn"]
            if runtime == "express-runner":
                env["MEDIAFLOW_EXPRESS_RUNNER_FUNCTION"] = f"mediaflow-{runtime}"
            else:
                env[f"MEDIAFLOW_{runtime.upper()}_FUNCTION_ARN"] = arn
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        adapters = bootstrap.adapters()
        try:
            yield Deployment(adapters.settings, adapters, queue_url, calls)
        finally:
            bootstrap.reset()


def _start_versions_on_their_machine(monkeypatch: pytest.MonkeyPatch, backend: Any = None) -> None:
    """moto 5.2 publishes versions but cannot run them: StartExecution on a version ARN fails inside
    its interpreter, and DescribeExecution looks executions up on the unversioned machine. In these
    tests the latest version is the machine's current definition, so a version ARN is run as the
    machine itself (the production code keeps starting the exact version, as on AWS)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    backend = backend or StepFunctionsParserBackend
    original = backend.start_execution

    def start_execution(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        parts = state_machine_arn.split(":")
        if len(parts) == 8 and parts[-1].isdigit():
            state_machine_arn = ":".join(parts[:7])
        return original(self, state_machine_arn, *args, **kwargs)

    monkeypatch.setattr(backend, "start_execution", start_execution)


def _zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


def sync_runner(orchestrator_cls: Any) -> Callable[..., dict[str, Any]]:
    """StartSyncExecution stand-in (moto does not implement it): StartExecution, then poll to the end."""

    def run_sync(self: Any, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
        arn = self.sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                       input=json.dumps(execution_input))["executionArn"]
        deadline = time.monotonic() + 60
        described = self.sfn.describe_execution(executionArn=arn)
        while described["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.02)
            described = self.sfn.describe_execution(executionArn=arn)
        return {key: described.get(key) for key in ("executionArn", "status", "output", "error", "cause")}

    return run_sync


@pytest.fixture
def express_runs_on_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator

    monkeypatch.setattr(StepFunctionsOrchestrator, "run_sync", sync_runner(StepFunctionsOrchestrator))


def small_jpeg(width: int = 64, height: int = 48) -> bytes:
    import pyvips

    image = (pyvips.Image.black(width, height, bands=3) + [200, 90, 40]).cast("uchar")  # noqa: RUF005
    data: bytes = image.jpegsave_buffer(Q=90)
    return data
