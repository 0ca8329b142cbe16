"""Runs started with ``{"url": ...}`` and exported to a presigned PUT URL given at run time, through the API on
both runtimes (a real ``mediaflow serve`` and the Lambda entry points on moto); the source and the receiver
are a real HTTP server on loopback, reachable because the loopback allowance is on for these deployments."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from tests.functional.api.conftest import Api
from tests.functional.api.runtimes import Runtime, aws_runtime, embedded_runtime
from tests.functional.api.test_run_promises import chain, save
from tests.functional.test_import_export import PHOTO, Source, _handler

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    holder = Source(server=None)  # type: ignore[arg-type]
    holder.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    holder.server.daemon_threads = True
    threading.Thread(target=holder.server.serve_forever, daemon=True).start()
    yield holder
    holder.server.shutdown()
    holder.server.server_close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDIAFLOW_IMPORT_ALLOW_LOOPBACK", "true")
        with embedded_runtime(tmp_path_factory.mktemp("serve-import")) as runtime:
            yield runtime


@pytest.fixture(params=["embedded", "aws"])
def runtime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    if request.param == "aws":
        api: Api = request.getfixturevalue("aws_api")
        monkeypatch.setattr(api.deployment.settings, "import_allow_loopback", True)
        return aws_runtime(api)
    served: Runtime = request.getfixturevalue("served")
    return served


def start(runtime: Runtime, workflow_id: str, body: dict[str, Any]) -> str:
    reply = runtime.client.post(f"/v1/workflows/{workflow_id}/runs", body)
    assert reply.status == 202, reply.content[:500]
    run_id: str = reply.json()["runId"]
    return run_id


def test_a_run_started_with_a_url_imports_then_exports_to_the_url_given(runtime: Runtime, source: Source) -> None:
    deliver = {"id": "deliver", "kind": "storage", "config": {"destination": "url"},
               "inputMappings": {"url": "inputs.uploadUrl"}}
    definition = chain(("small", "resize", {"width": 16}), name="import then deliver")
    definition["nodes"].append(deliver)
    definition["edges"].append({"source": "small", "target": "deliver"})
    workflow_id = save(runtime, definition)
    receiver = f"/receiver/{uuid.uuid4().hex}.jpg"
    run_id = start(runtime, workflow_id, {"url": f"{source.base}/hop",
                                          "inputs": {"uploadUrl": f"{source.base}{receiver}?X-Amz-Signature=s"}})
    run = runtime.client.wait_run(run_id, 120)
    assert run["status"] == "completed", (run["error"], run["steps"])
    steps = {step["nodeId"]: step for step in run["steps"]}
    assert steps["import"]["status"] == "completed"
    assert steps["import"]["output"]["source"] == f"{source.base}/photo.jpg"
    assert steps["deliver"]["output"]["export"] == {"destination": f"{source.base}{receiver}", "status": 200}
    put = [r for r in source.puts() if r.path.startswith(receiver)]
    assert len(put) == 1 and Image.open(io.BytesIO(put[0].body)).size == (16, 12)
    assert run["outputs"], "the output is kept in mediaflow too"
    saved = runtime.client.get(f"/v1/workflows/{workflow_id}").json()
    assert [node["id"] for node in saved["nodes"]] == ["upload", "small", "deliver"]  # the saved workflow as it was


@pytest.mark.parametrize(("path", "error"), [
    ("https://169.254.169.254/latest/meta-data/", "ImportRefused"),
    ("https://0251.0376.0251.0376/latest/meta-data/", "ImportRefused"),
    ("{base}/to-private", "ImportRefused"),
    ("{base}/to-metadata", "ImportRefused"),
    ("{base}/page.html", "UnsupportedMedia"),
    ("{base}/missing.jpg", "ImportFailed"),
])
def test_a_refused_url_fails_the_run_saying_why(runtime: Runtime, source: Source, path: str, error: str) -> None:
    workflow_id = save(runtime, chain(("small", "resize", {"width": 16}), name="import refused"))
    run_id = start(runtime, workflow_id, {"url": path.format(base=source.base)})
    run = runtime.client.wait_run(run_id, 120)
    assert run["status"] == "failed"
    step = next(step for step in run["steps"] if step["nodeId"] == "import")
    assert step["status"] == "failed"
    assert step["error"] == error, step
    assert run["error"]["error"] == step["error"]
    assert run["outputs"] == []


def test_a_failed_export_fails_the_run_and_the_run_lists_the_kept_output(runtime: Runtime, source: Source) -> None:
    definition = chain(("deliver", "storage", {"destination": "url", "url": f"{source.base}/denied/out.jpg"}),
                       name="export refused by the receiver")
    workflow_id = save(runtime, definition)
    run = runtime.client.wait_run(start(runtime, workflow_id, {"url": f"{source.base}/photo.jpg"}), 120)
    assert run["status"] == "failed" and run["error"]["error"] == "ExportFailed"
    assert f"{source.base}/denied/out.jpg" in run["error"]["message"] and "HTTP 403" in run["error"]["message"]
    step = next(step for step in run["steps"] if step["nodeId"] == "deliver")
    kept = step["output"]["key"]
    assert kept in run["error"]["message"]
    assert [output["key"] for output in run["outputs"]] == [kept]
    assert runtime.client.download(run["outputs"][0]["url"]).content == PHOTO


def test_a_url_run_retried_from_the_start_imports_again(runtime: Runtime, source: Source) -> None:
    workflow_id = save(runtime, chain(("small", "resize", {"width": 16}), name="import retried"))
    run_id = start(runtime, workflow_id, {"url": f"{source.base}/flaky?n={uuid.uuid4().hex}"})
    failed = runtime.client.wait_run(run_id, 120)
    assert failed["status"] == "failed" and failed["error"]["error"] == "ImportFailed"
    assert "HTTP 503" in failed["error"]["message"]
    reply = runtime.client.post(f"/v1/runs/{run_id}/retry", {"from": "start"})
    assert reply.status == 202, reply.content[:300]
    again = runtime.client.wait_run(reply.json()["runId"], 120)
    assert again["status"] == "completed", again["steps"]
    assert again["retryOf"] == run_id and again["outputs"]


def test_a_url_that_is_not_https_or_s3_is_refused_before_the_run(runtime: Runtime) -> None:
    workflow_id = save(runtime, chain(("small", "resize", {"width": 16}), name="import scheme"))
    reply = runtime.client.post(f"/v1/workflows/{workflow_id}/runs", {"url": "file:///etc/passwd"})
    assert reply.status == 422, reply.content[:300]
    assert "url" in reply.content.decode()
    assert runtime.run_ids_of(workflow_id) == []
