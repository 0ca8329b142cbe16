"""Shared test set-up: tool locations, fake AWS credentials (moto never reaches a real account)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Fixtures shared by several test folders: `served` (a `mediaflow serve` process) and `receiver` (a webhook
# receiver on loopback).
pytest_plugins = ["tests.support.serve_process", "tests.support.webhook_receiver"]

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"

_ENV_DEFAULTS: dict[str, str] = {
    "U2NET_HOME": str(TOOLS / "u2net"),
    "MEDIAFLOW_U2NET_HOME": str(TOOLS / "u2net"),
    "NUMBA_CACHE_DIR": str(TOOLS / "numba-cache"),
    "MEDIAFLOW_NUMBA_CACHE_DIR": str(TOOLS / "numba-cache"),
    # Deployed functions use every vCPU ("auto"); tests fix the encoder threads so outputs are comparable.
    "MEDIAFLOW_FFMPEG_THREADS": "1",
    # `mediaflow run` keeps compiled plans; the tests' go to a folder of their own, not the user's cache.
    "MEDIAFLOW_PLAN_CACHE": str(Path(tempfile.gettempdir()) / f"mediaflow-test-plans-{os.getuid()}"),
}
_AWS_FAKE: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

# Applied at import time so that modules imported during collection already see them.
for _name, _value in _ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
for _name, _value in _AWS_FAKE.items():
    os.environ[_name] = _value  # always fake: tests must never reach a real AWS account
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session", autouse=True)
def _test_environment() -> Iterator[None]:
    """Keep the session's environment fixed and start with fresh cached settings."""
    from mediaflow.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def tmp_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty embedded-mode data dir, exported as MEDIAFLOW_DATA_DIR for the duration of a test."""
    from mediaflow.settings import get_settings

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("MEDIAFLOW_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()
