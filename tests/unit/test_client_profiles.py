"""Which API a remote command talks to, and with which key: flags, then environment, then login profiles."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow.client.core import retry_after_seconds
from mediaflow.client.profiles import load_profiles, profiles_path, remove_profile, resolve_target, save_profile

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAFLOW_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("MEDIAFLOW_API_URL", "MEDIAFLOW_API_KEY", "MEDIAFLOW_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def test_no_target_means_local() -> None:
    assert resolve_target() is None


def test_flags_then_environment_then_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    save_profile("default", "https://stack.example/prod/", "mf_profile")
    save_profile("staging", "https://staging.example/prod", "mf_staging")
    assert (profiles_path().stat().st_mode & 0o777) == 0o600
    # the URL's own profile supplies the key
    target = resolve_target("https://stack.example/prod")
    assert target is not None and target.api_key == "mf_profile" and target.api_url == "https://stack.example/prod"
    named = resolve_target(profile="staging")
    assert named is not None and (named.api_url, named.api_key) == ("https://staging.example/prod", "mf_staging")
    monkeypatch.setenv("MEDIAFLOW_API_URL", "https://env.example")
    monkeypatch.setenv("MEDIAFLOW_API_KEY", "mf_env")
    from_env = resolve_target()
    assert from_env is not None and (from_env.api_url, from_env.api_key, from_env.source) == (
        "https://env.example", "mf_env", "MEDIAFLOW_API_URL")
    flagged = resolve_target("https://flag.example", "mf_flag")
    assert flagged is not None and (flagged.api_url, flagged.api_key) == ("https://flag.example", "mf_flag")
    assert remove_profile("staging") and "staging" not in load_profiles()
    with pytest.raises(LookupError):
        resolve_target(profile="staging")


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
