"""The compatibility routers translate shapes and nothing else: they import the /v1 use cases, models and
pure domain translation only (no adapter, runtime, compiler, worker, node or storage), and they reach the
ports only through those use cases (never ``ctx.workflows``, ``ctx.runs``... themselves)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
COMPAT = Path(__file__).resolve().parents[2] / "layers" / "core" / "mediaflow" / "api" / "compat"
ALLOWED = ("mediaflow.api.workflows", "mediaflow.api.runs", "mediaflow.api.jobs", "mediaflow.api.convert",
           "mediaflow.api.http", "mediaflow.api.problems", "mediaflow.api.routes", "mediaflow.api.compat",
           "mediaflow.compat", "mediaflow.validation", "mediaflow.errors", "mediaflow.media")
THIRD_PARTY = ("aws_lambda_powertools.event_handler", "pydantic", "__future__", "typing", "collections.abc",
               "contextlib", "json", "re")
PORTS = {"workflows", "runs", "jobs", "blobs", "launcher", "keys", "idempotency", "webhooks", "bus"}


def _modules() -> list[Path]:
    return sorted(COMPAT.glob("*.py"))


def test_there_are_compat_routers() -> None:
    assert {p.stem for p in _modules()} >= {"__init__", "convertly", "mindia"}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_a_compat_router_imports_only_use_cases_models_and_translation(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            allowed = name.startswith(ALLOWED) if name.startswith("mediaflow") else name.startswith(THIRD_PARTY)
            assert allowed, f"{path.name}:{getattr(node, 'lineno', 0)} imports {name}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_a_compat_router_never_touches_a_port(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in PORTS and isinstance(node.value, ast.Attribute):
            assert node.value.attr != "ctx", f"{path.name}:{node.lineno} reaches ctx.{node.attr} directly"
