"""The fault suite drives real processes from the outside: `mediaflow serve` and `mediaflow run` as
subprocesses on a private data dir, killed with SIGKILL or SIGTERM as a user's machine would, then started
again. Every wait is bounded and generous (a loaded 2-core machine); assertions count things, never time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"completed", "failed", "cancelled"}
SCOPES = "workflows:read,workflows:write,workflows:execute"

# resize -> inspect -> convert + storage: three Tasks, one stored object per run under outputs/kept/.
THREE_TASKS: dict[str, Any] = {
    "name": "faults", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "small", "kind": "resize", "config": {"width": 480}},
        {"id": "look", "kind": "inspect"},
        {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}},
        {"id": "keep", "kind": "storage", "config": {"prefix": "kept/"}}],
    "edges": [{"source": "upload", "target": "small"}, {"source": "small", "target": "look"},
              {"source": "look", "target": "webp"}, {"source": "webp", "target": "keep"}],
}


# One Task that stays busy for seconds on the 17-megapixel `big` photo, so a test can catch a worker mid-task:
# a lossless WebP at full size. A downscale cannot be caught mid-way (JPEG shrink-on-load makes it take tens
# of milliseconds), and a resize in the same chain would be fused with the encode and shrink on load first.
SLOW_FIRST_TASK: dict[str, Any] = {
    "name": "faults-slow", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp", "lossless": True, "effort": 4}},
        {"id": "keep", "kind": "storage", "config": {"prefix": "kept/"}}],
    "edges": [{"source": "upload", "target": "webp"}, {"source": "webp", "target": "keep"}],
}


def cli_env(data_dir: Path, workers: int = 2) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MEDIAFLOW_DATA_DIR": str(data_dir), "MEDIAFLOW_WORKERS": str(workers),
                "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), env.get("PYTHONPATH", "")]),
                "PYTHONUNBUFFERED": "1"})
    return env


def mediaflow(*args: str, data_dir: Path, timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mediaflow.cli", *args], env=cli_env(data_dir), text=True,
                          capture_output=True, timeout=timeout, check=False, cwd=data_dir.parent, **kw)


def descendants(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def wait_gone(pids: list[int], timeout: float = 30.0) -> list[int]:
    """The pids still running (zombies count as gone) after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _running(pid)]
        if alive:
            time.sleep(0.1)
    return alive


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@dataclass
class Server:
    """`mediaflow serve --port 0` on a data dir, its URL read from what it prints."""

    data_dir: Path
    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, data_dir: Path, *, grace_seconds: float = 30.0, timeout: float = 120.0) -> Server:
        process = subprocess.Popen(
            [sys.executable, "-m", "mediaflow.cli", "serve", "--port", "0", "--poll-seconds", "0.2",
             "--grace-seconds", str(grace_seconds), "--rate-per-second", "10000", "--burst", "10000"],
            env=cli_env(data_dir), cwd=data_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        server = cls(data_dir, process)
        threading.Thread(target=server._read, daemon=True).start()
        wait_for(lambda: server.url or process.poll() is not None, timeout, "the server to listen")
        if not server.url:
            raise AssertionError("serve exited:\n" + "\n".join(server.lines[-40:]))
        return server

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            found = re.search(r"API on (http://[\d.]+:\d+)/v1", line)
            if found and not self.url:
                self.url = found.group(1)

    def kill(self) -> list[int]:
        """SIGKILL the server alone (its workers are left to notice); returns the pids it had started."""
        children = descendants(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        return children

    def stop(self, timeout: float = 120.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        return int(self.process.returncode)


@dataclass
class Api:
    url: str
    key: str

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kw.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kw)

    def start_run(self, workflow_id: str, photo: bytes, name: str = "photo.jpg") -> str:
        reply = self.call("POST", f"/v1/workflows/{workflow_id}/runs", files={"file": (name, photo)})
        assert reply.status_code == 202, reply.text
        return str(reply.json()["runId"])

    def run(self, run_id: str) -> dict[str, Any]:
        reply = self.call("GET", f"/v1/runs/{run_id}")
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    def wait_terminal(self, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        runs: dict[str, dict[str, Any]] = {}

        def all_done() -> bool:
            for run_id in run_ids:
                if runs.get(run_id, {}).get("status") not in TERMINAL:
                    runs[run_id] = self.run(run_id)
            return all(run["status"] in TERMINAL for run in runs.values()) and len(runs) == len(run_ids)

        try:
            wait_for(all_done, timeout, "every run to end")
        except AssertionError:
            stuck = {k: v["status"] for k, v in runs.items() if v["status"] not in TERMINAL}
            raise AssertionError(f"runs not terminal after {timeout:g} s: {stuck}") from None
        return runs


def create_key(data_dir: Path) -> str:
    result = mediaflow("keys", "create", "--tenant", "local", "--scopes", SCOPES, "--data-dir", str(data_dir),
                       data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def big(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """17 megapixels: Tasks that run long enough to be caught mid-way."""
    from mediaflow import samples

    return samples.photo(tmp_path_factory.mktemp("media") / "big.jpg", 5000, 3500, quality=50).read_bytes()


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from mediaflow import samples

    return samples.photo(tmp_path_factory.mktemp("media") / "photo.jpg", 1600, 1200).read_bytes()


@dataclass
class Servers:
    """Servers a test started on one data dir; every one still running is stopped at the end."""

    data_dir: Path
    key: str
    started: list[Server] = field(default_factory=list)

    def start(self, **kw: Any) -> tuple[Server, Api]:
        server = Server.start(self.data_dir, **kw)
        self.started.append(server)
        return server, Api(server.url, self.key)

    def workflow(self, api: Api, definition: dict[str, Any] | None = None) -> str:
        reply = api.call("POST", "/v1/workflows", json=definition or THREE_TASKS)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])


@pytest.fixture
def servers(data_dir: Path) -> Iterator[Servers]:
    state = Servers(data_dir, create_key(data_dir))
    try:
        yield state
    finally:
        for server in state.started:
            if server.process.poll() is None:
                server.stop()


def stored_outputs(data_dir: Path, folder: str = "local/outputs/kept") -> list[Path]:
    root = data_dir / "blobs" / folder
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def run_files(data_dir: Path, run_id: str) -> list[Path]:
    """Every object a run wrote under its own prefix (the per-node outputs)."""
    root = data_dir / "blobs" / "local" / "runs" / run_id
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_exactly_once(data_dir: Path, runs: dict[str, dict[str, Any]]) -> None:
    """Every completed run has one stored object and one file per Task node; nothing else was stored."""
    completed = [run for run in runs.values() if run["status"] == "completed"]
    kept = [o["key"] for run in completed for o in run["outputs"] if "/outputs/kept/" in o["key"]]
    assert len(kept) == len(set(kept)) == len(completed), "one stored object per completed run"
    on_disk = {f"local/outputs/kept/{p.name}" for p in stored_outputs(data_dir)}
    assert set(kept) <= on_disk
    for run in completed:
        files = [p for p in run_files(data_dir, run["runId"]) if p.name != "stored.json"]
        per_node: dict[str, int] = {}
        for path in files:
            node = path.relative_to(data_dir / "blobs" / "local" / "runs" / run["runId"]).parts[0]
            per_node[node] = per_node.get(node, 0) + 1
        assert all(count == 1 for count in per_node.values()), (run["runId"], per_node, [str(p) for p in files])


def json_lines(text: str) -> Any:
    return json.loads(text[text.index("{"):])
