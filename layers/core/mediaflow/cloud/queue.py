"""Queue triggers on AWS: the trigger function consumes the deployment's SQS trigger queue and starts one run
per message through the same use case as the embedded queue (ExecutionService.run_queued), exactly once per
message (the run id derives from the message id). Failed or deferred messages are reported as batch item
failures, so SQS delivers them again after the visibility timeout (and to the dead-letter queue after
``maxReceiveCount``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mediaflow.adapters.aws.sqs import is_trigger_message, queued_items

if TYPE_CHECKING:
    from mediaflow.adapters.aws import AwsAdapters
    from mediaflow.ports import Launcher

logger = logging.getLogger(__name__)


def is_trigger_queue_batch(event: dict[str, Any]) -> bool:
    """An SQS batch from the trigger queue (its messages name a workflow), not from the UploadEvents queue."""
    items = queued_items(event)
    return bool(items) and all(is_trigger_message(item) for _, item in items)


def consume(event: dict[str, Any], adapters: AwsAdapters, launcher: Launcher) -> dict[str, Any]:
    from mediaflow.api.context import ApiContext
    from mediaflow.api.executions import ExecutionService

    ctx = ApiContext(workflows=adapters.workflows, runs=adapters.runs, keys=adapters.keys, jobs=adapters.jobs,
                     idempotency=adapters.idempotency, blobs=adapters.blobs, launcher=launcher, mode="aws")
    executions = ExecutionService(ctx)
    failures, runs = [], []
    for sqs_id, item in queued_items(event):
        try:
            runs.append(executions.run_queued(item))
        except Exception as error:
            logger.warning("queued message %s not started: %s", sqs_id, getattr(error, "message", error))
            failures.append({"itemIdentifier": sqs_id})
    return {"runs": runs, "batchItemFailures": failures}
