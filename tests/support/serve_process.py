"""A real `mediaflow serve` process on an ephemeral loopback port with its own data dir, as a user starts it:
its URL and one-time sign-in link read from what it prints."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(http://127\.0\.0\.1:\d+)/signin/([A-Za-z0-9_-]+)")


@dataclass
class Served:
    """A running `mediaflow serve`: its base URL, the printed sign-in link, its data dir and its output."""

    url: str
    signin_link: str
    data_dir: Path
    process: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "mediaflow.cli", *args, "--data-dir", str(self.data_dir)],
                              capture_output=True, text=True, env=serve_env(), timeout=120, check=True).stdout

    def api_key(self) -> str:
        return self.cli("keys", "create", "--tenant", "local", "--name", "browser-tests",
                        "--scopes", "workflows:read,workflows:write,workflows:execute").strip().splitlines()[-1].strip()


def serve_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core"), "MEDIAFLOW_WORKERS": "2", "COLUMNS": "400",
            **(extra or {})}


def start_serve(data_dir: Path, env: dict[str, str] | None = None) -> Served:
    process = subprocess.Popen([sys.executable, "-m", "mediaflow.cli", "serve", "--port", "0", "--data-dir",
                                str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=serve_env(env))
    lines: queue.Queue[str] = queue.Queue()
    stdout: list[str] = []
    stderr: list[str] = []

    def pump(stream: Any, into: list[str], forward: bool) -> None:
        for line in stream:
            into.append(line)
            if forward:
                lines.put(line)

    threading.Thread(target=pump, args=(process.stdout, stdout, True), daemon=True).start()
    threading.Thread(target=pump, args=(process.stderr, stderr, False), daemon=True).start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            found = LINK.search(lines.get(timeout=1))
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if found:
            return Served(found.group(1), found.group(0), data_dir, process, stdout, stderr)
    stop_serve(process)
    raise AssertionError(f"mediaflow serve printed no sign-in link:\n{''.join(stdout)}{''.join(stderr)}")


def stop_serve(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)




@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`mediaflow serve` on its own data dir for one test, stopped (SIGINT) after it."""
    server = start_serve(tmp_path / "data")
    try:
        yield server
    finally:
        stop_serve(server.process)
