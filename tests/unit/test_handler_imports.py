"""Importing a Lambda entry point creates no boto3 client and reads no mediaflow setting (cold starts stay
cheap and configuration is read once, inside the settings model, when a request needs it)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "functions").rglob("*.py"))


class RecordingEnviron(MutableMapping[str, str]):
    def __init__(self, real: MutableMapping[str, str]) -> None:
        self.real, self.read = real, []

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return self.real[key]

    def __setitem__(self, key: str, value: str) -> None:
        self.real[key] = value

    def __delitem__(self, key: str) -> None:
        del self.real[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.real)

    def __len__(self) -> int:
        return len(self.real)

    def items(self) -> Any:  # scanning every variable (proxy discovery) is not reading a setting
        return self.real.items()

    def copy(self) -> dict[str, str]:
        return dict(self.real)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.append(key)
        return self.real.get(key, default)


@pytest.mark.parametrize("relative", HANDLERS)
def test_import_creates_no_client_and_reads_no_setting(relative: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{relative} creates a boto3 client at import time")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3, "resource", refuse)
    from mediaflow.settings import get_settings

    get_settings.cache_clear()
    recording = RecordingEnviron(os.environ)
    monkeypatch.setattr(os, "environ", recording)
    spec = importlib.util.spec_from_file_location("handler_under_test_" + relative.replace("/", "_")[:-3],
                                                  ROOT / relative)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    ours = sorted({key for key in recording.read if key.startswith("MEDIAFLOW_")})
    assert ours == [], f"{relative} reads {ours} at import time"
