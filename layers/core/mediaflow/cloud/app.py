"""The adapters of one deployment, built once per Lambda container from the MEDIAFLOW_* settings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from mediaflow.adapters.aws import AwsAdapters, open_aws
from mediaflow.cloud.cached import CachedWorkflowReads
from mediaflow.cloud.launcher import StepFunctionsLauncher
from mediaflow.cloud.nodes import SCRATCH_ROOT
from mediaflow.cloud.trigger import UploadTrigger
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.settings import get_settings


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


def reset() -> None:
    """Forget the cached adapters (tests change the settings between cases)."""
    adapters.cache_clear()
    upload_trigger.cache_clear()
    get_settings.cache_clear()
