"""Runs and jobs of one tenant are written over 32 index shards; their lists keep the newest-first order,
limits, offsets and counts of one unsharded index, and no partition key takes a tenant's whole load."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from mediaflow.adapters.aws.dynamodb import INDEX_SHARDS

from tests.functional.aws.conftest import Deployment

pytestmark = pytest.mark.functional


def _create_runs(deployment: Deployment, count: int, *, tenant: str = "t1", workflow: str = "w") -> list[str]:
    runs = deployment.adapters.runs
    ids = []
    for index in range(count):
        run_id = f"run-{index:04d}"
        # createdAt orders the index; a fixed clock per run makes the expected order exact
        runs.create_run({"tenant": tenant, "runId": run_id, "workflowId": workflow, "status": "pending",
                         "createdAt": f"2026-12-01T00:{index // 60:02d}:{index % 60:02d}.000Z"})
        ids.append(run_id)
    return ids


def test_run_lists_merge_every_shard_newest_first_with_offsets(deployment: Deployment) -> None:
    runs = deployment.adapters.runs
    ids = _create_runs(deployment, 130)
    _create_runs(deployment, 5, tenant="t2")
    newest_first = list(reversed(ids))

    assert [r["runId"] for r in runs.list_runs("t1", limit=50)] == newest_first[:50]
    assert [r["runId"] for r in runs.list_runs("t1", limit=50, offset=50)] == newest_first[50:100]
    assert [r["runId"] for r in runs.list_runs("t1", limit=50, offset=100)] == newest_first[100:]
    assert [r["runId"] for r in runs.list_runs("t1", workflow_id="w", limit=7, offset=3)] == newest_first[3:10]
    assert runs.list_runs("t1", workflow_id="other") == []
    assert runs.count_runs("t1") == 130 and runs.count_runs("t1", workflow_id="w") == 130
    assert runs.count_runs("t2") == 5
    assert {r["tenant"] for r in runs.list_runs("t2")} == {"t2"}


def test_one_tenants_runs_spread_over_every_shard(deployment: Deployment) -> None:
    _create_runs(deployment, 640)
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(deployment.settings.runs_table)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for attribute in ("pk", "gsi1pk", "gsi2pk"):
        counts = Counter(item[attribute] for item in items)
        share = max(counts.values()) / len(items)
        assert share <= 0.06, (attribute, counts.most_common(3))
    assert len({item["gsi1pk"] for item in items}) == INDEX_SHARDS


def test_job_lists_merge_every_shard(deployment: Deployment) -> None:
    jobs = deployment.adapters.jobs
    for index in range(40):
        jobs.create_job({"tenant": "t1", "jobId": f"job-{index:03d}", "status": "pending"})
    listed = [job["jobId"] for job in jobs.list_jobs("t1", limit=40)]
    assert sorted(listed) == [f"job-{index:03d}" for index in range(40)]
    created = [job["createdAt"] for job in jobs.list_jobs("t1", limit=40)]
    assert created == sorted(created, reverse=True)
    assert len(jobs.list_jobs("t1", limit=10)) == 10
