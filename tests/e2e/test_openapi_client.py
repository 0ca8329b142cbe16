"""A typed client generated from the served OpenAPI document drives `mediaflow serve`.

`mediaflow serve` runs as its own process on loopback (port 0); the document it serves goes through
openapi-python-client; mypy checks the generated package together with a small program that uses it; that
program then creates a workflow, starts a run on a generated photo (multipart) and polls the run to its end.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mediaflow import samples
from mediaflow.api.models import WORKFLOW_EXAMPLE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PACKAGE = "mediaflow_api_client"
# The generator's fixed client.py template (the same for every document) forwards `*args: object` to
# httpx's __exit__/__aexit__, which mypy rejects as arg-type; everything generated from our document is
# checked in full.
MYPY_INI = f"""[mypy]
check_untyped_defs = True
disallow_untyped_defs = True
warn_unused_ignores = True
[mypy-{PACKAGE}.client]
disable_error_code = arg-type
"""
DRIVER = '''"""Create a workflow, run it on one file, poll the run: typed all the way."""

import json
import sys
import time
from pathlib import Path

from mediaflow_api_client import AuthenticatedClient
from mediaflow_api_client.api.runs import get_run, start_run
from mediaflow_api_client.api.workflows import create_workflow
from mediaflow_api_client.models import Run, RunAccepted, RunStatus, StartRunFilesBody, Workflow, WorkflowInput
from mediaflow_api_client.types import File

FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


def main(base_url: str, key: str, definition: Path, media: Path) -> dict[str, object]:
    with AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True) as client:
        created = create_workflow.sync(client=client, body=WorkflowInput.from_dict(json.loads(definition.read_text())))
        if not isinstance(created, Workflow):
            raise SystemExit(f"create failed: {created}")
        with media.open("rb") as handle:
            upload = File(payload=handle, file_name=media.name, mime_type="image/jpeg")
            accepted = start_run.sync(created.id, client=client, body=StartRunFilesBody(file=upload))
        if not isinstance(accepted, RunAccepted):
            raise SystemExit(f"run refused: {accepted}")
        deadline = time.monotonic() + 240
        while True:
            run = get_run.sync(accepted.run_id, client=client)
            if not isinstance(run, Run):
                raise SystemExit(f"poll failed: {run}")
            if run.status in FINISHED or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return {"workflowId": created.id, "valid": created.valid, "runId": run.run_id, "status": run.status.value,
                "outputs": [output.to_dict() for output in run.outputs]}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
'''


def environment(cwd: Path) -> dict[str, str]:
    """This checkout's package, the virtualenv's tools (ruff for the generator, mypy) and nothing else."""
    return {"PATH": f"{BIN}:/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "core"), "HOME": str(cwd),
            "MEDIAFLOW_WORKERS": "2", "COLUMNS": "400"}


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment(cwd))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, API key) of a `mediaflow serve` process on 127.0.0.1:<free port>."""
    made = run([sys.executable, "-m", "mediaflow.cli", "keys", "create", "--tenant", "acme",
                "--scopes", "workflows:read,workflows:write,workflows:execute"], tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    server = subprocess.Popen([sys.executable, "-m", "mediaflow.cli", "serve", "--port", "0"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=environment(tmp_path))
    lines: queue.Queue[str] = queue.Queue()
    output = server.stdout
    assert output is not None

    def pump() -> None:
        for line in output:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        seen = []
        while True:
            line = lines.get(timeout=120)
            seen.append(line)
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                break
            assert server.poll() is None, "".join(seen)
        yield found.group(0), key
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def test_generated_client_type_checks_and_runs_a_workflow_against_serve(served: tuple[str, str],
                                                                       tmp_path: Path) -> None:
    base, key = served
    work = tmp_path / "client"
    work.mkdir()
    with urllib.request.urlopen(f"{base}/v1/openapi.json", timeout=30) as response:
        (work / "openapi.json").write_bytes(response.read())
    (work / "config.yaml").write_text(f"package_name_override: {PACKAGE}\n")
    generated = run([str(BIN / "openapi-python-client"), "generate", "--path", "openapi.json", "--meta", "none",
                     "--config", "config.yaml", "--output-path", PACKAGE], work)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr
    (work / "drive.py").write_text(DRIVER)
    (work / "mypy.ini").write_text(MYPY_INI)
    checked = run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--no-incremental", PACKAGE,
                   "drive.py"], work)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found" in checked.stdout
    modules = list((work / PACKAGE / "api").rglob("*.py"))
    assert len([m for m in modules if m.name != "__init__.py"]) >= 40

    (work / "workflow.json").write_text(json.dumps(WORKFLOW_EXAMPLE))
    samples.photo(work / "photo.jpg", 2000, 1500)
    driven = run([sys.executable, "drive.py", base, key, "workflow.json", "photo.jpg"], work)
    assert driven.returncode == 0, driven.stdout + driven.stderr
    result = json.loads(driven.stdout)
    assert result["valid"] is True and result["status"] == "completed", result
    outputs = result["outputs"]
    assert len(outputs) == 1 and outputs[0]["contentType"] == "image/webp" and outputs[0]["size"] > 0, outputs
    with urllib.request.urlopen(outputs[0]["url"], timeout=30) as download:
        data = download.read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) == outputs[0]["size"]
