"""Both runtimes as their users reach them, for tests that must hold the same on each.

- "embedded": a real ``mediaflow serve`` process on 127.0.0.1 (an ephemeral port) over its own data dir;
  its events are observed the way a user observes them, as signed webhook deliveries to a receiver on
  loopback (registered through ``POST /v1/webhooks``).
- "aws": the Lambda entry points over moto with the template's resources (aws_backend.py); events are read
  from a queue behind the project's bus, and S3 "Object Created" events that the template's trigger rule
  matches are handed to functions/trigger's entry point.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.functional.api.conftest import ALL_SCOPES, Api, Client
from tests.functional.aws.test_webhooks_aws import Receiver

TENANT = "tenant-a"
Event = dict[str, Any]  # {"detail-type": ..., "detail": {...}}


@dataclass
class Runtime:
    name: str
    client: Client
    data_dir: Path | None = None
    _read_events: Callable[[float], list[Event]] = field(default=lambda wait: [])
    _trigger_uploads: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])
    seen: list[Event] = field(default_factory=list)

    def events_of(self, run_ids: set[str], *, until: Callable[[list[Event]], bool],
                  timeout: float = 90.0) -> list[Event]:
        """The events about ``run_ids`` once ``until`` holds for them (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while True:
            self.seen.extend(self._read_events(0.2))
            mine = [e for e in self.seen if e["detail"].get("runId") in run_ids]
            if until(mine) or time.monotonic() > deadline:
                return mine
            time.sleep(0.1)

    def trigger_uploads(self) -> list[dict[str, Any]]:
        """AWS: deliver pending S3 events through the template's rule to the trigger function (the
        embedded server handles its uploads itself)."""
        return self._trigger_uploads()

    def wait_runs(self, run_ids: list[str], timeout: float = 120.0) -> list[dict[str, Any]]:
        return [self.client.wait_run(run_id, timeout) for run_id in run_ids]

    def run_ids_of(self, workflow_id: str) -> list[str]:
        reply = self.client.get(f"/v1/workflows/{workflow_id}/runs")
        assert reply.status == 200, reply.content[:300]
        return [run["runId"] for run in reply.json()["runs"]]


def run_events(events: list[Event], run_id: str, kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail"].get("runId") == run_id and e["detail-type"] == kind]


def ended(run_ids: set[str]) -> Callable[[list[Event]], bool]:
    """Every run of ``run_ids`` has published its run event."""
    def check(events: list[Event]) -> bool:
        done = {e["detail"]["runId"] for e in events if e["detail-type"] in ("workflow.completed",
                                                                             "workflow.failed")}
        return run_ids <= done
    return check


@contextmanager
def serve(data_dir: Path) -> Iterator[tuple[str, str]]:
    """``mediaflow serve`` on an ephemeral loopback port; yields (base URL, tenant-a's API key)."""
    from mediaflow.embedded.app import LocalService

    with LocalService(data_dir=data_dir) as service:
        key = service.adapters.keys.create_key(TENANT, ALL_SCOPES)[0]
    env = {**os.environ, "MEDIAFLOW_WORKERS": "2", "MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
           "COLUMNS": "400", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mediaflow.cli", "serve", "--port", "0", "--data-dir", str(data_dir),
         "--poll-seconds", "0.2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        base = None
        lines: list[str] = []
        while base is None:
            line = process.stdout.readline()
            lines.append(line)
            match = re.search(r"(http://127\.0\.0\.1:\d+)/v1", line)
            if match:
                base = match.group(1)
            assert line or process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "mediaflow serve did not start: " + "".join(lines)
        threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
        yield base, key
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def embedded_runtime(data_dir: Path) -> Iterator[Runtime]:
    receiver = Receiver()
    try:
        with serve(data_dir) as (base, key):
            client = Client("http", base, None, key)
            reply = client.post("/v1/webhooks", {"url": receiver.url})
            assert reply.status == 201, reply.content[:300]

            def read(wait: float) -> list[Event]:
                time.sleep(wait)
                taken = list(receiver.requests)
                del receiver.requests[:len(taken)]
                bodies = [json.loads(request["body"]) for request in taken]
                return [{"detail-type": body["type"], "detail": body["data"]} for body in bodies]

            yield Runtime("embedded", client, data_dir, read)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def aws_runtime(api: Api) -> Runtime:
    deployment = api.deployment
    return Runtime("aws", api.client("aws"), None, deployment.bus_events, deployment.trigger_uploads)
