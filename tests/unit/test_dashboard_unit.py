"""The dashboard's front-end unit tests (vitest: schema forms, layout, version diff, API client errors, run
timeline), run through npm so that `make test` covers them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
NPM = shutil.which("npm")


@pytest.mark.skipif(NPM is None or shutil.which("node") is None, reason="Node.js/npm is not installed")
def test_dashboard_unit_tests_pass() -> None:
    assert NPM is not None
    env = {**os.environ, "CI": "true", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    if not (DASHBOARD / "node_modules" / "vitest").is_dir():
        subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=DASHBOARD, env=env,
                       check=True, timeout=600)
    result = subprocess.run([NPM, "test", "--silent"], cwd=DASHBOARD, env=env, capture_output=True, text=True,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    passed = re.search(r"Tests\s+(\d+) passed", output)
    assert passed is not None and int(passed.group(1)) >= 30, output[-3000:]
    assert not re.search(r"\d+ failed", output), output[-3000:]
