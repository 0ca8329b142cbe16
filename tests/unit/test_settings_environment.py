"""The settings read from the environment without pydantic (``Settings.from_environment``) are the settings pydantic
reads (``Settings()``): the same values where the variables are plain, the same refusal where they are not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mediaflow.settings import Settings, get_settings

# One variable of each kind of field: text, whole and decimal numbers with bounds, yes/no, paths, words, a number
# or a word, an optional path, and variables named by an alias.
_VALUES = {
    "MEDIAFLOW_TENANT": st.sampled_from(["acme", "", " spaced "]),
    "MEDIAFLOW_WORKERS": st.sampled_from(["1", "4", "64", "65", "0", "-2", "+3", "08", "2.0", "x", "", " 3", "1_0"]),
    "MEDIAFLOW_MAX_VIDEO_SECONDS": st.sampled_from(["1", "0", "2.5", "1e3", "-1", ".5", "5.", "inf", "nan", "abc"]),
    "MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP": st.sampled_from(["1", "0", "true", "False", "yes", "off", "maybe", ""]),
    "MEDIAFLOW_DATA_DIR": st.sampled_from(["data", "/tmp/x", "", "a b"]),
    "MEDIAFLOW_MODE": st.sampled_from(["embedded", "aws", "cloud", "EMBEDDED"]),
    "MEDIAFLOW_FFMPEG_THREADS": st.sampled_from(["auto", "1", "64", "0", "65", "two", "AUTO"]),
    "MEDIAFLOW_NUMBA_CACHE_DIR": st.sampled_from(["/tmp/numba", ""]),
    "NUMBA_CACHE_DIR": st.sampled_from(["/tmp/other"]),
    "AWS_REGION": st.sampled_from(["eu-west-1", ""]),
    "MEDIAFLOW_EVENTBRIDGE_KEY_ENCODING": st.sampled_from(["none", "form", "url"]),
    "MEDIAFLOW_TRIGGER_CACHE_SECONDS": st.sampled_from(["0", "300", "301", "12.5"]),
}


@given(st.dictionaries(st.sampled_from(sorted(_VALUES)), st.none(), max_size=6).flatmap(
    lambda chosen: st.fixed_dictionaries({name: _VALUES[name] for name in chosen})))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_read_without_pydantic_is_read_with_it(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    with monkeypatch.context() as patched:
        for name in [*_VALUES, "MEDIAFLOW_FFMPEG_THREADS"]:
            patched.delenv(name, raising=False)
        for name, value in environment.items():
            patched.setenv(name, value)
        try:
            expected = Settings()
        except ValueError as refused:  # pydantic's ValidationError is a ValueError
            with pytest.raises(type(refused)):
                Settings.from_environment()
            return
        read = Settings.from_environment()
        assert read == expected
        assert read.model_dump() == expected.model_dump()


def test_get_settings_reads_a_plain_environment_without_pydantic(tmp_path: Path) -> None:
    script = ("import json, sys; from mediaflow.settings import get_settings; s = get_settings(); "
              "print(json.dumps({'pydantic': 'pydantic' in sys.modules, 'workers': s.workers, "
              "'data_dir': str(s.data_dir), 'threads': s.ffmpeg_threads, 'numba': str(s.numba_cache_dir)}))")
    environment = {"PATH": "/usr/bin:/bin", "MEDIAFLOW_WORKERS": "3", "MEDIAFLOW_DATA_DIR": str(tmp_path),
                   "MEDIAFLOW_FFMPEG_THREADS": "2", "NUMBA_CACHE_DIR": "/tmp/numba"}
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout) == {"pydantic": False, "workers": 3, "data_dir": str(tmp_path), "threads": 2,
                                       "numba": "/tmp/numba"}


def test_get_settings_is_the_validated_settings() -> None:
    get_settings.cache_clear()
    try:
        assert get_settings() == Settings()
    finally:
        get_settings.cache_clear()
