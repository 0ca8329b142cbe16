"""The /api/v1 router in a real `mediaflow serve` process (the command users run), on an ephemeral loopback
port, driven with Strongly.ai's and the entity API's documented requests; `ai_generate` reaches a loopback
OpenAI-compatible stub through the process's own settings (MEDIAFLOW_AI_*)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.compat.api_v1.conftest import ChatStub
from tests.compat.api_v1.test_strongly import CREATE
from tests.support.serve_process import stop_serve

pytestmark = pytest.mark.compat
ROOT = Path(__file__).resolve().parents[3]
SCOPES = "workflows:read,workflows:write,workflows:execute"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import sys; from mediaflow.cli import main; sys.exit(main())",
                           *args], capture_output=True, text=True, env=env, timeout=120, check=True)


@pytest.fixture
def served(tmp_path: Path, chat_stub: ChatStub) -> Iterator[tuple[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core"), "MEDIAFLOW_WORKERS": "1",
           "MEDIAFLOW_AI_PROVIDER": "openai", "MEDIAFLOW_AI_BASE_URL": chat_stub.url, "MEDIAFLOW_AI_MODEL": "served",
           "COLUMNS": "400"}
    data = str(tmp_path / "data")
    key = cli("keys", "create", "--tenant", "acme", "--scopes", SCOPES, "--data-dir", data, env=env).stdout.strip()
    process = subprocess.Popen([sys.executable, "-c", "import sys; from mediaflow.cli import main; sys.exit(main())",
                                "serve", "--port", "0", "--data-dir", data], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    def pump() -> None:
        for line in process.stdout or []:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        try:
            found = re.search(r"http://127\.0\.0\.1:\d+", lines.get(timeout=1))
        except queue.Empty:
            continue
        url = found.group(0) if found else None
    try:
        assert url is not None, "mediaflow serve did not print its URL"
        yield url, key
    finally:
        stop_serve(process)


def test_documented_requests_against_a_running_serve(served: tuple[str, str], chat_stub: ChatStub) -> None:
    url, key = served
    headers = {"X-API-Key": key}
    created = requests.post(f"{url}/api/v1/workflows", json=dict(CREATE), headers=headers, timeout=30)
    assert created.status_code == 201 and created.json()["settings"]["timeout"] == 3600
    workflow_id = created.json()["workflowId"]
    assert requests.put(f"{url}/api/v1/workflows/{workflow_id}", json={"tags": ["v2"]}, headers=headers,
                        timeout=30).json()["tags"] == ["v2"]
    assert requests.delete(f"{url}/api/v1/workflows/{workflow_id}", headers=headers, timeout=30).status_code == 204

    entity = requests.post(f"{url}/api/v1/workflows", headers=headers, timeout=30, json={
        "name": "alt text", "entityTypeId": "et_photo", "steps": [
            {"type": "ai_generate", "config": {"prompt": "Describe {original}", "field": "caption"}},
            {"type": "notify", "config": {"message": "captioned"}}]})
    assert entity.status_code == 201
    workflow_id = entity.json()["workflowId"]
    before = len(chat_stub.requests)
    run = requests.post(f"{url}/api/v1/workflows/{workflow_id}/execute", json={"triggerInputs": {}},
                        headers=headers, timeout=60)
    assert run.status_code == 201
    run_id = run.json()["executionId"]
    deadline = time.monotonic() + 120
    while True:
        status = requests.get(f"{url}/api/v1/workflows/{workflow_id}/runs/{run_id}", headers=headers,
                              timeout=30).json()
        if status["status"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status["status"] == "completed" and status["progress"] == {"total": 1, "completed": 1, "failed": 0}
    assert [r["body"]["model"] for r in chat_stub.requests[before:]] == ["served"]
