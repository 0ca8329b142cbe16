"""The composition root of the AWS deployment: every port wired to its AWS adapter, built once per Lambda
container from the MEDIAFLOW_* settings (``mediaflow.embedded.bootstrap`` is its twin on one machine).

The functions in functions/ take what they need from here: the adapters, the API context, the task
environment, the launcher, the upload trigger and the webhook dispatcher."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mediaflow.adapters.aws import AwsAdapters, open_aws
from mediaflow.cloud.cached import CachedWorkflowReads
from mediaflow.cloud.launcher import StepFunctionsLauncher
from mediaflow.cloud.nodes import SCRATCH_ROOT
from mediaflow.cloud.trigger import UploadTrigger
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.settings import Settings, get_settings

if TYPE_CHECKING:
    from mediaflow.adapters.aws.sqs import SqsTriggerQueue
    from mediaflow.api.config import ApiConfig
    from mediaflow.api.context import ApiContext
    from mediaflow.webhooks.dispatch import Dispatcher


@cache
def adapters() -> AwsAdapters:
    return open_aws(get_settings())


def launcher(a: AwsAdapters | None = None) -> StepFunctionsLauncher:
    a = a or adapters()
    return StepFunctionsLauncher(a.orchestrator, a.workflows, a.runs)


@cache
def upload_trigger() -> UploadTrigger:
    """One per container, so its cached reads (CachedWorkflowReads) live as long as the container."""
    a = adapters()
    reads = CachedWorkflowReads(a.workflows, a.settings.trigger_cache_seconds)
    return UploadTrigger(a.blobs, reads, StepFunctionsLauncher(a.orchestrator, reads, a.runs))


def task_environment(a: AwsAdapters | None = None, workdir: Path = SCRATCH_ROOT) -> TaskEnvironment:
    a = a or adapters()
    from mediaflow.adapters.aws.rekognition import RekognitionVision

    return TaskEnvironment(blobs=a.blobs, workdir=workdir, runs=a.runs, bus=a.bus, settings=a.settings,
                           vision=RekognitionVision(region=a.settings.region))


@cache
def webhook_dispatcher() -> Dispatcher:
    """The dispatcher of the two webhook functions (one per container)."""
    from mediaflow.cloud.webhooks import aws_dispatcher

    return aws_dispatcher(adapters().blobs)


def aws_config(config: ApiConfig, settings: Settings) -> ApiConfig:
    """On AWS the usage plan limits each key (no per-container bucket) and the stack names the CORS origins."""
    origins = tuple(o.strip() for o in str(settings.cors_allow_origins or "").split(",") if o.strip())
    return dataclasses.replace(config, rate_limited=False, cors_allow_origins=origins or config.cors_allow_origins)


def aws_context(config: ApiConfig | None = None, a: AwsAdapters | None = None) -> ApiContext:
    """The API over the AWS adapters: DynamoDB stores, S3 (presigned uploads), Step Functions, SQS, webhooks."""
    from mediaflow.api.config import ApiConfig
    from mediaflow.api.context import ApiContext
    from mediaflow.cloud.webhooks import aws_dispatcher
    from mediaflow.cloud.workflows import sync_workflow

    a = a or adapters()
    run_launcher = launcher(a)

    def saved(tenant: str, record: dict[str, object]) -> None:
        if record.get("valid", True):  # drafts that do not validate get a state machine once they do
            sync_workflow(tenant, record, launcher=run_launcher)

    def deleted(tenant: str, workflow_id: str) -> None:
        a.orchestrator.delete(tenant, workflow_id)

    webhook_settings = Settings()  # pings and replays are queued; the retry schedule sends them
    webhooks = aws_dispatcher(a.blobs, webhook_settings) if webhook_settings.webhooks_table else None
    return ApiContext(workflows=a.workflows, runs=a.runs, keys=a.keys, jobs=a.jobs, idempotency=a.idempotency,
                      blobs=a.blobs, launcher=run_launcher, config=aws_config(config or ApiConfig(), a.settings),
                      signer=None, mode="aws", scratch_dir=Path("/tmp/mediaflow-api"), on_workflow_saved=saved,
                      on_workflow_deleted=deleted, webhooks=webhooks, queue=trigger_queue(a.settings))


def trigger_queue(settings: Settings) -> SqsTriggerQueue | None:
    from mediaflow.adapters.aws.sqs import SqsTriggerQueue

    return SqsTriggerQueue(settings.trigger_queue_url, settings.region) if settings.trigger_queue_url else None


def reset() -> None:
    """Forget the cached adapters (tests change the settings between cases)."""
    adapters.cache_clear()
    upload_trigger.cache_clear()
    webhook_dispatcher.cache_clear()
    get_settings.cache_clear()
