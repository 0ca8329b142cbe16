"""The API's AWS backend inside moto, built from template.yaml.

The template's DynamoDB tables, S3 buckets (versioning and EventBridge notifications as declared), the event
bus and the node / Express-runner functions are created in one ``mock_aws``; the API function's environment
(``Globals`` plus ``ApiFunction``) is resolved against them into the ``Settings`` of the deployment. Requests
go through ``functions/api/app.py``'s ``lambda_handler`` (its powertools decorators included) over
``create_app(aws_context(...))``.

Runs execute on moto's Step Functions interpreter: every Lambda invocation is answered in-process by the
handler the template names for that function (``functions/nodes/handler.py`` for the node functions,
``functions/runs/express.py`` for the Express runner). moto 5.2 gaps are bridged here only, as in
tests/functional/aws (docs/moto-stepfunctions.md): StartSyncExecution is StartExecution plus polling,
a version ARN is started as its machine, and the "Step Functions Execution Status Change" event that
EventBridge would deliver to ``functions/runs/handler.py`` for a Standard execution is built from
DescribeExecution once the execution ends.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.functional.aws.conftest import (
    FakeContext,
    _start_versions_on_their_machine,
    _zip,
    load_handler,
    sync_runner,
)
from tests.support.moto_dynamodb import atomic_requests
from tests.support.moto_sfn import MOCK_CONFIG, routed_lambdas

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
ACCOUNT = "123456789012"
# functions/* entry point of each PackageType: Image function (their Dockerfiles copy the node handler)
IMAGE_HANDLER = "functions/nodes/handler.lambda_handler"
ROUTED = ("VipsFunction", "FfmpegFunction", "RembgFunction", "LightFunction", "ExpressRunnerFunction",
          "RunsFunction")


# -- template ------------------------------------------------------------------------------------------


class _IntrinsicLoader(yaml.SafeLoader):
    """Keeps CloudFormation short forms as their long forms (``!Ref X`` -> ``{"Ref": "X"}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_IntrinsicLoader.add_multi_constructor("!", _intrinsic)


def load_template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_IntrinsicLoader)
    return loaded


@dataclass
class Resolver:
    """Resolves ``Ref``/``Fn::Sub``/``Fn::GetAtt`` against parameter defaults and the created resources."""

    template: dict[str, Any]
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> name (what Ref returns)
    arns: dict[str, str] = field(default_factory=dict)  # logical id -> Arn (GetAtt X.Arn)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return None
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws"}
        if name in pseudo:
            return pseudo[name]
        if name in self.physical:
            return self.physical[name]
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None and parameter.get("Type") == "CommaDelimitedList":
            return str(parameter["Default"]).split(",")
        if parameter is not None:
            return str(parameter["Default"])
        raise KeyError(f"unresolved Ref {name}")

    def condition(self, name: str) -> bool:
        return bool(self(self.template["Conditions"][name]))

    def function(self, key: str, inner: Any) -> Any:
        """Fn::If / Join / Equals / Not / And / Or (conditions evaluated with the parameter defaults)."""
        if key == "Fn::If":
            name, when_true, when_false = inner
            return self(when_true if self.condition(name) else when_false)
        if key == "Fn::Join":
            separator, items = self(inner[0]), inner[1]
            resolved = self(items)
            parts = resolved.split(",") if isinstance(resolved, str) else resolved  # a CommaDelimitedList Ref
            return separator.join(str(part) for part in parts)
        if key == "Fn::Equals":
            return self(inner[0]) == self(inner[1])
        if key == "Fn::Not":
            return not self(inner[0])
        if key == "Fn::And":
            return all(self(item) for item in inner)
        if key == "Fn::Or":
            return any(self(item) for item in inner)
        raise KeyError(f"unsupported {key}")

    def get_att(self, logical: str, attribute: str) -> str:
        if attribute == "Arn" and logical in self.arns:
            return self.arns[logical]
        raise KeyError(f"unresolved GetAtt {logical}.{attribute}")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, inner), = value.items()
            if key == "Ref":
                return self.ref(inner)
            if key == "Fn::GetAtt":
                return self.get_att(*inner)
            if key == "Fn::Sub" and isinstance(inner, list):  # [text, {name: value}]
                text, names = inner
                values = {name: str(self(item)) for name, item in names.items()}
                return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1)) or self._sub(m.group(1)), text)
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), inner)
            if key == "Fn::Split":
                separator, text = inner
                return str(self(text)).split(separator)
            if key in ("Fn::If", "Fn::Join", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
                return self.function(key, inner)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def _sub(self, name: str) -> str:
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.get_att(logical, attribute)
        return self.ref(name)


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {logical: resource.get("Properties") or {} for logical, resource in template["Resources"].items()
            if resource["Type"] == kind}


# -- the deployment ------------------------------------------------------------------------------------


def _drain(queue_url: str, wait_s: float) -> list[dict[str, Any]]:
    """Every message body on a queue so far (drained), waiting up to ``wait_s`` for the first."""
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_s
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not messages and (found or time.monotonic() >= deadline):
            return found
        if not messages:
            time.sleep(0.05)


@dataclass
class AwsDeployment:
    """What the fixture built: settings and adapters of the API function, and every routed invocation.

    ``bus_queue`` receives every event on the project's bus; ``upload_queue`` receives what the template's
    TriggerFunction rule (its own pattern) matches on the default bus, for :meth:`trigger_uploads`."""

    settings: Any
    adapters: Any
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    app: Any
    calls: list[tuple[str, dict[str, Any]]]
    bus_queue: str = ""
    upload_queue: str = ""

    # node id -> how many more invocations of a Task holding it fail (a fault a test injects)
    faults: dict[str, int] = field(default_factory=dict)
    redrives: list[str] = field(default_factory=list)  # RedriveExecution calls moto could not answer

    def bus_events(self, wait_s: float = 0.0) -> list[dict[str, Any]]:
        """The events put on the project's bus so far (drained), as EventBridge delivers them."""
        return _drain(self.bus_queue, wait_s)

    def trigger_uploads(self, wait_s: float = 5.0) -> list[dict[str, Any]]:
        """Hand every "Object Created" event the template's upload rule matched to functions/trigger's entry
        point as the UploadEvents queue does (SQS batches of 10); returns the runs each batch started."""
        trigger = load_handler("functions/trigger/handler.py")
        events = _drain(self.upload_queue, wait_s)
        started: list[dict[str, Any]] = []
        for first in range(0, len(events), 10):
            records = [{"messageId": f"m-{first + index}", "eventSource": "aws:sqs", "body": json.dumps(event)}
                       for index, event in enumerate(events[first:first + 10])]
            result = trigger.lambda_handler({"Records": records}, FakeContext("mediaflow-dev-trigger"))
            assert not result.get("batchItemFailures"), result
            started.extend(result["runs"])
        return started


class StatusEvents:
    """EventBridge's "Step Functions Execution Status Change" for Standard executions, which moto does not
    emit: a thread per started execution waits for its end and hands the event to the runs function."""

    def __init__(self, deliver: Callable[[dict[str, Any]], Any]) -> None:
        self.deliver = deliver
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()

    def watch(self, sfn: Any, execution_arn: str) -> None:
        thread = threading.Thread(target=self._wait, args=(sfn, execution_arn), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _wait(self, sfn: Any, execution_arn: str) -> None:
        described = sfn.describe_execution(executionArn=execution_arn)
        deadline = time.monotonic() + 120
        while described["status"] == "RUNNING" and not self.stopping.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
            described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] == "RUNNING":
            return
        detail = {key: described.get(key) for key in ("executionArn", "stateMachineArn", "name", "status", "input",
                                                       "output", "error", "cause")}
        self.deliver({"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                      "detail": detail})

    def close(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)


def _handler_of(props: dict[str, Any]) -> tuple[str, str]:
    """(file, attribute) of a function's entry point from its CodeUri and Handler."""
    if props.get("PackageType") == "Image":
        module, attribute = IMAGE_HANDLER.rsplit(".", 1)
        return f"{module}.py", attribute
    module, attribute = str(props["Handler"]).rsplit(".", 1)
    return f"{str(props['CodeUri']).rstrip('/')}/{module}.py", attribute


def _create_tables(boto3: Any, template: dict[str, Any], resolve: Resolver) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for logical, props in resources_of(template, "AWS::DynamoDB::Table").items():
        name = resolve(props["TableName"])
        args = {key: props[key] for key in ("KeySchema", "AttributeDefinitions", "BillingMode",
                                            "GlobalSecondaryIndexes") if props.get(key)}
        dynamodb.create_table(TableName=name, **args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        resolve.physical[logical] = name
        resolve.arns[logical] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _create_buckets(boto3: Any, template: dict[str, Any], resolve: Resolver) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for logical, props in resources_of(template, "AWS::S3::Bucket").items():
        condition = template["Resources"][logical].get("Condition")
        if condition and not resolve.condition(condition):
            continue  # not in a stack deployed with the default parameters (e.g. the dashboard's bucket)
        name = resolve(props["BucketName"])
        s3.create_bucket(Bucket=name)
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        if (props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})
        resolve.physical[logical] = name
        resolve.arns[logical] = f"arn:aws:s3:::{name}"


def _create_bus(boto3: Any, template: dict[str, Any], resolve: Resolver) -> None:
    events = boto3.client("events", region_name=REGION)
    for logical, props in resources_of(template, "AWS::Events::EventBus").items():
        name = resolve(props["Name"])
        resolve.arns[logical] = events.create_event_bus(Name=name)["EventBusArn"]
        resolve.physical[logical] = name


def _create_queues(boto3: Any, template: dict[str, Any], resolve: Resolver) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for logical, props in resources_of(template, "AWS::SQS::Queue").items():
        name = resolve(props["QueueName"])
        resolve.physical[logical] = sqs.create_queue(QueueName=name)["QueueUrl"]  # Ref of a queue is its URL
        resolve.arns[logical] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def _create_usage_plan(boto3: Any, template: dict[str, Any], resolve: Resolver) -> None:
    """The per-key usage plan (the API function registers every key it creates with it)."""
    props = template["Resources"]["ApiUsagePlan"]["Properties"]
    plan = boto3.client("apigateway", region_name=REGION).create_usage_plan(name=resolve(props["UsagePlanName"]))
    resolve.physical["ApiUsagePlan"] = plan["id"]


def _create_functions(boto3: Any, template: dict[str, Any], resolve: Resolver,
                      ) -> dict[str, tuple[str, str]]:
    """The state-machine role and the routed functions; returns function name -> (file, attribute)."""
    iam = boto3.client("iam", region_name=REGION)
    role = template["Resources"]["StateMachineRole"]["Properties"]
    prefix = resolve({"Fn::Sub": "${NamePrefix}-${Stage}"})
    resolve.arns["StateMachineRole"] = iam.create_role(
        RoleName=f"{prefix}-states", AssumeRolePolicyDocument=json.dumps(resolve(role["AssumeRolePolicyDocument"])),
    )["Role"]["Arn"]
    lambdas = boto3.client("lambda", region_name=REGION)
    functions = resources_of(template, "AWS::Serverless::Function")
    entry_points: dict[str, tuple[str, str]] = {}
    for logical in ROUTED:
        props = functions[logical]
        name = resolve(props["FunctionName"])
        resolve.arns[logical] = lambdas.create_function(
            FunctionName=name, Runtime="python3.12", Role=resolve.arns["StateMachineRole"],
            Handler="handler.lambda_handler", Code={"ZipFile": _zip()})["FunctionArn"]
        resolve.physical[logical] = name
        entry_points[name] = _handler_of(props)
    resolve.arns["StateMachineLogGroup"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/{prefix}"
    return entry_points


def api_environment(template: dict[str, Any], resolve: Resolver) -> dict[str, str]:
    """The API function's MEDIAFLOW_* environment (Globals plus its own), resolved."""
    env = {**template["Globals"]["Function"]["Environment"]["Variables"],
           **template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]}
    return {name: str(resolve(value)) for name, value in env.items() if name.startswith("MEDIAFLOW_")}


def _record_rules(boto3: Any, template: dict[str, Any], resolve: Resolver) -> tuple[str, str]:
    """Queues behind the project's bus (every event) and behind the default bus with the upload rule's
    (UploadCreatedRule) pattern from the template; returns their URLs."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    trigger_rule = template["Resources"]["UploadCreatedRule"]["Properties"]
    urls = []
    for name, bus, pattern in (("bus-events", resolve.physical["EventBus"], {"source": ["mediaflow"]}),
                               ("uploads", "default", resolve(trigger_rule["EventPattern"]))):
        url = sqs.create_queue(QueueName=f"record-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=f"record-{name}", EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"record-{name}", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        urls.append(url)
    return urls[0], urls[1]


def api_settings(template: dict[str, Any], resolve: Resolver) -> Any:
    """The Settings the API function reads: Globals' environment plus its own, resolved."""
    from mediaflow.settings import Settings

    values: dict[str, Any] = {name.removeprefix("MEDIAFLOW_").lower(): value
                              for name, value in api_environment(template, resolve).items()}
    known = set(Settings.model_fields)
    return Settings(**{name: value for name, value in values.items() if name in known})


@contextmanager
def aws_deployment(config: Any) -> Iterator[AwsDeployment]:
    """The whole deployment inside one ``mock_aws``, torn down on exit."""
    import boto3
    from mediaflow.adapters.aws import open_aws
    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator
    from mediaflow.api import create_app
    from mediaflow.cloud import bootstrap as cloud
    from moto import mock_aws

    template = load_template()
    resolve = Resolver(template)
    calls: list[tuple[str, dict[str, Any]]] = []
    modules: dict[str, ModuleType] = {}
    entry_points: dict[str, tuple[str, str]] = {}

    faults: dict[str, int] = {}
    redrives: list[str] = []

    def answer(runtime: str, payload: dict[str, Any]) -> Any:
        for op in payload.get("ops") or []:
            if faults.get(op.get("nodeId"), 0) > 0:
                faults[op["nodeId"]] -= 1
                from mediaflow.errors import ToolchainError

                raise ToolchainError("a fault injected by the test", node_id=op["nodeId"])
        name = f"mediaflow-{runtime}"  # routed_lambdas strips the "mediaflow-" of the function name
        path, attribute = entry_points[name]
        if path not in modules:
            modules[path] = load_handler(path)
        return getattr(modules[path], attribute)(payload, FakeContext(name))

    status_events = StatusEvents(lambda event: answer(
        resolve.physical["RunsFunction"].removeprefix("mediaflow-"), event))
    original_start = StepFunctionsOrchestrator.start

    def start(self: Any, machine: dict[str, Any], name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
        started: dict[str, Any] = original_start(self, machine, name, execution_input)
        if machine["type"] == "STANDARD" and started["started"]:
            status_events.watch(self.sfn, started["executionArn"])
        return started

    with ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        stack.enter_context(mock_aws(config=MOCK_CONFIG))
        stack.enter_context(atomic_requests())
        stack.enter_context(routed_lambdas(answer, calls))
        stack.callback(status_events.close)
        _start_versions_on_their_machine(patch)
        patch.setattr(StepFunctionsOrchestrator, "run_sync", sync_runner(StepFunctionsOrchestrator))
        patch.setattr(StepFunctionsOrchestrator, "start", start)

        def redrive(self: Any, execution: str) -> bool:  # moto 5.2 has no RedriveExecution: see the docs
            redrives.append(execution)
            return False

        patch.setattr(StepFunctionsOrchestrator, "redrive", redrive)

        _create_tables(boto3, template, resolve)
        _create_buckets(boto3, template, resolve)
        _create_bus(boto3, template, resolve)
        _create_queues(boto3, template, resolve)
        _create_usage_plan(boto3, template, resolve)
        entry_points.update(_create_functions(boto3, template, resolve))
        bus_queue, upload_queue = _record_rules(boto3, template, resolve)
        # A test saves a workflow and uploads at once; a warm trigger would see the new workflow only after
        # trigger_cache_seconds (documented in docs/scale.md), so these tests read the workflows every time.
        settings = api_settings(template, resolve).model_copy(update={"trigger_cache_seconds": 0.0})
        adapters = open_aws(settings)
        # Every function of this deployment (API, nodes, runners) reads the same adapters.
        patch.setattr(cloud, "adapters", lambda: adapters)
        # The warm upload trigger is cached per process: one built for an earlier deployment would read its
        # workflows (and start its machines), so this deployment's trigger is built afresh, and dropped after.
        cloud.upload_trigger.cache_clear()

        api_module = load_handler("functions/api/app.py")
        with pytest.MonkeyPatch.context() as api_env:  # what the API function reads from its environment
            for name, value in api_environment(template, resolve).items():
                api_env.setenv(name, value)
            resolver_app = create_app(cloud.aws_context(config, adapters))
        patch.setattr(api_module, "app", lambda: resolver_app)
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        patch.setenv("POWERTOOLS_METRICS_NAMESPACE", "mediaflow")
        yield AwsDeployment(settings=settings, adapters=adapters, handler=api_module.lambda_handler,
                            app=resolver_app, calls=calls, bus_queue=bus_queue, upload_queue=upload_queue,
                            faults=faults, redrives=redrives)
        cloud.upload_trigger.cache_clear()
