"""AWS adapters: S3, DynamoDB, Step Functions and EventBridge behind the core's ports.

boto3 is imported lazily (on the first call), so importing this package costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediaflow.adapters.aws.clients import LazyClient, translate, translated
from mediaflow.adapters.aws.dynamodb import (
    DynamoDBIdempotency,
    DynamoDBJobStore,
    DynamoDBKeyStore,
    DynamoDBRunStore,
    DynamoDBWorkflowStore,
)
from mediaflow.adapters.aws.eventbridge import EventBridgeBus
from mediaflow.adapters.aws.s3 import S3BlobStore
from mediaflow.adapters.aws.stepfunctions import StepFunctionsOrchestrator
from mediaflow.adapters.aws.usage_plan import UsagePlanKeys, UsagePlanKeyStore
from mediaflow.settings import Settings, get_settings


@dataclass
class AwsAdapters:
    """Every AWS adapter for one deployment (tables, buckets, bus and functions from the settings)."""

    settings: Settings
    blobs: S3BlobStore
    workflows: DynamoDBWorkflowStore
    runs: DynamoDBRunStore
    keys: DynamoDBKeyStore | UsagePlanKeyStore
    idempotency: DynamoDBIdempotency
    jobs: DynamoDBJobStore
    bus: EventBridgeBus
    _orchestrator: StepFunctionsOrchestrator | None = None

    @property
    def orchestrator(self) -> StepFunctionsOrchestrator:
        """Built on first use: only the functions that deploy or start workflows need the function ARNs."""
        if self._orchestrator is None:
            s = self.settings
            self._orchestrator = StepFunctionsOrchestrator(
                role_arn=s.state_machine_role_arn, name_prefix=s.name_prefix, region=s.region,
                log_group_arn=s.state_machine_log_group_arn, express_runner=s.express_runner_function,
                versions_kept=s.state_machine_versions_kept,
                version_grace_seconds=s.state_machine_version_grace_seconds,
                function_arns={**function_arn_values(s), **long_route_values(s)})
        return self._orchestrator


def function_arn_values(s: Settings) -> dict[str, str]:
    """The Lambda ARN of each runtime under its placeholder (``catalog.RUNTIMES[...].resource``); the setting
    of runtime ``vips`` is ``vips_function_arn``."""
    from mediaflow.catalog import RUNTIMES

    return {profile.placeholder: str(getattr(s, f"{runtime}_function_arn")) for runtime, profile in RUNTIMES.items()}


def long_route_values(s: Settings) -> dict[str, str]:
    """The placeholders of the ffmpeg long route (compiler.asl.LONG_ROUTE_PLACEHOLDERS)."""
    return {"FfmpegClusterArn": s.ffmpeg_cluster_arn, "FfmpegTaskDefinitionArn": s.ffmpeg_task_definition_arn,
            "FargateSubnets": s.fargate_subnets, "FargateSecurityGroups": s.fargate_security_groups}


def _keys(s: Settings, ddb: Any) -> DynamoDBKeyStore | UsagePlanKeyStore:
    """The key store; on a stack with a usage plan, new keys join it (per-key limits in API Gateway)."""
    store = DynamoDBKeyStore(s.keys_table, ddb)
    if not s.usage_plan_id:
        return store
    return UsagePlanKeyStore(store, UsagePlanKeys(s.usage_plan_id, s.name_prefix, region=s.region))


def open_aws(settings: Settings | None = None, *, dynamodb: Any = None, s3: Any = None,
             events: Any = None) -> AwsAdapters:
    """The adapters for the deployment described by ``settings`` (MEDIAFLOW_* environment variables)."""
    s = settings or get_settings()
    from mediaflow.adapters.aws.clients import client_of

    ddb = client_of(dynamodb, "dynamodb", s.region, resource=True)
    return AwsAdapters(
        settings=s,
        blobs=S3BlobStore(s.outputs_bucket, uploads_bucket=s.uploads_bucket, client=s3, region=s.region,
                          presign_seconds=s.presign_seconds),
        workflows=DynamoDBWorkflowStore(s.workflows_table, ddb), runs=DynamoDBRunStore(s.runs_table, ddb),
        keys=_keys(s, ddb), idempotency=DynamoDBIdempotency(s.idempotency_table, ddb),
        jobs=DynamoDBJobStore(s.jobs_table, ddb),
        bus=EventBridgeBus(s.event_bus_name, client=events, region=s.region),
    )


__all__ = [
    "AwsAdapters", "DynamoDBIdempotency", "DynamoDBJobStore", "DynamoDBKeyStore", "DynamoDBRunStore",
    "DynamoDBWorkflowStore",
    "EventBridgeBus", "LazyClient", "S3BlobStore", "StepFunctionsOrchestrator", "open_aws", "translate",
    "translated",
]
