"""Each deployable in exactly its declared packages, against the template's resources on a moto server.

Every Lambda function of the template runs as a long-lived process (a warm Lambda container) of
``tests/packaging/lambda_runtime.py`` inside the virtual environment built from its deployable's
requirement file (the core layer for the zip functions, its image for a container function), with the
environment variables the template gives it and its code on the path as Lambda lays it out. AWS is a moto
server on 127.0.0.1 that the functions reach through ``AWS_ENDPOINT_URL``; nothing of the development
virtualenv is visible to them. The test process stands in for the services that call functions: API
Gateway (the authorizer, then the API with the authorizer's context), Step Functions (the compiled
machine the API deployed, on the project's ASL interpreter, each Task invoking its function's process)
and EventBridge (the execution's status change to the runs function; bus events to the webhooks function).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.functional.api.aws_backend import (
    Resolver,
    _create_buckets,
    _create_bus,
    _create_functions,
    _create_tables,
    _create_usage_plan,
    load_template,
    resources_of,
)
from tests.functional.aws.conftest import _start_versions_on_their_machine

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = Path(__file__).resolve().parent / "lambda_runtime.py"
REGION = "us-east-1"
TENANT = "tenant-p"
ALL_SCOPES = ["workflows:read", "workflows:write", "workflows:execute"]
# Paths the Dockerfiles set inside the images, and where the same things are on this machine.
IMAGE_PATHS = {"/opt/u2net": str(ROOT / ".tools" / "u2net"), "/usr/local/bin/ffmpeg": shutil.which("ffmpeg") or "",
               "/usr/local/bin/ffprobe": shutil.which("ffprobe") or ""}

pytestmark = pytest.mark.packaging


def load_deployables() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deployables", ROOT / "layers" / "deployables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("deployables", module)
    spec.loader.exec_module(module)
    return module


deployables = load_deployables()


class LambdaError(Exception):
    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(f"{reply['errorType']}: {reply['errorMessage']}")
        self.error_type: str = reply["errorType"]
        self.message: str = reply["errorMessage"]
        self.trace = "".join(reply.get("stackTrace") or [])


def dockerfile_env(dockerfile: Path, numba_cache: Path) -> dict[str, str]:
    """The ENV of an image's Dockerfile, with its in-image paths mapped onto this machine."""
    text = dockerfile.read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in line[4:].split():
                name, _, value = pair.partition("=")
                found[name] = IMAGE_PATHS.get(value, value)
    found.pop("MEDIAFLOW_NUMBA_CACHE_SEED", None)
    for name in ("NUMBA_CACHE_DIR", "MEDIAFLOW_NUMBA_CACHE_DIR"):
        if name in found:
            found[name] = str(numba_cache)
    return found


@dataclass
class Function:
    """One function of the template: its deployable, code and environment."""

    logical: str
    deployable: str
    code_dir: Path
    module: str
    attribute: str
    environment: dict[str, str]


class LambdaProcess:
    """A warm container: one process answering one invocation at a time."""

    def __init__(self, function: Function, python: Path, env: dict[str, str], log: Path) -> None:
        self.function = function
        self.log = log
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [str(python), "-s", str(RUNTIME), str(function.code_dir), function.module,
             function.attribute, function.logical],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("ab"), env=env, text=True, cwd="/")

    def invoke(self, event: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self.lock:
            self.process.stdin.write(json.dumps(event) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.function.logical} exited; its log:\n{self.log.read_text()[-4000:]}")
        reply = json.loads(line)
        if "errorType" in reply:
            raise LambdaError(reply)
        return reply["result"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# The executables on each deployable's PATH: the Lambda Python runtime has no media tools; the ffmpeg image
# copies ffmpeg and ffprobe in (layers/ffmpeg/Dockerfile).
TOOLS = {"ffmpeg": ("ffmpeg", "ffprobe")}


def tools_path(folder: Path, deployable: str) -> str:
    """A folder holding links to exactly the deployable's tools, used as its whole PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS.get(deployable, ()):
        found = shutil.which(tool)
        if found and not (folder / tool).exists():
            (folder / tool).symlink_to(found)
    return str(folder)


@dataclass
class Stack:
    """The template's resources on the moto server and its functions, each in its own environment."""

    endpoint: str
    template: dict[str, Any]
    resolve: Resolver
    log_dir: Path
    envs: dict[str, Path] = field(default_factory=dict)  # deployable -> venv
    function_envs: dict[str, Path] = field(default_factory=dict)  # logical id -> venv, replacing its deployable's
    processes: dict[str, LambdaProcess] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    # -- functions -------------------------------------------------------------------------------------

    def function(self, logical: str) -> Function:
        props = self.template["Resources"][logical]["Properties"]
        metadata = self.template["Resources"][logical].get("Metadata") or {}
        globals_env = self.template["Globals"]["Function"]["Environment"]["Variables"]
        own_env = (props.get("Environment") or {}).get("Variables") or {}
        environment = {name: str(self.resolve(value)) for name, value in {**globals_env, **own_env}.items()}
        if props.get("PackageType") == "Image":
            deployable = Path(metadata["Dockerfile"]).parent.name
            code_dir, module, attribute = ROOT / "functions" / "nodes", "handler", "lambda_handler"
            venv = self.env_of(deployable)
            environment.update(dockerfile_env(ROOT / metadata["Dockerfile"], venv / "numba-cache"))
        else:
            assert props.get("Layers") == [{"Ref": "CoreLayer"}], f"{logical} should use the core layer"
            deployable = "core"
            module, attribute = str(props["Handler"]).rsplit(".", 1)
            code_dir = ROOT / str(props["CodeUri"])
        environment.update(self.extra_env.get(logical, {}))
        return Function(logical, deployable, code_dir, module, attribute, environment)

    def env_of(self, deployable: str) -> Path:
        if deployable not in self.envs:
            self.envs[deployable] = deployables.deployable_env(deployable)
        return self.envs[deployable]

    def process(self, logical: str) -> LambdaProcess:
        if logical not in self.processes:
            function = self.function(logical)
            env = {
                "PATH": tools_path(self.log_dir / f"bin-{function.deployable}", function.deployable),
                "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
                "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
                # The layer's content (mediaflow/) is on the path as /opt/python is on Lambda.
                "PYTHONPATH": str(ROOT / "layers" / "core"), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                "AWS_LAMBDA_FUNCTION_NAME": self.resolve(self.template["Resources"][logical]["Properties"]
                                                         ["FunctionName"]),
                "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "mediaflow",
                **function.environment,
            }
            venv = self.function_envs.get(logical) or self.env_of(function.deployable)
            python = venv / "bin" / "python"
            self.processes[logical] = LambdaProcess(function, python, env, self.log_dir / f"{logical}.log")
        return self.processes[logical]

    def invoke(self, logical: str, event: Any) -> Any:
        return self.process(logical).invoke(event)

    def logical_of(self, function_arn_or_name: str) -> str:
        name = function_arn_or_name.split(":function:")[-1].split(":")[0]
        for logical, props in resources_of(self.template, "AWS::Serverless::Function").items():
            if self.resolve(props["FunctionName"]) == name:
                return logical
        raise KeyError(function_arn_or_name)

    def close(self) -> None:
        for process in self.processes.values():
            process.close()
        self.processes.clear()

    def create_key(self, tenant: str = TENANT) -> str:
        """A key in the stack's api-keys table and usage plan, written by the development environment's store."""
        from mediaflow.adapters.aws.dynamodb import DynamoDBKeyStore
        from mediaflow.adapters.aws.usage_plan import UsagePlanKeys, UsagePlanKeyStore

        store = UsagePlanKeyStore(DynamoDBKeyStore(self.resolve.physical["ApiKeysTable"], _resource(self.endpoint)),
                                  UsagePlanKeys(self.resolve.physical["ApiUsagePlan"], "packaging",
                                                client=self.boto("apigateway")))
        key: str = store.create_key(tenant, ALL_SCOPES, name="packaging")[0]
        return key

    def logs(self) -> str:
        """The tail of every function's log (for assertion messages)."""
        return "\n".join(f"--- {path.stem}\n{path.read_text()[-3000:]}" for path in sorted(self.log_dir.glob("*.log")))

    def log(self, logical: str) -> str:
        path = self.log_dir / f"{logical}.log"
        return path.read_text() if path.exists() else ""

    # -- API Gateway ----------------------------------------------------------------------------------

    def public_routes(self) -> set[tuple[str, str]]:
        """(method, path) of the API function's events that need no authorizer (and no usage plan key)."""
        events = self.template["Resources"]["ApiFunction"]["Properties"]["Events"]
        return {(str(e["Properties"]["Method"]).upper(), str(e["Properties"]["Path"])) for e in events.values()
                if (e["Properties"].get("Auth") or {}).get("Authorizer") == "NONE"}

    def gateway(self, method: str, path: str, headers: dict[str, str],
                data: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request as API Gateway handles it: the authorizer (401/403 on its refusal), the usage plan
        (403 for a key it does not hold, as ApiKeySourceType AUTHORIZER does), then the API function."""
        headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **headers}
        authorizer = None
        if (method, path) not in self.public_routes():
            method_arn = f"arn:aws:execute-api:{REGION}:123456789012:abc123/dev/{method}{path}"
            try:
                response = self.invoke("AuthorizerFunction", {"type": "REQUEST", "methodArn": method_arn,
                                                              "headers": headers, "httpMethod": method, "path": path})
            except LambdaError as error:
                if error.message == "Unauthorized":
                    return 401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
                raise
            if not self.in_usage_plan(response.get("usageIdentifierKey")):
                return 403, {"content-type": "application/json"}, b'{"message":"Forbidden"}'
            authorizer = {**response["context"], "principalId": response["principalId"]}
        text = headers.get("Content-Type", headers.get("content-type", "")).startswith(("application/json", "text/"))
        event = {
            "resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": {"proxy": path.lstrip("/")},
            "requestContext": {"stage": "dev", "domainName": headers["Host"], "requestId": uuid.uuid4().hex,
                               "httpMethod": method, "path": path, "authorizer": authorizer},
            "body": (data.decode() if text else base64.b64encode(data).decode()) if data else None,
            "isBase64Encoded": bool(data) and not text,
        }
        reply = self.invoke("ApiFunction", event)
        body = reply.get("body") or ""
        content = base64.b64decode(body) if reply.get("isBase64Encoded") else body.encode()
        out = {k.lower(): ", ".join(v) for k, v in (reply.get("multiValueHeaders") or {}).items()}
        out.update({k.lower(): v for k, v in (reply.get("headers") or {}).items()})
        return int(reply["statusCode"]), out, content

    def in_usage_plan(self, identifier: str | None) -> bool:
        """Whether the stack's usage plan holds an enabled API Gateway key of this value."""
        if not identifier:
            return False
        apigateway = self.boto("apigateway")
        plan = self.resolve.physical["ApiUsagePlan"]
        for item in apigateway.get_usage_plan_keys(usagePlanId=plan, limit=500).get("items", []):
            if item.get("value") == identifier:
                try:
                    return bool(apigateway.get_api_key(apiKey=item["id"]).get("enabled"))
                except apigateway.exceptions.NotFoundException:
                    return False  # deleted: AWS drops it from the plan too, moto keeps listing it
        return False

    def api(self, method: str, path: str, body: Any = None, *, key: str | None = None) -> tuple[int, Any]:
        """A JSON request through API Gateway (authorizer, usage plan, API function); the parsed answer."""
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        status, _, content = self.gateway(method, path, headers, json.dumps(body).encode() if body is not None
                                          else b"")
        try:
            return status, json.loads(content) if content else None
        except ValueError:
            return status, content.decode()

    # -- Step Functions and EventBridge ---------------------------------------------------------------

    def boto(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    def run_record(self, run_id: str, tenant: str = TENANT) -> dict[str, Any]:
        from mediaflow.adapters.aws.dynamodb import DynamoDBRunStore

        store = DynamoDBRunStore(self.resolve.physical["RunsTable"], _resource(self.endpoint))
        record: dict[str, Any] = store.get_run(tenant, run_id)
        return record

    def execute(self, run_id: str, tenant: str = TENANT) -> Any:
        """Run the execution the API started, as Step Functions would, then tell the runs function."""
        from mediaflow.execution.asl import AslInterpreter

        record = self.run_record(run_id, tenant)
        execution_input = json.loads(record["input"]) if isinstance(record["input"], str) else record["input"]
        execution_input = json.loads(json.dumps(execution_input, default=_number))
        machine_arn = record["stateMachineArn"]
        described = self.boto("stepfunctions").describe_state_machine(stateMachineArn=machine_arn)
        definition = json.loads(described["definition"])

        def invoker(resource: str, payload: dict[str, Any]) -> Any:
            try:
                return self.invoke(self.logical_of(resource), payload)
            except LambdaError as error:
                raise _TaskFailure(error.error_type, error.message) from None

        result = AslInterpreter(definition, invoker).execute(execution_input, name=run_id)
        detail = {"executionArn": record.get("executionArn"), "stateMachineArn": machine_arn, "name": run_id,
                  "status": result.status, "input": json.dumps(execution_input),
                  "output": json.dumps(result.output) if result.output is not None else None,
                  "error": result.error, "cause": result.cause}
        self.invoke("RunsFunction", {"version": "0", "id": uuid.uuid4().hex, "source": "aws.states",
                                     "detail-type": "Step Functions Execution Status Change",
                                     "account": "123456789012", "region": REGION, "resources": [],
                                     "detail": detail})
        return result


class _TaskFailure(Exception):
    """A Task's error as Lambda reports it: the ASL error is the errorType."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.code = error_type


def _resource(endpoint: str) -> Any:
    import boto3

    return boto3.resource("dynamodb", region_name=REGION, endpoint_url=endpoint)


def _number(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer
    from moto.stepfunctions.models import StepFunctionBackend

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Lambda Invoke (the API's asynchronous start of the Express runner) answers without Docker.
    default_user_config.setdefault("lambda", {})["use_docker"] = False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with pytest.MonkeyPatch.context() as patch:
        # moto 5.2 cannot start an execution on a version ARN (docs/moto-stepfunctions.md): the version's
        # machine is started instead; Stack.execute runs the version's own definition.
        _start_versions_on_their_machine(patch, StepFunctionBackend)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@contextmanager
def build_stack(endpoint: str, log_dir: Path, patch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The template's tables, buckets, bus, queues and functions under a name prefix of their own."""
    import boto3

    patch.setenv("AWS_ENDPOINT_URL", endpoint)
    template = load_template()
    template["Parameters"]["NamePrefix"]["Default"] = f"pk{uuid.uuid4().hex[:8]}"
    resolve = Resolver(template)
    _create_tables(boto3, template, resolve)
    _create_buckets(boto3, template, resolve)
    _create_bus(boto3, template, resolve)
    sqs = boto3.client("sqs", region_name=REGION)
    for logical, props in resources_of(template, "AWS::SQS::Queue").items():
        url = sqs.create_queue(QueueName=resolve(props["QueueName"]))["QueueUrl"]
        resolve.physical[logical] = url
        resolve.arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
    _create_functions(boto3, template, resolve)
    _create_usage_plan(boto3, template, resolve)
    built = Stack(endpoint, template, resolve, log_dir)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def stack(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    with build_stack(moto_endpoint, log_dir, monkeypatch) as built:
        yield built


@pytest.fixture
def api_key(stack: Stack) -> str:
    return stack.create_key()
