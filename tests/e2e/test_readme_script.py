"""The README's new-user script runs verbatim with curl against a real `mediaflow serve`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def readme_script() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- new-user-script -->\n```bash\n(.*?)```", text, flags=re.DOTALL)
    assert match, "README lost its new-user script"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_new_user_script_works_verbatim(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    port = free_port()
    env = {**os.environ, "MEDIAFLOW_WORKERS": "1", "API": f"http://127.0.0.1:{port}/v1"}
    env.pop("MEDIAFLOW_DATA_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "mediaflow.cli", "serve", "--port", str(port)], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mediaflow serve did not start"
                time.sleep(0.2)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_script()], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"run \S+: completed", done.stdout), done.stdout
    output = tmp_path / "photo.webp"
    assert output.read_bytes()[8:12] == b"WEBP"
