"""`mediaflow upload` resumes an interrupted upload: the client's upload of a file stops after some parts (the
state is kept in the config dir), then the command, run on the same file, sends only the missing parts,
completes, and the file starts its workflow. Against a real `mediaflow serve` (the command in a subprocess)
and against the API Lambda on moto (the command in-process, parts PUT to S3 presigned URLs)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.agents.conftest import OnMoto, Served, mediaflow

pytestmark = pytest.mark.functional

PART = 5 * 1024 * 1024


class Interrupted(Exception):
    pass


def storing_workflow(name: str) -> dict[str, Any]:
    return {"name": name, "status": "active",
            "nodes": [{"id": "upload", "kind": "upload"},
                      {"id": "store", "kind": "storage", "config": {"prefix": f"{name}/"}}],
            "edges": [{"source": "upload", "target": "store"}]}


def make_file(folder: Path) -> Path:
    path = folder / f"archive-{uuid.uuid4().hex[:6]}.bin"
    path.write_bytes(os.urandom(4096) + bytes(3 * PART - 4096 + 1234))  # four parts of 5 MiB, the last short
    return path


def interrupt_after(api: Any, path: Path, workflow_id: str, parts: int) -> str:
    """Upload ``path`` in 5 MiB parts and stop (as a killed process would) after ``parts`` of them."""
    def stop(number: int, done: int, total: int) -> None:
        if done == parts:
            raise Interrupted

    with pytest.raises(Interrupted):
        api.uploads.upload(path, workflow_id=workflow_id, part_size=PART, on_part=stop)
    state = json.loads(api.uploads.state_file(path).read_text())
    upload_id: str = state["uploadId"]
    status = api.request("GET", f"/v1/uploads/multipart/{upload_id}").json()
    assert status["partCount"] == 4 and status["missing"] == [3, 4]
    return upload_id


def test_the_cli_resumes_an_interrupted_upload_on_serve(served: Served, tmp_path: Path) -> None:
    from mediaflow.client import MediaflowClient

    path = make_file(tmp_path)
    with MediaflowClient(served.url, served.key) as api:
        api.uploads._state_dir = Path(served.env["MEDIAFLOW_CONFIG_DIR"]) / "uploads"
        workflow = api.workflows.create(storing_workflow(f"resume-{uuid.uuid4().hex[:6]}"))
        interrupt_after(api, path, workflow.id, 2)
        done = mediaflow("upload", str(path), "--workflow", workflow.id, "--api", served.url, "--key", served.key,
                         "--json", cwd=tmp_path, env=served.env)
        assert done.returncode == 0, done.stderr
        assert "resuming: 2 of 4 parts already uploaded" in done.stderr
        completed = json.loads(done.stdout)
        assert completed["size"] == path.stat().st_size
        [run_id] = completed["runIds"]
        run = api.runs.wait(run_id, timeout=120)
        assert run.status == "completed" and [o.size for o in run.outputs] == [path.stat().st_size]
        assert not api.uploads.state_file(path).exists()
        again = mediaflow("upload", str(path), "--workflow", workflow.id, "--api", served.url, "--key", served.key,
                          cwd=tmp_path, env=served.env)  # a finished upload is not resumed: a new one starts
        assert again.returncode == 0 and "resuming" not in again.stderr, again.stderr


def test_the_cli_resumes_an_interrupted_upload_on_the_lambda(on_moto: OnMoto, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from mediaflow import cli_remote
    from mediaflow.cli import main
    from mediaflow.client import MediaflowClient

    monkeypatch.setattr(cli_remote, "transport", on_moto.transport)
    monkeypatch.setenv("MEDIAFLOW_CONFIG_DIR", str(tmp_path / "config"))
    path = make_file(tmp_path)
    with MediaflowClient(on_moto.url, on_moto.key, transport=on_moto.transport) as api:
        on_moto.deployment.trigger_uploads()  # deliver what earlier tests left on the queue, before this workflow
        workflow = api.workflows.create(storing_workflow(f"resume-{uuid.uuid4().hex[:6]}"))
        upload_id = interrupt_after(api, path, workflow.id, 2)
        capsys.readouterr()
        code = main(["upload", str(path), "--workflow", workflow.id, "--api", on_moto.url, "--key", on_moto.key,
                     "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "resuming: 2 of 4 parts already uploaded" in err
        completed = json.loads(out[out.index("{\n"):])
        assert completed["size"] == path.stat().st_size and completed["runIds"] == []
        assert_problem_404 = api.request("GET", f"/v1/uploads/multipart/{upload_id}", expect=[404])
        assert assert_problem_404.status_code == 404
        on_moto.deployment.trigger_uploads()  # the S3 event starts the workflow's run
        [summary] = api.runs.list(workflow.id).runs
        run = api.runs.wait(summary.run_id, timeout=120)
        assert run.status == "completed" and [o.size for o in run.outputs] == [path.stat().st_size]


class FlakyParts(httpx.BaseTransport):
    """The network, except that the 2nd part PUT breaks off (a dropped connection) and the 4th meets a 503
    from a proxy; parts go one after another, so those are the first tries of parts 2 and 3."""

    def __init__(self) -> None:
        self.network = httpx.HTTPTransport()
        self.puts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            self.puts += 1
            if self.puts == 2:
                raise httpx.ReadError("connection reset by peer", request=request)
            if self.puts == 4:
                return httpx.Response(503, request=request)
        return self.network.handle_request(request)


def test_the_client_sends_a_part_again_on_its_own_when_it_fails(served: Served, tmp_path: Path) -> None:
    from mediaflow.client import MediaflowClient

    path = make_file(tmp_path)
    flaky = FlakyParts()
    with MediaflowClient(served.url, served.key, transport=flaky) as api:
        api.uploads._state_dir = tmp_path / "state"
        workflow = api.workflows.create(storing_workflow(f"flaky-{uuid.uuid4().hex[:6]}"))
        completed = api.uploads.upload(path, workflow_id=workflow.id, part_size=PART)
        assert flaky.puts == 6  # four parts, two of them twice
        run = api.runs.wait(completed.run_ids[0], timeout=120)
        assert run.status == "completed" and [o.size for o in run.outputs] == [path.stat().st_size]
