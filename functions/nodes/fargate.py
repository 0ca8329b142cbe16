"""ECS Fargate entry point of the ffmpeg image: the long route of ffmpeg Tasks past Lambda's budget.

The state machine runs this container (``ecs:runTask.sync``) with the Task payload in
``MEDIAFLOW_TASK_PAYLOAD``; the same task code as the Lambda runs it and stores the result under the task
key, where the next state (the ffmpeg Lambda with ``handoff: collect``) picks it up.
"""

from __future__ import annotations

import logging
import os
import sys

from mediaflow.cloud import bootstrap
from mediaflow.cloud.nodes import run_container_task


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    adapters = bootstrap.adapters()
    return run_container_task(dict(os.environ), bootstrap.task_environment(adapters), adapters.idempotency)


if __name__ == "__main__":
    sys.exit(main())
