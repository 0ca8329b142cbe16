"""The scale model: the real trigger, node and run-finishing handlers on moto, driven by synthetic uploads.

Two passes, both inside one moto deployment built from template.yaml (tables with their indexes,
buckets, the bus, one function per toolchain answered in-process):

- **full path** (a few dozen uploads): S3 object -> trigger handler -> Step Functions (moto's ASL
  interpreter) -> the vips node handler (real libvips on a small JPEG) -> the Express runner that finishes
  the run. Every AWS call made by mediaflow code is counted by service and operation, and every Lambda
  invocation by function: the per-upload cost of the whole path.
- **volume** (10,000 uploads of one tenant by default): the trigger handler for real, with the Express
  runner's invocation recorded instead of run (no media work), then the real run-finishing code
  (``finish_run``) for each started run. Every DynamoDB write of both passes is captured with the keys
  of the table and of each global secondary index it lands in, which gives the share of writes on the
  hottest partition key of every table and index, and the trigger's own CPU per event (thread CPU of
  the handler minus the CPU spent inside botocore calls, which moto serves in the same process).

Used by ``bench/run.py --only scale``; run alone with ``python bench/scale.py --uploads 2000``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import threading
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

REGION = "us-east-1"
PREFIX = "mediaflow-scale"
TENANT = "acme"
TABLES = {"WorkflowsTable": "workflows", "RunsTable": "runs", "JobsTable": "jobs", "ApiKeysTable": "keys",
          "WebhooksTable": "webhooks", "IdempotencyTable": "idempotency"}
ONE_NODE_WORKFLOW = {
    "name": "web jpeg",
    "nodes": [{"id": "upload", "kind": "upload"},
              {"id": "resize", "kind": "resize", "config": {"width": 32, "fit": "inside"}}],
    "edges": [{"source": "upload", "target": "resize"}],
    "trigger": {"onUpload": True, "filters": {"mediaTypes": ["image"]}},
}


# -- counting what mediaflow asks of AWS ----------------------------------------------------------------


@dataclass
class Ledger:
    """AWS calls made by mediaflow code, Lambda invocations, and DynamoDB writes with their keys."""

    calls: Counter[str] = field(default_factory=Counter)
    invocations: Counter[str] = field(default_factory=Counter)
    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    by_function: Counter[str] = field(default_factory=Counter)
    boto_cpu: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def inside_mediaflow(self, function: str) -> Iterator[None]:
        """Count the AWS calls made on this thread while the block runs (mediaflow's ``function``)."""
        depth, outer = getattr(self._local, "depth", 0), getattr(self._local, "function", "")
        self._local.depth, self._local.function = depth + 1, function
        try:
            yield
        finally:
            self._local.depth, self._local.function = depth, outer

    @contextmanager
    def outside_mediaflow(self) -> Iterator[None]:
        """Stop counting on this thread while the block runs (a test bridge standing in for one AWS call)."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = 0
        try:
            yield
        finally:
            self._local.depth = depth

    def counting(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    def before_parameter_build(self, model: Any, params: dict[str, Any], context: dict[str, Any] | None = None,
                               **_: Any) -> None:
        if not self.counting() or (context or {}).get("is_presign_request"):
            return  # a presigned URL is signed locally: no request
        service = model.service_model.service_name
        with self._lock:
            self.calls[f"{service}:{model.name}"] += 1
            self.by_function[f"{self._local.function} {service}:{model.name}"] += 1
            if service == "dynamodb":
                self._capture_writes(model.name, params)
        self._local.started = time.thread_time()

    def after_call(self, **_: Any) -> None:
        started = getattr(self._local, "started", None)
        if started is not None and self.counting():
            self.boto_cpu[threading.get_ident()] += time.thread_time() - started
            self._local.started = None

    def _capture_writes(self, operation: str, params: dict[str, Any]) -> None:
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self.writes.append((str(params["TableName"]), _key_values(params)))
        elif operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                if kind != "ConditionCheck":
                    self.writes.append((str(body["TableName"]), _key_values(body)))
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    body = request.get("PutRequest") or request.get("DeleteRequest") or {}
                    self.writes.append((str(table), _key_values(body)))

    def reset(self) -> None:
        self.calls.clear()
        self.invocations.clear()
        self.writes.clear()
        self.boto_cpu.clear()
        self.errors.clear()
        self.by_function.clear()


def _plain(value: Any) -> Any:
    """A low-level DynamoDB attribute value ({"S": "x"}) as its plain value; plain values pass through."""
    if isinstance(value, dict) and len(value) == 1:
        (kind, inner), = value.items()
        if kind in ("S", "N", "B"):
            return inner
    return value


def _item_bytes(body: dict[str, Any]) -> int:
    """DynamoDB's size of the item written (attribute names plus values), or of an update's values."""
    attributes = body.get("Item") or body.get("ExpressionAttributeValues") or {}
    return sum(len(str(name)) + len(str(_plain(value))) for name, value in attributes.items())


def _key_values(body: dict[str, Any]) -> dict[str, Any]:
    """Every attribute of an item or key that could be a table or index key, plain (with ``_bytes``)."""
    values: dict[str, Any] = {"_bytes": _item_bytes(body)}
    for part in ("Key", "Item"):
        for name, value in (body.get(part) or {}).items():
            values[name] = _plain(value)
    for name, value in (body.get("ExpressionAttributeValues") or {}).items():
        values.setdefault(f"expr{name}", _plain(value))
    return values


# -- the deployment ----------------------------------------------------------------------------------


def load_template() -> dict[str, Any]:
    """template.yaml, as the AWS tests load it (CloudFormation short-form tags kept as plain values)."""
    from tests.functional.aws.conftest import load_template as load

    return load()


def table_keys() -> dict[str, dict[str, list[str]]]:
    """{table logical name: {"table" | index name: [hash key, range key?]}} from template.yaml."""
    resources = load_template()["Resources"]
    keys: dict[str, dict[str, list[str]]] = {}
    for logical in TABLES:
        props = resources[logical]["Properties"]
        found = {"table": [k["AttributeName"] for k in props["KeySchema"]]}
        for index in props.get("GlobalSecondaryIndexes") or []:
            found[index["IndexName"]] = [k["AttributeName"] for k in index["KeySchema"]]
        keys[logical] = found
    return keys


def _load_handler(relative: str) -> ModuleType:
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location("scale_" + relative.replace("/", "_").removesuffix(".py"), path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class _Context:
    function_name: str
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:mediaflow"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


@dataclass
class Stack:
    ledger: Ledger
    env: dict[str, str]
    handlers: dict[str, ModuleType]
    answer: dict[str, Callable[[dict[str, Any]], Any]]


@contextmanager
def deployed(ledger: Ledger, *, execute: bool) -> Iterator[Stack]:
    """A moto deployment of template.yaml's tables, buckets and bus, with functions answered in-process."""
    import boto3
    from moto import mock_aws

    from tests.support.moto_sfn import routed_lambdas

    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                       "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "mediaflow",
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
    config = {"stepfunctions": {"execute_state_machine": execute}, "lambda": {"use_docker": False}}
    handlers = {"trigger": _load_handler("functions/trigger/handler.py"),
                "nodes": _load_handler("functions/nodes/handler.py"),
                "express": _load_handler("functions/runs/express.py")}
    answer: dict[str, Callable[[dict[str, Any]], Any]] = {}

    def route(function: str, payload: dict[str, Any]) -> Any:
        ledger.invocations[function] += 1
        with ledger.inside_mediaflow(function):
            try:
                return answer[function](payload)
            except Exception as error:
                ledger.errors[f"{function}: {type(error).__name__}: {error}"] += 1
                raise

    with mock_aws(config=config), routed_lambdas(route, []):  # type: ignore[arg-type]
        boto3.setup_default_session(region_name=REGION)
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-parameter-build", ledger.before_parameter_build)
        session.events.register("after-call", ledger.after_call)
        env = {"MEDIAFLOW_MODE": "aws", "MEDIAFLOW_NAME_PREFIX": PREFIX, "MEDIAFLOW_REGION": REGION,
               "MEDIAFLOW_UPLOADS_BUCKET": f"{PREFIX}-uploads", "MEDIAFLOW_OUTPUTS_BUCKET": f"{PREFIX}-outputs",
               "MEDIAFLOW_EVENT_BUS_NAME": PREFIX}
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (env["MEDIAFLOW_UPLOADS_BUCKET"], env["MEDIAFLOW_OUTPUTS_BUCKET"]):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=env["MEDIAFLOW_UPLOADS_BUCKET"],
                                 VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        resources = load_template()["Resources"]
        for logical, short in TABLES.items():
            props = resources[logical]["Properties"]
            args: dict[str, Any] = {"TableName": f"{PREFIX}-{short}", "KeySchema": props["KeySchema"],
                                    "AttributeDefinitions": props["AttributeDefinitions"],
                                    "BillingMode": props["BillingMode"]}
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            dynamodb.create_table(**args)
            env[f"MEDIAFLOW_{logical.removesuffix('Table').upper().replace('APIKEYS', 'KEYS')}_TABLE"] = args[
                "TableName"]
        boto3.client("events", region_name=REGION).create_event_bus(Name=PREFIX)
        iam = boto3.client("iam", region_name=REGION)
        role_arn = iam.create_role(RoleName=f"{PREFIX}-sfn", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "states.amazonaws.com"}}]}))["Role"]["Arn"]
        env["MEDIAFLOW_STATE_MACHINE_ROLE_ARN"] = role_arn
        lambdas = boto3.client("lambda", region_name=REGION)
        for runtime in ("vips", "ffmpeg", "rembg", "light", "express-runner"):
            arn = lambdas.create_function(FunctionName=f"mediaflow-{runtime}", Runtime="python3.12", Role=role_arn,
                                          Handler="handler.lambda_handler", Code={"ZipFile": _zip()})["FunctionArn"]
            if runtime == "express-runner":
                env["MEDIAFLOW_EXPRESS_RUNNER_FUNCTION"] = f"mediaflow-{runtime}"
            else:
                env[f"MEDIAFLOW_{runtime.upper()}_FUNCTION_ARN"] = arn
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        from mediaflow.cloud import bootstrap

        bootstrap.reset()
        try:
            yield Stack(ledger, env, handlers, answer)
        finally:
            bootstrap.reset()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _sync_on_moto(ledger: Ledger) -> Callable[..., dict[str, Any]]:
    """StartSyncExecution is not in moto: StartExecution, then poll to the end, counted as the one
    StartSyncExecution call it stands for."""

    def run_sync(self: Any, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
        ledger.calls["stepfunctions:StartSyncExecution"] += 1
        with ledger.outside_mediaflow():
            return _poll_to_end(self, state_machine_arn, name, execution_input)

    return run_sync


def _poll_to_end(orchestrator: Any, state_machine_arn: str, name: str,
                 execution_input: dict[str, Any]) -> dict[str, Any]:
    arn = orchestrator.sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                           input=json.dumps(execution_input))["executionArn"]
    deadline = time.monotonic() + 60
    described = orchestrator.sfn.describe_execution(executionArn=arn)
    while described["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.01)
        described = orchestrator.sfn.describe_execution(executionArn=arn)
    return {key: described.get(key) for key in ("executionArn", "status", "output", "error", "cause")}


@contextmanager
def _versions_run_as_their_machine() -> Iterator[None]:
    """moto 5.2 publishes state-machine versions but cannot start them (docs/moto-stepfunctions.md): a
    version ARN is started as its machine, whose definition is the latest version here."""
    from unittest import mock

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        parts = state_machine_arn.split(":")
        if len(parts) == 8 and parts[-1].isdigit():
            state_machine_arn = ":".join(parts[:7])
        return original(self, state_machine_arn, *args, **kwargs)

    with mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution):
        yield


def _save_workflow(stack: Stack) -> dict[str, Any]:
    from mediaflow.cloud import bootstrap
    from mediaflow.cloud.workflows import save_workflow

    a = bootstrap.adapters()
    return save_workflow(TENANT, ONE_NODE_WORKFLOW, workflows=a.workflows, launcher=bootstrap.launcher(a),
                         status="active")


def _jpeg() -> bytes:
    import pyvips

    image = (pyvips.Image.black(64, 48, bands=3) + [200, 90, 40]).cast("uchar")  # noqa: RUF005
    data: bytes = image.jpegsave_buffer(Q=85)
    return data


def _upload_event(bucket: str, key: str, version: str, *, size: int, index: int) -> dict[str, Any]:
    return {"version": "0", "id": f"evt-{index}", "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "time": "2026-12-02T00:00:00Z", "region": REGION,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket},
                       "object": {"key": key, "size": size, "etag": f"etag{index}", "version-id": version,
                                  "sequencer": f"{index:016X}"},
                       "request-id": f"req-{index}", "requester": "123456789012", "reason": "PutObject"}}


def _put_uploads(stack: Stack, count: int, distinct: int | None = None) -> list[dict[str, Any]]:
    """Store uploads (not counted: the user's PUTs) and return ``count`` Object Created events.

    With ``distinct`` set, only that many objects are stored and the events cycle over them, each with its
    own sequencer (as when the same key is written again): the trigger does the same work per event and
    starts one run per event, without moto holding 10,000 objects.
    """
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    body = _jpeg()
    bucket = stack.env["MEDIAFLOW_UPLOADS_BUCKET"]
    stored = []
    for index in range(min(count, distinct or count)):
        key = f"{TENANT}/uploads/camera/{index:06d}.jpg"
        put = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="image/jpeg")
        stored.append((key, put.get("VersionId") or ""))
    return [_upload_event(bucket, *stored[index % len(stored)], size=len(body), index=index)
            for index in range(count)]


def _wait_runs_ended(count: int, timeout_s: float) -> int:
    """Runs of the tenant that reached a terminal status within the time (polled, not counted)."""
    from mediaflow.cloud import bootstrap

    runs = bootstrap.adapters().runs
    deadline = time.monotonic() + timeout_s
    ended = 0
    while time.monotonic() < deadline:
        listed = runs.list_runs(TENANT, limit=max(count, 50))
        ended = sum(1 for run in listed if run["status"] in ("completed", "failed", "cancelled"))
        if ended >= count:
            break
        time.sleep(0.1)
    return ended


# -- the two passes ------------------------------------------------------------------------------------


def full_path(uploads: int) -> dict[str, Any]:
    """Per-upload AWS calls and Lambda invocations of the whole path, media work included."""
    from unittest import mock

    from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator

    ledger = Ledger()
    with deployed(ledger, execute=True) as stack, _versions_run_as_their_machine(), \
            mock.patch.object(StepFunctionsOrchestrator, "run_sync", _sync_on_moto(ledger)):
        nodes, express = stack.handlers["nodes"], stack.handlers["express"]
        for runtime in ("vips", "ffmpeg", "rembg", "light"):
            stack.answer[runtime] = lambda p, r=runtime: nodes.lambda_handler(p, _Context(f"mediaflow-{r}"))
        stack.answer["express-runner"] = lambda p: express.lambda_handler(p, _Context("mediaflow-express-runner"))
        _save_workflow(stack)
        events = _put_uploads(stack, uploads)
        ledger.reset()
        trigger = stack.handlers["trigger"]
        started = time.perf_counter()
        for event in events:
            ledger.invocations["trigger"] += 1
            with ledger.inside_mediaflow("trigger"):
                trigger.lambda_handler(event, _Context("mediaflow-trigger"))
        ended = _wait_runs_ended(uploads, timeout_s=120)
        wall = time.perf_counter() - started
    return {"uploads": uploads, "runs_ended": ended, "wall_s": round(wall, 2),
            "calls": dict(sorted(ledger.calls.items())), "invocations": dict(ledger.invocations),
            "writes": ledger.writes, "errors": dict(ledger.errors),
            "by_function": {name: round(count / uploads, 3) for name, count in sorted(ledger.by_function.items())}}


def volume(uploads: int) -> dict[str, Any]:
    """The trigger for real at volume (no media work), then each run finished by the real finishing code."""
    from mediaflow.cloud import bootstrap
    from mediaflow.cloud.runs import finish_run

    ledger = Ledger()
    with deployed(ledger, execute=False) as stack:
        stack.answer["express-runner"] = lambda payload: None  # recorded by the ledger, not run
        _save_workflow(stack)
        events = _put_uploads(stack, uploads, distinct=100)
        ledger.reset()
        trigger = stack.handlers["trigger"]
        cpu: list[float] = []
        ident = threading.get_ident()
        for event in events:
            boto_before = ledger.boto_cpu[ident]
            began = time.thread_time()
            ledger.invocations["trigger"] += 1
            with ledger.inside_mediaflow("trigger"):
                result = trigger.lambda_handler(event, _Context("mediaflow-trigger"))
            cpu.append((time.thread_time() - began) - (ledger.boto_cpu[ident] - boto_before))
            for run in result["runs"]:
                execution = {"status": "SUCCEEDED", "executionArn": run.get("executionArn"),
                             "input": _run_input(run["runId"]), "output": {"media": {}}}
                a = bootstrap.adapters()
                with ledger.inside_mediaflow("runs"):
                    finish_run(execution, runs=a.runs, bus=a.bus, blobs=a.blobs)
    cpu.sort()
    return {"uploads": uploads, "trigger_cpu_ms": {"median": round(1000 * cpu[len(cpu) // 2], 3),
                                                   "p95": round(1000 * cpu[int(len(cpu) * 0.95)], 3)},
            "calls": dict(sorted(ledger.calls.items())), "invocations": dict(ledger.invocations),
            "writes": ledger.writes}


def _run_input(run_id: str) -> dict[str, Any]:
    from mediaflow.cloud import bootstrap

    run = bootstrap.adapters().runs.get_run(TENANT, run_id)
    found: dict[str, Any] = run.get("input") or {"run": {"tenant": TENANT, "runId": run_id}}
    return found


# -- key distribution ----------------------------------------------------------------------------------


def hot_keys(writes: list[tuple[str, dict[str, Any]]], prefix: str = PREFIX) -> dict[str, Any]:
    """For every table and index written: writes, distinct partition keys and the hottest key's share.

    A write lands in an index when the item carries the index's hash key attribute (sparse indexes).
    Updates that do not name index attributes are attributed to the index entry of the item they
    change, found from earlier writes of the same primary key.
    """
    keys = table_keys()
    by_name = {f"{prefix}-{short}": logical for logical, short in TABLES.items()}
    known: dict[tuple[str, Any, Any], dict[str, Any]] = {}
    counters: dict[str, Counter[Any]] = defaultdict(Counter)
    units: Counter[str] = Counter()
    for table, values in writes:
        logical = by_name.get(table)
        if logical is None:
            continue
        schema = keys[logical]
        primary = tuple(values.get(name) for name in schema["table"])
        remembered = known.setdefault((table, *primary[:2]), {})
        remembered.update({k: v for k, v in values.items() if not k.startswith("expr")})
        counters[f"{logical}"][primary[0]] += 1
        write_units = 1 + int(values.get("_bytes", 0)) // 1024  # one write unit per started KB
        units[logical] += write_units
        for index, attributes in schema.items():
            if index == "table":
                continue
            hash_value = remembered.get(attributes[0])
            if hash_value is not None:
                counters[f"{logical}.{index}"][hash_value] += 1
                units[f"{logical}.{index}"] += write_units
    report: dict[str, Any] = {}
    for name, counter in sorted(counters.items()):
        total = sum(counter.values())
        key, hottest = counter.most_common(1)[0]
        report[name] = {"writes": total, "partition_keys": len(counter), "hottest_share": round(hottest / total, 4),
                        "hottest_key": str(key), "write_units": units[name]}
    return report


def calls_by_service(calls: dict[str, int], uploads: int) -> dict[str, float]:
    services: Counter[str] = Counter()
    for name, count in calls.items():
        services[name.split(":", 1)[0]] += count
    return {service: round(count / uploads, 3) for service, count in sorted(services.items())}


def measure(full_uploads: int = 20, volume_uploads: int = 10_000) -> dict[str, Any]:
    from contextlib import redirect_stdout

    with redirect_stdout(io.StringIO()):  # the handlers' metrics (EMF lines) go to stdout, as in Lambda
        full = full_path(full_uploads)
        bulk = volume(volume_uploads)
    distribution = hot_keys(bulk["writes"])
    per_op = {name: round(count / full_uploads, 3) for name, count in full["calls"].items()}
    return {
        "full_path": {"uploads": full_uploads, "runs_ended": full["runs_ended"], "wall_s": full["wall_s"],
                      "calls_per_upload": per_op,
                      "calls_per_upload_by_service": calls_by_service(full["calls"], full_uploads),
                      "aws_calls_per_upload": round(sum(full["calls"].values()) / full_uploads, 3),
                      "calls_per_upload_by_function": full["by_function"],
                      "dynamodb_writes_per_upload": {
                          name: {"writes": round(entry["writes"] / full_uploads, 3),
                                 "write_units": round(entry["write_units"] / full_uploads, 3)}
                          for name, entry in hot_keys(full["writes"]).items()},
                      "lambda_invocations_per_upload": {k: round(v / full_uploads, 3)
                                                        for k, v in sorted(full["invocations"].items())}},
        "volume": {"uploads": volume_uploads, "trigger_cpu_ms_per_event": bulk["trigger_cpu_ms"],
                   "calls_per_upload_by_service": calls_by_service(bulk["calls"], volume_uploads),
                   "key_distribution": distribution,
                   "hot_key_share": max(entry["hottest_share"] for entry in distribution.values()
                                        if entry["writes"] >= volume_uploads // 10)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--uploads", type=int, default=10_000, help="uploads of one tenant in the volume pass")
    parser.add_argument("--full", type=int, default=20, help="uploads taken through the whole path")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.full, args.uploads), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
