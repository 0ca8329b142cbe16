"""`mediaflow mcp` driven by the mcp SDK's own client: over stdio (the client spawns the command) and over
streamable HTTP (the command serving on a loopback port chosen by the OS), on the embedded data dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.functional.agents.conftest import ROOT, Served, png, stop

pytestmark = pytest.mark.functional
CONVERTLY_TOOLS = {"list_workflows", "create_workflow", "update_workflow", "set_workflow_active", "delete_workflow",
                   "run_workflow", "list_workflow_runs"}
MORE_TOOLS = {"validate_workflow", "plan_workflow", "list_node_kinds", "get_run", "list_templates",
              "create_from_template"}


def server_env(folder: Path) -> dict[str, str]:
    env = {**os.environ, "MEDIAFLOW_WORKERS": "1", "PYTHONPATH": str(ROOT / "layers" / "core"),
           "MEDIAFLOW_CONFIG_DIR": str(folder / "config")}
    for name in ("MEDIAFLOW_DATA_DIR", "MEDIAFLOW_API_URL", "MEDIAFLOW_API_KEY", "MEDIAFLOW_PROFILE"):
        env.pop(name, None)
    return env


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def call(client: Any, name: str, arguments: dict[str, Any]) -> Any:
    return await client.call_tool(name, arguments)


async def agent_session(client: Any, folder: Path) -> None:
    """What an agent does: list tools, create from Convertly's payload, run on a PNG, read the runs,
    get refused a delete without confirm, and read a bad definition's error."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) >= CONVERTLY_TOOLS | MORE_TOOLS
    create_schema = tools["create_workflow"].input_schema
    assert {"definition", "nodes", "edges", "isActive"} <= set(create_schema["properties"])
    assert create_schema["examples"][0]["definition"]["nodes"][0]["data"]["kind"] == "upload"
    assert tools["delete_workflow"].annotations.destructive_hint

    payload = json.loads((ROOT / "examples" / "convertly-convert-compress.json").read_text())
    created = await call(client, "create_workflow", payload)
    assert not created.is_error, text_of(created)
    workflow = created.structured_content
    assert workflow["status"] == "active" and workflow["source"] == "convertly"

    image = png(folder)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    ran = await client.call_tool("run_workflow", {"id": workflow["id"], "filePath": str(image),
                                                  "outputDir": str(folder / "out"), "waitSeconds": 240},
                                 progress_callback=on_progress)
    assert not ran.is_error, text_of(ran)
    assert progress and any("completed" in (m or "") for _, _, m in progress), progress
    run = ran.structured_content
    assert run["status"] == "completed", run
    assert run["outputs"] and run["outputs"][0]["contentType"] == "image/webp"
    assert Path(run["downloaded"][0]).read_bytes()[8:12] == b"WEBP"

    listed = await call(client, "list_workflow_runs", {"id": workflow["id"]})
    assert not listed.is_error, text_of(listed)
    mine = [r for r in listed.structured_content["runs"] if r["runId"] == run["runId"]]
    assert mine and mine[0]["status"] == "completed" and mine[0]["outputs"][0]["filename"].endswith(".webp")

    paused = await call(client, "set_workflow_active", {"id": workflow["id"], "isActive": False})
    assert not paused.is_error and paused.structured_content["status"] == "paused", text_of(paused)
    canonical = tools["create_workflow"].input_schema["examples"][1]
    updated = await call(client, "update_workflow", {**canonical, "id": workflow["id"], "name": "now AVIF"})
    assert not updated.is_error, text_of(updated)
    assert updated.structured_content["name"] == "now AVIF" and updated.structured_content["version"] > 1
    assert [n["kind"] for n in updated.structured_content["nodes"]] == ["upload", "resize", "convert", "storage"]

    refused = await call(client, "delete_workflow", {"id": workflow["id"]})
    assert refused.is_error
    assert refused.structured_content["type"].endswith("/ConfirmationRequired")
    assert refused.structured_content["errors"][0]["field"] == "confirm"
    still = await call(client, "list_workflows", {})
    assert workflow["id"] in [w["id"] for w in still.structured_content["workflows"]]

    bad = {"name": "bad", "nodes": [{"id": "upload", "kind": "upload"},
                                    {"id": "shrink", "kind": "resize", "config": {"width": -5}}],
           "edges": [{"source": "upload", "target": "shrink"}]}
    rejected = await call(client, "create_workflow", bad)
    assert rejected.is_error and "Traceback" not in text_of(rejected)
    problem = rejected.structured_content
    assert problem["status"] == 422 and problem["type"].endswith("/InvalidDefinition")
    assert any(e.get("nodeId") == "shrink" and "width" in str(e.get("path")) for e in problem["errors"]), problem
    assert "node shrink" in text_of(rejected)

    plan = await call(client, "plan_workflow", payload)
    assert not plan.is_error and plan.structured_content["executionType"] in ("EXPRESS", "STANDARD")
    checked = await call(client, "validate_workflow", bad)
    assert not checked.is_error and checked.structured_content["valid"] is False
    kinds = await call(client, "list_node_kinds", {"kind": "resize"})
    assert kinds.structured_content["kinds"][0]["configSchema"]["properties"]["width"]
    catalog = await client.read_resource("mediaflow://catalog")
    assert any(entry["kind"] == "convert" for entry in json.loads(catalog.contents[0].text))

    deleted = await call(client, "delete_workflow", {"id": workflow["id"], "confirm": True})
    assert not deleted.is_error and deleted.structured_content["deleted"] is True


def test_stdio(tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "mediaflow.cli", "mcp", "--data-dir", str(tmp_path / "data")], env=server_env(tmp_path),
        cwd=str(tmp_path))

    async def main() -> None:
        async with Client(params, read_timeout_seconds=300) as client:
            await agent_session(client, tmp_path)

    anyio.run(main)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "mcp.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "mediaflow.cli", "mcp", "--transport", "http", "--port", "0",
             "--data-dir", str(tmp_path / "data")], cwd=tmp_path, env=server_env(tmp_path),
            stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not (found := re.search(r"(http://127\.0\.0\.1:\d+/mcp)", log.read_text())):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "mediaflow mcp did not start"
                time.sleep(0.2)
            yield found.group(1)
        finally:
            stop(process)


def test_streamable_http(http_server: str, tmp_path: Path) -> None:
    from mcp import Client

    async def main() -> None:
        async with Client(http_server, read_timeout_seconds=300) as client:
            await agent_session(client, tmp_path)

    anyio.run(main)


def test_stdio_against_a_remote_api(served: Served, tmp_path: Path) -> None:
    """`mediaflow mcp --api URL`: the same tools drive a running API (here `mediaflow serve`)."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "mediaflow.cli", "mcp", "--api", served.url],
                                   env={**server_env(tmp_path), "MEDIAFLOW_API_KEY": served.key}, cwd=str(tmp_path))
    payload = json.loads((ROOT / "examples" / "convertly-convert-compress.json").read_text())

    async def main() -> None:
        async with Client(params, read_timeout_seconds=300) as client:
            created = await call(client, "create_workflow", payload)
            assert not created.is_error, text_of(created)
            workflow_id = created.structured_content["id"]
            ran = await call(client, "run_workflow", {"id": workflow_id, "filePath": str(png(tmp_path))})
            assert ran.structured_content["status"] == "completed", text_of(ran)
            runs = await call(client, "list_workflow_runs", {"id": workflow_id})
            assert runs.structured_content["runs"][0]["outputs"], text_of(runs)
            missing = await call(client, "get_run", {"runId": "run_missing"})
            assert missing.is_error and missing.structured_content["status"] == 404

    anyio.run(main)
