"""A wheel of the project carries the built dashboard as package data, so `pip install mediaflow` serves it
without Node: the wheel is built from a copy of the sources and checked for the app's files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging
ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "layers" / "core" / "mediaflow" / "dashboard_dist"


def test_the_wheel_ships_the_built_dashboard(tmp_path: Path) -> None:
    if not (DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built (layers/core/mediaflow/dashboard_dist): run make setup")
    source = tmp_path / "src"
    shutil.copytree(ROOT / "layers" / "core" / "mediaflow", source / "layers" / "core" / "mediaflow",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path / "wheels"), str(source)], check=True, capture_output=True, timeout=600)
    wheel = next((tmp_path / "wheels").glob("mediaflow-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    built = {f"mediaflow/dashboard_dist/{path.relative_to(DIST).as_posix()}" for path in DIST.rglob("*")
             if path.is_file()}
    assert "mediaflow/dashboard_dist/index.html" in built and any("/assets/" in name for name in built)
    assert built <= names, sorted(built - names)
    index = zipfile.ZipFile(wheel).read("mediaflow/dashboard_dist/index.html").decode()
    assert all(f"mediaflow/dashboard_dist{ref}" in names for ref in _asset_refs(index))


def _asset_refs(index: str) -> list[str]:
    import re

    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)
